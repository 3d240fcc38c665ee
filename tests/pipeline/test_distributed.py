"""TPP over torch.distributed (gloo, CPU processes on loopback) gives the single-process frames, bit for bit."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from liveavatar.pipeline.distributed import step_groups
from liveavatar.pipeline.pipeline import LiveAvatarPipeline
from liveavatar.testing.tiny_checkpoint import write_tiny_checkpoint
from liveavatar.testing.tpp import run_ranks

ARGS = dict(frames_per_clip=12, num_clips=2, steps=4, seed=3)
PROMPT = "a woman talking"
TIMEOUT_S = 150

WORKER = textwrap.dedent(
    """
    import datetime, sys
    import numpy as np, torch, torch.distributed as dist
    torch.set_num_threads(1)
    from liveavatar.pipeline.distributed import run_tpp
    from liveavatar.pipeline.pipeline import LiveAvatarPipeline
    ckpt, inputs, out = sys.argv[1:4]
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=90))
    data = np.load(inputs)
    pipe, _ = LiveAvatarPipeline.from_checkpoint(ckpt, device="cpu")
    clips = run_tpp(pipe, %r, data["reference"], data["audio"], **%r)
    if clips:
        np.save(out, np.stack([c.frames for c in clips]))
    dist.barrier()
    dist.destroy_process_group()
    """
    % (PROMPT, ARGS)
)


def _run_tpp(world: int, ckpt: Path, inputs: Path, out: Path) -> np.ndarray:
    run_ranks(world, WORKER, [ckpt, inputs, out], timeout_s=TIMEOUT_S)
    return np.load(out)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("tpp")
    ckpt = write_tiny_checkpoint(root / "ckpt")
    rng = np.random.default_rng(0)
    reference = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    audio = (rng.standard_normal(16000 * 2) * 0.1).astype(np.float32)
    inputs = root / "inputs.npz"
    np.savez(inputs, reference=reference, audio=audio)
    pipe, _ = LiveAvatarPipeline.from_checkpoint(ckpt, device="cpu")
    # The workers run one intra-op thread each (5 processes share 2 cores); CPU kernels may sum in a
    # different order with another thread count, so the reference runs with one thread too.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single = np.stack([c.frames for c in pipe.generate(PROMPT, reference, audio, **ARGS)])
    finally:
        torch.set_num_threads(threads)
    assert single.shape == (2, 12, 64, 64, 3)
    return ckpt, inputs, single, root


def test_step_groups():
    assert step_groups(4, 4) == [[0], [1], [2], [3]]
    assert step_groups(4, 1) == [[0, 1, 2, 3]]
    assert step_groups(4, 2) == [[0, 1], [2, 3]]
    assert step_groups(4, 3) == [[0, 1], [2], [3]]
    with pytest.raises(ValueError, match="at most 5 processes"):
        step_groups(4, 5)
    with pytest.raises(ValueError, match="at least 2"):
        step_groups(4, 0)


# 2: one denoising rank owning all 4 steps; 5: upstream's layout, one step per rank. 3 (groups [0, 1],
# [2], [3]) costs another ~20 s of process start-up on 2 cores, so it runs with LIVEAVATAR_TPP_FULL=1.
@pytest.mark.parametrize("world", [
    2,
    pytest.param(3, marks=pytest.mark.skipif(not os.environ.get("LIVEAVATAR_TPP_FULL"),
                                             reason="set LIVEAVATAR_TPP_FULL=1 for the 3-process layout")),
    5,
])
def test_tpp_equals_single_process(setup, world):
    ckpt, inputs, single, root = setup
    frames = _run_tpp(world, ckpt, inputs, root / f"tpp{world}.npy")
    assert frames.shape == single.shape and frames.dtype == np.uint8
    assert np.array_equal(frames, single), f"max |diff| {np.abs(frames.astype(int) - single.astype(int)).max()}"
