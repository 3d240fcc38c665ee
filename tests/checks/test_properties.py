"""Properties of the input door: whatever arrives, the loaders answer with their own error or a
usable value, the notes and hidden-character check never raise, the rendered checklist never
turns input into markup, and the limits hold exactly at their edges.

(The checks' own "never raises on arbitrary input" properties live beside them in
test_image.py, test_audio.py, test_prompt.py and test_consistency.py.)
"""

from __future__ import annotations

import html
import re
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from liveavatar.checks.prompt import check_hidden_characters, hidden_characters
from liveavatar.i18n.checks import translate_measure
from liveavatar.checks.result import CheckResult
from liveavatar.media.audio import AudioLoadError, describe_duration, load_audio
from liveavatar.media.image import ImageLoadError, LoadedImage, load_image
from liveavatar.report import checklist_html, checklist_table_html
from liveavatar.studio import InputCache, Limits
from liveavatar.testing.synth import speech_like
from liveavatar.studio import input_notes
from liveavatar.ui.handlers import ServiceOptions, limits_text

FAST = settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
SLOW = settings(deadline=None, max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])

PNG_SIG = b"\x89PNG\r\n\x1a\n"
HEADS = st.sampled_from([b"", PNG_SIG, b"\xff\xd8\xff\xe0", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"<svg", b"BM"])


