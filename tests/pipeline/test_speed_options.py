"""Each speed option against the plain path, on the tiny checkpoint on the CPU.

Tolerances (uint8 video frames, 2 clips x 24 frames = 2 blocks per clip, so the first clip runs with
a partly filled cache):

* static KV buffers: within 1 level (they only add masked, unwritten slots); decode overlap and the
  text encoder on the CPU: the same frames (the same arithmetic; on a CPU the text encoder is there anyway);
* another attention kernel (math vs torch's choice): within 1 level per pixel;
* torch.compile: within 2 levels, 99.9 % of pixels within 1 (the compiler fuses and reorders float
  sums; the model's upstream-faithful bf16 rounding before the cross-attention can flip a rounding);
* FP8 linear layers: lossy by design (3 mantissa bits): mean |difference| under 4 levels and the
  frames still correlate > 0.95 with the plain ones.

CUDA graphs run only on a CUDA GPU: skipped here with the reason; the benchmark measures them.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from liveavatar.pipeline.pipeline import LiveAvatarPipeline
from liveavatar.pipeline.transformer import KVCache
from liveavatar.speed import SpeedOptions


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(0)
    return (rng.random((64, 64, 3)) * 255).astype(np.uint8), (rng.standard_normal(16000 * 3) * 0.1).astype(np.float32)


def _video(pipe, inputs, speed: SpeedOptions | None = None, **kw) -> np.ndarray:
    reference, audio = inputs
    args = dict(frames_per_clip=24, num_clips=2, steps=4, seed=5)
    args.update(kw)
    clips = list(pipe.generate("a woman talking", reference, audio, speed=speed, **args))
    assert [c.index for c in clips] == list(range(args["num_clips"]))
    return np.concatenate([c.frames for c in clips])


@pytest.fixture(scope="module")
def plain(pipe, inputs):
    return _video(pipe, inputs)


def test_static_kv_buffers_make_the_same_video(pipe, inputs, plain):
    out = _video(pipe, inputs, SpeedOptions(static_kv=True))
    assert np.array_equal(out, plain) or np.abs(out.astype(int) - plain).max() <= 1


def test_static_layout_keeps_cache_views_and_masks_only_unwritten_slots(pipe, inputs):
    cache = KVCache.allocate(pipe.config, 1, 6, 8, 8)
    with pytest.raises(RuntimeError, match="prefill_sink"):
        cache.make_static()
    ref = torch.randn(1, pipe.config.in_dim, 1, 8, 8)
    motion = torch.randn(1, pipe.config.in_dim, 19, 8, 8)
    ctx = torch.randn(1, 5, pipe.config.text_dim)
    pipe.transformer.prefill_sink(ref, motion, ctx, cache)
    cache.make_static()
    layer = cache.layers[0]
    assert layer.k.data_ptr() == layer.buf_k.data_ptr()  # the cache is a view of the buffer's front
    assert torch.equal(layer.buf_v[:, cache.capacity:], layer.sink_v)


def test_decode_overlap_and_text_encoder_on_cpu_make_the_same_video_in_order(pipe, inputs, plain):
    assert np.array_equal(_video(pipe, inputs, SpeedOptions(overlap_decode=True, text_encoder_on_cpu=True)), plain)


def test_math_attention_kernel_is_within_one_level(pipe, inputs, plain):
    out = _video(pipe, inputs, SpeedOptions(attention="math"))
    assert np.abs(out.astype(int) - plain).max() <= 1


def test_all_cpu_options_together(pipe, inputs, plain):
    opts = SpeedOptions(attention="flash", static_kv=True, overlap_decode=True, text_encoder_on_cpu=True)
    out = _video(pipe, inputs, opts)
    assert np.abs(out.astype(int) - plain).max() <= 1


def test_fp8_linear_layers_stay_close(ckpt, inputs, plain):
    fp8_pipe, _ = LiveAvatarPipeline.from_checkpoint(ckpt, device="cpu", speed=SpeedOptions(fp8=True))
    assert fp8_pipe.transformer.blocks[0].ffn[0].weight.dtype == torch.float8_e4m3fn
    out = _video(fp8_pipe, inputs)
    diff = np.abs(out.astype(int) - plain)
    assert diff.mean() < 4.0, diff.mean()
    corr = np.corrcoef(out.reshape(-1).astype(float), plain.reshape(-1).astype(float))[0, 1]
    assert corr > 0.95, corr
    assert not np.array_equal(out, plain)  # it really ran in FP8


def test_torch_compile_of_the_blocks_stays_close(ckpt, inputs, plain):
    opts = SpeedOptions(torch_compile=True)
    usable, why = opts.usable_on("cpu")
    if not usable.torch_compile:
        pytest.skip(" ".join(why))
    compiled, _ = LiveAvatarPipeline.from_checkpoint(ckpt, device="cpu", speed=opts)
    assert all(b._compiled_call_impl is not None for b in compiled.transformer.blocks)
    assert set(compiled.transformer.state_dict()) == set(LiveAvatarPipeline.from_checkpoint(ckpt, device="cpu")[0].transformer.state_dict())
    out = _video(compiled, inputs, SpeedOptions(torch_compile=True, static_kv=True))
    diff = np.abs(out.astype(int) - plain)
    assert diff.max() <= 2 and (diff <= 1).mean() > 0.999, (diff.max(), (diff <= 1).mean())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA GPU; benchmarks/pipeline_speed.py measures them there")
def test_cuda_graphs_stay_close_on_a_gpu(ckpt, inputs):  # pragma: no cover - GPU only
    base, _ = LiveAvatarPipeline.from_checkpoint(ckpt, device="cuda", dtype=torch.float32)
    graphs, _ = LiveAvatarPipeline.from_checkpoint(ckpt, device="cuda", dtype=torch.float32,
                                                   speed=SpeedOptions(cuda_graphs=True, static_kv=True))
    a = _video(base, inputs)
    b = _video(graphs, inputs, dataclasses.replace(graphs.speed, static_kv=True))
    assert np.abs(a.astype(int) - b).max() <= 2


def test_stop_with_decode_overlap_keeps_the_clips_already_denoised(pipe, inputs):
    import threading

    reference, audio = inputs
    cancel = threading.Event()
    got = []
    for clip in pipe.generate("x", reference, audio, frames_per_clip=12, num_clips=4, steps=3, seed=1, cancel=cancel,
                              speed=SpeedOptions(overlap_decode=True)):
        got.append(clip.index)
        cancel.set()
    # every clip already denoised when Stop came is still delivered, in order, none twice (how many were
    # denoised by then depends on the decode thread's timing)
    assert got == list(range(len(got))) and 1 <= len(got) <= 4
