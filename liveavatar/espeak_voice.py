"""Mandarin speech from espeak-ng, the copy that ``piper-tts`` already ships.

Why this and not another package: no Chinese Piper voice is published on the package registry
(Piper's own Chinese voices and the g2pW model they need are downloads from a model hub, which an
offline server cannot make), and the espeak-ng wrappers on the registry either phonemize only or
need the system library. ``piper-tts``'s wheel, however, links espeak-ng statically into
``piper/espeakbridge.so`` and bundles ``espeak-ng-data`` with the Mandarin dictionary
(``cmn_dict``). The bridge's Python functions only phonemize, but the library's own synthesis
entry points (``espeak_Synth``, ``espeak_SetSynthCallback``) are exported from the same file, so
they are called here through :mod:`ctypes`. No new dependency, no download; espeak-ng is GPL-3.0,
like Piper.

The voice is a formant synthesiser: clear and intelligible, but plainly robotic. Piper uses the
same espeak-ng state to phonemize English text, so every call here holds Piper's own espeak lock.
"""

from __future__ import annotations

import ctypes
import threading
from pathlib import Path

import numpy as np

from liveavatar.media.audio import LoadedAudio, to_mono_16k

#: espeak-ng's parameter number for the speaking rate, and its range in words a minute.
_ESPEAK_RATE = 1
DEFAULT_WPM, MIN_WPM, MAX_WPM = 175, 80, 450
#: ``espeak_Synth`` flags: the text is UTF-8.
_CHARS_UTF8 = 1
_POS_CHARACTER = 1

_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class EspeakUnavailable(RuntimeError):
    """The espeak-ng library or its data is not where ``piper-tts`` puts them."""


class EspeakVoice:
    """One espeak-ng voice (``cmn`` = Mandarin) spoken into 16 kHz mono float32.

    The library is process-wide state; one instance per process is enough, and calls from any
    thread are serialised.
    """

    def __init__(self, voice: str = "cmn", peak_level: float = 0.9) -> None:
        self.voice = voice
        self.peak_level = peak_level
        self._lib: ctypes.CDLL | None = None
        self._sample_rate = 0
        self._lock: threading.Lock | threading.RLock = threading.Lock()
        self._buffer: list[np.ndarray] = []
        self._callback = _SynthCallback(self._collect)  # kept here: the library holds a raw pointer to it

    def _collect(self, wav: ctypes._Pointer, count: int, _events: int) -> int:
        if count > 0 and wav:
            self._buffer.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0  # 0 = go on

    def load(self) -> None:
        """Open the library and check the voice exists. Raises :class:`EspeakUnavailable`."""
        if self._lib is not None:
            return
        try:
            import piper
            from piper import espeakbridge
            from piper import voice as piper_voice
        except ImportError as exc:
            raise EspeakUnavailable(f"piper-tts is not installed ({exc})") from exc
        root = Path(piper.__file__).parent
        data = root / "espeak-ng-data"
        library = next(iter(sorted(root.glob("espeakbridge*.so"))), None)
        if library is None or not (data / f"{self.voice}_dict").is_file():
            raise EspeakUnavailable(f"piper-tts has no espeak-ng library or '{self.voice}' voice data in {root}")
        # Piper's lock around its espeak-ng calls (phonemizing English), so the two never interleave.
        self._lock = getattr(piper_voice, "_ESPEAK_PHONEMIZER_LOCK", None) or self._lock
        with self._lock:
            lib = ctypes.CDLL(str(library))  # the same loaded object as piper.espeakbridge
            lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                         ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
            lib.espeak_Synth.restype = ctypes.c_int
            lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
            lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
            lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
            espeakbridge.initialize(str(data))  # idempotent; Piper does the same before phonemizing
            if lib.espeak_SetVoiceByName(self.voice.encode()) != 0:
                raise EspeakUnavailable(f"espeak-ng has no voice '{self.voice}'")
            lib.espeak_ng_GetSampleRate.restype = ctypes.c_int
            self._sample_rate = int(lib.espeak_ng_GetSampleRate()) or 22050
            self._lib = lib

    def speak(self, text: str, rate: float = 1.0) -> np.ndarray:
        """``text`` spoken at ``rate`` × espeak-ng's normal pace (175 words a minute), 16 kHz mono float32."""
        self.load()
        assert self._lib is not None
        wpm = int(round(min(MAX_WPM, max(MIN_WPM, DEFAULT_WPM * rate))))
        data = text.encode("utf-8")
        with self._lock:
            lib = self._lib
            self._buffer = []
            lib.espeak_SetSynthCallback(self._callback)
            lib.espeak_SetVoiceByName(self.voice.encode())
            lib.espeak_SetParameter(_ESPEAK_RATE, wpm, 0)
            status = lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            lib.espeak_SetParameter(_ESPEAK_RATE, DEFAULT_WPM, 0)
            pieces, self._buffer = self._buffer, []
        if status != 0:
            raise RuntimeError(f"espeak-ng could not speak the text (status {status})")
        native = (np.concatenate(pieces).astype(np.float32) / 32768.0) if pieces else np.zeros(0, np.float32)
        peak = float(np.max(np.abs(native))) if native.size else 0.0
        if peak > 1e-6:
            native *= self.peak_level / peak
        return to_mono_16k(LoadedAudio(native[None, :], self._sample_rate, "WAV", "FLOAT", ""))
