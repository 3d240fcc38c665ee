"""analyse_audio and check_audio: every rule at and around its threshold, on generated audio."""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from liveavatar.checks import audio as A
from liveavatar.checks.audio import AudioStats, analyse_audio, check_audio
from liveavatar.media.audio import LoadedAudio, load_audio
from liveavatar.testing import synth
from liveavatar.testing.synth import as_loaded, clean_speech_stats

IDS = [
    "audio.format", "audio.duration", "audio.silence", "audio.sample_rate", "audio.bit_depth",
    "audio.loudness", "audio.noise", "audio.clipping", "audio.channels",
]

# Speech at -16 dBFS (a clean take passes every check), with words up to 50 ms before the end.
speech_like = partial(synth.speech_like, level_dbfs=-16.0, tail_s=0.05)


def at_speech_level(x: np.ndarray, target_dbfs: float, sr: int = 16000) -> np.ndarray:
    """Scale ``x`` so that analyse_audio measures ``target_dbfs`` of speech RMS."""
    for _ in range(3):
        measured = analyse_audio(as_loaded(x, sr)).speech_rms_dbfs
        x = (x * 10 ** ((target_dbfs - measured) / 20)).astype(np.float32)
    return x


def by_id(results):
    return {r.id: r for r in results}


stats = clean_speech_stats


def level(s: AudioStats, cid: str, **kw) -> str:
    return by_id(check_audio(s, clip_seconds=kw.get("clip", 1.92), planned_seconds=kw.get("planned")))[cid].level


# ---- analysis ---------------------------------------------------------------------------------


def test_clean_recording_passes_everything() -> None:
    s = analyse_audio(as_loaded(speech_like()))
    results = check_audio(s, clip_seconds=1.92, planned_seconds=19.2)
    assert [r.id for r in results] == IDS
    assert all(r.level == "ok" for r in results), [r for r in results if r.level != "ok"]
    assert all(r.fix == "" for r in results)


def test_speech_rms_ignores_pauses() -> None:
    """Adding a long pause must not lower the speech level (it lowers the overall RMS)."""
    plain = analyse_audio(as_loaded(speech_like(seconds=8)))
    paused = analyse_audio(as_loaded(speech_like(seconds=8, pause_at=2.0, pause_s=3.0)))
    assert paused.speech_rms_dbfs == pytest.approx(plain.speech_rms_dbfs, abs=0.5)
    assert paused.overall_rms_dbfs < plain.overall_rms_dbfs - 1.0
    assert paused.active_fraction < plain.active_fraction


def test_noise_floor_measures_the_pauses() -> None:
    s = analyse_audio(as_loaded(speech_like(noise_dbfs=-40)))
    assert s.noise_floor_dbfs == pytest.approx(-40, abs=1.0)
    assert s.speech_rms_dbfs == pytest.approx(-16, abs=1.0)


def test_digital_silence_reads_the_floor() -> None:
    s = analyse_audio(as_loaded(np.zeros(16000, np.float32)))
    assert s.noise_floor_dbfs == A.DB_FLOOR and s.peak_dbfs == A.DB_FLOOR
    assert s.active_fraction == 0 and s.longest_silence_s == pytest.approx(1.0)


def test_stats_fields_are_finite() -> None:
    s = analyse_audio(as_loaded(speech_like(noise_dbfs=-50)))
    for key, value in s.to_dict().items():
        if isinstance(value, float):
            assert math.isfinite(value), key


def test_five_minutes_48k_stereo() -> None:
    """A long take goes through whole (its speed is measured by benchmarks/checks_speed.py)."""
    piece = speech_like(seconds=10, sr=48000, noise_dbfs=-50)
    x = np.tile(piece, 30)
    s = analyse_audio(as_loaded(np.stack([x, 0.9 * x]), sr=48000))
    assert s.duration_s == pytest.approx(300)
    assert (s.sample_rate, s.channels) == (48000, 2)


# ---- format, bit depth, sample rate, channels (on real files) -----------------------------------


@pytest.mark.parametrize(
    ("name", "write", "fmt_level", "depth_level", "depth_text"),
    [
        ("a.wav", {"subtype": "PCM_16"}, "ok", "ok", "16-bit"),
        # converted by the app, nothing asked of the user: information (calibration, issue 11)
        ("b.wav", {"subtype": "PCM_24"}, "ok", "info", "24-bit"),
        ("c.wav", {"subtype": "FLOAT"}, "ok", "info", "32-bit float"),
        ("d.flac", {}, "info", "ok", "16-bit"),
        ("e.ogg", {}, "info", "ok", "not applicable"),
        ("f.mp3", {}, "ok", "ok", "not applicable"),
    ],
)
def test_format_and_bit_depth_from_files(tmp_path: Path, name, write, fmt_level, depth_level, depth_text) -> None:
    sf.write(tmp_path / name, speech_like(seconds=3), 16000, **write)
    r = by_id(check_audio(analyse_audio(load_audio(tmp_path / name)), clip_seconds=1.0, planned_seconds=None))
    assert r["audio.format"].level == fmt_level
    assert r["audio.bit_depth"].level == depth_level
    assert depth_text in r["audio.bit_depth"].value
    if depth_level == "info":
        assert "converted" in r["audio.bit_depth"].fix


