"""Decoding and writing audio: the one door every recording comes in through.

Everything downstream (checks, fixes, the generation plan) works on :class:`LoadedAudio`, so
format quirks are settled here once: libsndfile reads what it can (WAV, FLAC, OGG, MP3), and the
ffmpeg binary bundled with ``imageio-ffmpeg`` decodes what a browser microphone produces (M4A,
AAC, WebM/Opus). ffmpeg is only ever allowed to read local files, never the network.

Errors are :class:`AudioLoadError` with a sentence the UI can show as is.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

TARGET_SAMPLE_RATE = 16_000
"""The rate the model's speech encoder (Wav2Vec-style) works at."""

FFMPEG_TIMEOUT_S = 300.0
"""Upper bound for one ffmpeg call, so a pathological file cannot hang a worker."""

# Subtypes that carry a bit depth. Anything else libsndfile reports (VORBIS, OPUS,
# MPEG_LAYER_III, ADPCM variants, ...) is a compressed codec for which "bit depth" means nothing.
_SUBTYPES_WITH_BIT_DEPTH = frozenset(
    {"PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW"}
)

# libsndfile container names that are WAV for the user's purposes.
_FORMAT_ALIASES = {"WAVEX": "WAV", "RF64": "WAV"}

# ffmpeg PCM codec names -> soundfile subtype names, for PCM inside containers libsndfile lacks.
_FFMPEG_PCM_SUBTYPES = {
    "pcm_s8": "PCM_S8",
    "pcm_u8": "PCM_U8",
    "pcm_s16": "PCM_16",
    "pcm_s24": "PCM_24",
    "pcm_s32": "PCM_32",
    "pcm_f32": "FLOAT",
    "pcm_f64": "DOUBLE",
    "pcm_mulaw": "ULAW",
    "pcm_alaw": "ALAW",
}

_UNREADABLE = (
    "The file {name} could not be read as audio. Please save or export it as WAV or MP3 and "
    "upload it again."
)


class AudioLoadError(ValueError):
    """An upload that cannot be used; ``str(err)`` says what is wrong and how to fix it."""


@dataclass
class LoadedAudio:
    """Decoded audio at its native rate, plus what the file said about itself.

    ``samples`` is float32 ``[channels, n]``; ``subtype`` is the soundfile subtype ("PCM_16",
    "PCM_24", "FLOAT", ...) or ``None`` for compressed codecs that have no bit depth. The original
    format is kept because the checks report on the file the user gave, not on what we made of it.
    """

    samples: np.ndarray
    sample_rate: int
    source_format: str
    subtype: str | None
    path: str

    @property
    def channels(self) -> int:
        return int(np.atleast_2d(self.samples).shape[0])

    @property
    def n_samples(self) -> int:
        return int(np.atleast_2d(self.samples).shape[-1])

    @property
    def duration_s(self) -> float:
        if self.sample_rate <= 0:
            return 0.0
        return self.n_samples / float(self.sample_rate)

    def mono(self) -> np.ndarray:
        """Mean of the channels (a new float32 array): the model hears one voice, not a stereo image."""
        return np.atleast_2d(self.samples).mean(axis=0, dtype=np.float32)


def describe_duration(seconds: float) -> str:
    """Human wording for a length: "0.25 s", "1.92 s", "12 s", "4 min 05 s", "1 h 00 min 00 s".

    Two decimals under a minute, because clip lengths such as 1.92 s are compared against it.
    """
    if not math.isfinite(seconds):
        return "unknown length"
    if seconds < 59.995:
        return f"{seconds:.2f}".rstrip("0").rstrip(".") + " s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes >= 60:
        hours, minutes = divmod(minutes, 60)
        return f"{hours} h {minutes:02d} min {secs:02d} s"
    return f"{minutes} min {secs:02d} s"


def load_audio(path: str | os.PathLike[str], max_seconds: float | None = None) -> LoadedAudio:
    """Decode ``path`` into :class:`LoadedAudio`, or raise :class:`AudioLoadError`.

    The length is checked from the header before the samples are decoded, so an hour-long upload
    is turned away without holding it in memory. When a container has no usable duration (a
    browser's WebM recording often has none) decoding stops just past ``max_seconds``.
    """
    p = Path(path)
    name = p.name or str(path)
    if not p.is_file():
        raise AudioLoadError(f"The audio file {name} was not found. Please upload it again.")
    if p.stat().st_size == 0:
        raise AudioLoadError(
            f"The audio file {name} is empty (0 bytes). Please record or export the speech again "
            "and upload the new file."
        )

    try:
        loaded = _load_with_soundfile(p, max_seconds)
    except AudioLoadError:
        raise
    except Exception:  # libsndfile does not know the container: let ffmpeg try
        loaded = _load_with_ffmpeg(p, max_seconds)

    _validate_samples(loaded, max_seconds)
    return loaded


