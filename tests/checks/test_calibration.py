"""Calibration: real inputs the model is known to handle must pass, and the bad ones must still fire.

The input checks once flagged every one of upstream Live Avatar's own showcase inputs (720 × 400
renders, 24 kHz float speech at −19 to −22 dBFS, 55-word prompts) and blocked its cartoon cyclops.
Each case here states the verdict it must get, per check id, so a threshold change that flags good
inputs (or lets a bad one through) fails a test. Sources and licences: ``calibration/README.md``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile as sf
from PIL import Image, ImageDraw
from skimage import data

from liveavatar.checks import image as image_rules
from liveavatar.checks.audio import analyse_audio, check_audio
from liveavatar.checks.consistency import check_consistency
from liveavatar.checks.image import check_image
from liveavatar.checks.prompt import GOOD_PROMPT_EXAMPLE, check_prompt, prompt_elements
from liveavatar.checks.result import CheckResult
from liveavatar.faces import detect_faces
from liveavatar.media.audio import load_audio
from liveavatar.media.image import LoadedImage, load_image
from liveavatar.testing.synth import as_loaded, speech_like

HERE = Path(__file__).parent / "calibration"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "media"
CLIP_SECONDS = 1.92  # one 48-frame clip at 25 fps

# ---- prompts ------------------------------------------------------------------------------------
# Upstream's prompts, quoted from Alibaba-Quark/LiveAvatar (Apache-2.0):
# infinite_inference_single_gpu.sh / minimal_inference/gradio_app.py.
UPSTREAM_DWARF = (
    "A stout, cheerful dwarf with a magnificent braided beard adorned with metal rings, wearing a heavy "
    "leather apron. He's standing in his fiery, cluttered forge, laughing heartily as he explains the "
    "mastery of his craft, holding up a glowing hammer. Style of Blizzard Entertainment cinematics (like "
    "World of Warcraft), warm, dynamic lighting from the forge."
)
UPSTREAM_BOY = (
    "A young boy with curly brown hair and a white polo shirt, wearing a backpack, standing outdoors in a "
    "sunny park. He is speaking animatedly with expressive hand gestures, his hands clearly visible and "
    "moving naturally. His facial expressions are lively and engaging, conveying enthusiasm and "
    "curiosity. The camera captures him from the chest up with a steady, clear shot, natural lighting "
    "and a soft green background. Realistic 3D animation style, lifelike motion and expression."
)
UPSTREAM_ANCHOR = (
    "A scene in which the anchorwoman is interacting with the audience, with a clean interior in the "
    "background."
)
# Our own, in the same style (44-80 words naming character, action, place and style).
ANCHORWOMAN_FULL = (
    "A confident anchorwoman in her forties with a sleek dark bob, wearing a red blazer, is interacting "
    "with the studio audience, smiling and gesturing towards them as she introduces the next guest. "
    "She stands in a bright television studio with blue screens behind her. Soft key lighting, medium "
    "shot, broadcast television style."
)
GRANDMOTHER = (
    "An elderly grandmother with silver hair tied back, wearing a cream apron over a pink cardigan, "
    "kneading dough at a wooden kitchen table and chatting warmly to the camera, laughing now and then. "
    "Her cosy farmhouse kitchen is lit by golden afternoon sunlight from a window, with shelves of jars "
    "slightly out of focus. Warm cinematic style, shallow depth of field."
)
CYCLOPS = (
    "A cheerful green cyclops baker with one big eye, wearing a flour-dusted white apron over a knitted "
    "sweater, presenting a tray of freshly baked pies and explaining his recipe to the camera. He stands "
    "in a cosy rustic bakery with wooden shelves of bread and soft steam rising behind him. Pixar-style "
    "3D animation, warm lighting."
)
GOOD_PROMPTS = {
    "upstream dwarven blacksmith": UPSTREAM_DWARF,
    "upstream boy in the park": UPSTREAM_BOY,
    "guide's good example (43 words)": GOOD_PROMPT_EXAMPLE,
    "anchorwoman interacting with the audience": ANCHORWOMAN_FULL,
    "kitchen grandmother": GRANDMOTHER,
    "cartoon cyclops baker": CYCLOPS,
}


def _by_id(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.id: r for r in results}


def _flagged(results: list[CheckResult]) -> dict[str, str]:
    """Only the verdicts that ask something of the user: ``{id: "warning" | "problem"}``."""
    return {r.id: r.level for r in results if r.level in ("warning", "problem")}


def _image_results(image: LoadedImage) -> list[CheckResult]:
    return check_image(image, detect_faces(image.rgb))


def _rgb_results(rgb: np.ndarray, fmt: str = "PNG") -> list[CheckResult]:
    image = LoadedImage(rgb=np.ascontiguousarray(rgb), source_format=fmt, exif_orientation=1,
                        had_alpha=False, path="calibration.png", bits_per_channel=8)
    return _image_results(image)


def _audio_results(path: Path) -> list[CheckResult]:
    return check_audio(analyse_audio(load_audio(path)), clip_seconds=CLIP_SECONDS)


@pytest.fixture(scope="module")
def blogger_speech() -> tuple[np.ndarray, int]:
    samples, sr = sf.read(HERE / "fashion_blogger.flac", dtype="float32")
    return samples, sr


def _at_speech_level(x: np.ndarray, target_dbfs: float) -> np.ndarray:
    """``x`` scaled so that the checks' speech RMS reads ``target_dbfs``."""
    now = analyse_audio(as_loaded(x)).speech_rms_dbfs
    return (x * 10 ** ((target_dbfs - now) / 20)).astype(np.float32)


