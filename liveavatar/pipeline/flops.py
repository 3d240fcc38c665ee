"""How much arithmetic one denoising step of one block costs, counted from the config (no model needed).

Why analytic: the benchmark (``benchmarks/pipeline_speed.py``) reports the achieved fraction of the
GPU's peak FLOP/s, and the plan's time estimate rests on a FLOP figure; both need the count for any
size, step count and cache fill without running (or even building) the 16 B-parameter model. The
count follows :meth:`CausalS2VTransformer.forward_block` term by term, the convention of
``torch.utils.flop_counter`` (a matmul ``[m, k] x [k, n]`` is ``2 m k n``; biases, norms, RoPE and
other element-wise work are not counted), so a test can compare it with torch's own counter run on
the meta device.

What one ``forward_block`` call does (``N`` = the block's noisy tokens = frames x tokens per frame):

* per layer: self-attention q, k, v, o and cross-attention q, o and the FFN on the ``N`` block tokens
  (``2 x params x N``: about 24 GFLOP per token at the full config); cross-attention k, v on the
  ``text_len`` (512) padded text tokens; attention ``4 x Lq x Lk x dim`` over the keys = the filled
  noisy cache (earlier blocks + this block) + the sink (reference + FramePack motion tokens), and
  over the text tokens;
* per audio-injected layer (12 at full size): the injector's cross-attention (q, o on the block
  tokens, k, v on ``frames x (num_audio_token + 1)`` audio tokens) and its AdaLN projection, once per
  speaking person (several people: each track's residual is computed from the same tokens);
* once per call: the text embedding MLP on the 512 text tokens, the patch and pose-condition
  embeddings, the time embedding, the causal audio encoder (convolutions over 73 + 4F frames) and
  the head.

The one-off sink prefill (once per video) and the VAE are not in these figures: they don't grow with
the video's length. With several people the causal audio encoder also runs once per track.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from liveavatar.pipeline.config import S2VConfig

__all__ = [
    "LatentGrid",
    "StepFlops",
    "block_step_flops",
    "clip_flops",
    "flops_per_frame",
    "latent_grid",
    "sink_tokens",
    "step_flops",
]

VAE_SPATIAL = 8  # pixels per latent pixel
VAE_TEMPORAL = 4  # video frames per latent frame


@dataclass(frozen=True)
class LatentGrid:
    """Token counts of a video size: what the FLOPs and the KV cache depend on."""

    latent_height: int
    latent_width: int
    tokens_per_frame: int  # noisy tokens per latent frame (after the (1, 2, 2) patchify)
    block_tokens: int  # one block's noisy tokens (frames_per_block latent frames)
    sink_tokens: int  # reference + FramePack motion tokens (per layer, shared by every step's cache)
    cache_capacity: int  # one clip's noisy tokens (the per-step cache wraps after this)


def sink_tokens(config: S2VConfig, latent_height: int, latent_width: int) -> int:
    """Reference frame + FramePack motion tokens for a latent size.

    The reference is one latent frame at the patch size; FramePack (:class:`FramePackMotioner`) packs
    the 19 motion frames newest first as 1 frame at 1x (conv ``(1, 2, 2)``), 2 frames at 2x (conv
    ``(2, 4, 4)``: one token map) and 16 frames at 4x (conv ``(4, 8, 8)``: four token maps). At
    704x384 that is 1056 + 1056 + 264 + 264 = 2640 tokens."""
    pt, ph, pw = config.patch_size
    ref = (latent_height // ph) * (latent_width // pw)
    if not config.enable_framepack:
        return ref
    b1, b2, b4 = config.frame_buckets
    x1 = b1 * (latent_height // 2) * (latent_width // 2)
    x2 = (b2 // 2) * (latent_height // 4) * (latent_width // 4)
    x4 = (b4 // 4) * (latent_height // 8) * (latent_width // 8)
    use_2x = True
    if config.framepack_drop_mode == "drop" and not config.add_last_motion:
        x1, use_2x = 0, False  # upstream drops the 1x and 2x parts when the last motion isn't added
    return ref + x1 + (x2 if use_2x else 0) + x4


def latent_grid(config: S2VConfig, width: int, height: int, frames_per_clip: int = 48) -> LatentGrid:
    """The token counts of a ``width`` x ``height`` video with ``frames_per_clip`` frames per clip."""
    _, ph, pw = config.patch_size
    lat_h, lat_w = height // VAE_SPATIAL, width // VAE_SPATIAL
    tpf = (lat_h // ph) * (lat_w // pw)
    fpb = config.num_frames_per_block
    return LatentGrid(
        latent_height=lat_h,
        latent_width=lat_w,
        tokens_per_frame=tpf,
        block_tokens=fpb * tpf,
        sink_tokens=sink_tokens(config, lat_h, lat_w),
        cache_capacity=(frames_per_clip // VAE_TEMPORAL) * tpf,
    )


@dataclass(frozen=True)
class StepFlops:
    """FLOPs of one ``forward_block`` call (one denoising step of one block), by part."""

    tokens: int  # the block's noisy tokens (the ones the step produces)
    block_linear: int  # self-attn q/k/v/o, cross-attn q/o and FFN on the block tokens, every layer
    text_kv: int  # cross-attn k/v on the padded text tokens, every layer
    audio_linear: int  # audio injectors: q/o on the block tokens, k/v on the audio tokens, AdaLN
    self_attention: int  # QK^T and AV over cache + block + sink keys
    cross_attention: int  # QK^T and AV over the text tokens
    audio_attention: int  # injector attention (per frame, over that frame's audio tokens)
    embeddings: int  # text MLP, patch/cond embeddings, time embedding, audio encoder, head

    @property
    def linear(self) -> int:
        return self.block_linear + self.text_kv + self.audio_linear

    @property
    def attention(self) -> int:
        return self.self_attention + self.cross_attention + self.audio_attention

    @property
    def total(self) -> int:
        return self.linear + self.attention + self.embeddings

    @property
    def fp8_eligible(self) -> int:
        """The FLOPs in the layers ``SpeedOptions.fp8`` converts (the blocks' attention projections and
        FFN): the rest runs in the model's dtype whatever the options."""
        return self.block_linear + self.text_kv

    def per_token(self) -> dict[str, float]:
        """FLOPs per block token by kind (the issue's "24 GFLOP per token per step" is ``block_linear``)."""
        return {"block_linear": self.block_linear / self.tokens, "linear": self.linear / self.tokens,
                "attention": self.attention / self.tokens, "total": self.total / self.tokens}


