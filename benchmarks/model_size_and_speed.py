"""Prints the full-size DiT's parameter count and bf16 weight memory (built on the meta device),
the estimated peak GPU memory per preset, and the real pipeline's speed on a tiny checkpoint on CPU.

Run: ``python benchmarks/model_size_and_speed.py``. On a GPU machine with real weights, the same
pipeline runs through ``python -m liveavatar.generate --ckpt_dir ckpt ...``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from liveavatar.pipeline.config import S2VConfig  # noqa: E402
from liveavatar.pipeline.pipeline import LiveAvatarPipeline  # noqa: E402
from liveavatar.pipeline.transformer import CausalS2VTransformer  # noqa: E402
from liveavatar.plan import make_plan  # noqa: E402
from liveavatar.presets import PRESETS  # noqa: E402
from liveavatar.testing.tiny_checkpoint import write_tiny_checkpoint  # noqa: E402


def full_size() -> None:
    with torch.device("meta"):
        model = CausalS2VTransformer(S2VConfig.full())
    n = sum(p.numel() for p in model.parameters())
    keys = len(model.state_dict())
    print(f"full-size DiT: {keys} state-dict keys, {n:,} parameters ({n / 1e9:.2f} B), "
          f"bf16 weights {n * 2 / 1e9:.1f} GB, fp8 weights {n / 1e9:.1f} GB")


def presets() -> None:
    for key, preset in PRESETS.items():
        plan = make_plan(preset.settings, image_size=(1280, 720), audio_seconds=600.0, backend="liveavatar")
        parts = ", ".join(f"{k} {v:.1f}" for k, v in plan.gpu_memory_parts.items())
        print(f"preset {key:13s} {plan.width}x{plan.height}, {plan.num_clips} clips: est. peak {plan.gpu_memory_gb:.1f} GB "
              f"on one GPU ({parts}); est. time {plan.estimated_seconds / 60:.1f} min ({plan.time_basis})")


def tiny_speed() -> None:
    ckpt = write_tiny_checkpoint(Path(tempfile.mkdtemp()) / "tiny")
    t = time.perf_counter()
    pipe, report = LiveAvatarPipeline.from_checkpoint(ckpt, device="cpu")
    print(f"tiny checkpoint load + verify + LoRA merge: {time.perf_counter() - t:.2f} s ({report.summary()})")
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(16000 * 4) * 0.1).astype(np.float32)
    for side in (64, 128):
        ref = (rng.random((side, side, 3)) * 255).astype(np.uint8)
        steps, clips, fpc = 4, 2, 48
        step_times: list[float] = []
        last = [time.perf_counter()]

        def on_step(clip: int, block: int, step: int, total: int) -> None:
            now = time.perf_counter()
            step_times.append(now - last[0])
            last[0] = now

        t = time.perf_counter()
        out = list(pipe.generate("a woman talking", ref, audio, frames_per_clip=fpc, num_clips=clips, steps=steps,
                                 seed=1, on_step=on_step))
        total = time.perf_counter() - t
        frames = sum(len(o.frames) for o in out)
        denoise = sum(o.timings["denoise_s"] for o in out)
        decode = sum(o.timings["decode_s"] for o in out)
        print(f"tiny pipeline on CPU at {side}x{side}, {clips} clips x {fpc} frames, {steps} steps: "
              f"{np.median(step_times[1:]) * 1000:.1f} ms per denoising step per block, denoise {denoise:.1f} s, "
              f"VAE decode {decode:.1f} s, total {total:.1f} s = {frames / total:.1f} video fps")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    full_size()
    presets()
    tiny_speed()