def test_sample_rate_rule(tmp_path: Path) -> None:
    for sr, expected in [(16000, "ok"), (44100, "ok"), (11025, "warning"), (8000, "warning")]:
        sf.write(tmp_path / f"{sr}.wav", speech_like(seconds=3, sr=sr), sr)
        r = by_id(check_audio(analyse_audio(load_audio(tmp_path / f"{sr}.wav")), clip_seconds=1, planned_seconds=None))
        assert r["audio.sample_rate"].level == expected, sr
        if expected == "warning":
            assert "Convert" in r["audio.sample_rate"].fix
            assert "does not restore" in r["audio.sample_rate"].fix
    assert level(stats(sample_rate=15999), "audio.sample_rate") == "warning"
    assert level(stats(sample_rate=16000), "audio.sample_rate") == "ok"
    assert "16 kHz" in by_id(check_audio(stats(), clip_seconds=1, planned_seconds=None))["audio.sample_rate"].threshold


def test_channels(tmp_path: Path) -> None:
    x = speech_like(seconds=3, sr=44100)
    sf.write(tmp_path / "st.wav", np.stack([x, x], 1), 44100)
    sf.write(tmp_path / "six.wav", np.stack([x] * 6, 1), 44100)
    st_r = by_id(check_audio(analyse_audio(load_audio(tmp_path / "st.wav")), clip_seconds=1, planned_seconds=None))
    six_r = by_id(check_audio(analyse_audio(load_audio(tmp_path / "six.wav")), clip_seconds=1, planned_seconds=None))
    assert st_r["audio.channels"].level == "info" and "mixed down to mono" in st_r["audio.channels"].fix
    assert st_r["audio.channels"].value == "stereo"
    assert six_r["audio.channels"].value == "6 channels"
    assert level(stats(channels=1), "audio.channels") == "ok"


def test_other_decoded_formats_are_information() -> None:
    r = by_id(check_audio(stats(source_format="M4A", subtype=None), clip_seconds=1, planned_seconds=None))
    assert r["audio.format"].level == "info"
    assert r["audio.bit_depth"].level == "ok" and "not applicable" in r["audio.bit_depth"].value


# ---- duration ---------------------------------------------------------------------------------


def test_duration_rules(tmp_path: Path) -> None:
    sf.write(tmp_path / "short.wav", speech_like(seconds=0.1, lead_s=0.0), 16000)
    short = analyse_audio(load_audio(tmp_path / "short.wav"))
    r = by_id(check_audio(short, clip_seconds=1.92, planned_seconds=None))["audio.duration"]
    assert r.level == "problem" and "too short to drive one clip of 1.92 s" in r.fix

    assert level(stats(duration_s=0.0), "audio.duration") == "problem"
    assert level(stats(duration_s=1.92), "audio.duration", clip=1.92) == "ok"
    assert level(stats(duration_s=1.90), "audio.duration", clip=1.92) == "problem"
    assert level(stats(duration_s=19.2), "audio.duration", planned=19.2) == "ok"
    assert level(stats(duration_s=25.0), "audio.duration") == "ok"  # no plan given
    over = by_id(check_audio(stats(duration_s=25.0), clip_seconds=1.92, planned_seconds=19.2))["audio.duration"]
    assert over.level == "warning"
    assert "first 19.2 s" in over.fix and "whole audio" in over.fix and "clips" in over.fix


def test_empty_audio_analysis() -> None:
    s = analyse_audio(as_loaded(np.zeros((1, 0), np.float32)))
    r = by_id(check_audio(s, clip_seconds=1.92, planned_seconds=None))
    assert r["audio.duration"].level == "problem"
    assert [x.id for x in check_audio(s, clip_seconds=1.92, planned_seconds=None)] == IDS


# ---- silence and pauses -----------------------------------------------------------------------


def test_pure_silence_is_a_problem() -> None:
    r = by_id(check_audio(analyse_audio(as_loaded(np.zeros(48000, np.float32))), clip_seconds=1, planned_seconds=None))
    assert r["audio.silence"].level == "problem"
    assert r["audio.loudness"].level == "ok" and "not measured" in r["audio.loudness"].value


