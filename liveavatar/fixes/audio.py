"""One-click repairs behind the audio checklist's "fix" buttons.

Each fix takes the loaded recording and an output folder and writes a *new* 16-bit WAV (the
original upload is never touched, so the user can always go back), returning the new path and one
sentence saying what was done, with before/after numbers measured the same way the checks measure
them (:func:`~liveavatar.checks.audio.analyse_audio`), so the checklist agrees with the message.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from liveavatar.checks.audio import (
    FRAME_SECONDS,
    NOISE_QUANTILE,
    SILENCE_GATE_DBFS,
    AudioStats,
    analyse_audio,
)
from liveavatar.media.audio import TARGET_SAMPLE_RATE, LoadedAudio, load_audio, to_mono_16k, write_wav

TARGET_SPEECH_DBFS = -16.0
"""Normalisation target: 2 dB above the guide's −18 dBFS minimum, so the check passes with room."""
PEAK_LIMIT_DBFS = -1.0
"""Ceiling for peaks after normalising: 1 dB of headroom keeps MP3/AAC re-encoding from clipping."""
MAX_GAIN_DB = 30.0
"""Never amplify more than this: beyond it the "speech" is most likely noise."""
LIMITER_WINDOW_S = 0.010
"""Attack/release of the peak limiter: short enough to catch a plosive, long enough not to buzz."""
DIGITAL_SILENCE_DBFS = -90.0
"""A noise floor below this is digital silence: there is no noise to estimate or remove."""
DENOISE_MIN_NOISE_S = 0.5
"""Use at least this much of the quietest audio as the noise sample, for a stable estimate."""
DENOISE_PROP_DECREASE = 1.0
"""How much of the noise noisereduce removes (its default)."""
DENOISE_WINDOW_S = 0.025
"""STFT window of the spectral gate, ~25 ms at any rate. noisereduce's fixed 1024 samples is 64 ms
at 16 kHz: so fine in frequency that voiced speech is a comb of isolated harmonics, and the mask
smoothing then averages each harmonic with the noise-only bins around it, taking several dB off
the voice."""
DENOISE_FREQ_SMOOTH_HZ = 100.0
"""Mask smoothing across frequency, kept under the spacing of voice harmonics (f0 ≥ ~100 Hz) for
the same reason (noisereduce's default is 500 Hz)."""


def _out_path(audio: LoadedAudio, out_dir: str | os.PathLike[str], suffix: str) -> Path:
    stem = Path(audio.path).stem or "audio"
    return Path(out_dir) / f"{stem}_{suffix}.wav"


def _db(x: float) -> str:
    return f"{x:.1f} dBFS"


def _stats(samples: np.ndarray, like: LoadedAudio) -> AudioStats:
    return analyse_audio(LoadedAudio(samples, like.sample_rate, "WAV", "PCM_16", like.path))


def _rate(hz: int) -> str:
    return f"{hz / 1000:g} kHz"


def convert_to_16k_mono(audio: LoadedAudio, out_dir: str | os.PathLike[str]) -> tuple[str, str]:
    """Write what the model consumes: 16-bit mono at 16 kHz."""
    mono = to_mono_16k(audio)
    path = write_wav(_out_path(audio, out_dir, "16k_mono"), mono, TARGET_SAMPLE_RATE, "PCM_16")
    layout = "mono" if audio.channels == 1 else ("stereo" if audio.channels == 2 else f"{audio.channels}-channel")
    src = f"{_rate(audio.sample_rate)} {layout}"
    if audio.sample_rate < TARGET_SAMPLE_RATE:
        msg = (
            f"Converted the {src} recording to 16-bit mono WAV at 16 kHz; up-sampling does not "
            f"restore the high frequencies a {_rate(audio.sample_rate)} recording never captured, "
            "so re-record at 16 kHz or more if lip sync is poor."
        )
    else:
        msg = f"Converted the {src} recording to 16-bit mono WAV at 16 kHz."
    return path, msg


def _limit_peaks(y: np.ndarray, sr: int, ceiling: float) -> tuple[np.ndarray, bool]:
    """Smooth, linked-channel gain reduction so no sample exceeds ``ceiling``.

    The gain curve is the running minimum of the gain each sample needs, then a moving average
    of the same width: the average of values that are each at most the needed gain is itself at
    most the needed gain, so peaks are guaranteed under the ceiling while the gain changes
    smoothly instead of flattening individual samples (which would distort like clipping).
    """
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    peak = np.max(np.abs(y), axis=0)
    if peak.size == 0 or float(peak.max()) <= ceiling:
        return y, False
    need = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
    w = max(1, int(round(LIMITER_WINDOW_S * sr)))
    gain = minimum_filter1d(need, size=2 * w + 1, mode="nearest")
    gain = uniform_filter1d(gain, size=2 * w + 1, mode="nearest")
    gain = np.minimum(gain, need)  # float rounding in the average must not overshoot
    return (y * gain[np.newaxis, :]).astype(np.float32), True


