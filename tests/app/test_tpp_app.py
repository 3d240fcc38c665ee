"""The app under torchrun: rank 0 serves the page and decodes, rank 1 denoises (gloo on CPU processes,
the tiny checkpoint). The video equals the single-process pipeline's for the same seed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from gradio_client import Client, handle_file
from PIL import Image

from liveavatar.media.video import probe_video
from liveavatar.testing.server import free_port, launched_app
from liveavatar.testing.tiny_checkpoint import write_tiny_checkpoint

ROOT = Path(__file__).resolve().parents[2]
MEDIA = ROOT / "examples" / "media"
PROMPT = "A woman with short brown hair in an orange flight suit, speaking calmly in a studio, documentary style."


def _frames(path: str) -> np.ndarray:
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(path)
    meta = next(reader)
    w, h = meta["size"]
    return np.stack([np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in reader])


def test_app_on_rank_0_drives_the_other_rank_and_matches_one_process(tmp_path, monkeypatch):
    # torchrun gives each of its processes one OpenMP thread; the single-process app gets the same, since
    # CPU matmuls split over a different number of threads round differently (frames then differ by 1/255).
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    ckpt = write_tiny_checkpoint(tmp_path / "ckpt")
    portrait = tmp_path / "portrait64.png"
    Image.open(MEDIA / "portrait.png").resize((64, 64), Image.LANCZOS).save(portrait)
    settings = json.dumps({"size": "384*256", "num_clip": 2, "sample_steps": 4, "infer_frames": 24, "seed": 7})
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port())]
    videos = {}
    for name, launcher, extra in (("tpp", torchrun, ["--tpp"]), ("single", [], [])):
        with launched_app(tmp_path / name, "--ckpt_dir", str(ckpt), "--device", "cpu", *extra,
                          launcher=launcher, timeout=240) as server:
            client = Client(server["url"], verbose=False, download_files=str(tmp_path / f"dl-{name}"))
            video, info = client.predict(PROMPT, handle_file(str(portrait)), handle_file(str(MEDIA / "speech.wav")),
                                         "custom", settings, api_name="/generate")
            assert info["status"] == "done", info
            if name == "tpp":
                assert "over 2 processes" in info["plan"]["backend_label"]
                # a second job goes down the same chain (the serving rank loops)
                again, info2 = client.predict(PROMPT, handle_file(str(portrait)), handle_file(str(MEDIA / "speech.wav")),
                                              "custom", settings, api_name="/generate")
                assert info2["status"] == "done"
            videos[name] = video["video"] if isinstance(video, dict) else video
    a, b = probe_video(videos["tpp"]), probe_video(videos["single"])
    assert a.frame_count == b.frame_count == 48 and a.has_audio
    fa, fb = _frames(videos["tpp"]), _frames(videos["single"])
    assert np.array_equal(fa, fb), "the pipeline-parallel app must make the same video as one process"
