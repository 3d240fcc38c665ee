"""The audio fix buttons: each writes a new 16-bit WAV that then passes the check it is for."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from liveavatar.checks.audio import analyse_audio, check_audio
from liveavatar.fixes import audio as F
from liveavatar.fixes.audio import convert_to_16k_mono, denoise, normalise_loudness
from liveavatar.media.audio import load_audio
from liveavatar.testing.synth import speech_like


def write(tmp_path: Path, name: str, x: np.ndarray, sr: int, subtype: str = "PCM_16") -> Path:
    path = tmp_path / name
    sf.write(path, x.T if x.ndim == 2 else x, sr, subtype=subtype)
    return path


def checks(path: str) -> dict:
    return {r.id: r for r in check_audio(analyse_audio(load_audio(path)), clip_seconds=1.0, planned_seconds=None)}


def numbers(message: str) -> list[float]:
    return [float(v) for v in re.findall(r"[-+]?\d+\.\d+", message)]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- convert ---------------------------------------------------------------------------------


def test_convert_stereo_float_44k(tmp_path: Path) -> None:
    x = speech_like(sr=44100)
    src = write(tmp_path, "in.wav", np.stack([x, 0.5 * x]), 44100, "FLOAT")
    before = sha(src)
    path, msg = convert_to_16k_mono(load_audio(src), tmp_path / "out")
    info = sf.info(path)
    assert (info.samplerate, info.channels, info.subtype, info.format) == (16000, 1, "PCM_16", "WAV")
    assert info.duration == pytest.approx(6.0, abs=0.01)
    assert "44.1 kHz stereo" in msg and "16 kHz" in msg
    assert "does not restore" not in msg
    assert sha(src) == before and Path(path) != src
    r = checks(path)
    assert all(r[i].level == "ok" for i in ("audio.sample_rate", "audio.bit_depth", "audio.channels"))


def test_convert_from_8k_says_upsampling_does_not_help(tmp_path: Path) -> None:
    src = write(tmp_path, "phone.wav", speech_like(sr=8000), 8000)
    path, msg = convert_to_16k_mono(load_audio(src), tmp_path)
    assert sf.info(path).samplerate == 16000
    assert "does not restore" in msg and "8 kHz" in msg
    assert msg.count(". ") == 0  # one sentence


# ---- normalise --------------------------------------------------------------------------------


@pytest.mark.parametrize("level", [-30.0, -19.0, -8.0])
def test_normalise_reaches_target(tmp_path: Path, level: float) -> None:
    src = write(tmp_path, "v.wav", speech_like(level_dbfs=level), 16000)
    audio = load_audio(src)
    before = analyse_audio(audio).speech_rms_dbfs
    path, msg = normalise_loudness(audio, tmp_path)
    info = sf.info(path)
    assert (info.subtype, info.samplerate, info.channels) == ("PCM_16", 16000, 1)
    after = analyse_audio(load_audio(path))
    assert after.speech_rms_dbfs == pytest.approx(F.TARGET_SPEECH_DBFS, abs=0.5)
    assert after.peak_dbfs <= F.PEAK_LIMIT_DBFS + 0.01
    r = checks(path)
    assert r["audio.loudness"].level == "ok" and r["audio.clipping"].level == "ok"
    # Message gives before and after.
    got = numbers(msg)
    assert got[0] == pytest.approx(before, abs=0.05) and got[1] == pytest.approx(after.speech_rms_dbfs, abs=0.05)
    assert ("Raised" if level < -16 else "Lowered") in msg


def test_normalise_limits_peaks_of_a_peaky_recording(tmp_path: Path) -> None:
    """Strongly varying syllables: plain gain would push the loud ones past full scale."""
    x = speech_like(level_dbfs=-28.0, variation_db=14.0, seed=3)
    src = write(tmp_path, "peaky.wav", np.stack([x, x]), 48000, "PCM_24")
    audio = load_audio(src)
    gain = F.TARGET_SPEECH_DBFS - analyse_audio(audio).speech_rms_dbfs
    assert analyse_audio(audio).peak_dbfs + gain > 0  # would clip without the limiter
    path, msg = normalise_loudness(audio, tmp_path)
    after = analyse_audio(load_audio(path))
    assert after.peak_dbfs <= F.PEAK_LIMIT_DBFS + 0.01
    assert after.clipped_fraction == 0
    assert "limited" in msg
    assert checks(path)["audio.loudness"].level == "ok"
    assert sf.info(path).channels == 2


def test_normalise_silence_leaves_it_alone(tmp_path: Path) -> None:
    src = write(tmp_path, "silent.wav", np.zeros(16000, np.float32), 16000)
    path, msg = normalise_loudness(load_audio(src), tmp_path)
    assert "unchanged" in msg
    assert np.all(sf.read(path)[0] == 0)


# ---- denoise ----------------------------------------------------------------------------------


@pytest.mark.parametrize("noise", [-25.0, -35.0])
def test_denoise_lowers_noise_floor(tmp_path: Path, noise: float) -> None:
    src = write(tmp_path, "noisy.wav", speech_like(level_dbfs=-16.0, noise_dbfs=noise), 16000)
    audio = load_audio(src)
    before = analyse_audio(audio)
    path, msg = denoise(audio, tmp_path)
    after = analyse_audio(load_audio(path))
    assert sf.info(path).subtype == "PCM_16"
    assert after.noise_floor_dbfs < before.noise_floor_dbfs - 10
    assert checks(path)["audio.noise"].level == "ok"
    # The speech itself survives.
    assert after.speech_rms_dbfs == pytest.approx(before.speech_rms_dbfs, abs=3.0)
    got = numbers(msg)
    assert got[0] == pytest.approx(before.noise_floor_dbfs, abs=0.05)
    assert got[1] == pytest.approx(after.noise_floor_dbfs, abs=0.05)


def test_denoise_stereo_and_short(tmp_path: Path) -> None:
    x = speech_like(seconds=0.6, level_dbfs=-16.0, noise_dbfs=-30.0)
    src = write(tmp_path, "short.wav", np.stack([x, x]), 16000)
    audio = load_audio(src)
    path, _ = denoise(audio, tmp_path)
    out = load_audio(path)
    assert out.channels == 2 and out.samples.shape == audio.samples.shape
    assert analyse_audio(out).noise_floor_dbfs < analyse_audio(audio).noise_floor_dbfs


def test_denoise_clean_recording_is_unchanged(tmp_path: Path) -> None:
    src = write(tmp_path, "clean.wav", speech_like(), 16000)
    path, msg = denoise(load_audio(src), tmp_path)
    assert "nothing to remove" in msg
    assert np.array_equal(sf.read(path, dtype="int16")[0], sf.read(src, dtype="int16")[0])


def test_fixes_chain(tmp_path: Path) -> None:
    """Denoise, then normalise, then convert: the result passes every audio check."""
    x = speech_like(sr=44100, level_dbfs=-26.0, noise_dbfs=-32.0)
    src = write(tmp_path, "take.wav", np.stack([x, x]), 44100, "PCM_24")
    p1, _ = denoise(load_audio(src), tmp_path)
    p2, _ = normalise_loudness(load_audio(p1), tmp_path)
    p3, _ = convert_to_16k_mono(load_audio(p2), tmp_path)
    assert len({p1, p2, p3, str(src)}) == 4
    r = checks(p3)
    assert all(v.level == "ok" for v in r.values()), [v for v in r.values() if v.level != "ok"]
