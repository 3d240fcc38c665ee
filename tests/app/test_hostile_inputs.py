"""Hostile and broken inputs, generated here, each sent through the launched app's API.

Every case must come back as the checklist (never a traceback or Gradio's generic "Error"), with
its own line: the check id, its level, and words from the message saying what is wrong and how to
fix it. After each case the server must still answer the next request.
"""

from __future__ import annotations

import html
import io
import json
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from liveavatar.testing.synth import speech_like

ROOT = Path(__file__).resolve().parents[2]
PORTRAIT = ROOT / "examples" / "media" / "portrait.png"
SPEECH = ROOT / "examples" / "media" / "speech.wav"
GOOD_PROMPT = (
    "A young woman with long black hair and brown eyes, wearing a blue business suit, standing in a "
    "modern office. She is smiling warmly and gesturing with her hands while speaking. Professional "
    "lighting, shallow depth of field, cinematic style like a corporate video."
)


# --- generators ---------------------------------------------------------------------------------
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _blank_png(path: Path, width: int, height: int, bit_depth: int = 8) -> Path:
    """A valid greyscale PNG of zeros, compressed row by row: a few hundred KB on disk whatever its size."""
    row = b"\x00" * (1 + (width * bit_depth + 7) // 8)  # filter byte + packed samples
    z = zlib.compressobj(9)
    rows_per_chunk = max(1, (1 << 22) // len(row))
    body = bytearray()
    for start in range(0, height, rows_per_chunk):
        body += z.compress(row * min(rows_per_chunk, height - start))
    body += z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", bytes(body)) + _png_chunk(b"IEND", b""))
    return path


def _portrait() -> Image.Image:
    return Image.open(PORTRAIT).convert("RGB")


def _encoded(fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    _portrait().save(buf, fmt, **kw)
    return buf.getvalue()


def img_truncated_png(p: Path) -> Path:
    data = _encoded("PNG")
    (p / "cut.png").write_bytes(data[: len(data) // 2])
    return p / "cut.png"


def img_truncated_jpeg(p: Path) -> Path:
    data = _encoded("JPEG", quality=90)
    (p / "cut.jpg").write_bytes(data[: len(data) // 2])
    return p / "cut.jpg"


def img_corrupt_jpeg(p: Path) -> Path:
    data = bytearray(_encoded("JPEG", quality=90))
    data[2:400] = bytes((i * 37 + 11) % 256 for i in range(398))  # headers (quantisation, frame) destroyed
    (p / "corrupt.jpg").write_bytes(bytes(data))
    return p / "corrupt.jpg"


def img_corrupt_png(p: Path) -> Path:
    data = bytearray(_encoded("PNG"))
    start = data.index(b"IDAT") + 4
    data[start + 20 : start + 2000] = b"\xff" * 1980  # compressed pixels overwritten
    (p / "corrupt.png").write_bytes(bytes(data))
    return p / "corrupt.png"


def img_bomb(p: Path) -> Path:  # 100 MP of zeros in ~100 KB: over our 50 MP limit, under Pillow's own
    return _blank_png(p / "bomb.png", 10_000, 10_000)


def img_huge(p: Path) -> Path:  # 20000 × 20000 (400 MP): Pillow itself refuses to open it
    return _blank_png(p / "huge.png", 20_000, 20_000, bit_depth=1)


def img_one_pixel(p: Path) -> Path:
    Image.new("RGB", (1, 1), (200, 150, 120)).save(p / "dot.png")
    return p / "dot.png"


def img_cmyk(p: Path) -> Path:
    _portrait().convert("CMYK").save(p / "print.jpg", quality=92)
    return p / "print.jpg"


def img_16bit(p: Path) -> Path:
    grey = np.asarray(_portrait().convert("L"), dtype=np.uint16) * 257
    Image.fromarray(grey.astype(np.uint16)).save(p / "deep.png")
    with Image.open(p / "deep.png") as check:
        assert check.mode.startswith("I")
    return p / "deep.png"


def img_animated_gif(p: Path) -> Path:
    first = _portrait()
    frames = [first, first.transpose(Image.Transpose.FLIP_LEFT_RIGHT), first.rotate(10)]
    frames[0].save(p / "anim.gif", save_all=True, append_images=frames[1:], duration=80, loop=0)
    return p / "anim.gif"


def img_svg(p: Path) -> Path:
    (p / "face.svg").write_text(
        '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512">'
        '<circle cx="256" cy="256" r="200" fill="peachpuff"/></svg>\n'
    )
    return p / "face.svg"


def img_text_named_png(p: Path) -> Path:
    (p / "notes.png").write_text("this is a shopping list, not a photo\n" * 40)
    return p / "notes.png"


def img_empty(p: Path) -> Path:
    (p / "empty.jpg").write_bytes(b"")
    return p / "empty.jpg"


def _wav(path: Path, samples: np.ndarray, sr: int = 16_000, subtype: str = "PCM_16") -> Path:
    sf.write(path, samples, sr, subtype=subtype)
    return path


def aud_text_named_wav(p: Path) -> Path:
    (p / "notes.wav").write_text("not a recording\n" * 50)
    return p / "notes.wav"


def aud_zero_bytes(p: Path) -> Path:
    (p / "empty.wav").write_bytes(b"")
    return p / "empty.wav"


def aud_tenth_second(p: Path) -> Path:
    return _wav(p / "blip.wav", speech_like(0.1))


def aud_one_hour(p: Path) -> Path:
    """An hour of 16 kHz silence as FLAC (~1 MB, written in chunks): the header says 1 h."""
    path = p / "hour.flac"
    chunk = np.zeros(16_000 * 60, np.int16)
    with sf.SoundFile(path, "w", 16_000, 1, subtype="PCM_16", format="FLAC") as f:
        for _ in range(60):
            f.write(chunk)
    return path


def aud_8khz(p: Path) -> Path:
    return _wav(p / "phone.wav", speech_like(4, sr=8_000), 8_000)


def aud_24bit(p: Path) -> Path:
    return _wav(p / "deep.wav", speech_like(4), subtype="PCM_24")


def aud_float(p: Path) -> Path:
    return _wav(p / "float.wav", speech_like(4), subtype="FLOAT")


def aud_six_channels(p: Path) -> Path:
    return _wav(p / "surround.wav", np.repeat(speech_like(4)[:, None], 6, axis=1))


def aud_nan(p: Path) -> Path:
    x = speech_like(4).astype(np.float32)
    x[1000:1010] = np.nan
    return _wav(p / "nan.wav", x, subtype="FLOAT")


def aud_inf(p: Path) -> Path:
    x = speech_like(4).astype(np.float32)
    x[500], x[501] = np.inf, -np.inf
    return _wav(p / "inf.wav", x, subtype="FLOAT")


def aud_silence(p: Path) -> Path:
    return _wav(p / "silence.wav", np.zeros(16_000 * 4, np.float32))


def aud_noise(p: Path) -> Path:
    rng = np.random.default_rng(0)
    return _wav(p / "noise.wav", (rng.standard_normal(16_000 * 4) * 0.2).astype(np.float32))


# (generator, check id, level, words that must be in its value/fix)
IMAGE_CASES: dict[str, tuple[Callable[[Path], Path], str, str, tuple[str, ...]]] = {
    "truncated_png": (img_truncated_png, "image.file", "problem", ("could not be read as an image", "damaged or incomplete", "save it as a JPG or PNG")),
    "truncated_jpeg": (img_truncated_jpeg, "image.file", "problem", ("could not be read as an image", "damaged or incomplete")),
    "corrupt_jpeg": (img_corrupt_jpeg, "image.file", "problem", ("could not be read as an image",)),
    "corrupt_png": (img_corrupt_png, "image.file", "problem", ("could not be read as an image",)),
    "decompression_bomb_100mp": (img_bomb, "image.file", "problem", ("10000 × 10000 pixels", "100.0 megapixels", "limit of 50 megapixels", "Resize")),
    "huge_20000x20000": (img_huge, "image.file", "problem", ("too large to open safely", "400.0 megapixels", "50 megapixels", "Resize")),
    # issue 11 calibration: the floor is the output's short side (384 px); conversions are "info"
    "one_pixel": (img_one_pixel, "image.resolution", "warning", ("1 × 1 px", "at least 384 px")),
    "cmyk_jpeg": (img_cmyk, "image.colour", "info", ("CMYK", "converted to RGB", "export it as an RGB JPG or PNG")),
    "png_16bit": (img_16bit, "image.format", "ok", ("16-bit reduced to 8-bit",)),
    "animated_gif": (img_animated_gif, "image.animated", "warning", ("GIF", "3 frames", "first frame")),
    "svg": (img_svg, "image.file", "problem", ("SVG", "vector drawing", "Export it as a PNG")),
    "text_named_png": (img_text_named_png, "image.file", "problem", ("could not be read as an image", "not an image")),
    "empty_image": (img_empty, "image.file", "problem", ("could not be read as an image", "empty (0 bytes)")),
}

AUDIO_CASES: dict[str, tuple[Callable[[Path], Path], str, str, tuple[str, ...]]] = {
    "text_named_wav": (aud_text_named_wav, "audio.file", "problem", ("could not be read as audio", "WAV or MP3")),
    "zero_bytes": (aud_zero_bytes, "audio.file", "problem", ("empty (0 bytes)", "record or export")),
    "tenth_of_a_second": (aud_tenth_second, "audio.duration", "problem", ("0.1 s", "too short", "at least")),
    "one_hour": (aud_one_hour, "audio.file", "problem", ("1 h 00 min 00 s long", "the limit is 15 min 00 s", "trim it")),
    "8_khz": (aud_8khz, "audio.sample_rate", "warning", ("8 kHz", "16 kHz")),
    "24_bit": (aud_24bit, "audio.bit_depth", "info", ("24-bit PCM", "16-bit")),
    "32_bit_float": (aud_float, "audio.bit_depth", "info", ("32-bit float", "16-bit")),
    "six_channels": (aud_six_channels, "audio.channels", "info", ("6 channels", "mixed down to mono")),
    "nan_samples": (aud_nan, "audio.file", "problem", ("NaN", "damaged", "export it again")),
    "infinite_samples": (aud_inf, "audio.file", "problem", ("infinity", "export it again")),
    "pure_silence": (aud_silence, "audio.silence", "problem", ("silent", "record or upload the speech again")),
    "pure_noise": (aud_noise, "audio.noise", "warning", ("dBFS", "Denoise")),
}


# --- helpers ------------------------------------------------------------------------------------
def _check(client, prompt, image, audio, preset="quick") -> dict[str, dict]:
    result = client.predict(prompt, handle_file(str(image)) if image else None, handle_file(str(audio)) if audio else None,
                            preset, api_name="/check")
    return {c["id"]: c for c in result}


def _assert_line(checks: dict[str, dict], cid: str, level: str, words: tuple[str, ...]) -> None:
    assert cid in checks, f"{cid} missing from {sorted(checks)}"
    line = checks[cid]
    assert line["level"] == level, line
    text = f"{line['value']} {line['threshold']} {line['fix']}"
    for w in words:
        assert w in text, f"{w!r} not in {line}"
    if level != "ok":
        assert line["fix"], "a failed check must say how to fix it"
    assert "Traceback" not in text and "Error:" not in text


def _still_serving(client) -> None:
    checks = _check(client, GOOD_PROMPT, PORTRAIT, SPEECH)
    assert not [c for c in checks.values() if c["level"] == "problem"], checks


# --- images -------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", list(IMAGE_CASES))
def test_hostile_image_gets_its_own_message(client, tmp_path, case):
    make, cid, level, words = IMAGE_CASES[case]
    checks = _check(client, GOOD_PROMPT, make(tmp_path), SPEECH)
    _assert_line(checks, cid, level, words)
    assert checks["audio.file" if "audio.file" in checks else "audio.duration"]["level"] != "problem"
    _still_serving(client)


@pytest.mark.parametrize("case", list(AUDIO_CASES))
def test_hostile_audio_gets_its_own_message(client, tmp_path, case):
    make, cid, level, words = AUDIO_CASES[case]
    checks = _check(client, GOOD_PROMPT, PORTRAIT, make(tmp_path))
    _assert_line(checks, cid, level, words)
    assert checks["image.faces"]["level"] == "ok"
    _still_serving(client)


@pytest.mark.parametrize("case, make", [("text_named_png", img_text_named_png), ("huge_20000x20000", img_huge)])
def test_generate_refuses_a_broken_portrait_with_its_message(client, tmp_path, case, make):
    with pytest.raises(AppError) as err:
        client.predict(GOOD_PROMPT, handle_file(str(make(tmp_path))), handle_file(str(SPEECH)), "quick", "", api_name="/generate")
    message = str(err.value)
    assert "Please fix before generating" in message and "Portrait" in message
    assert ("could not be read as an image" if case == "text_named_png" else "too large to open safely") in message
    assert "Traceback" not in message
    _still_serving(client)


def test_generate_refuses_an_hour_of_audio_before_decoding_it(client, tmp_path):
    with pytest.raises(AppError) as err:
        client.predict(GOOD_PROMPT, handle_file(str(PORTRAIT)), handle_file(str(aud_one_hour(tmp_path))), "quick", "", api_name="/generate")
    assert "1 h 00 min 00 s long; the limit is 15 min 00 s" in str(err.value)
    _still_serving(client)


def test_generate_from_an_animated_gif_uses_the_first_frame_and_says_so(client, tmp_path):
    _, info = client.predict(GOOD_PROMPT, handle_file(str(img_animated_gif(tmp_path))), handle_file(str(SPEECH)), "quick",
                             json.dumps({"seed": 1}), api_name="/generate")
    assert info["status"] == "done"
    assert any(w.startswith("Animation: animated GIF, 3 frames") for w in info["warnings"]), info["warnings"]


# --- upload size ----------------------------------------------------------------------------------
def test_limits_are_stated_in_the_page(client):
    text = json.dumps(client.config)
    assert "files up to 50 MB each" in text and "50 megapixels" in text
    assert "speech up to 15 min 00 s" in text and "prompt up to 20,000 characters" in text
    assert client.config["max_file_size"] == 50_000_000


def test_an_over_size_upload_is_refused_with_the_limit(client, app_server, tmp_path):
    import httpx

    big = tmp_path / "big.wav"
    with open(big, "wb") as f:
        f.truncate(50_000_001)  # sparse: costs no disk
    with pytest.raises(ValueError, match="exceeds the maximum file size of 50000000 bytes"):
        client.predict(GOOD_PROMPT, handle_file(str(PORTRAIT)), handle_file(str(big)), "quick", api_name="/check")
    # what a script that posts the file itself gets back: refused while streaming, before it is stored
    with open(big, "rb") as f:
        r = httpx.post(app_server["url"] + "gradio_api/upload", files={"files": ("big.wav", f)}, timeout=60)
    assert r.status_code == 413 and "maximum allowed size of 50000000 bytes" in r.text
    _still_serving(client)


# --- prompts --------------------------------------------------------------------------------------
SCRIPT = "<script>alert('x')</script><img src=x onerror=alert(1)>"


def test_empty_prompt(client):
    _assert_line(_check(client, "", PORTRAIT, SPEECH), "prompt.length", "warning", ("empty", "Describe the character"))


def test_twenty_thousand_word_prompt_is_refused_by_the_length_limit(client):
    checks = _check(client, "talking " * 20_000, PORTRAIT, SPEECH)
    _assert_line(checks, "prompt.too_long", "problem", ("160,000 characters", "≤ 20,000 characters", "Shorten the prompt"))
    _still_serving(client)


@pytest.mark.parametrize("case, text", [
    ("control_characters", GOOD_PROMPT + "\x00\x07\x1b[31m\x7f"),
    ("bidi_override", GOOD_PROMPT + " \u202eevil\u202c"),
])
def test_invisible_control_characters_are_named(client, case, text):
    checks = _check(client, text, PORTRAIT, SPEECH)
    _assert_line(checks, "prompt.characters", "warning", ("invisible control", "plain text"))
    assert checks["prompt.length"]["level"] in ("ok", "warning")
    json.dumps(checks)  # plain JSON, whatever came in


def test_rtl_text_and_emoji_are_just_text(client):
    text = GOOD_PROMPT + " שלום עולם مرحبا بالعالم 👩‍💻👨‍👩‍👧‍👦🙂"
    checks = _check(client, text, PORTRAIT, SPEECH)
    assert "prompt.characters" not in checks  # ordinary RTL text and emoji joiners are not "hidden"
    assert checks["prompt.elements"]["level"] == "ok"
    assert not [c for c in checks.values() if c["level"] == "problem"]


def test_markup_in_the_prompt_never_comes_back_as_markup(client, tmp_path):
    from liveavatar.backends import choose_backend
    from liveavatar.presets import resolve_settings
    from liveavatar.report import checklist_html
    from liveavatar.studio import check_inputs, inspect_inputs

    checks = _check(client, SCRIPT + " " + GOOD_PROMPT, PORTRAIT, SPEECH)
    assert "<script" not in json.dumps(checks) and "onerror" not in json.dumps(checks)
    assert checks["prompt.elements"]["level"] == "ok"  # the tags were dropped before reading the words

    # The page renders the checklist as HTML: a hostile file name (echoed in the fix) stays text.
    hostile = tmp_path / "<img src=x onerror=alert(1)>.png"
    hostile.write_text("not an image")
    report = check_inputs(inspect_inputs(SCRIPT, str(hostile), str(SPEECH)), resolve_settings("quick", None),
                          choose_backend(None, force_preview=True))
    for lang in ("en", "zh"):
        page = checklist_html(report.results, lang)
        assert "<img" not in page and "<script" not in page
    assert html.escape("<img src=x onerror=alert(1)>.png", quote=True) in checklist_html(report.results, "en")
