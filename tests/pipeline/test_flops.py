"""The analytic FLOP count (liveavatar/pipeline/flops.py) against the model itself.

Two independent checks: the linear terms against the parameter counts of the full-size DiT built on
the meta device, and the whole count against ``torch.utils.flop_counter`` running ``forward_block``
on meta tensors (shapes only, so the full 16.3 B model costs seconds on a CPU).
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from liveavatar.pipeline.config import S2VConfig
from liveavatar.pipeline.flops import (
    block_step_flops,
    clip_flops,
    flops_per_frame,
    latent_grid,
    sink_tokens,
    step_flops,
)
from liveavatar.pipeline.transformer import CausalS2VTransformer, KVCache

FULL = S2VConfig.full()


@pytest.fixture(scope="module")
def full_meta() -> CausalS2VTransformer:
    with torch.device("meta"):
        return CausalS2VTransformer(FULL)


def _linear_weights(model: nn.Module, prefix: str, names: tuple[str, ...]) -> int:
    total = 0
    for name, module in model.named_modules():
        if name.startswith(prefix) and isinstance(module, nn.Linear) and name.rsplit(".", 1)[-1] in names:
            total += module.weight.numel()
    return total


def test_full_dit_on_meta_has_the_real_parameter_count(full_meta):
    assert sum(p.numel() for p in full_meta.parameters()) == 16_295_755_609


def test_linear_flops_are_twice_the_linear_parameters_times_their_tokens(full_meta):
    grid = latent_grid(FULL, 704, 384)
    step = block_step_flops(FULL, 704, 384, 48, block_index=0)
    n = grid.block_tokens
    assert n == 3 * 44 * 24
    # self-attn q/k/v/o, cross-attn q/o, FFN on the block tokens (the ffn's Sequential indices are 0 and 2)
    on_block = _linear_weights(full_meta, "blocks.", ("q", "k", "v", "o", "0", "2"))
    cross_kv = sum(b.cross_attn.k.weight.numel() + b.cross_attn.v.weight.numel() for b in full_meta.blocks)
    on_block -= cross_kv
    assert step.block_linear == 2 * on_block * n
    assert step.text_kv == 2 * cross_kv * FULL.text_len
    injector = full_meta.audio_injector
    qo = sum(a.q.weight.numel() + a.o.weight.numel() for a in injector.injector)
    kv = sum(a.k.weight.numel() + a.v.weight.numel() for a in injector.injector)
    adain = sum(a.linear.weight.numel() for a in injector.injector_adain_layers)
    frames = FULL.num_frames_per_block
    assert step.audio_linear == 2 * (qo * n + kv * frames * (FULL.num_audio_token + 1) + adain * frames)
    # the issue's figure: about 24 GFLOP per token per step in the blocks' linear layers
    assert step.per_token()["block_linear"] == pytest.approx(24e9, rel=0.01)


def _prefilled_704x384(model: CausalS2VTransformer) -> tuple[KVCache, torch.Tensor]:
    """A meta-device cache for 704x384 at 48 frames per clip, its sink prefilled, and the text context."""
    cfg = model.config
    lat_h, lat_w = 384 // 8, 704 // 8
    cache = KVCache.allocate(cfg, 1, 12, lat_h, lat_w, dtype=torch.bfloat16, device="meta")
    context = torch.empty(1, 20, cfg.text_dim, device="meta")
    model.prefill_sink(torch.empty(1, cfg.in_dim, 1, lat_h, lat_w, device="meta"),
                       torch.empty(1, cfg.in_dim, 19, lat_h, lat_w, device="meta"), context, cache)
    return cache, context


@pytest.mark.parametrize("block_index", [0, 2, 5])
def test_count_equals_torch_flop_counter_on_the_full_model(full_meta, block_index):
    """Every matmul, convolution and attention of ``forward_block`` (704x384, 48 frames per clip: four
    blocks per clip, so block 5 sees a full, wrapped cache)."""
    lat_h, lat_w = 384 // 8, 704 // 8
    cfg = FULL
    cache, context = _prefilled_704x384(full_meta)
    assert cache.layers[0].sink_k.shape[1] == sink_tokens(cfg, lat_h, lat_w) == 2640
    audio = torch.empty(1, cfg.num_audio_layers, cfg.audio_dim, 12, device="meta")
    with FlopCounterMode(display=False) as counter:
        full_meta.forward_block(torch.empty(1, cfg.in_dim, 3, lat_h, lat_w, device="meta"), torch.tensor([500.0]),
                                context, audio, cache, block_index=block_index)
    assert counter.get_total_flops() == block_step_flops(cfg, 704, 384, 48, block_index).total


def test_count_equals_torch_flop_counter_on_other_configs():
    """Options that change the graph: no AdaIN, no pose condition, FramePack's "drop" mode."""
    for cfg in (S2VConfig.tiny(), dataclasses.replace(S2VConfig.tiny(), enable_adain=False, cond_dim=0,
                                                      framepack_drop_mode="drop", add_last_motion=False)):
        with torch.device("meta"):
            model = CausalS2VTransformer(cfg)
        lat_h, lat_w = 16, 24
        cache = KVCache.allocate(cfg, 1, 9, lat_h, lat_w, device="meta")
        context = torch.empty(1, 10, cfg.text_dim, device="meta")
        model.prefill_sink(torch.empty(1, 16, 1, lat_h, lat_w, device="meta"),
                           torch.empty(1, 16, 19, lat_h, lat_w, device="meta"), context, cache)
        assert cache.layers[0].sink_k.shape[1] == sink_tokens(cfg, lat_h, lat_w)
        for block_index in (0, 4):
            with FlopCounterMode(display=False) as counter:
                model.forward_block(torch.empty(1, 16, 3, lat_h, lat_w, device="meta"), 500.0, context,
                                    torch.empty(1, cfg.num_audio_layers, cfg.audio_dim, 12, device="meta"),
                                    cache, block_index=block_index)
            assert counter.get_total_flops() == block_step_flops(cfg, lat_w * 8, lat_h * 8, 36, block_index).total


