"""FP8 linear layers: close to the bf16/fp32 layer they replace, one byte per weight, keys unchanged."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from liveavatar.pipeline.fp8 import FP8, Fp8Linear, convert_blocks_to_fp8, quantize_rows, to_device_with_fp8_blocks
from liveavatar.pipeline.transformer import CausalS2VTransformer
from liveavatar.testing.tiny_checkpoint import tiny_dit_config


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


def test_quantize_rows_round_trips_within_e4m3_precision():
    x = torch.randn(64, 96) * torch.logspace(-3, 3, 64)[:, None]  # rows of very different scale
    q, s = quantize_rows(x)
    assert q.dtype == FP8 and s.shape == (64, 1)
    assert _rel(q.float() * s, x) < 0.04  # 3 mantissa bits: ~2-3 % relative per row


@pytest.mark.parametrize("shape", [(64, 128), (40, 24)])  # the kernel's shapes, and the fallback's
def test_fp8_linear_is_close_to_the_linear_it_replaces(shape):
    torch.manual_seed(0)
    out_f, in_f = shape
    lin = nn.Linear(in_f, out_f)
    fp8 = Fp8Linear.from_linear(lin)
    assert fp8.kernel == (shape == (64, 128))
    x = torch.randn(3, 50, in_f)
    with torch.no_grad():
        y, ref = fp8(x), lin(x)
    assert y.shape == ref.shape and y.dtype == ref.dtype
    assert _rel(y, ref) < 0.06, _rel(y, ref)
    assert fp8.weight.dtype == FP8 and fp8.weight.element_size() == 1


def test_bf16_activations_stay_bf16():
    lin = nn.Linear(64, 32).to(torch.bfloat16)
    fp8 = Fp8Linear.from_linear(lin)
    x = torch.randn(10, 64, dtype=torch.bfloat16)
    with torch.no_grad():
        y = fp8(x)
    assert y.dtype == torch.bfloat16 and _rel(y, lin(x).detach()) < 0.06


def test_blocks_convert_in_place_keeping_the_checkpoint_keys_and_halving_their_bytes():
    model = CausalS2VTransformer(tiny_dit_config())
    keys = set(model.state_dict())
    bf16_bytes = sum(p.numel() * 2 for p in model.blocks.parameters())
    n = to_device_with_fp8_blocks(model, "cpu", torch.bfloat16)
    assert n == 10 * len(model.blocks)
    state = model.state_dict()
    # every original key is still there (the scales are new keys beside the weights)
    assert keys <= set(state)
    assert {k for k in set(state) - keys} == {f"blocks.{i}.{m}.weight_scale" for i in range(len(model.blocks))
                                                for m in ("self_attn.q", "self_attn.k", "self_attn.v", "self_attn.o",
                                                          "cross_attn.q", "cross_attn.k", "cross_attn.v",
                                                          "cross_attn.o", "ffn.0", "ffn.2")}
    assert state["blocks.0.ffn.0.weight"].dtype == FP8
    assert state["patch_embedding.weight"].dtype == torch.bfloat16  # outside the blocks: untouched
    after = sum(p.numel() * p.element_size() for p in model.blocks.parameters())
    assert after < 0.6 * bf16_bytes  # the linears are most of a block: about one byte per weight instead of two
    assert convert_blocks_to_fp8(model.blocks) == 0  # already converted: nothing to do
