"""Writing the finished MP4 and checking what was written, with the ffmpeg bundled in imageio-ffmpeg.

Frames are piped into one ffmpeg process as clips arrive, so a long video never sits in memory and
the first clips are already encoded while later ones render. Audio is muxed in a second, copy-only
pass because its length must match the final frame count, which is only known at the end.

Only the bundled binary is used: a system ffmpeg may be missing or lack libx264, and the app must
behave the same on every machine. Output goes to hidden temporary files beside the target and is
renamed into place only once complete, so a crash or a cancel never leaves a half-written video
under the real name.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import wave
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any

import numpy as np

AUDIO_SAMPLE_RATE_OUT = 48_000
"""AAC is written at 48 kHz: the rate every player handles, and its 21 ms frames keep the audio's
length within a video frame of the picture's."""

AUDIO_BITRATE = "128k"


class VideoError(RuntimeError):
    """ffmpeg failed or the file is not a video we can read; the message carries ffmpeg's own words."""


def ffmpeg_exe() -> str:
    """Path of the bundled ffmpeg binary (imported lazily so importing this module stays cheap)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _tail(text: str | bytes, limit: int = 2000) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = text.strip()
    return text[-limit:] if len(text) > limit else text


def _remove(path: str | None) -> None:
    if path:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


class VideoWriter:
    """Stream uint8 RGB frames into an H.264 (yuv420p) MP4, optionally muxing 16 kHz speech as AAC.

    Use as a context manager: leaving the block normally closes the file without audio (unless
    :meth:`close` was already called), leaving it with an exception aborts and removes every
    temporary file. Odd widths/heights are padded by one edge-replicated pixel, because yuv420p
    subsamples chroma 2×2 and libx264 refuses odd sizes; the file is then one pixel larger.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        width: int,
        height: int,
        fps: float,
        *,
        crf: int = 18,
        preset: str = "veryfast",
    ) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"Video size must be positive; got {width}×{height}.")
        if fps <= 0:
            raise ValueError(f"fps must be positive; got {fps}.")
        self.path = os.path.abspath(os.fspath(path))
        self.width = int(width)
        self.height = int(height)
        self.fps = float(fps)
        self.encoded_width = self.width + self.width % 2
        self.encoded_height = self.height + self.height % 2
        self.frame_count = 0
        self._state = "open"  # open | closed | aborted
        self._temps: list[str] = []

        directory = os.path.dirname(self.path)
        os.makedirs(directory, exist_ok=True)
        self._video_tmp = self._temp(".video.mp4")
        self._log: IO[bytes] = tempfile.TemporaryFile()
        cmd = [
            ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24",
            "-s", f"{self.encoded_width}x{self.encoded_height}",
            "-framerate", _fps_arg(self.fps),
            "-i", "pipe:0",
            "-an",
            # Convert with, and tag, BT.709 so browsers (which assume 709 for untagged video) show
            # the colours the backend rendered.
            "-vf", "scale=out_color_matrix=bt709:out_range=tv,"
            "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv",
            "-c:v", "libx264", "-preset", preset, "-crf", str(crf),
            "-pix_fmt", "yuv420p",
            "-f", "mp4", self._video_tmp,
        ]
        try:
            self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log
            )
        except BaseException:
            self._cleanup()
            self._state = "aborted"
            raise

    # --- context manager ------------------------------------------------------------------
    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.abort()
        elif self._state == "open":
            self.close()

    def __del__(self) -> None:
        # A writer dropped without close/abort must not leave ffmpeg running or temporaries behind.
        try:
            if getattr(self, "_state", None) == "open":
                self.abort()
        except Exception:
            pass

    # --- writing ---------------------------------------------------------------------------
    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps

    def append(self, frames: np.ndarray) -> None:
        """Encode ``frames`` (uint8 [T,H,W,3], or one [H,W,3] frame) after those already written."""
        if self._state != "open":
            raise VideoError(f"VideoWriter for {self.path} is {self._state}; nothing more can be appended.")
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"Frames must be [T, H, W, 3]; got shape {frames.shape}.")
        if frames.dtype != np.uint8:
            raise TypeError(f"Frames must be uint8; got {frames.dtype} (convert explicitly, ranges differ).")
        if frames.shape[1:3] != (self.height, self.width):
            raise ValueError(
                f"Frames are {frames.shape[2]}×{frames.shape[1]}; "
                f"this writer was opened for {self.width}×{self.height}."
            )
        if not len(frames):
            return
        pad_h, pad_w = self.encoded_height - self.height, self.encoded_width - self.width
        if pad_h or pad_w:
            frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        frames = np.ascontiguousarray(frames)
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(memoryview(frames).cast("B"))
        except (BrokenPipeError, OSError) as exc:
            try:  # let ffmpeg finish writing why it stopped before reading its log
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            message = self._ffmpeg_log()
            self.abort()
            raise VideoError(f"ffmpeg stopped while encoding {self.path}: {message or exc}") from exc
        self.frame_count += len(frames)

    def close(
        self, audio_16k: np.ndarray | None = None, sample_rate: int = 16000, metadata: dict[str, str] | None = None
    ) -> str:
        """Finish the file, mux ``audio_16k`` (mono float in [-1, 1]) if given, and return its path.

        The audio is trimmed or zero-padded to exactly ``frame_count / fps`` seconds, so picture
        and sound end together whatever the backend produced. ``metadata`` becomes MP4 tags
        (e.g. ``{"comment": "AI-generated"}``), readable by any player or ``ffprobe``.
        """
        if self._state == "closed":
            return self.path
        if self._state == "aborted":
            raise VideoError(f"VideoWriter for {self.path} was aborted.")
        if self.frame_count == 0:
            self.abort()
            raise ValueError("No frames were appended; an empty video cannot be written.")
        try:
            self._finish_encoder()
            final_tmp = self._temp(".mp4")
            cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", self._video_tmp]
            if audio_16k is not None:
                wav_tmp = self._temp(".wav")
                _write_wav(wav_tmp, _fit_audio(audio_16k, self.frame_count, self.fps, sample_rate), sample_rate)
                cmd += [
                    "-i", wav_tmp, "-map", "0:v:0", "-map", "1:a:0",
                    "-c:v", "copy",
                    "-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ar", str(AUDIO_SAMPLE_RATE_OUT), "-ac", "1",
                ]
            else:
                cmd += ["-map", "0:v:0", "-c:v", "copy"]
            for key, value in (metadata or {}).items():
                cmd += ["-metadata", f"{key}={value}"]
            cmd += ["-movflags", "+faststart", "-f", "mp4", final_tmp]
            result = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
            if result.returncode != 0:
                raise VideoError(f"ffmpeg could not mux {self.path}: {_tail(result.stderr)}")
            os.replace(final_tmp, self.path)
            self._temps.remove(final_tmp)
        except BaseException:
            self.abort()
            raise
        self._state = "closed"
        self._cleanup()
        return self.path

    def abort(self) -> None:
        """Stop ffmpeg and delete every partial file; a finished (closed) video is left alone."""
        if self._state != "open":
            return
        self._state = "aborted"
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            if proc.stdin is not None:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
            proc.wait()
        self._cleanup()

    # --- internals -------------------------------------------------------------------------
    def _temp(self, suffix: str) -> str:
        # Hidden, beside the target: the final rename stays on one filesystem (atomic).
        directory, name = os.path.split(self.path)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=f".part{suffix}", dir=directory)
        os.close(fd)
        self._temps.append(tmp)
        return tmp

    def _finish_encoder(self) -> None:
        proc, self._proc = self._proc, None
        assert proc is not None and proc.stdin is not None
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass
        rc = proc.wait()
        if rc != 0:
            raise VideoError(f"ffmpeg failed encoding {self.path} (exit {rc}): {self._ffmpeg_log()}")

    def _ffmpeg_log(self) -> str:
        try:
            self._log.seek(0)
            return _tail(self._log.read())
        except (OSError, ValueError):
            return ""

    def _cleanup(self) -> None:
        for tmp in self._temps:
            _remove(tmp)
        self._temps.clear()
        log = getattr(self, "_log", None)
        if log is not None:
            log.close()


