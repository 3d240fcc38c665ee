"""check_image: the astronaut passes everything; degraded copies trip the matching check."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image
from skimage import data

from liveavatar.checks import image as rules
from liveavatar.checks.image import check_image
from liveavatar.checks.result import CheckResult
from liveavatar.faces import Face, detect_faces
from liveavatar.media.image import LoadedImage, load_image

ALL_IDS = [
    "image.format",
    "image.resolution",
    "image.faces",
    "image.face_centre",
    "image.face_size",
    "image.pose",
    "image.exposure",
    "image.lighting",
    "image.sharpness",
    "image.orientation",
    "image.alpha",
]
NO_SINGLE_FACE_IDS = [i for i in ALL_IDS if i not in ("image.face_centre", "image.face_size", "image.pose")]


def _loaded(rgb: np.ndarray, fmt: str = "PNG", orientation: int = 1, alpha: bool = False, bits: int = 8) -> LoadedImage:
    return LoadedImage(
        rgb=rgb, source_format=fmt, exif_orientation=orientation, had_alpha=alpha, path="mem.png", bits_per_channel=bits
    )


def _by_id(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.id: r for r in results}


def _check(rgb: np.ndarray) -> dict[str, CheckResult]:
    return _by_id(check_image(_loaded(rgb), detect_faces(rgb)))


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope="module")
def astronaut_face(astronaut: np.ndarray) -> Face:
    faces = detect_faces(astronaut)
    assert len(faces) == 1
    return faces[0]


def test_astronaut_passes_every_check(tmp_path: Path, astronaut: np.ndarray) -> None:
    path = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(path)
    image = load_image(path)
    results = check_image(image, detect_faces(image.rgb))
    assert [r.id for r in results] == ALL_IDS
    for r in results:
        assert r.level == "ok", r
        assert r.name and r.value and r.threshold and r.fix == ""


def test_results_are_complete_sentences_when_not_ok(astronaut: np.ndarray) -> None:
    grey = np.full((100, 100, 3), 128, np.uint8)
    results = check_image(_loaded(grey, fmt="WEBP", orientation=6, alpha=True), [])
    assert [r.id for r in results] == NO_SINGLE_FACE_IDS
    for r in results:
        if r.level != "ok":
            assert r.fix.endswith(".") and len(r.fix) > 20, r


# --- format ------------------------------------------------------------------------------------


# other formats are converted for the user: information, not a warning (calibration, issue 11)
@pytest.mark.parametrize(("fmt", "level"), [("JPEG", "ok"), ("PNG", "ok"), ("MPO", "ok"), ("WEBP", "info"), ("BMP", "info")])
def test_format(fmt: str, level: str) -> None:
    result = _by_id(check_image(_loaded(np.zeros((8, 8, 3), np.uint8), fmt=fmt), []))["image.format"]
    assert result.level == level
    if level == "info":
        assert f"converted from {fmt} to PNG" in result.value
    assert "JPG or PNG" in result.threshold


def test_webp_file_gives_conversion_note(tmp_path: Path, astronaut: np.ndarray) -> None:
    Image.fromarray(astronaut).save(tmp_path / "a.webp", quality=90)
    image = load_image(tmp_path / "a.webp")
    result = _by_id(check_image(image, detect_faces(image.rgb)))
    assert result["image.format"].level == "info"
    assert "converted from WEBP to PNG for the model" in result["image.format"].value
    assert result["image.faces"].level == "ok"


def test_16_bit_is_mentioned() -> None:
    result = _by_id(check_image(_loaded(np.zeros((8, 8, 3), np.uint8), bits=16), []))["image.format"]
    assert result.level == "ok" and "16-bit" in result.value


# --- resolution --------------------------------------------------------------------------------


# the rule is the short side of the model's output (384 px), not the guide's 512 (issue 11)
@pytest.mark.parametrize(
    ("w", "h", "level"),
    [(384, 384, "ok"), (383, 512, "warning"), (512, 383, "warning"), (720, 400, "ok"), (400, 720, "ok"),
     (2000, 512, "ok"), (256, 256, "warning")],
)
def test_resolution_edges(w: int, h: int, level: str) -> None:
    result = _by_id(check_image(_loaded(np.zeros((h, w, 3), np.uint8)), []))["image.resolution"]
    assert result.level == level
    assert f"{w} × {h}" in result.value
    assert str(rules.MIN_SHORT_SIDE_PX) in result.threshold and str(rules.MIN_SIDE_PX) in result.threshold
    if level == "warning":
        assert "Real-ESRGAN" in result.fix and "crop" in result.fix


def test_downscaled_astronaut_warns_about_resolution_only(astronaut: np.ndarray) -> None:
    small = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    result = _check(small)
    assert result["image.resolution"].level == "warning"
    assert result["image.faces"].level == "ok"
    assert result["image.sharpness"].level == "ok"  # small is not the same as blurred


# --- faces -------------------------------------------------------------------------------------


def test_two_astronauts_is_a_problem(astronaut: np.ndarray) -> None:
    results = check_image(_loaded(np.concatenate([astronaut, astronaut], axis=1)), detect_faces(np.concatenate([astronaut, astronaut], axis=1)))
    assert [r.id for r in results] == NO_SINGLE_FACE_IDS
    faces = _by_id(results)["image.faces"]
    assert faces.level == "problem"
    assert faces.value == "2 faces"
    # both counts and both ways out (issue 14): a track per person, or a crop to one person
    assert faces.fix.startswith("2 faces found but 1 speech track: ")
    assert "add a speech track for each person (up to 4)" in faces.fix and "crop the photo to one person" in faces.fix


def test_more_faces_than_can_speak_says_to_crop() -> None:
    from liveavatar.checks.image import _check_faces

    fix = _check_faces(6).fix
    assert fix.startswith("6 faces found but 1 speech track: ") and "at most 4 people" in fix


def test_several_people_leave_faces_to_check_people(astronaut: np.ndarray) -> None:
    """people >= 2: no face count or single-face lines; image-wide exposure, lighting, sharpness."""
    rgb = np.concatenate([astronaut, astronaut], axis=1)
    results = check_image(_loaded(rgb), detect_faces(rgb), people=2)
    ids = [r.id for r in results]
    assert ids == [i for i in NO_SINGLE_FACE_IDS if i != "image.faces"]
    by_id = _by_id(results)
    for cid in ("image.exposure", "image.lighting", "image.sharpness"):
        assert by_id[cid].value.startswith("whole image (several people): "), by_id[cid]
        assert by_id[cid].level == "ok"
    # one speaker with the same photo still gets the face count
    assert "image.faces" in [r.id for r in check_image(_loaded(rgb), detect_faces(rgb))]


@pytest.mark.parametrize("kind", ["grey", "cat"])
def test_no_face_is_a_warning_not_a_block(kind: str) -> None:
    """The model animates cartoon characters a face detector misses: generate anyway (issue 11)."""
    rgb = np.full((600, 600, 3), 128, np.uint8) if kind == "grey" else data.chelsea()
    result = _check(rgb)
    assert result["image.faces"].level == "warning"
    assert result["image.faces"].value == "0 faces"
    fix = result["image.faces"].fix
    assert "No human face was found" in fix and "generate anyway" in fix and "single face is clearly visible" in fix
    assert "whole image" in result["image.exposure"].value


# --- face placement ----------------------------------------------------------------------------


def test_face_in_corner_of_large_canvas(astronaut: np.ndarray) -> None:
    canvas = np.full((1536, 1536, 3), 255, np.uint8)
    canvas[:512, :512] = astronaut
    result = _check(canvas)
    assert result["image.faces"].level == "ok"
    assert result["image.face_centre"].level == "warning"
    assert "too far left" in result["image.face_centre"].value
    assert result["image.face_size"].level == "warning"
    assert "too small" in result["image.face_size"].value
    assert result["image.exposure"].level == "ok"


def _face(box: tuple[int, int, int, int], yaw: float | None = 0.0) -> Face:
    return Face(box=box, score=0.9, landmarks=None, yaw_deg=yaw, mouth_box=None)


def _single_face_results(face: Face, size: int = 1000) -> dict[str, CheckResult]:
    return _by_id(check_image(_loaded(np.full((size, size, 3), 128, np.uint8)), [face]))


def test_face_size_edges() -> None:
    at_min = round(rules.FACE_SIZE_MIN * 1000)
    assert _single_face_results(_face((400, 300, 400 + at_min, 300 + at_min)))["image.face_size"].level == "ok"
    small = _single_face_results(_face((400, 300, 400 + at_min - 1, 300 + at_min - 1)))["image.face_size"]
    assert small.level == "warning" and "too small" in small.value
    at_max = round(rules.FACE_SIZE_MAX * 1000)
    assert _single_face_results(_face((100, 100, 100 + at_max, 100 + at_max)))["image.face_size"].level == "ok"
    large = _single_face_results(_face((50, 50, 50 + at_max + 1, 50 + at_max + 1)))["image.face_size"]
    assert large.level == "warning" and "too large" in large.value and "further away" in large.fix
    assert f"{rules.FACE_SIZE_MIN:.2f}" in large.threshold and f"{rules.FACE_SIZE_MAX:.2f}" in large.threshold


def test_face_centre_edges() -> None:
    half = 100  # a 200 px face in a 1000 px image
    def centred_at(cx: int, cy: int) -> str:
        return _single_face_results(_face((cx - half, cy - half, cx + half, cy + half)))["image.face_centre"].level

    limit_x = round(rules.FACE_CENTRE_MAX_X_OFFSET * 1000)
    assert centred_at(500 - limit_x, 500) == "ok"
    assert centred_at(500 - limit_x - 2, 500) == "warning"
    assert centred_at(500 + limit_x + 2, 500) == "warning"
    above = round(rules.FACE_CENTRE_MAX_ABOVE * 1000)
    assert centred_at(500, 500 - above) == "ok"
    assert centred_at(500, 500 - above - 2) == "warning"
    below = round(rules.FACE_CENTRE_MAX_BELOW * 1000)
    assert centred_at(500, 500 + below) == "ok"
    assert centred_at(500, 500 + below + 2) == "warning"


# 50°: upstream's 3/4-turned music producer (43°) is animated well (issue 11)
@pytest.mark.parametrize(("yaw", "level"), [(0.0, "ok"), (-43.0, "ok"), (50.0, "ok"), (50.5, "warning"), (-70.0, "warning")])
def test_pose_edges(yaw: float, level: str) -> None:
    result = _single_face_results(_face((400, 300, 600, 500), yaw=yaw))["image.pose"]
    assert result.level == level
    assert "50°" in result.threshold
    if level == "warning":
        assert "frontal or slightly turned" in result.fix


def test_pose_not_measured_without_landmarks() -> None:
    result = _single_face_results(_face((400, 300, 600, 500), yaw=None))["image.pose"]
    assert result.level == "ok" and "not measured" in result.value


# --- exposure, lighting, sharpness -------------------------------------------------------------


def test_darkened_astronaut_is_too_dark(astronaut: np.ndarray) -> None:
    result = _check((astronaut * 0.25).astype(np.uint8))["image.exposure"]
    assert result.level == "warning" and "too dark" in result.value
    assert str(int(rules.DARK_MEAN_LUMA)) in result.threshold


def test_overexposed_astronaut(astronaut: np.ndarray) -> None:
    result = _check(np.clip(astronaut.astype(np.float64) * 1.8, 0, 255).astype(np.uint8))
    assert result["image.faces"].level == "ok"
    assert result["image.exposure"].level == "warning" and "over-exposed" in result["image.exposure"].value


def _flat_face_image(luma: int) -> tuple[np.ndarray, Face]:
    """Grey image with a textured face square whose mean luma is ``luma`` (texture keeps it sharp)."""
    rgb = np.full((600, 600, 3), 128, np.uint8)
    checker = ((np.indices((200, 200)).sum(axis=0) // 2) % 2) * 20 - 10
    rgb[200:400, 200:400] = np.clip(luma + checker, 0, 255)[:, :, None]
    return rgb, _face((200, 200, 400, 400))


def test_exposure_mean_edges() -> None:
    for luma, level in [
        (int(rules.DARK_MEAN_LUMA), "ok"),
        (int(rules.DARK_MEAN_LUMA) - 1, "warning"),
        (int(rules.BRIGHT_MEAN_LUMA), "ok"),
        (int(rules.BRIGHT_MEAN_LUMA) + 1, "warning"),
    ]:
        rgb, face = _flat_face_image(luma)
        assert _by_id(check_image(_loaded(rgb), [face]))["image.exposure"].level == level, luma


def test_exposure_clipping_edge() -> None:
    rgb = np.full((100, 100, 3), 128, np.uint8)
    n = int(rules.MAX_CLIPPED_FRACTION * 100)  # rows of pure white
    rgb[:n] = 255
    assert _by_id(check_image(_loaded(rgb), []))["image.exposure"].level == "ok"
    rgb[: n + 1] = 255
    result = _by_id(check_image(_loaded(rgb), []))["image.exposure"]
    assert result.level == "warning" and "over-exposed" in result.value


def test_half_darkened_face_is_harsh_lighting(astronaut: np.ndarray, astronaut_face: Face) -> None:
    shadowed = astronaut.copy()
    mid = (astronaut_face.box[0] + astronaut_face.box[2]) // 2
    shadowed[:, :mid] = (shadowed[:, :mid] * 0.3).astype(np.uint8)
    result = _check(shadowed)
    assert result["image.faces"].level == "ok"
    assert result["image.lighting"].level == "warning"
    assert "harsh shadow on the left" in result["image.lighting"].value
    assert f"{rules.HARSH_SHADOW_RATIO:.1f}" in result["image.lighting"].threshold


def test_lighting_ratio_edge() -> None:
    rgb = np.full((100, 100, 3), 100, np.uint8)
    bright = int(round(rules.HARSH_SHADOW_RATIO * 101 - 1))  # (bright + 1) / (100 + 1) == ratio
    rgb[:, 50:] = bright
    assert _by_id(check_image(_loaded(rgb), []))["image.lighting"].level == "ok"
    rgb[:, 50:] = bright + 1
    assert _by_id(check_image(_loaded(rgb), []))["image.lighting"].level == "warning"


def test_low_contrast_face(astronaut: np.ndarray) -> None:
    flat = (128 + (astronaut.astype(np.float64) - 128) * 0.15).astype(np.uint8)
    result = _check(flat)["image.lighting"]
    assert result.level == "warning" and "low contrast" in result.value


def test_blurred_astronaut(astronaut: np.ndarray) -> None:
    assert _check(cv2.GaussianBlur(astronaut, (0, 0), 0.7))["image.sharpness"].level == "ok"
    result = _check(cv2.GaussianBlur(astronaut, (0, 0), 3))["image.sharpness"]
    assert result.level == "warning" and "blurred" in result.value
    assert f"{rules.MIN_SHARPNESS:.2f}" in result.threshold


def test_heavily_blurred_face_reports_blur_not_missing_face(astronaut: np.ndarray) -> None:
    result = _check(cv2.GaussianBlur(astronaut, (0, 0), 6))
    assert result["image.faces"].level == "ok"
    assert result["image.pose"].level == "ok" and "not measured" in result["image.pose"].value
    assert result["image.sharpness"].level == "warning"


def test_blur_is_reported_even_without_a_face(astronaut: np.ndarray) -> None:
    result = _check(cv2.GaussianBlur(astronaut, (0, 0), 10))
    assert result["image.faces"].level == "warning"
    sharpness = result["image.sharpness"]
    assert sharpness.level == "warning" and "whole image" in sharpness.value
    assert "The picture is blurred" in sharpness.fix and "face" not in sharpness.fix.lower()
    assert _check(data.chelsea())["image.sharpness"].level == "ok"


def test_sharpness_is_independent_of_image_size(astronaut: np.ndarray) -> None:
    """The same photo at 4× the pixels measures alike: blur is judged relative to the face."""
    big = cv2.resize(astronaut, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    big_blurred = cv2.GaussianBlur(big, (0, 0), 12)  # == sigma 3 at the original size
    assert _check(big)["image.sharpness"].level == "ok"
    assert _check(big_blurred)["image.sharpness"].level == "warning"


# --- orientation, alpha ------------------------------------------------------------------------


def test_orientation_and_alpha() -> None:
    rgb = np.zeros((8, 8, 3), np.uint8)
    plain = _by_id(check_image(_loaded(rgb), []))
    assert plain["image.orientation"].level == "ok" and plain["image.alpha"].level == "ok"
    turned = _by_id(check_image(_loaded(rgb, orientation=6, alpha=True), []))
    assert turned["image.orientation"].level == "info"
    assert "rotated 90° clockwise" in turned["image.orientation"].value
    assert turned["image.alpha"].level == "info"
    assert "transparent background flattened onto white" in turned["image.alpha"].value


def test_exif_rotated_file_end_to_end(tmp_path: Path, astronaut: np.ndarray) -> None:
    stored = np.rot90(astronaut, k=1)  # stored sideways; orientation 6 turns it back upright
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.ascontiguousarray(stored)).save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=92)
    image = load_image(tmp_path / "phone.jpg")
    result = _by_id(check_image(image, detect_faces(image.rgb)))
    assert result["image.orientation"].level == "info"
    assert result["image.faces"].level == "ok" and result["image.pose"].level == "ok"


# --- robustness --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rgb",
    [
        np.zeros((1, 1, 3), np.uint8),
        np.zeros((0, 0, 3), np.uint8),
        np.full((3, 500, 3), 255, np.uint8),
        np.full((4000, 3000, 3), 7, np.uint8),
        np.zeros((20, 20), np.uint8),
        np.zeros((20, 20, 4), np.uint8),
        np.random.default_rng(1).random((20, 30, 3)),
    ],
    ids=["1px", "empty", "sliver", "huge-constant", "grey-2d", "rgba", "float"],
)
def test_odd_arrays_never_raise(rgb: np.ndarray) -> None:
    results = check_image(_loaded(rgb), detect_faces(rgb))
    assert [r.id for r in results] == NO_SINGLE_FACE_IDS
    assert not any("error" in r.value for r in results)


def test_degenerate_face_boxes_never_raise() -> None:
    rgb = np.full((50, 50, 3), 90, np.uint8)
    for box in [(0, 0, 0, 0), (-10, -10, 5, 5), (40, 40, 400, 400), (30, 30, 10, 10)]:
        results = check_image(_loaded(rgb), [_face(box, yaw=float("nan"))])
        assert [r.id for r in results] == ALL_IDS
        assert not any("error" in r.value for r in results)
    results = check_image(_loaded(np.zeros((0, 0, 3), np.uint8)), [_face((0, 0, 5, 5))])
    assert [r.id for r in results] == ALL_IDS
    assert not any("error" in r.value for r in results)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    arrays(
        np.uint8,
        st.tuples(st.integers(1, 48), st.integers(1, 48), st.just(3)),
        elements=st.integers(0, 255),
    )
)
def test_random_small_arrays_never_raise(rgb: np.ndarray) -> None:
    faces = detect_faces(rgb)
    results = check_image(_loaded(rgb), faces)
    assert results[0].id == "image.format" and results[-1].id == "image.alpha"
    assert all(r.level in ("ok", "info", "warning", "problem") for r in results)
    assert not any("error" in r.value for r in results)