# ---- portraits ----------------------------------------------------------------------------------
UPSTREAM_GOOD_IMAGES = [
    "anchor.jpg", "boy.jpg", "dwarven_blacksmith.jpg", "fashion_blogger.jpg", "kitchen_grandmother.jpg",
    "music_producer.jpg", "livestream_1.jpg", "livestream_2.jpg", "man.jpg",
]


@pytest.mark.parametrize("name", UPSTREAM_GOOD_IMAGES)
def test_upstream_portraits_pass_every_image_check(name: str) -> None:
    """Upstream's showcase portraits (720 × 400, 400 × 720, 3/4 views, a small stylised face): all ok."""
    results = _image_results(load_image(HERE / name))
    assert {r.level for r in results} == {"ok"}, _flagged(results)
    assert _by_id(results)["image.faces"].value == "1 face"


def test_upstream_cartoon_gets_only_the_no_face_warning() -> None:
    """The cyclops baker: no human face is detected, but the model animates it, so it is a warning
    with "generate anyway", never a block, and its smooth shading is not read as blur."""
    results = _image_results(load_image(HERE / "cyclops_baker.jpg"))
    assert _flagged(results) == {"image.faces": "warning"}
    faces = _by_id(results)["image.faces"]
    assert faces.value == "0 faces" and "generate anyway" in faces.fix and "cartoon" in faces.fix
    assert _by_id(results)["image.sharpness"].level == "ok"
    assert not any(r.level == "problem" for r in results)


def _flat_cartoon(width: int, height: int) -> np.ndarray:
    """A flat-shaded cartoon character: uniform colour regions with crisp edges, nothing else."""
    im = Image.new("RGB", (width, height), (120, 180, 230))
    d = ImageDraw.Draw(im)
    d.rectangle([0, int(height * 0.7), width, height], fill=(90, 160, 80))
    cx, cy, r = width // 2, int(height * 0.45), int(min(width, height) * 0.22)
    d.ellipse([cx - r - 10, cy + r - 10, cx + r + 10, height + r], fill=(220, 60, 60))
    d.ellipse([cx - r, cy - r * 1.2, cx + r, cy + r * 1.1], fill=(250, 210, 170))
    d.chord([cx - r - 5, cy - r * 1.35, cx + r + 5, cy + r * 0.2], 180, 360, fill=(90, 50, 20))
    for side in (-1, 1):
        ex = cx + side * r * 0.4
        d.ellipse([ex - r * 0.15, cy - r * 0.15, ex + r * 0.15, cy + r * 0.15], fill=(255, 255, 255))
        d.ellipse([ex - r * 0.07, cy - r * 0.07, ex + r * 0.07, cy + r * 0.07], fill=(30, 30, 30))
    d.chord([cx - r * 0.35, cy + r * 0.3, cx + r * 0.35, cy + r * 0.75], 0, 180, fill=(150, 30, 40))
    return np.asarray(im)