def _fps_arg(fps: float) -> str:
    return str(int(fps)) if float(fps).is_integer() else repr(float(fps))


def _fit_audio(audio: np.ndarray, frame_count: int, fps: float, sample_rate: int) -> np.ndarray:
    """Mono float32 of exactly the video's length: trailing samples cut, or silence appended."""
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 2:  # [samples, channels] as soundfile returns it
        a = a.mean(axis=1)
    a = a.reshape(-1)
    n = int(round(frame_count * sample_rate / fps))
    if len(a) >= n:
        return a[:n]
    return np.concatenate([a, np.zeros(n - len(a), dtype=np.float32)])


def _write_wav(path: str, audio: np.ndarray, sample_rate: int) -> None:
    pcm = (np.clip(np.nan_to_num(audio), -1.0, 1.0) * 32767.0).round().astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())


def write_mp4(
    path: str | os.PathLike[str],
    clips: Iterable[np.ndarray | Any],
    width: int,
    height: int,
    fps: float,
    audio_16k: np.ndarray | None = None,
    metadata: dict[str, str] | None = None,
) -> str:
    """Write clips (frame arrays, or anything with a ``.frames`` array such as a backend ``Clip``);
    ``metadata`` as in :meth:`VideoWriter.close`."""
    with VideoWriter(path, width, height, fps) as writer:
        for clip in clips:
            writer.append(getattr(clip, "frames", clip))
        return writer.close(audio_16k, metadata=metadata)