def test_silence_gate_edge() -> None:
    """A steady tone 1 dB above the −50 dBFS gate is "something"; 1 dB below is silence."""
    t = np.arange(32000) / 16000
    tone = np.sin(2 * np.pi * 200 * t) * np.sqrt(2)  # RMS 1.0
    above = analyse_audio(as_loaded(tone * 10 ** (-49 / 20)))
    below = analyse_audio(as_loaded(tone * 10 ** (-51 / 20)))
    assert level(above, "audio.silence", clip=1) == "ok"
    assert level(below, "audio.silence", clip=1) == "problem"


def test_pure_noise_is_not_silent_but_noisy() -> None:
    noise = np.random.default_rng(1).normal(0, 0.05, 16000 * 4).astype(np.float32)
    r = by_id(check_audio(analyse_audio(as_loaded(noise)), clip_seconds=1, planned_seconds=None))
    assert r["audio.silence"].level == "ok"
    assert r["audio.noise"].level == "warning"


def test_long_pause_in_the_middle_warns() -> None:
    s = analyse_audio(as_loaded(speech_like(seconds=8, pause_at=3.0, pause_s=2.6)))
    assert s.longest_silence_s == pytest.approx(2.8, abs=0.3)
    assert s.long_pause_count == 1
    r = by_id(check_audio(s, clip_seconds=1, planned_seconds=None))["audio.silence"]
    assert r.level == "warning" and "2 s" in r.fix


def test_short_pause_is_fine() -> None:
    s = analyse_audio(as_loaded(speech_like(seconds=8, pause_at=3.0, pause_s=1.0)))
    assert s.longest_silence_s < A.LONG_PAUSE_S
    assert level(s, "audio.silence") == "ok"


def test_pause_threshold_edge() -> None:
    assert level(stats(longest_silence_s=2.0), "audio.silence") == "ok"
    assert level(stats(longest_silence_s=2.02), "audio.silence") == "warning"


def test_leading_silence_is_measured_separately() -> None:
    s = analyse_audio(as_loaded(speech_like(seconds=8, lead_s=2.0)))
    assert s.leading_silence_s == pytest.approx(2.0, abs=0.05)
    assert s.longest_silence_s < 1.0  # leading silence is not a pause inside the speech
    assert level(s, "audio.silence") == "ok"
    s4 = analyse_audio(as_loaded(speech_like(seconds=10, lead_s=4.0)))
    r = by_id(check_audio(s4, clip_seconds=1, planned_seconds=None))["audio.silence"]
    assert r.level == "warning" and "Trim" in r.fix


# ---- loudness, noise, clipping at their edges -------------------------------------------------


@pytest.mark.parametrize(("target", "expected"), [(-39.5, "ok"), (-40.5, "warning")])
def test_loudness_edge_end_to_end(target: float, expected: str) -> None:
    s = analyse_audio(as_loaded(at_speech_level(speech_like(), target)))
    assert s.speech_rms_dbfs == pytest.approx(target, abs=0.05)
    r = by_id(check_audio(s, clip_seconds=1, planned_seconds=None))["audio.loudness"]
    assert r.level == expected
    if expected == "warning":
        assert "closer to the microphone" in r.fix


def test_loudness_edge_exact() -> None:
    assert level(stats(speech_rms_dbfs=-40.0), "audio.loudness") == "ok"
    assert level(stats(speech_rms_dbfs=-40.01), "audio.loudness") == "warning"


@pytest.mark.parametrize(("noise", "expected"), [(-31.0, "ok"), (-29.0, "warning")])
def test_noise_edge_end_to_end(noise: float, expected: str) -> None:
    # 48 kHz: 960-sample frames keep the quietest-10 % estimate within a few tenths of a dB.
    # Speech at the guide's -18 dBFS: the 12 dB speech-to-noise rule puts the edge at -30 dBFS.
    s = analyse_audio(as_loaded(speech_like(sr=48000, level_dbfs=-18.0, noise_dbfs=noise), sr=48000))
    assert s.noise_floor_dbfs == pytest.approx(noise, abs=0.5)
    r = by_id(check_audio(s, clip_seconds=1, planned_seconds=None))["audio.noise"]
    assert r.level == expected
    if expected == "warning":
        assert "Denoise" in r.fix


def test_noise_edge_exact() -> None:
    assert level(stats(speech_rms_dbfs=-18.0, noise_floor_dbfs=-30.0), "audio.noise") == "ok"
    assert level(stats(speech_rms_dbfs=-18.0, noise_floor_dbfs=-29.99), "audio.noise") == "warning"


