"""crop_to_face / draw_face_overlay: the crop fixes a group or off-centre photo without upscaling."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from liveavatar.checks.image import check_image
from liveavatar.faces import Face, detect_faces
from liveavatar.fixes import image as fix
from liveavatar.fixes.image import crop_to_face, draw_face_overlay, plan_face_crop
from liveavatar.media.image import LoadedImage, load_image


def _loaded(rgb: np.ndarray, path: str = "/uploads/portrait.jpg") -> LoadedImage:
    return LoadedImage(rgb=rgb, source_format="JPEG", exif_orientation=1, had_alpha=False, path=path, bits_per_channel=8)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope="module")
def astronaut_face(astronaut: np.ndarray) -> Face:
    return detect_faces(astronaut)[0]


def _contains(outer: tuple[int, int, int, int], inner: tuple[int, int, int, int]) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def test_crop_astronaut(tmp_path: Path, astronaut: np.ndarray, astronaut_face: Face) -> None:
    path, message = crop_to_face(_loaded(astronaut), astronaut_face, tmp_path / "out")
    assert Path(path).parent == tmp_path / "out" and path.endswith(".png")
    saved = load_image(path)
    assert saved.source_format == "PNG"
    box = plan_face_crop(512, 512, astronaut_face.box)
    x0, y0, x1, y1 = box
    np.testing.assert_array_equal(saved.rgb, astronaut[y0:y1, x0:x1])  # pixels untouched, no resampling
    assert _contains(box, astronaut_face.box)
    face_h = astronaut_face.height
    assert saved.height == pytest.approx(fix.CROP_HEIGHT_FACTOR * face_h, abs=2)
    assert saved.width == saved.height  # square by default
    # one sentence that says what was done and, being under 512 px, how to go on
    assert message.replace("e.g. ", "").count(". ") == 0 and message.endswith(".")
    assert f"{saved.width} × {saved.height} px" in message and "512 × 512 px" in message
    assert "Real-ESRGAN" in message


def test_cropped_astronaut_passes_placement_checks(tmp_path: Path, astronaut: np.ndarray, astronaut_face: Face) -> None:
    path, _ = crop_to_face(_loaded(astronaut), astronaut_face, tmp_path)
    image = load_image(path)
    faces = detect_faces(image.rgb)
    assert len(faces) == 1
    results = {r.id: r for r in check_image(image, faces)}
    for check_id in ("image.faces", "image.face_centre", "image.face_size", "image.pose", "image.exposure", "image.sharpness"):
        assert results[check_id].level == "ok", results[check_id]


def test_crop_two_astronauts_leaves_one(tmp_path: Path, astronaut: np.ndarray) -> None:
    pair = np.concatenate([astronaut, astronaut], axis=1)
    faces = detect_faces(pair)
    assert len(faces) == 2
    path, _ = crop_to_face(_loaded(pair), faces[0], tmp_path)
    assert len(detect_faces(load_image(path).rgb)) == 1


@pytest.mark.parametrize("aspect", [16 / 9, 704 / 384, 3 / 4, 0.4])
def test_requested_aspect(tmp_path: Path, astronaut: np.ndarray, astronaut_face: Face, aspect: float) -> None:
    x0, y0, x1, y1 = plan_face_crop(512, 512, astronaut_face.box, aspect)
    assert 0 <= x0 < x1 <= 512 and 0 <= y0 < y1 <= 512
    assert (x1 - x0) / (y1 - y0) == pytest.approx(aspect, rel=0.02)
    assert x0 <= astronaut_face.box[0] and astronaut_face.box[2] <= x1  # both sides of the face kept
    path, _ = crop_to_face(_loaded(astronaut), astronaut_face, tmp_path, aspect=aspect)
    assert load_image(path).rgb.shape == (y1 - y0, x1 - x0, 3)


def test_crop_is_clamped_and_slides_at_edges(astronaut: np.ndarray) -> None:
    canvas = np.full((1536, 1536, 3), 255, np.uint8)
    canvas[:512, :512] = astronaut
    face = detect_faces(canvas)[0]
    box = plan_face_crop(1536, 1536, face.box)
    assert box[1] == 0  # slid down against the top edge rather than shrunk
    assert box[3] - box[1] == pytest.approx(fix.CROP_HEIGHT_FACTOR * face.height, abs=2)
    assert _contains(box, face.box)


def test_never_larger_than_the_source() -> None:
    # a face filling most of the frame: the wanted square crop is 600 px; it shrinks to the width
    # and keeps the face centre at FACE_Y_IN_CROP of its height
    assert plan_face_crop(200, 300, (20, 40, 180, 240)) == (0, 56, 200, 256)
    # an aspect the photo cannot give at full size: the largest such box that fits
    x0, y0, x1, y1 = plan_face_crop(200, 300, (20, 40, 180, 240), aspect=2.0)
    assert (x0, x1, y1 - y0) == (0, 200, 100)
    x0, y0, x1, y1 = plan_face_crop(512, 512, (180, 80, 280, 180), aspect=0.1)
    assert y1 - y0 == 512 and x1 - x0 == 51 and x0 <= 230 <= x1
    x0, y0, x1, y1 = plan_face_crop(1, 1, (0, 0, 1, 1))
    assert (x0, y0, x1, y1) == (0, 0, 1, 1)


def test_large_crop_message_has_no_upscale_hint(tmp_path: Path, astronaut: np.ndarray) -> None:
    big = cv2.resize(astronaut, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    face = detect_faces(big)[0]
    path, message = crop_to_face(_loaded(big), face, tmp_path)
    image = load_image(path)
    assert image.width >= 512 and image.height >= 512
    assert "Real-ESRGAN" not in message and message.endswith(".")


def test_file_name_is_safe_and_idempotent(tmp_path: Path, astronaut: np.ndarray, astronaut_face: Face) -> None:
    image = _loaded(astronaut, path="/tmp/../weird name (1)!.jpeg")
    first, _ = crop_to_face(image, astronaut_face, tmp_path)
    second, _ = crop_to_face(image, astronaut_face, tmp_path)
    assert first == second
    assert Path(first).name.startswith("weird_name_1-face-crop-")
    other, _ = crop_to_face(image, astronaut_face, tmp_path, aspect=16 / 9)
    assert other != first
    assert Image.open(first).format == "PNG"


# --- overlay ------------------------------------------------------------------------------------


def _pixels_of(canvas: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    return np.all(canvas == np.array(colour, np.uint8), axis=2)


def test_overlay_single_face(astronaut: np.ndarray, astronaut_face: Face) -> None:
    before = astronaut.copy()
    crop = plan_face_crop(512, 512, astronaut_face.box)
    out = draw_face_overlay(astronaut, [astronaut_face], crop)
    np.testing.assert_array_equal(astronaut, before)  # input untouched
    assert out.shape == astronaut.shape and out.dtype == np.uint8 and out is not astronaut
    x0, y0, x1, y1 = astronaut_face.box
    green = _pixels_of(out, fix.SINGLE_FACE_COLOUR)
    assert green[y0, x0 : x1 - 1].all() and green[y0 : y1 - 1, x0].all()
    assert not _pixels_of(out, fix.MULTI_FACE_COLOUR).any()
    # the crop rectangle is dashed: its top edge is partly coloured, partly the photo
    top = _pixels_of(out, fix.CROP_COLOUR)[crop[1], crop[0] : crop[2]]
    assert 0.3 < top.mean() < 0.8


def test_overlay_several_faces_are_red(astronaut: np.ndarray) -> None:
    pair = np.concatenate([astronaut, astronaut], axis=1)
    faces = detect_faces(pair)
    out = draw_face_overlay(pair, faces, None)
    red = _pixels_of(out, fix.MULTI_FACE_COLOUR)
    for face in faces:
        assert red[face.box[1], face.box[0] : face.box[2] - 1].all()
    assert not _pixels_of(out, fix.SINGLE_FACE_COLOUR).any()
    assert not _pixels_of(out, fix.CROP_COLOUR).any()


def test_overlay_odd_inputs() -> None:
    assert draw_face_overlay(np.zeros((0, 0, 3), np.uint8), [], None).shape == (0, 0, 3)
    grey = np.zeros((30, 30), np.uint8)
    out = draw_face_overlay(grey, [Face(box=(-5, -5, 50, 50), score=1.0)], (10, 10, 10, 10))
    assert out.shape == (30, 30, 3)
