import subprocess

import numpy as np

from liveavatar.media.label import AI_METADATA, stamp_label
from liveavatar.media.video import VideoWriter, ffmpeg_exe


def test_label_marks_the_bottom_right_corner_of_every_frame():
    frames = np.full((3, 256, 384, 3), 200, np.uint8)
    out = stamp_label(frames.copy())
    changed = np.any(out != 200, axis=(0, 3))
    ys, xs = np.nonzero(changed)
    assert ys.min() > 256 * 0.7 and xs.min() > 384 * 0.4  # only the corner
    assert all(np.any(out[i] != 200) for i in range(3))


def test_label_accepts_read_only_and_strided_frames():
    base = np.zeros((64, 64, 3, 2), np.uint8)[..., 0]  # not C-contiguous
    base.flags.writeable = False
    out = stamp_label(np.broadcast_to(base, (2, 64, 64, 3)))
    assert out.flags.c_contiguous and out.any()


def test_mp4_carries_the_ai_tag(tmp_path):
    path = tmp_path / "v.mp4"
    w = VideoWriter(path, 64, 64, 25)
    w.append(np.zeros((5, 64, 64, 3), np.uint8))
    w.close(audio_16k=np.zeros(3200, np.float32), metadata=AI_METADATA)
    probe = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    assert "AI-generated" in probe.stderr