def to_mono_16k(audio: LoadedAudio) -> np.ndarray:
    """Mono float32 at 16 kHz, the form the speech encoder consumes."""
    mono = audio.mono()
    if mono.size == 0 or audio.sample_rate == TARGET_SAMPLE_RATE:
        return mono.astype(np.float32, copy=False)
    import librosa  # imported late: it pulls in numba, which the rest of the module does not need

    out = librosa.resample(mono, orig_sr=audio.sample_rate, target_sr=TARGET_SAMPLE_RATE)
    return np.ascontiguousarray(out, dtype=np.float32)


MIX_PEAK = 0.99
"""The mix of several speakers' tracks is scaled down (never up) until its peak is at most this."""


def mix_tracks(tracks) -> np.ndarray:
    """Several speakers' mono 16 kHz tracks as one mono track (issue 14: the video's sound).

    The mix is as long as the longest track (a shorter one is padded with silence: that person is
    silent after their track ends) and is the plain sum, so each voice keeps its level against the
    others. Only when that sum would exceed :data:`MIX_PEAK` is the whole mix scaled down, by just
    enough: it never clips and never amplifies, so a quiet mix comes back unchanged. Non-finite
    samples count as silence; a multi-channel array is averaged to mono first. No tracks (or only
    empty ones) give an empty float32 array.
    """
    arrays = []
    for track in tracks:
        a = np.asarray(track, dtype=np.float32)
        if a.ndim > 1:
            a = np.atleast_2d(a).reshape(a.shape[0], -1).mean(axis=0, dtype=np.float32) if a.size else a.reshape(-1)
        arrays.append(np.nan_to_num(a.reshape(-1), nan=0.0, posinf=0.0, neginf=0.0))
    n = max((a.size for a in arrays), default=0)
    mix = np.zeros(n, dtype=np.float64)
    for a in arrays:
        mix[: a.size] += a
    peak = float(np.max(np.abs(mix))) if n else 0.0
    if peak > MIX_PEAK:
        mix *= MIX_PEAK / peak
    out = mix.astype(np.float32)
    if peak > MIX_PEAK:
        # float32(0.99) is a hair above 0.99: clip to the largest float32 that is not
        limit = np.float32(MIX_PEAK)
        if float(limit) > MIX_PEAK:
            limit = np.nextafter(limit, np.float32(0))
        np.clip(out, -limit, limit, out=out)
    return out


def write_wav(
    path: str | os.PathLike[str], samples: np.ndarray, sr: int, subtype: str = "PCM_16"
) -> str:
    """Write ``samples`` (``[n]`` or ``[channels, n]``) as WAV and return the path.

    Integer subtypes are clipped to [-1, 1] first: libsndfile would otherwise wrap out-of-range
    floats around, turning a slight overshoot into a loud click.
    """
    data = np.asarray(samples, dtype=np.float32)
    if data.ndim == 2:
        data = data.T  # soundfile wants [n, channels]
    elif data.ndim != 1:
        raise ValueError(f"samples must be 1-D or [channels, n], got shape {data.shape}")
    if subtype.upper() not in {"FLOAT", "DOUBLE"}:
        data = np.clip(data, -1.0, 1.0)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(out), data, int(sr), subtype=subtype, format="WAV")
    return str(out)


# --------------------------------------------------------------------------------------------
# soundfile


def _load_with_soundfile(p: Path, max_seconds: float | None) -> LoadedAudio:
    info = sf.info(str(p))
    if info.frames == 0 or info.samplerate <= 0:
        raise AudioLoadError(_no_samples(p.name))
    _check_limit(p.name, info.frames / info.samplerate, max_seconds)
    data, sr = sf.read(str(p), dtype="float32", always_2d=True)
    fmt = _FORMAT_ALIASES.get(info.format, info.format)
    subtype = info.subtype if info.subtype in _SUBTYPES_WITH_BIT_DEPTH else None
    return LoadedAudio(
        samples=np.ascontiguousarray(data.T),
        sample_rate=int(sr),
        source_format=fmt,
        subtype=subtype,
        path=str(p),
    )


# --------------------------------------------------------------------------------------------
# ffmpeg fallback