def test_704x384_frame_is_near_the_issues_34_tflop():
    steady = flops_per_frame(FULL, 704, 384, steps=4, frames_per_clip=48)
    first = flops_per_frame(FULL, 704, 384, steps=4, frames_per_clip=48, steady=False)
    assert steady == pytest.approx(34e12, rel=0.25)
    assert first == pytest.approx(34e12, rel=0.25)
    assert first < steady  # the first clip attends to a cache that is still filling
    # linear layers ~24 GFLOP/token; attention over a full cache adds about half as much again
    step = block_step_flops(FULL, 704, 384, 48, block_index=100)
    assert 0.3 < step.attention / step.linear < 0.6


def test_flops_grow_with_the_cache_and_stop_growing_once_it_is_full():
    grid = latent_grid(FULL, 704, 384)
    a = step_flops(FULL, grid.tokens_per_frame, grid.block_tokens, grid.sink_tokens)
    b = step_flops(FULL, grid.tokens_per_frame, 2 * grid.block_tokens, grid.sink_tokens)
    assert b.total > a.total and b.linear == a.linear
    assert b.self_attention - a.self_attention == 4 * FULL.num_layers * grid.block_tokens ** 2 * FULL.dim
    per_block = [block_step_flops(FULL, 704, 384, 48, i).total for i in range(6)]
    assert per_block[0] < per_block[1] < per_block[2] < per_block[3] == per_block[4] == per_block[5]
    assert clip_flops(FULL, 704, 384, 4, 48, clip_index=2) == clip_flops(FULL, 704, 384, 4, 48, clip_index=1)
    assert flops_per_frame(FULL, 704, 384, 5, 48) == pytest.approx(flops_per_frame(FULL, 704, 384, 4, 48) * 5 / 4)


def test_several_people_are_counted_as_the_model_runs_them(full_meta):
    """Two speech tracks: torch's own count of ``forward_block`` with two tracks and their gates equals
    ``people=2``, and the plan's per-extra-person constant is that difference per token."""
    from liveavatar.plan import FLOP_PER_TOKEN_STEP_PER_EXTRA_PERSON

    lat_h, lat_w = 384 // 8, 704 // 8
    cfg = FULL
    cache, context = _prefilled_704x384(full_meta)
    audio = torch.empty(2, cfg.num_audio_layers, cfg.audio_dim, 12, device="meta")
    gates = torch.empty(2, (lat_h // 2) * (lat_w // 2), device="meta")
    with FlopCounterMode(display=False) as counter:
        full_meta.forward_block(torch.empty(1, cfg.in_dim, 3, lat_h, lat_w, device="meta"), torch.tensor([500.0]),
                                context, audio, cache, block_index=5, audio_mask=gates)
    two = block_step_flops(cfg, 704, 384, 48, 5, people=2)
    assert counter.get_total_flops() == two.total
    one = block_step_flops(cfg, 704, 384, 48, 5)
    extra = (two.total - one.total) / one.tokens
    assert extra == pytest.approx(FLOP_PER_TOKEN_STEP_PER_EXTRA_PERSON, rel=0.02)
    assert 0.02 < extra / (one.total / one.tokens) < 0.05  # each extra person: a few per cent more arithmetic