def provenance_metadata(backend_name: str, backend_label: str, is_preview: bool) -> dict[str, str]:
    """The MP4 tags that say a video is AI-made and by which backend (``comment`` and
    ``description``: the standard MP4 keys every player and ``ffprobe`` shows; ffmpeg's mov muxer
    drops unknown keys and overwrites ``encoder``).

    A preview is named as the CPU stand-in it is, never as the model.
    """
    if is_preview:
        made_by = f"the {backend_name} backend (CPU stand-in animation, not the Live Avatar model)"
    else:
        made_by = f"the {backend_name} backend: {backend_label}"
    return {
        "comment": f"AI-generated with Live Avatar Studio by {made_by}",
        "description": f"AI-generated video. Backend: {backend_name}"
        + (" (preview, not the model)" if is_preview else f" ({backend_label})"),
    }


# --- probing ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class VideoInfo:
    """What a video file really contains, measured rather than taken from its header where it matters.

    ``frame_count`` is counted from the stream and ``duration_s`` is ``frame_count / fps`` (the
    picture's length); ``audio_duration_s`` is measured by decoding the audio, so edit lists and
    encoder padding are accounted for.
    """

    width: int
    height: int
    fps: float
    frame_count: int
    duration_s: float
    has_audio: bool
    audio_duration_s: float | None
    video_codec: str
    pix_fmt: str
    audio_codec: str | None
    audio_sample_rate: int | None = None


_STREAM_RE = re.compile(r"^\s*Stream #\d+:\d+\S*: (Video|Audio): (.*)$", re.MULTILINE)
_DURATION_RE = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")


def _split_top_level(text: str) -> list[str]:
    """Split ffmpeg's stream description on commas outside parentheses ("yuv420p(tv, bt709)")."""
    parts, depth, current = [], 0, []
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    return parts


def _progress_values(stdout: str, key: str) -> list[str]:
    return [line.split("=", 1)[1].strip() for line in stdout.splitlines() if line.startswith(key + "=")]


def _run_null(path: str, stream: str, decode: bool) -> str:
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", path, "-map", stream]
    if not decode:
        cmd += ["-c", "copy"]
    cmd += ["-f", "null", "-", "-progress", "pipe:1", "-nostats"]
    result = subprocess.run(cmd, capture_output=True, check=False)
    if result.returncode != 0:
        raise VideoError(f"ffmpeg could not read {stream} of {path}: {_tail(result.stderr)}")
    return result.stdout.decode("utf-8", "replace")


def probe_video(path: str | os.PathLike[str], *, decode: bool = True) -> VideoInfo:
    """Describe ``path`` using only the bundled ffmpeg.

    With ``decode`` (the default) every video frame and the audio are decoded, which proves the file
    plays end to end; ``decode=False`` counts packets instead, much faster for long videos and exact
    for the files :class:`VideoWriter` makes (one packet per frame).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(path)
    header = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", path], capture_output=True, check=False
    ).stderr.decode("utf-8", "replace")
    video_desc = audio_desc = None
    for kind, desc in _STREAM_RE.findall(header):
        if kind == "Video" and video_desc is None and "attached pic" not in desc:
            video_desc = desc
        elif kind == "Audio" and audio_desc is None:
            audio_desc = desc
    if video_desc is None:
        raise VideoError(f"No video stream in {path}: {_tail(header, 600)}")

    parts = _split_top_level(video_desc)
    video_codec = parts[0].split()[0]
    pix_fmt = parts[1].split("(")[0].strip() if len(parts) > 1 else ""
    width = height = 0
    fps = 0.0
    tbr = 0.0
    for part in parts:
        size = re.match(r"^(\d+)x(\d+)\b", part)
        if size and not width:
            width, height = int(size.group(1)), int(size.group(2))
        rate = re.match(r"^(\d+(?:\.\d+)?)(k?) (fps|tbr)$", part)
        if rate:
            value = float(rate.group(1)) * (1000 if rate.group(2) else 1)
            if rate.group(3) == "fps":
                fps = value
            else:
                tbr = value
    fps = fps or tbr

    frames_out = _progress_values(_run_null(path, "0:v:0", decode), "frame")
    frame_count = int(frames_out[-1]) if frames_out else 0
    if fps > 0:
        duration_s = frame_count / fps
    else:
        match = _DURATION_RE.search(header)
        duration_s = (int(match.group(1)) * 3600 + int(match.group(2)) * 60 + float(match.group(3))) if match else 0.0

    audio_codec: str | None = None
    audio_duration: float | None = None
    audio_rate: int | None = None
    if audio_desc is not None:
        aparts = _split_top_level(audio_desc)
        audio_codec = aparts[0].split()[0]
        for part in aparts:
            hz = re.match(r"^(\d+) Hz$", part)
            if hz:
                audio_rate = int(hz.group(1))
        times = _progress_values(_run_null(path, "0:a:0", decode), "out_time_us")
        usable = [t for t in times if t.lstrip("-").isdigit()]
        audio_duration = int(usable[-1]) / 1e6 if usable else 0.0

    return VideoInfo(
        width=width,
        height=height,
        fps=fps,
        frame_count=frame_count,
        duration_s=duration_s,
        has_audio=audio_desc is not None,
        audio_duration_s=audio_duration,
        video_codec=video_codec,
        pix_fmt=pix_fmt,
        audio_codec=audio_codec,
        audio_sample_rate=audio_rate,
    )