_DURATION_RE = re.compile(r"Duration:\s*(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_INPUT_RE = re.compile(r"Input #0,\s*([^\n]*?),\s*from ")
_AUDIO_STREAM_RE = re.compile(r"Stream #0:\d+[^\n]*?: Audio:\s*([A-Za-z0-9_]+)")


def _ffmpeg_exe() -> str | None:
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:
        return None


def _ffmpeg_base(exe: str) -> list[str]:
    # The file: protocol plus a file-only whitelist keeps a playlist or a crafted container from
    # making ffmpeg open a URL.
    return [exe, "-nostdin", "-hide_banner", "-protocol_whitelist", "file"]


def _load_with_ffmpeg(p: Path, max_seconds: float | None) -> LoadedAudio:
    exe = _ffmpeg_exe()
    if exe is None:
        raise AudioLoadError(_UNREADABLE.format(name=p.name))
    src = "file:" + str(p.resolve())

    try:
        probe = subprocess.run(
            [*_ffmpeg_base(exe), "-i", src],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=FFMPEG_TIMEOUT_S,
        )
    except (OSError, subprocess.SubprocessError):
        raise AudioLoadError(_UNREADABLE.format(name=p.name)) from None
    report = probe.stderr
    stream = _AUDIO_STREAM_RE.search(report)
    if stream is None:
        raise AudioLoadError(_UNREADABLE.format(name=p.name))
    codec = stream.group(1).lower()
    duration = _parse_duration(report)
    if duration is not None:
        _check_limit(p.name, duration, max_seconds)

    with tempfile.TemporaryDirectory(prefix="liveavatar-audio-") as tmp:
        wav = Path(tmp) / "decoded.wav"
        cmd = [*_ffmpeg_base(exe), "-loglevel", "error", "-i", src, "-map", "0:a:0", "-vn"]
        cmd += ["-acodec", "pcm_f32le", "-f", "wav"]
        if max_seconds is not None and math.isfinite(max_seconds):
            # Duration unknown or untrusted: decode only slightly past the limit, then judge.
            cmd += ["-t", f"{max(max_seconds, 0.0) + 1.0:.3f}"]
        cmd += ["-y", "file:" + str(wav)]
        try:
            run = subprocess.run(cmd, capture_output=True, timeout=FFMPEG_TIMEOUT_S)
        except (OSError, subprocess.SubprocessError):
            raise AudioLoadError(_UNREADABLE.format(name=p.name)) from None
        if run.returncode != 0 or not wav.is_file() or wav.stat().st_size == 0:
            raise AudioLoadError(_UNREADABLE.format(name=p.name))
        try:
            data, sr = sf.read(str(wav), dtype="float32", always_2d=True)
        except Exception:
            raise AudioLoadError(_UNREADABLE.format(name=p.name)) from None

    return LoadedAudio(
        samples=np.ascontiguousarray(data.T),
        sample_rate=int(sr),
        source_format=_ffmpeg_format_name(report, p),
        subtype=_ffmpeg_subtype(codec),
        path=str(p),
    )


def _parse_duration(report: str) -> float | None:
    m = _DURATION_RE.search(report)
    if m is None:
        return None
    hours, minutes, seconds = int(m.group(1)), int(m.group(2)), float(m.group(3))
    return hours * 3600 + minutes * 60 + seconds


def _ffmpeg_format_name(report: str, p: Path) -> str:
    """The name a user would recognise: the file extension when the demuxer accepts it."""
    ext = p.suffix.lower().lstrip(".")
    m = _INPUT_RE.search(report)
    names = [n.strip().lower() for n in m.group(1).split(",")] if m else []
    if ext and ext in names:
        return ext.upper()
    if names:
        return names[0].upper()
    return ext.upper() or "UNKNOWN"


def _ffmpeg_subtype(codec: str) -> str | None:
    for prefix, subtype in _FFMPEG_PCM_SUBTYPES.items():
        if codec.startswith(prefix):
            return subtype
    return None


# --------------------------------------------------------------------------------------------
# shared validation


def _no_samples(name: str) -> str:
    return (
        f"The audio file {name} contains no sound samples (zero length). Please record or export "
        "the speech again and upload the new file."
    )


def _check_limit(name: str, duration_s: float, max_seconds: float | None) -> None:
    if max_seconds is None or not math.isfinite(max_seconds):
        return
    if duration_s > max_seconds:
        raise AudioLoadError(
            f"The audio file {name} is {describe_duration(duration_s)} long; the limit is "
            f"{describe_duration(max_seconds)}. Please trim it to {describe_duration(max_seconds)} "
            "or less and upload it again."
        )


def _validate_samples(audio: LoadedAudio, max_seconds: float | None) -> None:
    name = Path(audio.path).name
    if audio.samples.size == 0 or audio.n_samples == 0:
        raise AudioLoadError(_no_samples(name))
    # Header lengths can be wrong (VBR MP3, truncated WAV): hold the decoded length to the limit too.
    _check_limit(name, audio.duration_s, max_seconds)
    if not np.isfinite(audio.samples).all():
        raise AudioLoadError(
            f"The audio file {name} contains invalid sample values (NaN or infinity), so it is "
            "damaged. Please export it again as 16-bit WAV or MP3 and upload the new file."
        )