def normalise_loudness(audio: LoadedAudio, out_dir: str | os.PathLike[str]) -> tuple[str, str]:
    """Bring speech to about −16 dBFS RMS (measured over speech, as the check does), peaks ≤ −1 dBFS."""
    out = _out_path(audio, out_dir, "normalised")
    y = np.atleast_2d(audio.samples).astype(np.float32)
    before = analyse_audio(audio)
    if not (before.loudest_frame_dbfs > SILENCE_GATE_DBFS):
        path = write_wav(out, y, audio.sample_rate)
        return path, "No speech was found to normalise, so the audio was saved unchanged as 16-bit WAV."

    ceiling = 10.0 ** (PEAK_LIMIT_DBFS / 20.0)
    total_gain_db = 0.0
    limited = False
    current = before
    # The limiter takes a little off the loudest syllables, so top up once or twice.
    for _ in range(3):
        step = TARGET_SPEECH_DBFS - current.speech_rms_dbfs
        step = float(np.clip(step, -MAX_GAIN_DB - total_gain_db, MAX_GAIN_DB - total_gain_db))
        if abs(step) < 0.25:
            break
        y = (y * np.float32(10.0 ** (step / 20.0))).astype(np.float32)
        total_gain_db += step
        y, hit = _limit_peaks(y, audio.sample_rate, ceiling)
        limited = limited or hit
        current = _stats(y, audio)

    path = write_wav(out, y, audio.sample_rate)
    after = analyse_audio(load_audio(path))  # measured on the file as written, after 16-bit rounding
    verb = "Raised" if total_gain_db >= 0 else "Lowered"
    capped = f" (capped at +{MAX_GAIN_DB:g} dB)" if total_gain_db >= MAX_GAIN_DB - 1e-6 else ""
    peaks = (
        f"peaks limited to {_db(PEAK_LIMIT_DBFS)} so nothing clips"
        if limited
        else f"peaks at {_db(after.peak_dbfs)}, no clipping"
    )
    msg = (
        f"{verb} speech loudness from {_db(before.speech_rms_dbfs)} to {_db(after.speech_rms_dbfs)} "
        f"({total_gain_db:+.1f} dB{capped}), {peaks}."
    )
    return path, msg


def _noise_sample(audio: LoadedAudio) -> np.ndarray:
    """The quietest stretches of the recording, concatenated: where nobody speaks, only noise is left."""
    y = np.atleast_2d(audio.samples).astype(np.float32)
    mono = y.mean(axis=0)
    sr = audio.sample_rate
    frame_len = max(1, int(round(FRAME_SECONDS * sr)))
    n_frames = mono.size // frame_len
    if n_frames < 2:
        return np.tile(y, (1, max(1, math.ceil(DENOISE_MIN_NOISE_S * sr / max(1, y.shape[1])))))
    frames = mono[: n_frames * frame_len].reshape(n_frames, frame_len)
    power = np.einsum("ij,ij->i", frames, frames, dtype=np.float64)
    want = max(math.ceil(NOISE_QUANTILE * n_frames), math.ceil(DENOISE_MIN_NOISE_S / FRAME_SECONDS))
    quietest = np.sort(np.argsort(power, kind="stable")[: min(n_frames, want)])
    idx = (quietest[:, None] * frame_len + np.arange(frame_len)[None, :]).ravel()
    noise = y[:, idx]
    min_len = int(DENOISE_MIN_NOISE_S * sr)
    if noise.shape[1] < min_len:
        noise = np.tile(noise, (1, math.ceil(min_len / noise.shape[1])))
    return noise


def denoise(audio: LoadedAudio, out_dir: str | os.PathLike[str]) -> tuple[str, str]:
    """Remove steady background noise (fans, hum, hiss) with noisereduce's stationary spectral gate.

    The noise profile comes from the quietest 10 % of frames (at least 0.5 s), the same frames the
    noise check measures, rather than from the whole file, so speech is not mistaken for noise.
    """
    out = _out_path(audio, out_dir, "denoised")
    y = np.atleast_2d(audio.samples).astype(np.float32)
    before = analyse_audio(audio)
    if before.noise_floor_dbfs < DIGITAL_SILENCE_DBFS:
        path = write_wav(out, y, audio.sample_rate)
        return path, (
            f"The noise floor is already {_db(before.noise_floor_dbfs)}, so there was nothing to "
            "remove and the audio was saved unchanged as 16-bit WAV."
        )

    import noisereduce  # imported late: heavy, and only this button needs it

    sr = audio.sample_rate
    n_fft = max(16, 2 ** round(math.log2(DENOISE_WINDOW_S * sr)))
    cleaned = noisereduce.reduce_noise(
        y=y,
        sr=sr,
        y_noise=_noise_sample(audio),
        stationary=True,
        prop_decrease=DENOISE_PROP_DECREASE,
        n_fft=n_fft,
        # noisereduce refuses a smoothing narrower than two bins.
        freq_mask_smooth_hz=max(DENOISE_FREQ_SMOOTH_HZ, 2.0 * sr / n_fft + 1.0),
        time_mask_smooth_ms=max(50.0, 1000.0 * (n_fft // 4) / sr + 1.0),
    )
    cleaned = np.atleast_2d(np.asarray(cleaned, dtype=np.float32))[:, : y.shape[1]]
    cleaned = np.nan_to_num(cleaned, nan=0.0, posinf=0.0, neginf=0.0)
    path = write_wav(out, cleaned, audio.sample_rate)
    after = analyse_audio(load_audio(path))
    msg = (
        f"Reduced steady background noise: noise floor {_db(before.noise_floor_dbfs)} → "
        f"{_db(after.noise_floor_dbfs)}."
    )
    return path, msg