def _conv1d(chan_in: int, chan_out: int, length: int, kernel: int = 3, stride: int = 1, batch: int = 1
            ) -> tuple[int, int]:
    """FLOPs and output length of a causal (left-padded by ``kernel - 1``) Conv1d."""
    out_len = (length - 1) // stride + 1
    return 2 * batch * out_len * chan_out * chan_in * kernel, out_len


def _audio_encoder_flops(config: S2VConfig, frames: int) -> int:
    """The causal audio encoder's convolutions for one block (``AudioMotionEncoder``): it runs over the
    block's ``4 x frames`` audio frames left-padded with ``motion_frames`` copies (all computed, the
    first ``lat_motion_frames`` outputs are then dropped)."""
    length = config.motion_frames + VAE_TEMPORAL * frames
    dim, quarter, n = config.dim, config.dim // 4, config.num_audio_token
    total, _ = _conv1d(config.audio_dim, quarter * n, length)
    f2, l2 = _conv1d(quarter, dim // 2, length, stride=2, batch=n)
    f3, l3 = _conv1d(dim // 2, dim, l2, stride=2, batch=n)
    total += f2 + f3
    if config.enable_adain:
        g1, _ = _conv1d(config.audio_dim, quarter, length)
        g2, _ = _conv1d(quarter, dim // 2, length, stride=2)
        g3, _ = _conv1d(dim // 2, dim, l2, stride=2)
        total += g1 + g2 + g3 + 2 * l3 * dim * dim  # + final_linear
    return total


def step_flops(config: S2VConfig, tokens_per_frame: int, cache_tokens: int, sink: int,
               text_len: int | None = None, frames: int | None = None, people: int = 1) -> StepFlops:
    """FLOPs of one denoising step of one block (one ``forward_block`` call, batch 1).

    ``cache_tokens``: the noisy keys the block attends to, *including its own* (``forward_block``
    writes the block into the cache first): ``(blocks so far + 1) x block_tokens`` in the first clip,
    the cache capacity (one clip) after it. ``sink``: the reference + motion tokens (:func:`sink_tokens`).
    ``text_len``: the padded text length (the DiT pads every prompt to ``config.text_len`` and attends to
    the padding). ``frames``: latent frames per block (``config.num_frames_per_block``). ``people``: the
    speech tracks (each adds one audio encoder pass and one injector pass per injected layer).
    """
    frames = config.num_frames_per_block if frames is None else frames
    text_len = config.text_len if text_len is None else text_len
    d, layers = config.dim, config.num_layers
    n = frames * tokens_per_frame
    # per layer: q, k, v, o (4 d^2) + cross q, o (2 d^2) + FFN (2 d ffn) on the block tokens
    block_linear = 2 * layers * n * (6 * d * d + 2 * d * config.ffn_dim)
    text_kv = 2 * layers * text_len * 2 * d * d
    self_attention = 4 * layers * n * (cache_tokens + sink) * d
    cross_attention = 4 * layers * n * text_len * d

    inject = len(config.audio_inject_layers)
    audio_tokens = frames * (config.num_audio_token + 1)
    adain = 2 * frames * d * 2 * d if config.enable_adain else 0
    audio_linear = people * inject * (2 * n * 2 * d * d + 2 * audio_tokens * 2 * d * d + adain)
    audio_attention = people * inject * 4 * n * (config.num_audio_token + 1) * d

    patch = math.prod(config.patch_size)
    embeddings = 2 * n * d * config.in_dim * patch  # patch embedding
    if config.cond_dim > 0:
        embeddings += 2 * n * d * config.cond_dim * patch  # pose-condition embedding (zeros when no pose)
    embeddings += 2 * text_len * (config.text_dim * d + d * d)  # text MLP, every call
    embeddings += 2 * frames * (config.freq_dim * d + d * d + d * 6 * d)  # time embedding + projection
    embeddings += people * _audio_encoder_flops(config, frames)
    embeddings += 2 * n * d * patch * config.out_dim  # head
    return StepFlops(
        tokens=n, block_linear=block_linear, text_kv=text_kv, audio_linear=audio_linear,
        self_attention=self_attention, cross_attention=cross_attention, audio_attention=audio_attention,
        embeddings=embeddings,
    )


def block_step_flops(config: S2VConfig, width: int, height: int, frames_per_clip: int, block_index: int,
                     people: int = 1) -> StepFlops:
    """One denoising step of absolute block ``block_index`` (counted across clips) at a video size:
    the cache holds ``block_index + 1`` blocks until it is full (one clip), then stays full."""
    grid = latent_grid(config, width, height, frames_per_clip)
    cache = min((block_index + 1) * grid.block_tokens, grid.cache_capacity)
    return step_flops(config, grid.tokens_per_frame, cache, grid.sink_tokens, people=people)


def clip_flops(config: S2VConfig, width: int, height: int, steps: int, frames_per_clip: int,
               clip_index: int = 1) -> int:
    """DiT FLOPs of clip ``clip_index`` (0 = the first, whose cache is still filling; 1+ = steady state)."""
    blocks = frames_per_clip // VAE_TEMPORAL // config.num_frames_per_block
    first = clip_index * blocks
    return steps * sum(block_step_flops(config, width, height, frames_per_clip, first + b).total
                       for b in range(blocks))


def flops_per_frame(config: S2VConfig, width: int, height: int, steps: int, frames_per_clip: int = 48,
                    steady: bool = True) -> float:
    """DiT FLOPs per video frame: the steady state (full cache, every clip after the first) by default,
    or the first clip's average (``steady=False``). Full config, 704x384, 4 steps: about 41 TFLOP steady
    (82 TFLOP of linear layers and 41 of attention per step of a 3168-token block, over 12 frames)."""
    return clip_flops(config, width, height, steps, frames_per_clip, 1 if steady else 0) / frames_per_clip
