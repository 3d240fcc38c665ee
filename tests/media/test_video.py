"""The MP4 writer: what comes out must be exactly what players and the app expect."""

from __future__ import annotations

import os
import subprocess

import imageio_ffmpeg
import numpy as np
import pytest

from liveavatar.media.video import VideoError, VideoWriter, probe_video, write_mp4

FPS = 25


def gradient_frames(n: int, width: int, height: int, start: int = 0) -> np.ndarray:
    """Smooth, moving colour ramps: compress well and survive yuv420p nearly unchanged."""
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    frames = np.empty((n, height, width, 3), np.uint8)
    for i in range(n):
        t = (start + i) / 50.0
        frames[i, ..., 0] = (255 * (0.5 + 0.5 * np.sin(2 * np.pi * (x + t)))) * np.ones_like(y)
        frames[i, ..., 1] = (255 * y) * np.ones_like(x)
        frames[i, ..., 2] = 128
    return frames


def tone(seconds: float, sr: int = 16000) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def test_silent_video_has_exact_size_rate_and_frames(tmp_path):
    clips = [gradient_frames(36, 384, 256, 0), gradient_frames(36, 384, 256, 36), gradient_frames(10, 384, 256, 72)]
    path = write_mp4(tmp_path / "out.mp4", clips, 384, 256, FPS)
    info = probe_video(path)
    assert (info.width, info.height) == (384, 256)
    assert info.fps == 25
    assert info.frame_count == 82
    assert info.duration_s == pytest.approx(82 / 25)
    assert info.video_codec == "h264"
    assert info.pix_fmt == "yuv420p"
    assert not info.has_audio and info.audio_codec is None and info.audio_duration_s is None
    assert os.listdir(tmp_path) == ["out.mp4"]


@pytest.mark.parametrize("audio_seconds", [2.0, 1.3, 3.7], ids=["exact", "shorter-padded", "longer-trimmed"])
def test_audio_is_aac_and_as_long_as_the_video(tmp_path, audio_seconds):
    path = tmp_path / "talk.mp4"
    with VideoWriter(path, 256, 192, FPS) as writer:
        writer.append(gradient_frames(30, 256, 192))
        writer.append(gradient_frames(20, 256, 192, 30))
        assert writer.close(tone(audio_seconds)) == str(path)
    info = probe_video(path)
    assert info.frame_count == 50 and info.duration_s == pytest.approx(2.0)
    assert info.has_audio and info.audio_codec == "aac"
    assert info.audio_duration_s == pytest.approx(info.duration_s, abs=1 / FPS)
    assert info.video_codec == "h264" and info.pix_fmt == "yuv420p"


def test_faststart_puts_the_index_first(tmp_path):
    path = write_mp4(tmp_path / "fs.mp4", [gradient_frames(10, 128, 64)], 128, 64, FPS, tone(0.4))
    head = open(path, "rb").read()
    assert 0 <= head.find(b"moov") < head.find(b"mdat")


def test_pictures_survive_encoding(tmp_path):
    frames = gradient_frames(5, 192, 128)
    path = write_mp4(tmp_path / "p.mp4", [frames], 192, 128, FPS)
    reader = imageio_ffmpeg.read_frames(path)
    meta = next(reader)
    assert tuple(meta["size"]) == (192, 128)
    first = np.frombuffer(next(reader), np.uint8).reshape(128, 192, 3)
    reader.close()
    assert np.abs(first.astype(int) - frames[0]).mean() < 3.0


def test_odd_size_is_padded_to_even(tmp_path):
    path = write_mp4(tmp_path / "odd.mp4", [gradient_frames(7, 255, 127)], 255, 127, FPS)
    info = probe_video(path)
    assert (info.width, info.height) == (256, 128)
    assert info.frame_count == 7


def test_abort_removes_everything_and_stops_ffmpeg(tmp_path):
    writer = VideoWriter(tmp_path / "gone.mp4", 128, 64, FPS)
    writer.append(gradient_frames(12, 128, 64))
    proc = writer._proc
    writer.abort()
    assert os.listdir(tmp_path) == []
    assert proc is not None and proc.poll() is not None
    with pytest.raises(VideoError):
        writer.append(gradient_frames(1, 128, 64))


def test_exception_inside_with_block_leaves_no_files(tmp_path):
    with pytest.raises(RuntimeError, match="backend failed"):
        with VideoWriter(tmp_path / "x.mp4", 128, 64, FPS) as writer:
            writer.append(gradient_frames(5, 128, 64))
            raise RuntimeError("backend failed")
    assert os.listdir(tmp_path) == []


def test_closing_with_no_frames_is_an_error_and_cleans_up(tmp_path):
    writer = VideoWriter(tmp_path / "empty.mp4", 128, 64, FPS)
    with pytest.raises(ValueError, match="No frames"):
        writer.close()
    assert os.listdir(tmp_path) == []