# --- loaders: their own error or a value, never anything else ---------------------------------------
@FAST
@given(head=HEADS, body=st.binary(max_size=600), name=st.sampled_from(["x.png", "x.jpg", "x.gif", "x.webp", "x"]))
def test_load_image_on_arbitrary_bytes(tmp_path: Path, head: bytes, body: bytes, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(head + body)
    try:
        img = load_image(path)
    except ImageLoadError as exc:
        message = str(exc)
        assert name in message and ("JPG or PNG" in message or "PNG" in message)
        return
    assert img.rgb.dtype == np.uint8 and img.rgb.ndim == 3 and img.rgb.shape[2] == 3
    assert img.frame_count >= 1


@FAST
@given(flip=st.integers(min_value=8, max_value=10_000), value=st.integers(min_value=1, max_value=255))
def test_any_changed_byte_in_a_png_is_refused_or_harmless(tmp_path: Path, flip: int, value: int) -> None:
    """A PNG damaged anywhere either fails with the image message or still decodes to the right shape."""
    path = tmp_path / "p.png"
    Image.fromarray(np.arange(64 * 48 * 3, dtype=np.uint8).reshape(48, 64, 3)).save(path)
    data = bytearray(path.read_bytes())
    data[flip % len(data)] ^= value
    path.write_bytes(bytes(data))
    try:
        img = load_image(path)
    except ImageLoadError as exc:
        assert "could not be read as an image" in str(exc) or "pixels" in str(exc)
        return
    assert img.rgb.shape[2] == 3


@SLOW
@given(body=st.binary(max_size=400), head=st.sampled_from([b"", b"RIFF\x24\x00\x00\x00WAVEfmt ", b"fLaC", b"OggS", b"ID3"]))
def test_load_audio_on_arbitrary_bytes(tmp_path: Path, body: bytes, head: bytes) -> None:
    path = tmp_path / "x.wav"
    path.write_bytes(head + body)
    try:
        audio = load_audio(path, max_seconds=60)
    except AudioLoadError as exc:
        assert "x.wav" in str(exc)
        return
    assert audio.n_samples > 0 and np.isfinite(audio.samples).all()


# --- hidden characters ------------------------------------------------------------------------------
@FAST
@given(text=st.text(max_size=200))
def test_hidden_characters_never_raise_and_find_exactly_the_controls(text: str) -> None:
    results = check_hidden_characters(text)
    expected = {
        f"U+{ord(c):04X}" for c in text
        if c not in "\t\n\r" and (unicodedata.category(c) in ("Cc", "Cs") or 0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069)
    }
    assert set(hidden_characters(text)) == expected
    assert len(results) == (1 if expected else 0)
    for r in results:
        assert r.id == "prompt.characters" and r.level == "warning" and r.fix


def test_hidden_characters_edges() -> None:
    assert check_hidden_characters("line one\nline two\r\n\ttabbed") == []
    assert check_hidden_characters("שלום مرحبا 👨‍👩‍👧 \u200d\u200f") == []  # RTL text, ZWJ and marks are ordinary
    assert check_hidden_characters(None) == [] and check_hidden_characters(42) == []
    (r,) = check_hidden_characters("a\x00b\x1b\u202e" + "".join(chr(c) for c in range(1, 9)))
    assert "U+0000" in r.value and "U+202E" in r.value and "more" in r.value


# --- notes on decoding ------------------------------------------------------------------------------
def _image(frames: int = 1, mode: str = "RGB", fmt: str = "PNG") -> LoadedImage:
    return LoadedImage(rgb=np.zeros((4, 4, 3), np.uint8), source_format=fmt, exif_orientation=1, had_alpha=False,
                       path="x", bits_per_channel=8, frame_count=frames, source_mode=mode)


class _Insp:
    def __init__(self, image, prompt=""):
        self.image, self.prompt = image, prompt


@FAST
@given(frames=st.one_of(st.integers(-5, 10_000), st.none()), mode=st.text(max_size=6), fmt=st.one_of(st.text(max_size=8), st.none()),
       prompt=st.text(max_size=50))
def test_input_notes_never_raise(frames, mode, fmt, prompt) -> None:
    for r in input_notes(_Insp(_image(frames, mode, fmt), prompt)):
        # a colour conversion is information (issue 11); the first frame of an animation may not be
        # the picture meant, and hidden characters ask the user to retype: warnings
        assert r.level == ("info" if r.id == "image.colour" else "warning") and r.fix


def test_input_notes_edges() -> None:
    assert input_notes(_Insp(_image(frames=1))) == []
    (anim,) = input_notes(_Insp(_image(frames=2, fmt="GIF")))
    assert anim.id == "image.animated" and "2 frames" in anim.value and "first frame" in anim.fix
    (cmyk,) = input_notes(_Insp(_image(mode="CMYK", fmt="JPEG")))
    assert cmyk.id == "image.colour" and "CMYK" in cmyk.value
    assert input_notes(_Insp(_image(mode="L"))) == [] and input_notes(_Insp(_image(mode="RGBA"))) == []
    assert input_notes(_Insp(None)) == []


# --- the rendered checklist never carries markup from input -----------------------------------------
_OUR_TAGS = re.compile(r"</?(p|b|br|small|span|table|thead|tbody|tr|th|td|ul|li)( (class|data-check)='[^'<>]*')*>")


@FAST
@given(text=st.text(alphabet=st.sampled_from(list("<>&'\"/= scriptimgonerror()") + ["\x00", "\u202e", "👩"]), max_size=80),
       level=st.sampled_from(["ok", "warning", "problem"]), lang=st.sampled_from(["en", "zh"]))
def test_checklist_html_escapes_whatever_it_is_given(text: str, level: str, lang: str) -> None:
    r = CheckResult("image.file", text, level, text, text, text if level != "ok" else "")
    page = checklist_html([r], lang)          # the first layer: verdict and what needs doing
    table = checklist_table_html([r], lang)   # the engineers' layer: every value and rule
    for rendered in (page, table):
        assert "<" not in _OUR_TAGS.sub("", rendered)
    # in Chinese the measured value and the rule go through the phrase rules (issue 11)
    assert html.escape(translate_measure(text, lang)) in table
    if level != "ok" and lang == "en":
        assert html.escape(text) in page  # the name (a file name, say) of what needs doing


# --- limits, exactly at their edges -----------------------------------------------------------------
def test_prompt_length_limit_edge() -> None:
    cache = InputCache(Limits(max_prompt_chars=100), size=0)
    assert "prompt.too_long" not in {r.id for r in cache.inspect("x" * 100, None, None).file_results}
    over = {r.id: r for r in cache.inspect("x" * 101, None, None).file_results}["prompt.too_long"]
    assert over.level == "problem" and over.value == "101 characters" and "≤ 100 characters" in over.threshold


def test_audio_length_limit_edge_through_the_cache(tmp_path: Path) -> None:
    sf.write(tmp_path / "a.wav", speech_like(2.0), 16_000)
    at = InputCache(Limits(max_audio_seconds=2.0), size=0).inspect("", None, str(tmp_path / "a.wav"))
    assert at.audio is not None and not [r for r in at.file_results if r.id == "audio.file"]
    over = InputCache(Limits(max_audio_seconds=1.99), size=0).inspect("", None, str(tmp_path / "a.wav"))
    (r,) = [r for r in over.file_results if r.id == "audio.file"]
    assert over.audio is None and "2 s long; the limit is 1.99 s" in r.fix


@pytest.mark.parametrize("seconds, text", [(59.99, "59.99 s"), (3599.4, "59 min 59 s"), (3599.6, "1 h 00 min 00 s"),
                                           (3600, "1 h 00 min 00 s"), (5 * 3600 + 61, "5 h 01 min 01 s")])
def test_describe_duration_hour_edge(seconds: float, text: str) -> None:
    assert describe_duration(seconds) == text


def test_pixel_limit_counts_pixels_not_sides(tmp_path: Path) -> None:
    """A thin strip within the limit loads; one more row over it is refused before decoding."""
    Image.new("L", (10_000, 5), 0).save(tmp_path / "strip.png")
    assert load_image(tmp_path / "strip.png", max_pixels=50_000).width == 10_000
    with pytest.raises(ImageLoadError, match="10000 × 5 pixels"):
        load_image(tmp_path / "strip.png", max_pixels=49_999)


def test_limits_line_states_the_enforced_numbers() -> None:
    opts = ServiceOptions(output_dir=Path("."), limits=Limits(max_image_pixels=12_000_000, max_audio_seconds=90,
                                                              max_prompt_chars=5_000), max_upload_bytes=25_000_000)
    line = limits_text(opts)
    for words in ("25 MB", "12 megapixels", "1 min 30 s", "5,000 characters"):
        assert words in line
    assert limits_text(ServiceOptions(output_dir=Path("."))).count("50") >= 2  # 50 MB and 50 megapixels by default

