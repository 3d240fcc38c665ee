"""Live Avatar's causal speech-to-video DiT (Wan2.2-S2V-14B + block-wise causal attention).

Our own implementation, written from the facts in ``shared/reference/model-facts.md`` and from reading
the upstream code (``Alibaba-Quark/LiveAvatar``, ``Wan-Video/Wan2.2``) for names, shapes, constants
and the order of operations. Attribute names equal the checkpoint's state-dict keys, so
``CausalS2VTransformer(S2VConfig.full()).state_dict()`` has exactly the real 1,260 keys and shapes.

Token layout
------------
* **noisy tokens** – the latent block being denoised, patchified ``(1, 2, 2)``:
  ``patch_embedding(x) + cond_encoder(pose or zeros) + trainable_cond_mask[0]``, modulated per frame
  with the block's timestep.
* **sink tokens** – ``[reference frame, FramePack motion tokens]``: ``patch_embedding(ref) + mask[1]``
  and ``frame_packer(motion) + mask[2]``, always modulated with ``t = 0`` (``zero_timestep``).
  They are computed once (:meth:`CausalS2VTransformer.prefill_sink`) and kept in the KV cache
  *without* RoPE; every block re-applies RoPE to them (the reference may be moved in time).

Attention: queries are the noisy tokens of one block; keys are the cached earlier blocks + the block
itself + all sink tokens, no mask (bidirectional inside a block, causal across blocks).
Sink tokens attend only to sink tokens. Audio is injected after the configured layers on the noisy
tokens only (never in the sink pass), frame by frame.

Decisions the upstream facts leave open (all documented where they are implemented)
------------------------------------------------------------------------------------
1. **Reference RoPE time shift.** Upstream moves the reference frame's RoPE time index by
   ``max(0, block_frame - (30 - randint(4, 30)))`` with Python's global ``random`` (zero for the first
   block). We make it an explicit argument ``ref_rope_shift`` (default ``0`` = deterministic, the
   reference stays at time 30) and provide :func:`sample_ref_rope_shift` which reproduces upstream's
   distribution from a *seeded* ``random.Random`` – the pipeline draws it per forward call (per step),
   as upstream does.
2. **bf16 rounding of the cross-attention input.** Upstream computes ``norm3(x.to(bfloat16))`` even in
   fp32 runs (the LayerNorm input *and* output are bf16 there). We reproduce this by default
   (``S2VConfig.bf16_cross_attn_input=True``); set it to ``False`` for a pure-fp32 path.
3. **RoPE tables in float16.** Upstream stores the per-token rotation tables in a complex-half tensor,
   i.e. cos/sin are rounded to float16. Reproduced by default (``S2VConfig.rope_fp16_tables``); the
   rotation itself is done in float32 (upstream: float64) – a difference of ~1e-7 relative.
4. **Audio injection layers.** Upstream matches blocks by the substring ``transformer_blocks.{i}``, so
   with 11+ layers an inject id ``1`` also matches block ``10`` (an extra, unused injector is created
   and the index map is overwritten). We implement the *intended* behaviour: exactly one injector per
   listed layer, ``injector[j]`` belongs to the j-th smallest listed layer. For the 14B list
   ``[0, 4, …, 39]`` both rules give the same modules and mapping.
5. **Audio encoding is per block.** Upstream feeds each block only its own ``4 * frames_per_block``
   audio frames, left-padded with ``motion_frames`` (73) copies of that slice's first frame, and drops
   the first ``lat_motion_frames`` (19) encoder outputs. We do the same (:meth:`encode_audio`), which
   makes the audio path trivially causal.
6. **KV cache = one per denoising step.** As upstream's single-GPU / TPP pipelines, a cache holds the
   K/V the blocks had *at that step's noise level*; the pipeline keeps one :class:`KVCache` per step.
   ``block_index`` is absolute across clips; the noisy cache wraps modulo its capacity (one clip).
7. **Several speakers (multi-actor audio).** As upstream's ``after_transformer_block``: ``audio`` may
   carry ``A`` speech tracks along the batch dimension while the latents have batch 1. Every injection
   computes each actor's residual from the *same* hidden states with that actor's own tokens and
   global (AdaIN) vector, multiplies it by the actor's 0/1 gate per token (``audio_mask [A, h*w]``,
   one row per actor over a frame's tokens, the same for every frame: our masks come from one
   reference image, upstream's are constant in time too), sums over actors and adds the sum once.
   The gates come from :func:`liveavatar.routing.routing_masks`. With ``A == 1`` no mask is used
   (upstream passes none), so the single-speaker arithmetic is unchanged; ``A > 1`` without a mask
   is refused. ``local_attn_size``, sequence parallelism, the transformer motioner and
   ``drop_part_motion_frames`` (training only) are not implemented.
8. Weight init (only matters without a checkpoint): PyTorch defaults, ``modulation ~ N(0,1)/sqrt(dim)``
   as upstream; upstream zero-inits ``head.head`` which we do not (so tiny test models are non-trivial).
"""

from __future__ import annotations

import contextlib
import math
import random
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from diffusers.models.normalization import AdaLayerNorm
from torch import Tensor, nn

from .config import S2VConfig

__all__ = [
    "BlockForward",
    "CausalS2VTransformer",
    "KVCache",
    "LayerKVCache",
    "load_dit_state_dict",
    "sample_ref_rope_shift",
    "sinusoidal_embedding",
]

REF_ROPE_TIME = 30  # the reference frame's RoPE time index (before the shift)
MASK_NOISY, MASK_REF, MASK_MOTION = 0, 1, 2  # rows of trainable_cond_mask


# ----------------------------------------------------------------------------- helpers
def sinusoidal_embedding(dim: int, t: Tensor) -> Tensor:
    """``[cos | sin]`` embedding of timesteps (computed in float64, returned as float32)."""
    half = dim // 2
    pos = t.to(torch.float64).flatten()
    freqs = torch.pow(10000.0, -torch.arange(half, dtype=torch.float64, device=t.device) / half)
    angles = torch.outer(pos, freqs)
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=1).float()


def sample_ref_rope_shift(block_start_frame: int, rng: random.Random) -> int:
    """Upstream's random reference-frame RoPE shift, drawn from a seeded ``random.Random``.

    Upstream: ``relative_dist = randint(4, 30); shift = max(0, frame - (30 - relative_dist))``, so the
    reference sits 4..30 frames ahead of the current block once the video is long enough, and the
    shift is always 0 for the first block.
    """
    relative_dist = rng.randint(4, 30)
    return max(0, block_start_frame - (REF_ROPE_TIME - relative_dist))


def _run_f32(seq: nn.Sequential, x: Tensor) -> Tensor:
    """Run a Linear/activation stack in float32 whatever the weights' dtype (upstream's fp32 autocast)."""
    x = x.float()
    for layer in seq:
        if isinstance(layer, nn.Linear):
            bias = None if layer.bias is None else layer.bias.float()
            x = F.linear(x, layer.weight.float(), bias)
        else:
            x = layer(x)
    return x