def test_abort_after_close_keeps_the_finished_video(tmp_path):
    writer = VideoWriter(tmp_path / "keep.mp4", 128, 64, FPS)
    writer.append(gradient_frames(3, 128, 64))
    writer.close()
    writer.abort()
    assert os.listdir(tmp_path) == ["keep.mp4"]


@pytest.mark.parametrize(
    "bad, error",
    [
        (np.zeros((2, 64, 64, 3), np.uint8), ValueError),      # wrong size
        (np.zeros((2, 64, 128), np.uint8), ValueError),        # no channel axis
        (np.zeros((2, 64, 128, 3), np.float32), TypeError),    # not uint8
    ],
)
def test_bad_frames_are_refused(tmp_path, bad, error):
    with VideoWriter(tmp_path / "bad.mp4", 128, 64, FPS) as writer:
        with pytest.raises(error):
            writer.append(bad)
        writer.abort()
    assert os.listdir(tmp_path) == []


def test_probe_reads_a_file_made_elsewhere(tmp_path):
    """The parser must cope with ffmpeg's other stream descriptions, not only ours."""
    path = tmp_path / "lavfi.mp4"
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30",
            "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=44100", "-t", "1",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path),
        ],
        check=True,
    )
    info = probe_video(path, decode=False)
    assert (info.width, info.height, info.fps, info.frame_count) == (320, 240, 30.0, 30)
    assert info.audio_sample_rate == 44100 and info.audio_codec == "aac"


def test_probe_rejects_non_video(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(VideoError):
        probe_video(junk)
    with pytest.raises(FileNotFoundError):
        probe_video(tmp_path / "missing.mp4")


# --- provenance: the MP4 names the backend that made it ----------------------------------------
def read_metadata(path) -> dict[str, str]:
    """The container's tags, read back with the bundled ffmpeg (``-f ffmetadata``)."""
    out = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(path),
                          "-f", "ffmetadata", "-"], capture_output=True, text=True, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line and not line.startswith(";"))


def test_provenance_metadata_names_preview_and_model(tmp_path):
    from liveavatar.media.video import provenance_metadata

    preview = write_mp4(tmp_path / "p.mp4", [gradient_frames(3, 64, 64)], 64, 64, 25, audio_16k=tone(0.12),
                        metadata=provenance_metadata("preview", "CPU preview (not the model)", True))
    tags = read_metadata(preview)
    assert "AI-generated" in tags["comment"] and "preview" in tags["comment"]
    assert "not the Live Avatar model" in tags["comment"] and "preview, not the model" in tags["description"]
    model = write_mp4(tmp_path / "m.mp4", [gradient_frames(3, 64, 64)], 64, 64, 25,
                      metadata=provenance_metadata("liveavatar", "Live Avatar model (Wan2.2-S2V-14B + Live Avatar LoRA)", False))
    tags = read_metadata(model)
    assert "Live Avatar model (Wan2.2-S2V-14B" in tags["comment"] and "liveavatar" in tags["description"]
    assert "preview" not in tags["comment"] + tags["description"]


@pytest.mark.parametrize("ai_label", [True, False])
def test_generated_videos_and_their_clips_name_the_preview_backend(tmp_path, ai_label):
    """Through the studio's generate stream with the real preview backend: the full video and each
    streamed clip carry the tag, also when the visible mark is turned off (--no_ai_label)."""
    import json
    from pathlib import Path

    from liveavatar.backends import BackendChoice, PreviewBackend
    from liveavatar.examples import load_examples
    from liveavatar.presets import resolve_settings
    from liveavatar.studio import GenerationResult, InputCache, JobUpdate, generate_stream

    good = next(e for e in load_examples(Path(__file__).resolve().parents[2] / "examples") if e.expect == "ok")
    settings = resolve_settings("custom", json.dumps({"size": "384*256", "num_clip": 2, "sample_steps": 3,
                                                      "infer_frames": 12, "seed": 1}))
    clip_tags, result = [], None
    for item in generate_stream(InputCache().inspect(good.prompt, good.image, good.audio), settings,
                                BackendChoice(PreviewBackend(), "test"), tmp_path, ai_label=ai_label):
        if isinstance(item, JobUpdate):
            clip_tags.append(read_metadata(item.clip_video))  # per-clip files exist while the job runs
        else:
            assert isinstance(item, GenerationResult)
            result = item
    assert result is not None and len(clip_tags) == 2
    for tags in [read_metadata(result.video_path), *clip_tags]:
        assert "AI-generated" in tags["comment"]
        assert "preview" in tags["comment"] and "not the Live Avatar model" in tags["comment"]
        assert "Backend: preview" in tags["description"]
