"""FP8 linear layers for the DiT blocks: e4m3 weights with one scale per output row, torch's scaled matmul.

Why hand-written: torch ships the kernel (``torch._scaled_mm``, row-wise scaled, on Hopper/Ada GPUs
and on the CPU) but no ``nn.Linear`` around it outside torchao, which this project doesn't depend
on. The wrapper is small: quantise the weight once at load, quantise each activation row on the
fly, call the kernel, add the bias.

Only the blocks' attention projections and FFNs are converted (about 14.0 of the 16.3 B
parameters); embeddings, the head, the audio encoder and the modulation tables stay in their
dtype, as their inputs are small and their precision matters more.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

FP8 = torch.float8_e4m3fn
FP8_MAX = float(torch.finfo(FP8).max)  # 448
_EPS = 1e-12


def quantize_rows(x: Tensor) -> tuple[Tensor, Tensor]:
    """x ``[N, K]`` -> (e4m3 values, float32 scales ``[N, 1]``) with ``x ≈ values * scales``."""
    scale = x.float().abs().amax(dim=1, keepdim=True).clamp_min(_EPS) / FP8_MAX
    return (x.float() / scale).clamp(-FP8_MAX, FP8_MAX).to(FP8), scale


class Fp8Linear(nn.Module):
    """A drop-in for ``nn.Linear`` (same ``in_features``/``out_features``; ``bias`` kept in its dtype).

    ``weight`` is stored in e4m3 (1 byte per value) with ``weight_scale [out, 1]``. The matmul runs
    on e4m3 activations with per-row scales and accumulates in the kernel; the output has the
    activation's dtype. Shapes the kernel refuses (it needs both dims a multiple of 16) fall back
    to dequantising the weight, so the arithmetic stays FP8-rounded either way.
    """

    def __init__(self, weight: Tensor, bias: Tensor | None) -> None:
        super().__init__()
        self.out_features, self.in_features = weight.shape
        q, scale = quantize_rows(weight)
        self.weight = nn.Parameter(q, requires_grad=False)
        self.weight_scale = nn.Parameter(scale, requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias.detach(), requires_grad=False)
        self.kernel = self.in_features % 16 == 0 and self.out_features % 16 == 0

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> "Fp8Linear":
        return cls(linear.weight.detach(), linear.bias)

    def forward(self, x: Tensor) -> Tensor:
        dtype = x.dtype
        rows = x.reshape(-1, self.in_features)
        if self.kernel and rows.shape[0] > 0:
            xq, xs = quantize_rows(rows)
            out = torch._scaled_mm(xq, self.weight.t(), scale_a=xs, scale_b=self.weight_scale.t(),
                                   out_dtype=torch.bfloat16 if dtype == torch.bfloat16 else torch.float32)
        else:
            w = self.weight.float() * self.weight_scale
            xq, xs = quantize_rows(rows)
            out = F.linear(xq.float() * xs, w)
        if self.bias is not None:
            out = out + self.bias.to(out.dtype)
        return out.to(dtype).reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, fp8=e4m3, kernel={self.kernel}"


BLOCK_LINEARS = ("self_attn.q", "self_attn.k", "self_attn.v", "self_attn.o",
                 "cross_attn.q", "cross_attn.k", "cross_attn.v", "cross_attn.o", "ffn.0", "ffn.2")


def convert_blocks_to_fp8(blocks: Iterable[nn.Module]) -> int:
    """Replace each block's attention projections and FFN linears in place; returns how many.

    Run after the LoRA merge (the merge needs the full-precision weight) and on the device the model
    runs on, so the full-precision copy of each weight is freed as soon as it is converted.
    """
    count = 0
    for block in blocks:
        for name in BLOCK_LINEARS:
            parent_name, child = name.rsplit(".", 1)
            parent = block.get_submodule(parent_name)
            linear = getattr(parent, child) if not child.isdigit() else parent[int(child)]
            if isinstance(linear, Fp8Linear):
                continue
            new = Fp8Linear.from_linear(linear)
            if child.isdigit():
                parent[int(child)] = new
            else:
                setattr(parent, child, new)
            count += 1
    return count


def fp8_weight_bytes(num_params: int, fp8_params: int, dtype_bytes: int = 2) -> int:
    """Weight memory when ``fp8_params`` of ``num_params`` are stored in e4m3 (scales are negligible)."""
    return fp8_params + (num_params - fp8_params) * dtype_bytes


def to_device_with_fp8_blocks(model: nn.Module, device: torch.device | str, dtype: torch.dtype) -> int:
    """Move ``model`` to ``device``/``dtype`` with its blocks' linears in FP8, one block at a time.

    ``nn.Module.to(dtype=...)`` would cast e4m3 weights back up (float8 counts as floating point), so
    the blocks are converted after their own move and the other children are moved separately.
    Converting block by block keeps the peak at the FP8 model plus one block in ``dtype``.
    """
    count = 0
    for name, child in model.named_children():
        if name == "blocks":
            for block in child:
                block.to(device=device, dtype=dtype)
                count += convert_blocks_to_fp8([block])
        else:
            child.to(device=device, dtype=dtype)
    return count
