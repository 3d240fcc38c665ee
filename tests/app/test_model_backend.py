"""The app with real weights (the tiny checkpoint) runs the Live Avatar pipeline, not the preview."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from PIL import Image

from liveavatar.media.video import probe_video

ROOT = Path(__file__).resolve().parents[2]
MEDIA = ROOT / "examples" / "media"
PROMPT = "A woman with short brown hair in an orange flight suit, speaking calmly in a studio, documentary style."


def test_app_generates_with_the_model_backend(model_server, tmp_path):
    portrait = tmp_path / "portrait64.png"  # small, so the tiny VAE is quick on a CPU
    Image.open(MEDIA / "portrait.png").resize((64, 64), Image.LANCZOS).save(portrait)
    client = Client(model_server["url"], verbose=False, download_files=str(tmp_path / "dl"))
    settings = {"size": "384*256", "num_clip": 2, "sample_steps": 3, "infer_frames": 12, "seed": 11}
    video, info = client.predict(PROMPT, handle_file(str(portrait)), handle_file(str(MEDIA / "speech.wav")), "custom",
                                 json.dumps(settings), api_name="/generate")
    assert info["backend"] == "liveavatar" and info["seed"] == 11
    assert info["plan"]["backend_label"].startswith("Live Avatar model")
    v = probe_video(video["video"] if isinstance(video, dict) else video)
    assert (v.width, v.height) == (64, 64) and v.frame_count == 24 and v.has_audio
    assert v.fps == pytest.approx(25, abs=0.01)


def test_speed_options_through_the_api_apply_or_say_why(model_server, tmp_path):
    """The advanced JSON's speed options reach the model; what this CPU can't use is named in the plan."""
    portrait = tmp_path / "portrait64.png"
    Image.open(MEDIA / "portrait.png").resize((64, 64), Image.LANCZOS).save(portrait)
    client = Client(model_server["url"], verbose=False, download_files=str(tmp_path / "dl"))
    settings = {"seed": 4, "fp8": True, "static_kv": True, "overlap_decode": True, "cuda_graphs": True,
                "size": "384*256", "num_clip": 2, "sample_steps": 3, "infer_frames": 24}
    checks = client.predict(PROMPT, handle_file(str(portrait)), handle_file(str(MEDIA / "speech.wav")), "custom",
                            json.dumps(settings), api_name="/check")
    assert checks  # the checklist answers with the options set
    video, info = client.predict(PROMPT, handle_file(str(portrait)), handle_file(str(MEDIA / "speech.wav")), "custom",
                                 json.dumps(settings), api_name="/generate")
    plan = info["plan"]
    assert plan["settings"]["speed"] == {"attention": "auto", "torch_compile": False, "cuda_graphs": False, "fp8": True,
                                         "static_kv": True, "overlap_decode": True, "text_encoder_on_cpu": False,
                                         "stream_blocks": False, "offload_kv": False}
    assert "CUDA graphs are off: they need a CUDA GPU." in plan["notes"]
    assert plan["gpu_memory_parts"]["DiT weights"] < 20  # FP8 weights in the memory plan
    assert "--fp8" in info["cli"] and "--static_kv" in info["cli"]  # what was asked; a GPU machine can use it all
    v = probe_video(video["video"] if isinstance(video, dict) else video)
    assert v.frame_count == 48 and v.has_audio