def test_noise_is_judged_against_the_speech_not_full_scale() -> None:
    """Level is normalised away before wav2vec2, so only the ratio matters (calibration, issue 11)."""
    assert level(stats(speech_rms_dbfs=-35.0, noise_floor_dbfs=-55.0), "audio.noise") == "ok"
    assert level(stats(speech_rms_dbfs=-6.0, noise_floor_dbfs=-16.0), "audio.noise") == "warning"


def test_clipped_signal_warns() -> None:
    x = np.clip(speech_like(level_dbfs=-2.0), -1.0, 1.0)
    s = analyse_audio(as_loaded(x))
    assert s.clipped_fraction > 0.01
    r = by_id(check_audio(s, clip_seconds=1, planned_seconds=None))["audio.clipping"]
    assert r.level == "warning" and "cannot repair" in r.fix


def test_clipping_in_one_channel_is_found() -> None:
    x = speech_like(level_dbfs=-16.0)
    clipped = np.clip(x * 8, -1, 1)
    s = analyse_audio(as_loaded(np.stack([x, clipped])))
    assert s.clipped_fraction > A.CLIPPED_FRACTION_MAX


def test_clipping_edge_exact() -> None:
    assert level(stats(clipped_fraction=0.001), "audio.clipping") == "ok"
    assert level(stats(clipped_fraction=0.0011), "audio.clipping") == "warning"


def test_thresholds_are_shown() -> None:
    r = by_id(check_audio(stats(), clip_seconds=1.92, planned_seconds=19.2))
    assert "-40 dBFS" in r["audio.loudness"].threshold
    assert "12 dB above the noise floor" in r["audio.noise"].threshold
    assert "16 kHz" in r["audio.sample_rate"].threshold
    assert "2 s" in r["audio.silence"].threshold and "-50 dBFS" in r["audio.silence"].threshold
    assert "0.1%" in r["audio.clipping"].threshold
    assert "WAV or MP3" == r["audio.format"].threshold
    assert "16-bit" in r["audio.bit_depth"].threshold
    assert "19.2 s" in r["audio.duration"].threshold and "1.92 s" in r["audio.duration"].threshold


# ---- never raises ------------------------------------------------------------------------------

_floats = st.floats(allow_nan=True, allow_infinity=True, width=32)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    samples=hnp.arrays(
        np.float32,
        st.tuples(st.integers(1, 3), st.integers(0, 2000)),
        elements=_floats,
    ),
    sr=st.integers(-5, 200_000),
    fmt=st.sampled_from(["WAV", "MP3", "FLAC", "", "M4A"]),
    subtype=st.sampled_from(["PCM_16", "PCM_24", "FLOAT", None, "VORBIS"]),
    clip=st.floats(allow_nan=True, allow_infinity=True),
    planned=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
)
def test_random_arrays_never_raise(samples, sr, fmt, subtype, clip, planned) -> None:
    s = analyse_audio(LoadedAudio(samples, sr, fmt, subtype, "x.wav"))
    for value in s.to_dict().values():
        if isinstance(value, float):
            assert not math.isnan(value)
    results = check_audio(s, clip_seconds=clip, planned_seconds=planned)
    assert [r.id for r in results] == IDS
    assert all(r.level in {"ok", "info", "warning", "problem"} for r in results)


@settings(max_examples=80, deadline=None)
@given(
    numbers=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=12, max_size=12),
    ints=st.lists(st.integers(-(2**40), 2**40), min_size=3, max_size=3),
    subtype=st.one_of(st.none(), st.text(max_size=8), st.sampled_from(["PCM_16", "PCM_24", "FLOAT"])),
    fmt=st.one_of(st.text(max_size=8), st.sampled_from(["WAV", "MP3"])),
)
def test_arbitrary_stats_never_raise(numbers, ints, subtype, fmt) -> None:
    s = AudioStats(
        duration_s=numbers[0], sample_rate=ints[0], channels=ints[1], subtype=subtype,
        source_format=fmt, speech_rms_dbfs=numbers[1], noise_floor_dbfs=numbers[2],
        peak_dbfs=numbers[3], clipped_fraction=numbers[4], longest_silence_s=numbers[5],
        active_fraction=numbers[6], loudness_variation_db=numbers[7], overall_rms_dbfs=numbers[8],
        loudest_frame_dbfs=numbers[9], speech_gate_dbfs=numbers[10], leading_silence_s=numbers[11],
        trailing_silence_s=numbers[0], long_pause_count=ints[2],
    )
    results = check_audio(s, clip_seconds=numbers[1], planned_seconds=numbers[2])
    assert [r.id for r in results] == IDS
    assert not any(r.value == "could not be measured" for r in results)