@pytest.mark.parametrize(("width", "height"), [(720, 400), (400, 720)])
def test_flat_shaded_cartoon_is_not_blurred_and_never_blocked(width: int, height: int) -> None:
    results = _rgb_results(_flat_cartoon(width, height))
    by_id = _by_id(results)
    assert by_id["image.sharpness"].level == "ok"
    assert by_id["image.resolution"].level == "ok"
    assert by_id["image.faces"].level in ("ok", "warning")  # a detector may or may not see it
    assert set(_flagged(results)) <= {"image.faces", "image.face_size", "image.face_centre", "image.pose"}
    assert "problem" not in _flagged(results).values()


def _astronaut_framed(width: int, height: int) -> np.ndarray:
    """The astronaut (NASA, public domain) scaled to cover ``width × height`` and cropped around
    her face the way a user would frame it."""
    src = data.astronaut()
    scale = max(width / src.shape[1], height / src.shape[0]) * 1.15
    big = cv2.resize(src, (round(src.shape[1] * scale), round(src.shape[0] * scale)), interpolation=cv2.INTER_CUBIC)
    face_x, face_y = round(0.46 * big.shape[1]), round(0.28 * big.shape[0])  # her face centre
    x0 = int(np.clip(face_x - width // 2, 0, big.shape[1] - width))
    y0 = int(np.clip(face_y - height // 3, 0, big.shape[0] - height))
    return big[y0 : y0 + height, x0 : x0 + width]


@pytest.mark.parametrize(
    ("width", "height"),
    [(720, 400), (400, 720), (704, 384), (1280, 720), (1080, 1920), (4032, 3024), (3024, 4032)],
    ids=["720x400", "400x720", "704x384", "720p", "phone-portrait-video", "phone-landscape", "phone-portrait"],
)
def test_model_and_camera_sizes_pass(width: int, height: int) -> None:
    """The model's own sizes and common phone/camera sizes: no check fires."""
    results = _rgb_results(_astronaut_framed(width, height), fmt="JPEG")
    assert _flagged(results) == {}, [(r.id, r.value) for r in results if r.level != "ok"]


def test_resolution_floor_is_the_largest_preset_output_short_side() -> None:
    from liveavatar.presets import PRESETS

    short_sides = [min(int(v) for v in p.settings.size.split("*")) for p in PRESETS.values()]
    assert image_rules.MIN_SHORT_SIDE_PX == max(short_sides)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("blurry.png", {"image.sharpness": "warning"}),
        ("small_dark.jpg", {"image.resolution": "warning", "image.exposure": "warning", "image.lighting": "warning"}),
        ("two_faces.png", {"image.faces": "problem"}),
        ("no_face.png", {"image.faces": "warning", "image.resolution": "warning"}),
        ("portrait.png", {}),
    ],
)
def test_bad_example_portraits_still_fire(name: str, expected: dict[str, str]) -> None:
    assert _flagged(_image_results(load_image(EXAMPLES / name))) == expected


def test_blurred_upstream_portrait_warns() -> None:
    """Blur is still caught on real photos: upstream's anchor (a 285 px face) with an 8 px Gaussian blur."""
    rgb = cv2.GaussianBlur(load_image(HERE / "anchor.jpg").rgb, (0, 0), 8)
    assert _flagged(_rgb_results(rgb, fmt="JPEG")).get("image.sharpness") == "warning"


# ---- speech -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["fashion_blogger.flac", "kitchen_grandmother.flac"])
def test_upstream_speech_passes(name: str) -> None:
    """Upstream's recordings (−21 / −22 dBFS speech, one with a 1.66 s sentence break): nothing fires;
    FLAC is converted for the user, which is information."""
    results = _audio_results(HERE / name)
    assert _flagged(results) == {}
    assert _by_id(results)["audio.format"].level == "info"


@pytest.mark.parametrize("level_dbfs", [-30.0, -24.0, -18.0])
def test_clean_speech_at_any_ordinary_level_passes(tmp_path: Path, blogger_speech, level_dbfs: float) -> None:
    samples, sr = blogger_speech
    sf.write(tmp_path / "s.wav", _at_speech_level(samples, level_dbfs), sr, subtype="PCM_16")
    results = _audio_results(tmp_path / "s.wav")
    assert {r.level for r in results} == {"ok"}, _flagged(results)


@pytest.mark.parametrize(
    ("name", "write", "rate", "stereo", "info_ids"),
    [
        ("pcm24.wav", {"subtype": "PCM_24"}, None, False, {"audio.bit_depth"}),
        ("float.wav", {"subtype": "FLOAT"}, None, False, {"audio.bit_depth"}),
        ("stereo.wav", {"subtype": "PCM_16"}, None, True, {"audio.channels"}),
        ("cd.wav", {"subtype": "PCM_16"}, 44100, False, set()),
        ("video.wav", {"subtype": "PCM_16"}, 48000, True, {"audio.channels"}),
        ("speech.mp3", {"format": "MP3"}, 44100, False, set()),
        ("speech.flac", {"format": "FLAC", "subtype": "PCM_24"}, 48000, False, {"audio.format", "audio.bit_depth"}),
    ],
)
def test_speech_formats_are_information_not_warnings(tmp_path: Path, blogger_speech, name, write, rate, stereo, info_ids) -> None:
    import librosa

    samples, sr = blogger_speech
    x = _at_speech_level(samples, -24.0)
    if rate:
        x, sr = librosa.resample(x, orig_sr=sr, target_sr=rate).astype(np.float32), rate
    if stereo:
        x = np.stack([x, x], axis=1)
    sf.write(tmp_path / name, x, sr, **write)
    results = _audio_results(tmp_path / name)
    assert _flagged(results) == {}
    assert {r.id for r in results if r.level == "info"} == info_ids


@pytest.mark.parametrize(
    ("level_dbfs", "noise_dbfs", "expected"),
    [
        (-18.0, None, {}),
        (-30.0, -60.0, {}),  # quiet speech in a quiet room: 30 dB above the floor
        (-45.0, -90.0, {"audio.loudness": "warning"}),  # very quiet: hiss and quantisation get normalised up
        (-18.0, -24.0, {"audio.noise": "warning"}),  # speech only 6 dB over the noise
        (-12.0, -20.0, {"audio.noise": "warning"}),  # loud is no cure for noise: the ratio is what counts
    ],
)
def test_loudness_and_noise_by_their_effect(level_dbfs: float, noise_dbfs: float | None, expected: dict) -> None:
    stats = analyse_audio(as_loaded(speech_like(6.0, level_dbfs=level_dbfs, noise_dbfs=noise_dbfs, seed=3)))
    flagged = _flagged(check_audio(stats, clip_seconds=CLIP_SECONDS))
    assert flagged == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("quiet_noisy_8k.wav", {"audio.sample_rate": "warning", "audio.noise": "warning"}),
        ("long_pause.wav", {"audio.silence": "warning"}),
        ("silence.wav", {"audio.silence": "problem"}),
        ("too_short.wav", {"audio.duration": "problem"}),
        ("speech.wav", {}),
    ],
)
def test_bad_example_recordings_still_fire(name: str, expected: dict[str, str]) -> None:
    assert _flagged(_audio_results(EXAMPLES / name)) == expected


