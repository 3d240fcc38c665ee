"""Synthetic audio for tests and benchmarks: a deterministic stand-in for recorded speech.

Real recordings cannot be tuned to sit exactly on a check's threshold, so the audio tests build
their input here instead. :func:`speech_like` gives a voice whose measured level, loudness
variation, pauses and noise floor are known in advance, and :func:`as_loaded` wraps any samples as
if :func:`liveavatar.media.audio.load_audio` had read them from a file.

Both are pure functions of their arguments (the randomness comes from ``seed``), so a test that
calls them twice, or on another machine, gets the same samples.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from liveavatar.checks.audio import AudioStats
from liveavatar.media.audio import LoadedAudio

__all__ = ["as_loaded", "clean_speech_stats", "speech_like"]


def clean_speech_stats(**overrides: object) -> AudioStats:
    """What the audio analysis measures on a clean, compliant 10 s recording, with ``overrides``
    changed: lets a check be tested at an exact value without making audio that measures so."""
    base = AudioStats(
        duration_s=10.0, sample_rate=16000, channels=1, subtype="PCM_16", source_format="WAV",
        speech_rms_dbfs=-16.0, noise_floor_dbfs=-60.0, peak_dbfs=-4.0, clipped_fraction=0.0,
        longest_silence_s=0.4, active_fraction=0.7, loudness_variation_db=3.0,
        overall_rms_dbfs=-18.0, loudest_frame_dbfs=-10.0, speech_gate_dbfs=-50.0,
        leading_silence_s=0.2, trailing_silence_s=0.2, long_pause_count=0,
    )
    return replace(base, **overrides)


def speech_like(
    seconds: float = 6.0,
    sr: int = 16000,
    level_dbfs: float = -18.0,
    *,
    variation_db: float = 3.0,
    noise_dbfs: float | None = None,
    lead_s: float = 0.15,
    tail_s: float = 0.3,
    pause_at: float | None = None,
    pause_s: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """A speech stand-in: float32 mono samples of ``seconds`` at ``sr`` Hz.

    The signal is
    - a harmonic voice: a fundamental near 140 Hz, wobbling by ±20 Hz at 0.7 Hz, with 7 harmonics
      falling off by 0.6 each, so all its energy sits below about 1.1 kHz (it survives resampling
      to 16 kHz, or down to 8 kHz, unchanged in level);
    - shaped into syllables of 120–220 ms (a square-rooted Hann window each), 2–4 per word with
      30 ms between them, and 150–350 ms of silence between words;
    - each syllable louder or quieter by a uniform random ±``variation_db`` dB (0 gives a flat
      delivery, 12 a lively one), which is what ``loudness_variation_db`` measures;
    - scaled so that the RMS over the voiced part (where the envelope is above 0.3) is exactly
      ``level_dbfs``: the "speech level" the audio checks measure, unaffected by pauses;
    - plus white noise of RMS ``noise_dbfs`` dBFS over the whole length when that is given, which
      is then the noise floor measured in the pauses.

    Timing:
    - ``lead_s``: silence before the first word.
    - ``tail_s``: no word starts within this many seconds of the end (a word that starts before
      it may still run up to the last sample).
    - ``pause_at`` / ``pause_s``: the first word that would start at or after ``pause_at`` seconds
      is pushed back by ``pause_s`` seconds, leaving one long pause inside the speech (its length
      as measured is ``pause_s`` plus the usual word gap either side).

    Samples may exceed ±1.0 when a loud level and a large variation are asked for (it is float
    audio; clip it to test clipping). If the length leaves no room for a syllable the voice is
    silent and only the noise, if any, remains.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    phase = 2 * np.pi * np.cumsum(140 + 20 * np.sin(2 * np.pi * 0.7 * t)) / sr
    voice = sum(0.6**k * np.sin(k * phase + k) for k in range(1, 8))
    env = np.zeros(n)
    pos = lead_s
    while pos < seconds - tail_s:
        if pause_at is not None and pause_at <= pos:
            pos, pause_at = pos + pause_s, None
            continue
        for _ in range(rng.integers(2, 5)):
            d = rng.uniform(0.12, 0.22)
            a, b = int(pos * sr), min(n, int((pos + d) * sr))
            if b - a > 4:  # a syllable that starts past (or at) the end is dropped
                gain = 10 ** (rng.uniform(-variation_db, variation_db) / 20)
                env[a:b] = gain * np.hanning(b - a) ** 0.5
            pos += d + 0.03
        pos += rng.uniform(0.15, 0.35)
    x = voice * env
    voiced = env > 0.3
    if voiced.any():
        x *= 10 ** (level_dbfs / 20) / np.sqrt(np.mean(x[voiced] ** 2))
    if noise_dbfs is not None:
        x = x + rng.normal(0, 10 ** (noise_dbfs / 20), n)
    return x.astype(np.float32)


def as_loaded(
    samples: np.ndarray,
    sr: int = 16000,
    source_format: str = "WAV",
    subtype: str | None = "PCM_16",
    path: str = "test.wav",
) -> LoadedAudio:
    """``samples`` (mono ``[n]`` or ``[channels, n]``) as a :class:`LoadedAudio`, as if read from a
    ``source_format`` file of that ``subtype`` at ``path``; nothing is written to disk."""
    return LoadedAudio(np.atleast_2d(samples).astype(np.float32), sr, source_format, subtype, path)