def _grid_positions(t: Sequence[int], h: Sequence[int], w: Sequence[int]) -> Tensor:
    """``[len(t)*len(h)*len(w), 3]`` (time, height, width) positions, time-major like a flattened conv grid."""
    tt, hh, ww = torch.meshgrid(
        torch.as_tensor(list(t), dtype=torch.long),
        torch.as_tensor(list(h), dtype=torch.long),
        torch.as_tensor(list(w), dtype=torch.long),
        indexing="ij",
    )
    return torch.stack([tt, hh, ww], dim=-1).reshape(-1, 3)


def _stretched(n_tokens: int, span: int) -> list[int]:
    """Positions of ``n_tokens`` compressed tokens spread over ``span`` full-resolution positions."""
    return np.linspace(0, span - 1, n_tokens).astype(int).tolist()


class Rope3D:
    """3-axis rotary embedding: head dim split (in complex pairs) as ``[c - 2(c//3), c//3, c//3]``."""

    def __init__(self, head_dim: int, theta: float = 10000.0, fp16_tables: bool = True) -> None:
        c = head_dim // 2
        self.sizes = (c - 2 * (c // 3), c // 3, c // 3)
        # Explicitly on the CPU: the model may be built under ``torch.device("meta")`` (weights assigned
        # later), and these tables are not parameters that loading would replace.
        self.inv_freqs = [
            1.0 / torch.pow(theta, torch.arange(0, 2 * n, 2, dtype=torch.float64, device="cpu") / (2 * n))
            for n in self.sizes
        ]
        self.fp16_tables = fp16_tables

    def tables(self, positions: Tensor, device: torch.device | str | None = None) -> tuple[Tensor, Tensor]:
        """cos/sin tables ``[L, head_dim // 2]`` (float32) for integer positions ``[L, 3]``."""
        pos = positions.to(torch.float64).cpu()
        angles = torch.cat([torch.outer(pos[:, a], self.inv_freqs[a]) for a in range(3)], dim=1)
        cos, sin = torch.cos(angles), torch.sin(angles)
        if self.fp16_tables:  # upstream writes the tables into a complex-half tensor
            cos, sin = cos.to(torch.float16), sin.to(torch.float16)
        return cos.float().to(device), sin.float().to(device)

    @staticmethod
    def apply(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        """Rotate adjacent pairs of ``x [B, L, H, D]`` by the tables ``[L, D/2]``; returns x's dtype."""
        b, l, h, d = x.shape
        xf = x.float().reshape(b, l, h, d // 2, 2)
        x0, x1 = xf[..., 0], xf[..., 1]
        c, s = cos[None, :, None, :], sin[None, :, None, :]
        out = torch.stack([x0 * c - x1 * s, x0 * s + x1 * c], dim=-1)
        return out.reshape(b, l, h, d).to(x.dtype)


def _sdpa(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> Tensor:
    """Attention on ``[B, L, H, D]`` tensors (torch SDPA); ``mask`` (bool, True = attend) only for the
    static cache layout, which keeps key shapes fixed by masking the unfilled cache slots."""
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask)
    return out.transpose(1, 2)


# ----------------------------------------------------------------------------- layers
class RMSNorm(nn.Module):
    """RMSNorm over the full model dim, computed in float32 (key: ``weight``)."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return xf.to(x.dtype) * self.weight


class SelfAttention(nn.Module):
    """Projections of the self-attention; the attention itself is supplied by the model (cache/sink)."""

    def __init__(self, dim: int, num_heads: int, qk_norm: bool = True, eps: float = 1e-6) -> None:
        super().__init__()
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.o = nn.Linear(dim, dim)
        self.norm_q = RMSNorm(dim, eps) if qk_norm else nn.Identity()
        self.norm_k = RMSNorm(dim, eps) if qk_norm else nn.Identity()

    def qkv(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        b, l, _ = x.shape
        shape = (b, l, self.num_heads, self.head_dim)
        return (
            self.norm_q(self.q(x)).view(shape),
            self.norm_k(self.k(x)).view(shape),
            self.v(x).view(shape),
        )


class CrossAttention(SelfAttention):
    """Attention from ``x`` to an unmasked context (text tokens, or audio tokens in the injector)."""

    def forward(self, x: Tensor, context: Tensor) -> Tensor:
        b = x.shape[0]
        q = self.norm_q(self.q(x)).view(b, -1, self.num_heads, self.head_dim)
        k = self.norm_k(self.k(context)).view(b, -1, self.num_heads, self.head_dim)
        v = self.v(context).view(b, -1, self.num_heads, self.head_dim)
        return self.o(_sdpa(q, k, v).flatten(2))


# attend(q, k, v) -> out: all [B, L, H, D], q/k without RoPE; the model decides keys, RoPE and caching.
AttendFn = Callable[[Tensor, Tensor, Tensor], Tensor]


class DiTBlock(nn.Module):
    """One transformer layer: modulated self-attention, cross-attention to text, modulated GELU FFN.

    ``modulation [1, 6, dim]`` + the per-token time projection gives (shift, scale, gate) for the
    self-attention and (shift, scale, gate) for the FFN. ``norm1``/``norm2`` have no parameters.
    """

    def __init__(self, cfg: S2VConfig) -> None:
        super().__init__()
        dim = cfg.dim
        self.bf16_cross_attn_input = cfg.bf16_cross_attn_input
        self.norm1 = nn.LayerNorm(dim, eps=cfg.eps, elementwise_affine=False)
        self.self_attn = SelfAttention(dim, cfg.num_heads, cfg.qk_norm, cfg.eps)
        self.norm3 = nn.LayerNorm(dim, eps=cfg.eps, elementwise_affine=True) if cfg.cross_attn_norm else nn.Identity()
        self.cross_attn = CrossAttention(dim, cfg.num_heads, cfg.qk_norm, cfg.eps)
        self.norm2 = nn.LayerNorm(dim, eps=cfg.eps, elementwise_affine=False)
        self.ffn = nn.Sequential(nn.Linear(dim, cfg.ffn_dim), nn.GELU(approximate="tanh"), nn.Linear(cfg.ffn_dim, dim))
        self.modulation = nn.Parameter(torch.randn(1, 6, dim) / dim**0.5)

    def _norm3_f32(self, x: Tensor) -> Tensor:
        """``norm3`` computed in float32 whatever the parameters' dtype."""
        if not isinstance(self.norm3, nn.LayerNorm):
            return x.float()
        n = self.norm3
        return F.layer_norm(x.float(), n.normalized_shape, n.weight.float(), n.bias.float(), n.eps)

    def _cross_input(self, x: Tensor) -> Tensor:
        """x: the float32 residual stream -> cross-attention input (float32 values)."""
        if not self.bf16_cross_attn_input:
            return self._norm3_f32(x)
        # upstream: norm3(x.to(bfloat16)) -> the input and the LayerNorm output are bf16 values
        return self._norm3_f32(x.to(torch.bfloat16)).to(torch.bfloat16).float()

    def forward(self, x: Tensor, e: Tensor, context: Tensor, attend: AttendFn) -> Tensor:
        """x ``[B, L, dim]``; e ``[B, L, 6, dim]`` float32 time projection per token; context ``[B, Lt, dim]``."""
        dtype = x.dtype
        shift1, scale1, gate1, shift2, scale2, gate2 = (self.modulation.float().unsqueeze(0) + e).unbind(dim=2)
        h = (self.norm1(x.float()) * (1 + scale1) + shift1).to(dtype)
        q, k, v = self.self_attn.qkv(h)
        y = self.self_attn.o(attend(q, k, v).flatten(2))
        x = x.float() + y.float() * gate1
        x = x + self.cross_attn(self._cross_input(x).to(dtype), context).float()
        h = (self.norm2(x) * (1 + scale2) + shift2).to(dtype)
        x = x + self.ffn(h).float() * gate2
        return x.to(dtype)


class Head(nn.Module):
    """Final per-frame modulated LayerNorm + linear to ``prod(patch_size) * out_dim`` channels."""

    def __init__(self, cfg: S2VConfig) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(cfg.dim, eps=cfg.eps, elementwise_affine=False)
        self.head = nn.Linear(cfg.dim, math.prod(cfg.patch_size) * cfg.out_dim)
        self.modulation = nn.Parameter(torch.randn(1, 2, cfg.dim) / cfg.dim**0.5)

    def forward(self, x: Tensor, e: Tensor, tokens_per_frame: int) -> Tensor:
        """x ``[B, F*hw, dim]``, e ``[B, F, dim]`` (time *embedding*, not projection)."""
        b, f = e.shape[:2]
        shift, scale = (self.modulation.float().unsqueeze(0) + e.float().unsqueeze(2)).unbind(dim=2)  # [B, F, dim]
        h = self.norm(x.float()).view(b, f, tokens_per_frame, -1) * (1 + scale[:, :, None]) + shift[:, :, None]
        w, bias = self.head.weight.float(), self.head.bias.float()
        return F.linear(h.flatten(1, 2), w, bias)


class CausalConv1d(nn.Module):
    """Conv1d with left (causal) replicate padding of ``kernel_size - 1`` frames; key ``conv``."""

    def __init__(self, chan_in: int, chan_out: int, kernel_size: int = 3, stride: int = 1) -> None:
        super().__init__()
        self.pad = kernel_size - 1
        self.conv = nn.Conv1d(chan_in, chan_out, kernel_size, stride=stride)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.pad(x, (self.pad, 0), mode="replicate"))


class AudioMotionEncoder(nn.Module):
    """Causal conv stack turning per-video-frame audio features into per-latent-frame tokens.

    Local branch: ``conv1_local`` makes ``num_token`` groups, then the shared stride-2 ``conv2``/``conv3``
    (4x temporal compression) give ``num_token`` tokens per latent frame, plus one learned
    ``padding_tokens``. Global branch (AdaIN input): ``conv1_global`` -> ``conv2`` -> ``conv3`` -> ``final_linear``.
    """

    def __init__(self, in_dim: int, hidden_dim: int, num_token: int, need_global: bool = True) -> None:
        super().__init__()
        self.num_token, self.need_global = num_token, need_global
        quarter = hidden_dim // 4
        self.conv1_local = CausalConv1d(in_dim, quarter * num_token, 3, stride=1)
        if need_global:
            self.conv1_global = CausalConv1d(in_dim, quarter, 3, stride=1)
        self.conv2 = CausalConv1d(quarter, hidden_dim // 2, 3, stride=2)
        self.conv3 = CausalConv1d(hidden_dim // 2, hidden_dim, 3, stride=2)
        if need_global:
            self.final_linear = nn.Linear(hidden_dim, hidden_dim)
        self.padding_tokens = nn.Parameter(torch.zeros(1, 1, 1, hidden_dim))

    @staticmethod
    def _norm_act(x: Tensor) -> Tensor:  # x [N, C, T] -> LayerNorm over C (eps 1e-6, no affine) + SiLU
        x = x.transpose(1, 2)
        x = F.silu(F.layer_norm(x, x.shape[-1:], eps=1e-6))
        return x.transpose(1, 2)

    def _tail(self, x: Tensor) -> Tensor:  # shared conv2/conv3; [N, C, T] -> [N, T', hidden]
        x = self._norm_act(x)
        x = self._norm_act(self.conv2(x))
        x = self._norm_act(self.conv3(x))
        return x.transpose(1, 2)

    def forward(self, feats: Tensor) -> tuple[Tensor, Tensor | None]:
        """feats ``[B, T, in_dim]`` -> (local ``[B, T', num_token + 1, hidden]``, global ``[B, T', 1, hidden]``)."""
        b = feats.shape[0]
        x = feats.transpose(1, 2)  # B C T
        local = self.conv1_local(x)  # B (n c) T
        n = self.num_token
        local = local.view(b, n, -1, local.shape[-1]).flatten(0, 1)  # (B n) c T
        local = self._tail(local)  # (B n) T' hidden
        local = local.view(b, n, *local.shape[1:]).transpose(1, 2)  # B T' n hidden
        pad = self.padding_tokens.to(local.dtype).expand(b, local.shape[1], 1, -1)
        local = torch.cat([local, pad], dim=2)
        if not self.need_global:
            return local, None
        glob = self.final_linear(self._tail(self.conv1_global(x)))  # B T' hidden
        return local, glob.unsqueeze(2)


class CausalAudioEncoder(nn.Module):
    """Weighted average of the wav2vec2 hidden states (SiLU weights normalised by their sum) + encoder."""

    def __init__(self, cfg: S2VConfig) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.ones(1, cfg.num_audio_layers, 1, 1) * 0.01)
        self.encoder = AudioMotionEncoder(cfg.audio_dim, cfg.dim, cfg.num_audio_token, need_global=cfg.enable_adain)

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor | None]:
        """features ``[B, num_layers, audio_dim, T]`` -> tokens ``[B, T', n+1, dim]``, global ``[B, T', 1, dim]``."""
        w = F.silu(self.weights.float())
        avg = (features.float() * w / w.sum(dim=1, keepdim=True)).sum(dim=1)  # B audio_dim T
        return self.encoder(avg.transpose(1, 2).to(self.weights.dtype))


class AudioInjector(nn.Module):
    """Per injected layer: AdaLN of the hidden states on the global audio vector + cross-attention to
    the frame's audio tokens. ``injector[j]`` / ``injector_adain_layers[j]`` belong to the j-th smallest
    layer in ``audio_inject_layers`` (see decision 4 in the module docstring)."""

    def __init__(self, cfg: S2VConfig) -> None:
        super().__init__()
        layers = sorted(cfg.audio_inject_layers)
        self.layer_to_injector = {layer: j for j, layer in enumerate(layers)}
        self.enable_adain = cfg.enable_adain
        self.injector = nn.ModuleList([CrossAttention(cfg.dim, cfg.num_heads, qk_norm=True, eps=1e-6) for _ in layers])
        if cfg.enable_adain:
            # diffusers' AdaLayerNorm: LayerNorm eps 1e-5 (no affine), linear(silu(temb)) -> shift, scale
            self.injector_adain_layers = nn.ModuleList(
                [AdaLayerNorm(embedding_dim=cfg.dim, output_dim=2 * cfg.dim, chunk_dim=1) for _ in layers]
            )

    def forward(self, layer: int, x: Tensor, tokens: Tensor, glob: Tensor | None, mask: Tensor | None = None) -> Tensor:
        """x ``[B, F*hw, dim]`` noisy tokens; tokens ``[B, F, n+1, dim]``; glob ``[B, F, 1, dim]``. Returns x + residual.

        Several speakers (decision 7): ``x`` has batch 1 and ``tokens`` / ``glob`` batch ``A > 1``; each
        actor's residual is gated by its row of ``mask [A, hw]`` and the gated residuals are summed.
        """
        if tokens.shape[0] != x.shape[0]:
            return x + self._multi_actor_residual(layer, x, tokens, glob, mask)
        return x + self._residual(layer, x, tokens, glob).reshape(x.shape)

    def _residual(self, layer: int, x: Tensor, tokens: Tensor, glob: Tensor | None) -> Tensor:
        """``[B*F, hw, dim]`` residual of the injector for ``x [B, F*hw, dim]`` (B = the tokens' batch)."""
        j = self.layer_to_injector[layer]
        b, f = tokens.shape[:2]
        xs = x.reshape(b * f, -1, x.shape[-1])
        if self.enable_adain:
            h = self.injector_adain_layers[j](xs, temb=glob.reshape(b * f, -1).to(xs.dtype))
        else:
            h = F.layer_norm(xs, xs.shape[-1:], eps=1e-6)
        return self.injector[j](h, tokens.reshape(b * f, -1, tokens.shape[-1]).to(xs.dtype))

    def _multi_actor_residual(self, layer: int, x: Tensor, tokens: Tensor, glob: Tensor | None,
                              mask: Tensor | None) -> Tensor:
        """Upstream's multi-actor injection: the same hidden states, expanded to every actor, each with
        its own audio; ``residual * gate`` summed over actors (in the hidden states' dtype, like upstream)."""
        actors, f = tokens.shape[:2]
        if x.shape[0] != 1:
            raise ValueError(f"several speech tracks ({actors}) need latents of batch 1, got batch {x.shape[0]}")
        if mask is None:
            raise ValueError(
                f"{actors} speech tracks but no audio_mask: each track needs a per-token gate "
                "(liveavatar.routing.routing_masks) saying which person it drives"
            )
        hw = x.shape[1] // f
        if tuple(mask.shape) != (actors, hw):
            raise ValueError(f"audio_mask must be [{actors}, {hw}] (actors x tokens per frame), got {tuple(mask.shape)}")
        res = self._residual(layer, x.expand(actors, -1, -1), tokens, glob).view(actors, f, hw, -1)
        gated = res * mask.to(device=res.device, dtype=res.dtype)[:, None, :, None]
        return gated.sum(dim=0).reshape(x.shape)


class FramePackMotioner(nn.Module):
    """FramePack motion tokens from the last 19 latent frames of the motion history.

    Newest first: 1 frame at ``proj`` (1x), 2 frames at ``proj_2x`` (2x2x2 -> 1 token per 4x4 patch grid),
    16 frames at ``proj_4x`` (4x4x4). RoPE times: 1x ``-1``; 2x ``-3``; 4x ``-19, -14, -9, -4``;
    the 2x/4x spatial positions are stretched over the full patch grid.
    """

    def __init__(self, cfg: S2VConfig) -> None:
        super().__init__()
        c, d = cfg.in_dim, cfg.dim
        self.proj = nn.Conv3d(c, d, kernel_size=(1, 2, 2), stride=(1, 2, 2))
        self.proj_2x = nn.Conv3d(c, d, kernel_size=(2, 4, 4), stride=(2, 4, 4))
        self.proj_4x = nn.Conv3d(c, d, kernel_size=(4, 8, 8), stride=(4, 8, 8))
        self.buckets = cfg.frame_buckets  # (1, 2, 16)
        self.drop_mode = cfg.framepack_drop_mode

    def forward(self, motion: Tensor, add_last_motion: int = 2) -> tuple[Tensor, Tensor]:
        """motion ``[B, C, T, H, W]`` -> tokens ``[B, S, dim]``, RoPE positions ``[S, 3]``."""
        b, c, t, hgt, wid = motion.shape
        b1, b2, b4 = self.buckets
        total = b1 + b2 + b4
        padded = motion.new_zeros(b, c, total, hgt, wid)
        keep = min(total, t)
        if keep > 0:
            padded[:, :, total - keep :] = motion[:, :, t - keep :]
        if add_last_motion < 2 and self.drop_mode != "drop":
            zero_end = sum(self.buckets[: len(self.buckets) - add_last_motion - 1])
            padded[:, :, total - zero_end :] = 0
        lat_4x, lat_2x, lat_1x = padded.split([b4, b2, b1], dim=2)
        tok_1x = self.proj(lat_1x)
        tok_2x = self.proj_2x(lat_2x)
        tok_4x = self.proj_4x(lat_4x)
        gh, gw = hgt // 2, wid // 2  # the full-resolution patch grid
        parts, positions = [], []
        use_1x = not (self.drop_mode == "drop" and add_last_motion < 2)
        use_2x = not (self.drop_mode == "drop" and add_last_motion < 1)
        if use_1x:
            parts.append(tok_1x)
            positions.append(_grid_positions([-b1], range(tok_1x.shape[3]), range(tok_1x.shape[4])))
        if use_2x:
            start = b1 + b2
            times = [-int(v) for v in np.linspace(start, start - b2 + 1, tok_2x.shape[2]).astype(int)]
            parts.append(tok_2x)
            positions.append(_grid_positions(times, _stretched(tok_2x.shape[3], gh), _stretched(tok_2x.shape[4], gw)))
        start = total
        times = [-int(v) for v in np.linspace(start, start - b4 + 1, tok_4x.shape[2]).astype(int)]
        parts.append(tok_4x)
        positions.append(_grid_positions(times, _stretched(tok_4x.shape[3], gh), _stretched(tok_4x.shape[4], gw)))
        tokens = torch.cat([p.flatten(2).transpose(1, 2) for p in parts], dim=1)
        return tokens, torch.cat(positions, dim=0)


# ----------------------------------------------------------------------------- cache
@dataclass
class LayerKVCache:
    """One layer's cache. ``k``/``v`` ``[B, capacity, H, D]`` hold noisy-token keys (already RoPE'd) and
    values, written at ``block_start_token % capacity``; ``sink_k``/``sink_v`` ``[B, S, H, D]`` hold the
    reference + motion keys *without* RoPE and their values (``None`` before :meth:`prefill_sink`)."""

    k: Tensor
    v: Tensor
    sink_k: Tensor | None = None
    sink_v: Tensor | None = None
    # static layout (:meth:`KVCache.make_static`): ``[B, capacity + S, H, D]`` = this layer's noisy
    # cache (``k``/``v`` are views of the front) followed by the sink, so one fixed-shape SDPA call
    # reads everything without a ``torch.cat`` per layer per step
    buf_k: Tensor | None = None
    buf_v: Tensor | None = None


@dataclass
class KVCache:
    """The block-wise cache of one denoising step (upstream keeps one per step), all layers."""

    layers: list[LayerKVCache]
    tokens_per_frame: int
    frames_per_block: int
    sink_positions: Tensor | None = None  # [S, 3] RoPE positions of the sink tokens, reference unshifted
    num_ref_tokens: int = 0
    host_memory: bool = False  # kept in host memory and streamed per layer (liveavatar.pipeline.streaming)

    @classmethod
    def allocate(
        cls,
        config: S2VConfig,
        batch_size: int,
        latent_frames: int,
        latent_height: int,
        latent_width: int,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> "KVCache":
        """Allocate for a clip of ``latent_frames`` latent frames (capacity = one clip's noisy tokens)."""
        fpb = config.num_frames_per_block
        if latent_frames % fpb:
            raise ValueError(f"latent_frames {latent_frames} is not a multiple of num_frames_per_block {fpb}")
        ph, pw = config.patch_size[1:]
        tpf = (latent_height // ph) * (latent_width // pw)
        shape = (batch_size, latent_frames * tpf, config.num_heads, config.head_dim)
        layers = [
            LayerKVCache(torch.zeros(shape, dtype=dtype, device=device), torch.zeros(shape, dtype=dtype, device=device))
            for _ in range(config.num_layers)
        ]
        return cls(layers=layers, tokens_per_frame=tpf, frames_per_block=fpb)

    @property
    def capacity(self) -> int:
        return self.layers[0].k.shape[1]

    @property
    def block_tokens(self) -> int:
        return self.tokens_per_frame * self.frames_per_block

    @property
    def has_sink(self) -> bool:
        return self.sink_positions is not None

    @property
    def is_static(self) -> bool:
        return self.layers[0].buf_k is not None

    def make_static(self) -> None:
        """Switch to the static layout: the cache and the sink in one buffer per layer (K and V).

        Costs one extra sink copy per cache (the sink's keys are re-RoPE'd into it every call, since
        the reference's time shift changes) and saves the per-call concatenation; the keys keep the
        plain path's order (cache, then sink), so the only change in the arithmetic is the masked,
        not-yet-written cache slots of the first clip.
        """
        if not self.has_sink:
            raise RuntimeError("make_static() needs the sink: run prefill_sink() first")
        if self.is_static:
            return
        cap = self.capacity
        for layer in self.layers:
            b, _, h, d = layer.k.shape
            s = layer.sink_k.shape[1]
            for name, sink in (("k", layer.sink_k), ("v", layer.sink_v)):
                buf = layer.k.new_empty(b, cap + s, h, d)
                buf[:, :cap] = getattr(layer, name)
                buf[:, cap:] = sink.to(buf.dtype)
                setattr(layer, f"buf_{name}", buf)
                setattr(layer, name, buf[:, :cap])

    def share_sink_from(self, other: "KVCache") -> None:
        """Use ``other``'s sink (upstream shares one sink cache between the per-step caches)."""
        for mine, theirs in zip(self.layers, other.layers):
            mine.sink_k, mine.sink_v = theirs.sink_k, theirs.sink_v
        self.sink_positions, self.num_ref_tokens = other.sink_positions, other.num_ref_tokens


@dataclass
class BlockForward:
    """One block's forward in progress (:meth:`CausalS2VTransformer.begin_block` -> ``block_layer`` per
    layer -> ``finish_block``): the residual stream ``x`` and what every layer of the call shares. Lets a
    caller run several blocks' forwards layer-major (all of them through layer L while L's weights are on
    the device) with exactly the arithmetic of :meth:`CausalS2VTransformer.forward_block`."""

    x: Tensor
    ctx: Tensor
    e: Tensor
    e_frame: Tensor
    tokens: Tensor
    glob: Tensor | None
    grid: tuple[int, int, int]
    cache: KVCache
    capacity: int
    slot: int
    end: int
    valid: int
    write_cache: bool
    cos: Tensor
    sin: Tensor
    s_cos: Tensor
    s_sin: Tensor
    static_mask: Tensor | None = None
    audio_mask: Tensor | None = None  # [A, h*w] per-actor gates, several speakers only (decision 7)


# ----------------------------------------------------------------------------- model
class CausalS2VTransformer(nn.Module):
    """The DiT. ``state_dict()`` keys/shapes equal the Wan2.2-S2V-14B checkpoint at :meth:`S2VConfig.full`."""

    def __init__(self, config: S2VConfig) -> None:
        super().__init__()
        self.config = cfg = config
        dim = cfg.dim
        self.patch_embedding = nn.Conv3d(cfg.in_dim, dim, kernel_size=cfg.patch_size, stride=cfg.patch_size)
        self.text_embedding = nn.Sequential(nn.Linear(cfg.text_dim, dim), nn.GELU(approximate="tanh"), nn.Linear(dim, dim))
        self.time_embedding = nn.Sequential(nn.Linear(cfg.freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.time_projection = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        self.blocks = nn.ModuleList([DiTBlock(cfg) for _ in range(cfg.num_layers)])
        self.head = Head(cfg)
        if cfg.cond_dim > 0:
            self.cond_encoder = nn.Conv3d(cfg.cond_dim, dim, kernel_size=cfg.patch_size, stride=cfg.patch_size)
        self.casual_audio_encoder = CausalAudioEncoder(cfg)  # (sic) upstream's spelling = checkpoint key
        self.audio_injector = AudioInjector(cfg)
        self.trainable_cond_mask = nn.Embedding(3, dim)
        if cfg.enable_framepack:
            self.frame_packer = FramePackMotioner(cfg)
        self.rope = Rope3D(cfg.head_dim, cfg.rope_theta, cfg.rope_fp16_tables)

    # ------------------------------------------------------------------ embeddings
    @property
    def dtype(self) -> torch.dtype:
        return self.patch_embedding.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.patch_embedding.weight.device

    def embed_text(self, context: Tensor | Sequence[Tensor]) -> Tensor:
        """Zero-pad each ``[L, text_dim]`` prompt embedding to ``text_len`` (no mask: padding is attended)."""
        if isinstance(context, Tensor) and context.dim() == 2:
            context = [context]
        rows = []
        for u in context:
            if u.shape[0] > self.config.text_len:
                raise ValueError(f"text context has {u.shape[0]} tokens > text_len {self.config.text_len}")
            rows.append(torch.cat([u, u.new_zeros(self.config.text_len - u.shape[0], u.shape[1])]))
        return self.text_embedding(torch.stack(rows).to(self.dtype))

    def time_embed(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """t ``[B, F]`` -> (embedding ``[B, F, dim]``, projection ``[B, F, 6, dim]``), both float32."""
        e = _run_f32(self.time_embedding, sinusoidal_embedding(self.config.freq_dim, t))
        e0 = _run_f32(self.time_projection, e)
        return e.view(*t.shape, -1), e0.view(*t.shape, 6, self.config.dim)

    def encode_audio(self, audio: Tensor) -> tuple[Tensor, Tensor | None]:
        """Audio features of one block ``[B, num_audio_layers, audio_dim, 4*F]`` (one per video frame) ->
        tokens ``[B, F, num_audio_token+1, dim]`` and global ``[B, F, 1, dim]``.

        Left-pads with ``motion_frames`` copies of the first frame and drops the first
        ``lat_motion_frames`` outputs, as upstream does for every block.
        """
        cfg = self.config
        padded = torch.cat([audio[..., :1].expand(*audio.shape[:-1], cfg.motion_frames), audio], dim=-1)
        tokens, glob = self.casual_audio_encoder(padded)
        drop = cfg.lat_motion_frames
        return tokens[:, drop:], (None if glob is None else glob[:, drop:])

    @staticmethod
    def _check_actors(actors: int, batch: int, audio_mask: Tensor | None) -> None:
        """Refuse, before any layer runs, audio whose batch is neither the latents' nor several speakers
        of a batch-1 block with their gates (decision 7)."""
        if actors == batch:
            return
        if batch != 1:
            raise ValueError(f"audio batch {actors} does not match the latents' batch {batch}")
        if audio_mask is None:
            raise ValueError(
                f"{actors} speech tracks but no audio_mask: each track needs a per-token gate "
                "(liveavatar.routing.routing_masks) saying which person it drives"
            )
        if audio_mask.dim() != 2 or audio_mask.shape[0] != actors:
            raise ValueError(f"audio_mask must be [{actors}, tokens per frame], got {tuple(audio_mask.shape)}")

    def _normalize_t(self, timestep: Tensor | float, batch: int, frames: int) -> Tensor:
        t = torch.as_tensor(timestep, dtype=torch.float32, device=self.device)
        if t.dim() == 0:
            t = t.expand(batch)
        if t.dim() == 1:
            t = t[:, None].expand(batch, frames)
        if tuple(t.shape) != (batch, frames):
            raise ValueError(f"timestep shape {tuple(t.shape)} does not fit batch {batch} x frames {frames}")
        return t

    def _embed_noisy(self, latents: Tensor, cond_latents: Tensor | None) -> tuple[Tensor, tuple[int, int, int]]:
        x = self.patch_embedding(latents.to(self.dtype))
        if hasattr(self, "cond_encoder"):
            if cond_latents is None:  # no pose video: upstream feeds zeros (-> the conv bias)
                cond_latents = latents.new_zeros(latents.shape[0], self.config.cond_dim, *latents.shape[2:])
            x = x + self.cond_encoder(cond_latents.to(self.dtype))
        grid = tuple(x.shape[2:])
        x = x.flatten(2).transpose(1, 2)
        return x + self.trainable_cond_mask.weight[MASK_NOISY].to(x.dtype), grid

    def _embed_sink(self, ref_latents: Tensor, motion_latents: Tensor, add_last_motion: int, drop_motion: bool):
        ref = self.patch_embedding(ref_latents.to(self.dtype))
        _, _, _, h, w = ref.shape
        ref_pos = _grid_positions([REF_ROPE_TIME], range(h), range(w))
        ref = ref.flatten(2).transpose(1, 2) + self.trainable_cond_mask.weight[MASK_REF].to(self.dtype)
        mot, mot_pos = self.frame_packer(motion_latents.to(self.dtype), add_last_motion)
        if drop_motion:
            mot = torch.zeros_like(mot)
        mot = mot + self.trainable_cond_mask.weight[MASK_MOTION].to(self.dtype)
        return torch.cat([ref, mot], dim=1), torch.cat([ref_pos, mot_pos], dim=0), ref.shape[1]

    def _sink_modulation(self, batch: int) -> Tensor:
        # zero_timestep: every sink token uses the t = 0 projection
        _, e0 = self.time_embed(torch.zeros(batch, 1, device=self.device))
        return e0  # [B, 1, 6, dim] broadcasts over the sink tokens

    def _noisy_positions(self, start_frame: int, grid: tuple[int, int, int]) -> Tensor:
        f, h, w = grid
        return _grid_positions(range(start_frame, start_frame + f), range(h), range(w))

    def _shifted_sink_tables(self, positions: Tensor, num_ref: int, shift: int) -> tuple[Tensor, Tensor]:
        pos = positions.clone()
        pos[:num_ref, 0] += int(shift)
        return self.rope.tables(pos, self.device)

    def _unpatchify(self, x: Tensor, grid: tuple[int, int, int]) -> Tensor:
        b = x.shape[0]
        f, h, w = grid
        pt, ph, pw = self.config.patch_size
        c = self.config.out_dim
        x = x.view(b, f, h, w, pt, ph, pw, c).permute(0, 7, 1, 4, 2, 5, 3, 6)
        return x.reshape(b, c, f * pt, h * ph, w * pw)

    # ------------------------------------------------------------------ block-wise API
    @torch.no_grad()
    def prefill_sink(
        self,
        ref_latents: Tensor,
        motion_latents: Tensor,
        context: Tensor | Sequence[Tensor],
        cache: KVCache,
        add_last_motion: int = 2,
        drop_motion: bool = False,
    ) -> None:
        """The t = 0 sink pass: run the reference (``[B, C, 1, H, W]``) and FramePack motion tokens
        (``motion_latents [B, C, T, H, W]``, upstream T = 19) through every layer (sink attends only to
        sink, RoPE with the reference at time 30, no audio) and store each layer's un-RoPE'd K and V."""
        ctx = self.embed_text(context)
        x, positions, num_ref = self._embed_sink(
            ref_latents, motion_latents, add_last_motion * int(self.config.add_last_motion), drop_motion
        )
        cos, sin = self.rope.tables(positions, self.device)
        e = self._sink_modulation(x.shape[0])
        for i, layer in enumerate(cache.layers):

            def attend(q, k, v, layer=layer):
                layer.sink_k, layer.sink_v = k.detach().clone(), v.detach().clone()
                return _sdpa(self.rope.apply(q, cos, sin), self.rope.apply(k, cos, sin), v)

            with self.resident_block(i) as block:
                x = block(x, e, ctx, attend)
        cache.sink_positions, cache.num_ref_tokens = positions, num_ref

    @torch.no_grad()
    def forward_block(
        self,
        block_latents: Tensor,
        timestep: Tensor | float,
        context: Tensor | Sequence[Tensor],
        audio: Tensor,
        cache: KVCache,
        block_index: int,
        write_cache: bool = True,
        ref_rope_shift: int = 0,
        cond_latents: Tensor | None = None,
        audio_mask: Tensor | None = None,
    ) -> Tensor:
        """Flow prediction ``[B, out_dim, F, H, W]`` for one block of noisy latents ``[B, in_dim, F, H, W]``.

        ``timestep``: scalar, ``[B]`` or ``[B, F]``; ``audio``: this block's ``[B, L, audio_dim, 4F]``
        features; ``block_index`` is absolute (across clips) and sets the RoPE frames
        ``block_index*F + 0..F-1`` and the cache slot ``(block_index * block_tokens) % capacity``.
        Keys = cached earlier blocks (all of the cache once it has wrapped) + this block + the sink
        (reference moved by ``ref_rope_shift`` frames, see :func:`sample_ref_rope_shift`).
        With ``write_cache=False`` the cache is left unchanged.
        Several speakers: ``audio [A, L, audio_dim, 4F]`` with batch-1 latents and ``audio_mask [A, h*w]``
        (decision 7 in the module docstring).

        The same three pieces the layer-major (timestep-forcing) loop of the pipeline runs:
        :meth:`begin_block`, :meth:`block_layer` for every layer, :meth:`finish_block`.
        """
        state = self.begin_block(block_latents, timestep, context, audio, cache, block_index,
                                 write_cache=write_cache, ref_rope_shift=ref_rope_shift, cond_latents=cond_latents,
                                 audio_mask=audio_mask)
        for i in range(len(self.blocks)):
            self.block_layer(state, i)
        return self.finish_block(state)

    def resident_block(self, i: int):
        """A context manager giving block ``i`` with its weights on the compute device: the block itself,
        or, when the blocks are streamed (:mod:`liveavatar.pipeline.streaming`), the streamer's
        ``resident(i)``, which copies the block (and its layer's audio injector) in around the use."""
        streamer = self.__dict__.get("block_streamer")
        return streamer.resident(i) if streamer is not None else contextlib.nullcontext(self.blocks[i])

    @torch.no_grad()
    def begin_block(
        self,
        block_latents: Tensor,
        timestep: Tensor | float,
        context: Tensor | Sequence[Tensor],
        audio: Tensor,
        cache: KVCache,
        block_index: int,
        write_cache: bool = True,
        ref_rope_shift: int = 0,
        cond_latents: Tensor | None = None,
        audio_mask: Tensor | None = None,
    ) -> "BlockForward":
        """Everything of :meth:`forward_block` before the layers: embeddings, time and audio encodings,
        RoPE tables and the cache slot. Uses no block weights. ``audio_mask``: see :meth:`forward_block`."""
        if not cache.has_sink:
            raise RuntimeError("prefill_sink() must run on this cache before forward_block()")
        b, _, f = block_latents.shape[:3]
        ctx = self.embed_text(context)
        x, grid = self._embed_noisy(block_latents, cond_latents)
        tpf = grid[1] * grid[2]
        if tpf != cache.tokens_per_frame or f != cache.frames_per_block:
            raise ValueError(f"block grid {grid} does not match the cache ({cache.frames_per_block} x {cache.tokens_per_frame})")
        t = self._normalize_t(timestep, b, f)
        e_frame, e0 = self.time_embed(t)
        e = e0.repeat_interleave(tpf, dim=1)  # [B, F*hw, 6, dim]
        tokens, glob = self.encode_audio(audio)
        self._check_actors(tokens.shape[0], b, audio_mask)

        start = block_index * cache.block_tokens
        slot = start % cache.capacity
        end = slot + x.shape[1]
        valid = cache.capacity if start >= cache.capacity else end
        cos, sin = self.rope.tables(self._noisy_positions(block_index * f, grid), self.device)
        s_cos, s_sin = self._shifted_sink_tables(cache.sink_positions, cache.num_ref_tokens, ref_rope_shift)
        static_mask = None
        if cache.is_static and valid < cache.capacity:  # first clip: hide the slots not written yet
            keys = cache.capacity + cache.layers[0].sink_k.shape[1]
            static_mask = torch.ones(1, 1, 1, keys, dtype=torch.bool, device=self.device)
            static_mask[..., valid : cache.capacity] = False
        return BlockForward(x, ctx, e, e_frame, tokens, glob, grid, cache, cache.capacity, slot, end, valid,
                            write_cache, cos, sin, s_cos, s_sin, static_mask, audio_mask)

    @torch.no_grad()
    def block_layer(self, state: "BlockForward", i: int, kv: LayerKVCache | None = None) -> None:
        """Layer ``i`` of one block's forward (self-attention over the cache + sink, text cross-attention,
        FFN, the audio injection after the listed layers), updating ``state.x`` in place.

        ``kv``: the layer's cache to read and write instead of ``state.cache.layers[i]`` (a device copy
        of a cache kept in host memory, see :class:`liveavatar.pipeline.streaming.KVStreamer`)."""
        layer = state.cache.layers[i] if kv is None else kv
        cos, sin, s_cos, s_sin = state.cos, state.sin, state.s_cos, state.s_sin
        slot, end, valid, cap, write_cache = state.slot, state.end, state.valid, state.capacity, state.write_cache

        def attend(q, k, v):
            k = self.rope.apply(k, cos, sin)
            if write_cache and layer.buf_k is not None:  # the static layout
                layer.k[:, slot:end] = k.to(layer.k.dtype)
                layer.v[:, slot:end] = v.to(layer.v.dtype)
                layer.buf_k[:, cap:] = self.rope.apply(layer.sink_k, s_cos, s_sin).to(layer.buf_k.dtype)
                dt = q.dtype
                return _sdpa(self.rope.apply(q, cos, sin), layer.buf_k.to(dt), layer.buf_v.to(dt), state.static_mask)
            if write_cache:
                layer.k[:, slot:end] = k.to(layer.k.dtype)
                layer.v[:, slot:end] = v.to(layer.v.dtype)
                keys, vals = [layer.k[:, :valid]], [layer.v[:, :valid]]
            else:
                keys = [layer.k[:, :slot], k.to(layer.k.dtype), layer.k[:, end:valid]]
                vals = [layer.v[:, :slot], v.to(layer.v.dtype), layer.v[:, end:valid]]
            keys.append(self.rope.apply(layer.sink_k, s_cos, s_sin))
            vals.append(layer.sink_v)
            dt = q.dtype
            return _sdpa(self.rope.apply(q, cos, sin), torch.cat(keys, 1).to(dt), torch.cat(vals, 1).to(dt))

        with self.resident_block(i) as block:
            state.x = block(state.x, state.e, state.ctx, attend)
            if i in self.audio_injector.layer_to_injector:
                state.x = self.audio_injector(i, state.x, state.tokens, state.glob, state.audio_mask)

    @torch.no_grad()
    def finish_block(self, state: "BlockForward") -> Tensor:
        """The head after the last layer: the flow prediction ``[B, out_dim, F, H, W]`` (float32)."""
        out = self.head(state.x, state.e_frame, state.grid[1] * state.grid[2])
        return self._unpatchify(out, state.grid).float()

    # ------------------------------------------------------------------ reference path (no cache)
    @torch.no_grad()
    def forward_full(
        self,
        latents: Tensor,
        timesteps: Tensor | float,
        context: Tensor | Sequence[Tensor],
        audio: Tensor,
        ref_latents: Tensor,
        motion_latents: Tensor,
        ref_rope_shifts: Sequence[int] | None = None,
        window_blocks: int | None = None,
        cond_latents: Tensor | None = None,
        add_last_motion: int = 2,
        drop_motion: bool = False,
        first_block_index: int = 0,
        audio_mask: Tensor | None = None,
    ) -> Tensor:
        """Recompute everything for blocks ``0..k`` at once (no cache): the reference for the tests.

        ``latents [B, C, (k+1)*F, H, W]``, ``timesteps`` scalar / ``[B]`` / ``[B, (k+1)*F]``,
        ``audio [B, L, audio_dim, 4*(k+1)*F]``. All noisy and sink tokens go through the layers together;
        sink queries see only sink keys; the queries of block j see blocks ``max(0, j-window+1)..j``
        (``window_blocks`` = cache capacity in blocks, default all) and the sink with the reference
        shifted by ``ref_rope_shifts[j]``. Audio is encoded block by block like upstream. Several speakers:
        ``audio [A, ...]`` with batch-1 latents and ``audio_mask [A, h*w]`` as in :meth:`forward_block`.
        """
        cfg = self.config
        fpb = cfg.num_frames_per_block
        b, _, total_f = latents.shape[:3]
        if total_f % fpb:
            raise ValueError(f"{total_f} latent frames is not a multiple of {fpb}")
        nblocks = total_f // fpb
        shifts = list(ref_rope_shifts) if ref_rope_shifts is not None else [0] * nblocks
        window = window_blocks or nblocks
        ctx = self.embed_text(context)

        x, grid = self._embed_noisy(latents, cond_latents)
        tpf = grid[1] * grid[2]
        bt = tpf * fpb
        n_noisy = x.shape[1]
        t = self._normalize_t(timesteps, b, total_f)
        e_frame, e0 = self.time_embed(t)
        e_noisy = e0.repeat_interleave(tpf, dim=1)
        audio_parts = [self.encode_audio(audio[..., 4 * fpb * j : 4 * fpb * (j + 1)]) for j in range(nblocks)]
        tokens = torch.cat([p[0] for p in audio_parts], dim=1)
        glob = None if audio_parts[0][1] is None else torch.cat([p[1] for p in audio_parts], dim=1)
        self._check_actors(tokens.shape[0], b, audio_mask)

        sink, sink_pos, num_ref = self._embed_sink(
            ref_latents, motion_latents, add_last_motion * int(cfg.add_last_motion), drop_motion
        )
        e_sink = self._sink_modulation(b).expand(b, sink.shape[1], 6, cfg.dim)
        h = torch.cat([x, sink], dim=1)
        e = torch.cat([e_noisy, e_sink], dim=1)

        first_frame = first_block_index * fpb
        n_cos, n_sin = self.rope.tables(self._noisy_positions(first_frame, (total_f, grid[1], grid[2])), self.device)
        s_cos0, s_sin0 = self.rope.tables(sink_pos, self.device)
        shifted = [self._shifted_sink_tables(sink_pos, num_ref, s) for s in shifts]

        def attend(q, k, v):
            qn, kn = self.rope.apply(q[:, :n_noisy], n_cos, n_sin), self.rope.apply(k[:, :n_noisy], n_cos, n_sin)
            qs, ks_raw, vs = q[:, n_noisy:], k[:, n_noisy:], v[:, n_noisy:]
            outs = []
            for j in range(nblocks):
                lo = max(0, j - window + 1) * bt
                s_cos, s_sin = shifted[j]
                keys = torch.cat([kn[:, lo : (j + 1) * bt], self.rope.apply(ks_raw, s_cos, s_sin)], dim=1)
                vals = torch.cat([v[:, lo : (j + 1) * bt], vs], dim=1)
                outs.append(_sdpa(qn[:, j * bt : (j + 1) * bt], keys, vals))
            ks = self.rope.apply(ks_raw, s_cos0, s_sin0)
            outs.append(_sdpa(self.rope.apply(qs, s_cos0, s_sin0), ks, vs))
            return torch.cat(outs, dim=1)

        for i in range(len(self.blocks)):
            with self.resident_block(i) as block:
                h = block(h, e, ctx, attend)
                if i in self.audio_injector.layer_to_injector:
                    injected = self.audio_injector(i, h[:, :n_noisy], tokens, glob, audio_mask)
                    h = torch.cat([injected, h[:, n_noisy:]], dim=1)
        out = self.head(h[:, :n_noisy], e_frame, tpf)
        return self._unpatchify(out, (total_f, grid[1], grid[2])).float()


# ----------------------------------------------------------------------------- loading
def load_dit_state_dict(model: nn.Module, state_dict: Mapping[str, Tensor], assign: bool = False) -> None:
    """Strictly load a DiT state dict; raise ``ValueError`` naming every missing, unexpected or
    shape-mismatched key (at most 20 of each are listed, with the counts)."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = sorted(
        f"{k}: checkpoint {tuple(state_dict[k].shape)} != model {tuple(expected[k].shape)}"
        for k in set(expected) & set(state_dict)
        if tuple(state_dict[k].shape) != tuple(expected[k].shape)
    )
    problems = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("shape-mismatched", mismatched)):
        if items:
            shown = ", ".join(items[:20]) + (f", ... (+{len(items) - 20} more)" if len(items) > 20 else "")
            problems.append(f"{len(items)} {label} key(s): {shown}")
    if problems:
        raise ValueError("DiT state dict does not match the model: " + "; ".join(problems))
    model.load_state_dict(dict(state_dict), strict=True, assign=assign)
