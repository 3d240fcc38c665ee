"""The Chinese checklist shows no English: every name, value, rule and fix of every check result.

The results come from the calibration set, the shipped examples, bad inputs and hand-built edge
cases that reach each check's other wordings. A check that adds an English text the phrase rules in
``liveavatar/i18n/checks.py`` do not cover fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from liveavatar.checks.audio import analyse_audio, check_audio
from liveavatar.checks.consistency import check_consistency
from liveavatar.checks.image import check_image, check_image_source
from liveavatar.checks.prompt import BAD_PROMPT_EXAMPLE, check_hidden_characters, check_prompt
from liveavatar.checks.result import CheckResult
from liveavatar.faces import Face, detect_faces
from liveavatar.i18n.checks import translate_measure, translate_result
from liveavatar.media.audio import load_audio
from liveavatar.media.image import LoadedImage, load_image
from liveavatar.testing.synth import as_loaded, clean_speech_stats, speech_like

ROOT = Path(__file__).resolve().parents[2]
CALIBRATION = Path(__file__).parent / "calibration"
EXAMPLES = ROOT / "examples" / "media"

#: Words that may stay in Latin letters on the Chinese page: units, file formats and tool names.
ALLOWED = {
    "px", "db", "dbfs", "khz", "hz", "fps", "min", "law", "real", "esrgan", "lab", "ycbcr", "hsv",
}
_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"|U\+[0-9A-F]{4,6}")
_WORD = re.compile(r"[A-Za-z]{3,}")


def english_words(text: str) -> list[str]:
    """Latin words of 3+ letters left in ``text``, except quoted prompt words, units and format
    names (all capitals: JPG, PNG, WAV, MP3, RGB, CMYK, EXIF, RMS, PCM, WEBP, ...)."""
    left = _QUOTED.sub("", text)
    return [w for w in _WORD.findall(left) if not w.isupper() and w.lower() not in ALLOWED]


def _image_cases() -> list[CheckResult]:
    results: list[CheckResult] = []
    paths = [*sorted(CALIBRATION.glob("*.jpg")), *sorted(EXAMPLES.glob("*.png")), *sorted(EXAMPLES.glob("*.jpg"))]
    for path in paths:
        image = load_image(path)
        results += check_image(image, detect_faces(image.rgb))
    # the other wordings: conversions, rotations, transparency, bad framing, harsh light, errors
    rgb = np.zeros((300, 200, 3), np.uint8)
    rgb[:, :100] = 200
    odd = LoadedImage(rgb=rgb, source_format="WEBP", exif_orientation=8, had_alpha=True, path="x.webp",
                      bits_per_channel=16, frame_count=3, source_mode="CMYK")
    for box, yaw in [((0, 250, 20, 300), 80.0), ((0, 0, 200, 300), -60.0), ((150, 0, 200, 10), None)]:
        results += check_image(odd, [Face(box=box, score=0.9, yaw_deg=yaw)])
    results += check_image(odd, [])
    results += check_image_source(odd)
    bright = LoadedImage(rgb=np.full((600, 600, 3), 255, np.uint8), source_format="PNG", exif_orientation=3,
                         had_alpha=False, path="b.png", bits_per_channel=8)
    results += check_image(bright, [])
    results += check_image(LoadedImage(np.zeros((0, 0, 3), np.uint8), "PNG", 1, False, "e.png", 8), [])
    flat = LoadedImage(np.full((600, 600, 3), 128, np.uint8), "PNG", 1, False, "f.png", 8)
    results += check_image(flat, [Face(box=(200, 200, 400, 400), score=0.9, yaw_deg=2.0)])
    results += check_image(flat, [Face(box=(200, 200, 400, 400), score=0.9)] * 3)
    return results


_stats = clean_speech_stats


def _audio_cases() -> list[CheckResult]:
    results: list[CheckResult] = []
    for path in [*sorted(CALIBRATION.glob("*.flac")), *sorted(EXAMPLES.glob("*.wav"))]:
        results += check_audio(analyse_audio(load_audio(path)), clip_seconds=1.92, planned_seconds=3.0)
    variants = [
        _stats(source_format="M4A", subtype=None, sample_rate=8000, channels=6),
        _stats(subtype="FLOAT", channels=2, speech_rms_dbfs=-45.0, noise_floor_dbfs=-50.0),
        _stats(subtype="ULAW", clipped_fraction=0.02, longest_silence_s=3.0, long_pause_count=2,
               leading_silence_s=4.0, duration_s=4000.0),
        _stats(subtype="ALAW", sample_rate=float("nan"), channels=0, duration_s=0.0),
        _stats(loudest_frame_dbfs=-120.0, speech_rms_dbfs=-120.0, noise_floor_dbfs=-20.0),
        _stats(speech_rms_dbfs=float("nan"), noise_floor_dbfs=float("nan"), duration_s=float("inf")),
    ]
    for stats in variants:
        results += check_audio(stats, clip_seconds=1.92, planned_seconds=19.2)
        results += check_audio(stats, clip_seconds=float("nan"), planned_seconds=None)
    results += check_audio(analyse_audio(as_loaded(speech_like(seconds=1.0))), clip_seconds=1.92, planned_seconds=None)
    return results


PROMPTS = [
    "", BAD_PROMPT_EXAMPLE,
    "A happy but sad, beautiful, nice man laughing heartily at night during the day. Two women and a crowd.",
    "A calm woman whispering quietly in an office, cinematic style. " * 2,
    "word " * 250,
    "一位年轻女性在办公室里微笑着说话",
    "They talk\u202e\u200b\x07 together",
]


def _prompt_cases() -> list[CheckResult]:
    results: list[CheckResult] = []
    loud = _stats(speech_rms_dbfs=-8.0, loudness_variation_db=9.0)
    quiet = _stats(speech_rms_dbfs=-30.0, loudness_variation_db=1.0)
    for text in PROMPTS:
        results += check_prompt(text) + check_hidden_characters(text)
        for faces, audio in [(None, None), (1, loud), (2, quiet), (3, _stats()), (1, _stats(active_fraction=0.0))]:
            results += check_consistency(text, face_count=faces, audio=audio)
    return results


def _file_cases(tmp_path: Path) -> list[CheckResult]:
    from liveavatar.studio import InputCache, Limits

    (tmp_path / "broken.png").write_bytes(b"not an image")
    (tmp_path / "broken.wav").write_bytes(b"not audio")
    insp = InputCache(Limits(max_prompt_chars=10), size=0).inspect("x" * 20, str(tmp_path / "broken.png"), str(tmp_path / "broken.wav"))
    missing = InputCache(Limits(), size=0).inspect("", None, None)
    return [*insp.file_results, *missing.file_results]


TTS_TEXTS = [
    "", "  ", "word " * 20_000, "字" * 20_000, "<b></b>", "😀🎉", "<p>Hello <i>there</i>.</p>", "Hi 😀 there",
    "One", "Good morning, everyone.", "你好，欢迎来到工作室。", "字", "Привет, мир", "こんにちは、世界",
]


def _tts_cases() -> list[CheckResult]:
    """Every wording of the typed-speech checks (liveavatar/tts.py): refusals, notes and passes."""
    from liveavatar.tts import check_tts_text

    return [r for text in TTS_TEXTS for r in check_tts_text(text)]


@pytest.fixture(scope="module")
def all_results() -> list[CheckResult]:
    return [*_image_cases(), *_audio_cases(), *_prompt_cases(), *_tts_cases()]


def test_typed_speech_texts_are_chinese() -> None:
    results = _tts_cases()
    # all four checks and their levels are reached, so this cannot pass by producing nothing
    assert {(r.id, r.level) for r in results} >= {
        ("tts.text", "problem"), ("tts.text", "ok"), ("tts.markup", "warning"), ("tts.symbols", "warning"),
        ("tts.language", "info"), ("tts.language", "warning"),
    }
    assert not _untranslated(results), "\n".join(map(str, _untranslated(results)))
    values = {translate_result(r, "zh").value for r in results if r.id == "tts.text" and r.level == "problem"}
    assert values == {"空", "20,000 词(约 133 分钟语音)", "20,000 个字(约 133 分钟语音)", "只有标记,没有文字",
                      "只有表情符号或符号,没有文字"}


def _untranslated(results: list[CheckResult]) -> list[tuple[str, str, str]]:
    left = []
    for r in results:
        zh = translate_result(r, "zh")
        for field in ("name", "value", "threshold", "fix"):
            words = english_words(getattr(zh, field))
            if words:
                left.append((r.id, field, getattr(zh, field)))
    return sorted(set(left))


def test_every_check_text_is_chinese(all_results: list[CheckResult]) -> None:
    # the harness reaches many wordings, so it cannot pass by producing nothing
    assert len({(r.id, r.level) for r in all_results}) >= 40
    assert not _untranslated(all_results), "\n".join(map(str, _untranslated(all_results)))


def test_file_lines_are_chinese(tmp_path: Path) -> None:
    results = _file_cases(tmp_path)
    assert {r.id for r in results} >= {"prompt.too_long", "image.file", "audio.file"}
    assert not _untranslated(results)


def test_the_guard_catches_english() -> None:
    """The check itself can fail: an English value nobody translated is reported."""
    r = CheckResult("image.faces", "Faces", "warning", "a brand new English wording", "exactly 1 face", "x")
    assert _untranslated([r]) == [("image.faces", "value", "a brand new English wording")]
    assert english_words("短边至少 384 px,“nice” 与 U+202E,JPG/PNG,-18 dBFS") == []


@pytest.mark.parametrize(
    ("english", "chinese"),
    [
        ("720 × 400 px", "720 × 400 px"),
        ("0 faces", "0 张人脸"),
        ("noise floor -92.1 dBFS, speech 70.7 dB above it", "底噪 -92.1 dBFS,语音比它高 70.7 dB"),
        ("43 words", "43 词"),
        ("missing: environment, style", "缺少:环境设定、艺术风格"),
        ("4 min 05 s", "4 分 05 s"),
        ("1,234 words", "1,234 词"),
        ("3 tags removed", "已移除 3 个标签"),
        ("Chinese (Mandarin)", "中文(普通话)"),
    ],
)
def test_measure_translations(english: str, chinese: str) -> None:
    assert translate_measure(english, "zh") == chinese
    assert translate_measure(english, "en") == english