def test_wav2vec2_front_end_normalises_level_away(tmp_path: Path, blogger_speech) -> None:
    """The measurement behind the loudness rule, on our wav2vec2 path (tiny random weights, real
    ``Wav2Vec2FeatureExtractor`` with ``do_normalize``): level barely changes the features, noise does."""
    import librosa

    from liveavatar.pipeline.audio import AudioEncoder, write_tiny_wav2vec2

    encoder = AudioEncoder.from_checkpoint(write_tiny_wav2vec2(tmp_path / "w2v"))
    assert encoder.feature_extractor.do_normalize
    samples, sr = blogger_speech
    base = librosa.resample(samples[: 4 * sr], orig_sr=sr, target_sr=16000)
    base = base / np.sqrt(np.mean(base**2))

    def features(level_dbfs: float, snr_db: float | None = None):
        x = base * 10 ** (level_dbfs / 20)
        if snr_db is not None:
            x = x + np.random.default_rng(0).normal(0, 10 ** ((level_dbfs - snr_db) / 20), x.size)
        x = np.round(np.clip(x, -1, 1) * 32767) / 32767  # as 16-bit PCM
        return encoder.extract(x.astype(np.float32))

    ref = features(-30.0)

    def change(f) -> float:
        return float((f - ref).norm() / ref.norm())

    assert change(features(-24.0)) < 0.01 and change(features(-45.0)) < 0.02
    assert change(features(-30.0, snr_db=20.0)) > 0.2  # noise matters far more than level


