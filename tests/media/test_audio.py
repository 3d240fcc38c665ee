"""load_audio / to_mono_16k / write_wav on files generated here, in every format a user may bring."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
import soundfile as sf

from liveavatar.media import audio as media_audio
from liveavatar.media.audio import AudioLoadError, LoadedAudio, load_audio, to_mono_16k, write_wav
from liveavatar.testing.synth import speech_like


def ffmpeg(*args: str) -> None:
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", *args], check=True)


@pytest.mark.parametrize(
    ("name", "kwargs", "fmt", "subtype"),
    [
        ("pcm16.wav", {"subtype": "PCM_16"}, "WAV", "PCM_16"),
        ("pcm24.wav", {"subtype": "PCM_24"}, "WAV", "PCM_24"),
        ("float.wav", {"subtype": "FLOAT"}, "WAV", "FLOAT"),
        ("voice.flac", {}, "FLAC", "PCM_16"),
        ("voice.ogg", {}, "OGG", None),
        ("voice.mp3", {}, "MP3", None),
    ],
)
def test_soundfile_formats(tmp_path: Path, name: str, kwargs: dict, fmt: str, subtype: str | None) -> None:
    x = speech_like(2.0, 44100)
    path = tmp_path / name
    sf.write(path, x, 44100, **kwargs)
    a = load_audio(path)
    assert a.source_format == fmt
    assert a.subtype == subtype
    assert a.sample_rate == 44100
    assert a.samples.dtype == np.float32 and a.samples.ndim == 2 and a.channels == 1
    assert a.duration_s == pytest.approx(2.0, abs=0.06)
    assert a.path == str(path)
    if fmt in {"WAV", "FLAC"}:
        assert np.max(np.abs(a.samples[0] - x)) < 1e-3  # lossless


def test_stereo_and_six_channels(tmp_path: Path) -> None:
    x = speech_like(1.0, 44100)
    sf.write(tmp_path / "st.wav", np.stack([x, 0.5 * x], 1), 44100)
    a = load_audio(tmp_path / "st.wav")
    assert a.samples.shape == (2, 44100)
    assert np.allclose(a.mono(), 0.75 * x, atol=1e-3)
    sf.write(tmp_path / "six.wav", np.stack([x] * 6, 1), 48000)
    assert load_audio(tmp_path / "six.wav").channels == 6


@pytest.mark.parametrize(("ext", "codec", "fmt", "subtype"), [
    ("m4a", "aac", "M4A", None),
    ("webm", "libopus", "WEBM", None),
    ("mov", "pcm_s24le", "MOV", "PCM_24"),
])
def test_ffmpeg_fallback(tmp_path: Path, ext: str, codec: str, fmt: str, subtype: str | None) -> None:
    sf.write(tmp_path / "src.wav", speech_like(2.0, 48000), 48000)
    out = tmp_path / f"mic.{ext}"
    ffmpeg("-i", str(tmp_path / "src.wav"), "-c:a", codec, str(out))
    a = load_audio(out)
    assert (a.source_format, a.subtype, a.sample_rate, a.channels) == (fmt, subtype, 48000, 1)
    assert a.duration_s == pytest.approx(2.0, abs=0.1)
    with pytest.raises(AudioLoadError, match="limit is 1 s"):
        load_audio(out, max_seconds=1.0)


def test_streamed_webm_without_duration_still_respects_limit(tmp_path: Path) -> None:
    """A browser recording often has no duration in its header: decoding must stop at the limit."""
    sf.write(tmp_path / "src.wav", speech_like(4.0, 48000), 48000)
    out = tmp_path / "stream.webm"
    with open(out, "wb") as fh:
        subprocess.run(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(tmp_path / "src.wav"),
             "-c:a", "libopus", "-f", "webm", "pipe:1"],
            stdout=fh, check=True,
        )
    assert load_audio(out).duration_s == pytest.approx(4.0, abs=0.1)
    with pytest.raises(AudioLoadError, match="limit"):
        load_audio(out, max_seconds=2.0)


def test_length_limit_checked_from_header_before_decoding(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "long.wav"
    sf.write(path, speech_like(3.0), 16000)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded a file that the header already showed to be too long")

    monkeypatch.setattr(media_audio.sf, "read", no_decoding)
    with pytest.raises(AudioLoadError) as err:
        load_audio(path, max_seconds=2.5)
    assert "3 s long" in str(err.value) and "limit is 2.5 s" in str(err.value)


def test_within_limit_loads(tmp_path: Path) -> None:
    sf.write(tmp_path / "ok.wav", speech_like(2.0), 16000)
    assert load_audio(tmp_path / "ok.wav", max_seconds=2.0).duration_s == pytest.approx(2.0)


def test_text_file_named_wav(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio\n" * 50)
    with pytest.raises(AudioLoadError, match="could not be read as audio") as err:
        load_audio(path)
    assert "WAV or MP3" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioLoadError, match="empty"):
        load_audio(path)


def test_header_only_wav(tmp_path: Path) -> None:
    path = tmp_path / "noframes.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioLoadError, match="zero length"):
        load_audio(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioLoadError, match="not found"):
        load_audio(tmp_path / "nope.wav")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_rejected(tmp_path: Path, bad: float) -> None:
    x = speech_like(0.5)
    x[100] = bad
    path = tmp_path / "broken.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    with pytest.raises(AudioLoadError, match="NaN or infinity"):
        load_audio(path)


def test_very_short_file_loads(tmp_path: Path) -> None:
    sf.write(tmp_path / "short.wav", speech_like(0.1, lead_s=0.0, tail_s=0.0), 16000)
    a = load_audio(tmp_path / "short.wav")
    assert a.duration_s == pytest.approx(0.1)


@pytest.mark.parametrize("sr", [8000, 16000, 44100, 48000])
def test_to_mono_16k(sr: int) -> None:
    x = speech_like(1.0, sr)
    a = LoadedAudio(np.stack([x, x]), sr, "WAV", "PCM_16", "x.wav")
    y = to_mono_16k(a)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(y.size - 16000) <= 1
    # Same speech level after resampling (the voice is well below 4 kHz).
    assert 20 * np.log10(np.sqrt(np.mean(y**2)) / np.sqrt(np.mean(x**2))) == pytest.approx(0, abs=0.3)


def test_write_wav_roundtrip_and_clipping(tmp_path: Path) -> None:
    x = np.array([0.0, 0.5, -0.5, 1.5, -1.5], dtype=np.float32)
    path = write_wav(tmp_path / "sub" / "out.wav", x, 16000)
    info = sf.info(path)
    assert (info.subtype, info.samplerate, info.channels) == ("PCM_16", 16000, 1)
    y, _ = sf.read(path, dtype="float32")
    assert np.allclose(y, [0, 0.5, -0.5, 1.0, -1.0], atol=1e-4)  # clipped, not wrapped around
    stereo = write_wav(tmp_path / "st.wav", np.stack([x, -x]), 8000, subtype="PCM_24")
    assert sf.info(stereo).channels == 2 and sf.info(stereo).subtype == "PCM_24"


# --- mix_tracks (issue 14: several speakers, one sound track) ------------------------------------


def test_mix_of_two_full_scale_tracks_never_clips() -> None:
    from liveavatar.media.audio import MIX_PEAK, mix_tracks

    t = np.arange(16000) / 16000.0
    a = np.sin(2 * np.pi * 220 * t).astype(np.float32)  # full scale
    b = np.sign(np.sin(2 * np.pi * 220 * t)).astype(np.float32)  # in phase, full-scale square
    mixed = mix_tracks([a, b[:8000]])
    assert mixed.dtype == np.float32 and mixed.shape == (16000,)
    assert np.all(np.isfinite(mixed))
    assert float(np.abs(mixed).max()) <= MIX_PEAK
    assert float(np.abs(mixed).max()) > 0.98  # scaled only as much as needed
    # the second half (only track a) keeps its shape relative to the first
    scale = MIX_PEAK / float(np.abs(a[:8000] + b[:8000]).max())
    np.testing.assert_allclose(mixed[8000:], a[8000:] * scale, atol=1e-6)


def test_quiet_mix_is_the_plain_sum_padded_to_the_longest() -> None:
    from liveavatar.media.audio import mix_tracks

    a = speech_like(2.0, 16000, level_dbfs=-30).astype(np.float32)
    b = speech_like(1.0, 16000, level_dbfs=-30).astype(np.float32)
    mixed = mix_tracks([a, b])
    assert mixed.shape == a.shape
    np.testing.assert_allclose(mixed[: b.size], a[: b.size] + b, atol=1e-7)
    np.testing.assert_array_equal(mixed[b.size :], a[b.size :])  # never amplified


def test_mix_ignores_non_finite_samples_and_empty_input() -> None:
    from liveavatar.media.audio import mix_tracks

    a = np.array([0.1, np.nan, np.inf, -np.inf], np.float32)
    np.testing.assert_array_equal(mix_tracks([a, np.zeros(2, np.float32)]), np.array([0.1, 0, 0, 0], np.float32))
    assert mix_tracks([]).shape == (0,)
    assert mix_tracks([np.zeros(0, np.float32)]).dtype == np.float32