# ---- prompts ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(GOOD_PROMPTS))
def test_good_prompts_pass_every_prompt_check(name: str) -> None:
    text = GOOD_PROMPTS[name]
    assert 40 <= len(text.split()) <= 80
    results = check_prompt(text)
    assert {r.level for r in results} == {"ok"}, [(r.id, r.value) for r in results if r.level != "ok"]


def test_upstream_anchor_prompt_names_a_character_and_an_action() -> None:
    found = prompt_elements(UPSTREAM_ANCHOR)
    assert "anchorwoman" in found["character"] and "interacting" in found["action"]
    assert found["environment"] and not found["style"]
    # 18 words and no style: the two honest warnings, nothing else
    assert _flagged(check_prompt(UPSTREAM_ANCHOR)) == {"prompt.length": "warning", "prompt.elements": "warning"}


@pytest.mark.parametrize("text", ["a woman talking", "A man speaking in an office.", ""])
def test_very_short_prompts_still_warn(text: str) -> None:
    assert _by_id(check_prompt(text))["prompt.length"].level == "warning"


# ---- whole upstream pairs -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("image", "prompt", "audio"),
    [
        ("dwarven_blacksmith.jpg", UPSTREAM_DWARF, "kitchen_grandmother.flac"),
        ("boy.jpg", UPSTREAM_BOY, "fashion_blogger.flac"),
        ("kitchen_grandmother.jpg", GRANDMOTHER, "kitchen_grandmother.flac"),
        ("anchor.jpg", ANCHORWOMAN_FULL, "fashion_blogger.flac"),
    ],
)
def test_upstream_pairs_pass_the_whole_checklist(image: str, prompt: str, audio: str) -> None:
    loaded = load_image(HERE / image)
    faces = detect_faces(loaded.rgb)
    stats = analyse_audio(load_audio(HERE / audio))
    results = [
        *check_image(loaded, faces),
        *check_audio(stats, clip_seconds=CLIP_SECONDS),
        *check_prompt(prompt),
        *check_consistency(prompt, face_count=len(faces), audio=stats),
    ]
    assert _flagged(results) == {}


def test_cartoon_pair_is_never_blocked() -> None:
    loaded = load_image(HERE / "cyclops_baker.jpg")
    faces = detect_faces(loaded.rgb)
    stats = analyse_audio(load_audio(HERE / "fashion_blogger.flac"))
    results = [
        *check_image(loaded, faces),
        *check_audio(stats, clip_seconds=CLIP_SECONDS),
        *check_prompt(CYCLOPS),
        *check_consistency(CYCLOPS, face_count=len(faces), audio=stats),
    ]
    assert _flagged(results) == {"image.faces": "warning"}


def test_calibration_set_stays_small() -> None:
    assert sum(p.stat().st_size for p in HERE.iterdir()) < 3 * 1024 * 1024
