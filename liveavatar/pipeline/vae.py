"""Wan 2.1 video VAE (``Wan2.1_VAE.pth``, original key names) as ``diffusers.AutoencoderKLWan``.

The original file uses Wan's module names (``wan/modules/vae2_1.py``: ``encoder.downsamples.N``,
``decoder.upsamples.N`` flat Sequentials, ``residual.{0,2,3,6}``, ``middle.{0,1,2}``, ``head.{0,2}``,
top-level ``conv1``/``conv2``). They are renamed here by an explicit map to diffusers' names (the
renaming rules are those of diffusers' ``scripts/convert_wan_to_diffusers.py::convert_vae``, written
out generally for any ``base_dim``). The model is built from a local config: never from the hub.

Latents are normalised as Wan does (``Wan2_1_VAE``): ``z = (mu - mean) / std`` per channel on encode,
``mu = z * std + mean`` before decoding; encode uses the posterior mean (no sampling); decoded video is
clamped to [-1, 1].
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from .text import CheckpointKeyError

VAE_CHECKPOINT = "Wan2.1_VAE.pth"

# wan/modules/vae2_1.py, Wan2_1_VAE.__init__ (same values as diffusers' AutoencoderKLWan defaults)
LATENTS_MEAN = (
    -0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
    0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921,
)
LATENTS_STD = (
    2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
    3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160,
)

# Wan 2.1 VAE architecture (vae2_1.py `_video_vae`): only base_dim / z_dim vary in our tiny files.
DIM_MULT = (1, 2, 4, 4)
NUM_RES_BLOCKS = 2
TEMPORAL_DOWNSAMPLE = (False, True, True)
TEMPORAL_STRIDE = 4
SPATIAL_STRIDE = 8

_RES = {  # ResidualBlock.residual Sequential index -> diffusers WanResidualBlock attribute
    "residual.0.gamma": "norm1.gamma",
    "residual.2.weight": "conv1.weight",
    "residual.2.bias": "conv1.bias",
    "residual.3.gamma": "norm2.gamma",
    "residual.6.weight": "conv2.weight",
    "residual.6.bias": "conv2.bias",
    "shortcut.weight": "conv_shortcut.weight",
    "shortcut.bias": "conv_shortcut.bias",
}
_TOP = {
    "conv1.weight": "quant_conv.weight",
    "conv1.bias": "quant_conv.bias",
    "conv2.weight": "post_quant_conv.weight",
    "conv2.bias": "post_quant_conv.bias",
    "encoder.conv1.weight": "encoder.conv_in.weight",
    "encoder.conv1.bias": "encoder.conv_in.bias",
    "decoder.conv1.weight": "decoder.conv_in.weight",
    "decoder.conv1.bias": "decoder.conv_in.bias",
    "encoder.head.0.gamma": "encoder.norm_out.gamma",
    "encoder.head.2.weight": "encoder.conv_out.weight",
    "encoder.head.2.bias": "encoder.conv_out.bias",
    "decoder.head.0.gamma": "decoder.norm_out.gamma",
    "decoder.head.2.weight": "decoder.conv_out.weight",
    "decoder.head.2.bias": "decoder.conv_out.bias",
}
_ATTN = ("norm.gamma", "to_qkv.weight", "to_qkv.bias", "proj.weight", "proj.bias")
_RESAMPLE = ("resample.1.weight", "resample.1.bias", "time_conv.weight", "time_conv.bias")


def vae_key_to_diffusers(key: str, num_res_blocks: int = NUM_RES_BLOCKS) -> str:
    """Map one original Wan VAE key to its ``AutoencoderKLWan`` name (KeyError naming it if unknown)."""
    if key in _TOP:
        return _TOP[key]
    m = re.match(r"^(encoder|decoder)\.middle\.(\d)\.(.+)$", key)
    if m:
        side, idx, rest = m.group(1), int(m.group(2)), m.group(3)
        if idx in (0, 2) and rest in _RES:  # middle = [res, attn, res]
            return f"{side}.mid_block.resnets.{idx // 2}.{_RES[rest]}"
        if idx == 1 and rest in _ATTN:
            return f"{side}.mid_block.attentions.0.{rest}"
    m = re.match(r"^encoder\.downsamples\.(\d+)\.(.+)$", key)
    if m:  # diffusers keeps the encoder's flat list: same index
        idx, rest = m.group(1), m.group(2)
        if rest in _RES:
            return f"encoder.down_blocks.{idx}.{_RES[rest]}"
        if rest in _RESAMPLE:
            return f"encoder.down_blocks.{idx}.{rest}"
    m = re.match(r"^decoder\.upsamples\.(\d+)\.(.+)$", key)
    if m:  # flat [res x (n+1), resample] per level  ->  up_blocks.L.{resnets.j, upsamplers.0}
        idx, rest = int(m.group(1)), m.group(2)
        group = num_res_blocks + 2
        level, j = divmod(idx, group)
        if j <= num_res_blocks and rest in _RES:
            return f"decoder.up_blocks.{level}.resnets.{j}.{_RES[rest]}"
        if j == num_res_blocks + 1 and rest in _RESAMPLE:
            return f"decoder.up_blocks.{level}.upsamplers.0.{rest}"
    raise CheckpointKeyError(f"unexpected key in VAE checkpoint: {key!r}")


def diffusers_key_to_vae(key: str, num_res_blocks: int = NUM_RES_BLOCKS) -> str:
    """Inverse of :func:`vae_key_to_diffusers` (used by the tiny-checkpoint writer)."""
    inv_top = {v: k for k, v in _TOP.items()}
    inv_res = {v: k for k, v in _RES.items()}
    if key in inv_top:
        return inv_top[key]
    m = re.match(r"^(encoder|decoder)\.mid_block\.resnets\.(\d)\.(.+)$", key)
    if m and m.group(3) in inv_res:
        return f"{m.group(1)}.middle.{int(m.group(2)) * 2}.{inv_res[m.group(3)]}"
    m = re.match(r"^(encoder|decoder)\.mid_block\.attentions\.0\.(.+)$", key)
    if m and m.group(2) in _ATTN:
        return f"{m.group(1)}.middle.1.{m.group(2)}"
    m = re.match(r"^encoder\.down_blocks\.(\d+)\.(.+)$", key)
    if m:
        if m.group(2) in inv_res:
            return f"encoder.downsamples.{m.group(1)}.{inv_res[m.group(2)]}"
        if m.group(2) in _RESAMPLE:
            return f"encoder.downsamples.{m.group(1)}.{m.group(2)}"
    group = num_res_blocks + 2
    m = re.match(r"^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$", key)
    if m and m.group(3) in inv_res:
        return f"decoder.upsamples.{int(m.group(1)) * group + int(m.group(2))}.{inv_res[m.group(3)]}"
    m = re.match(r"^decoder\.up_blocks\.(\d+)\.upsamplers\.0\.(.+)$", key)
    if m and m.group(2) in _RESAMPLE:
        return f"decoder.upsamples.{int(m.group(1)) * group + num_res_blocks + 1}.{m.group(2)}"
    raise CheckpointKeyError(f"no original Wan name for AutoencoderKLWan key {key!r}")


def vae_config(base_dim: int = 96, z_dim: int = 16) -> dict:
    """Local ``AutoencoderKLWan`` config for the Wan 2.1 VAE (base_dim 96, z_dim 16 in the real file)."""
    return dict(
        base_dim=base_dim,
        z_dim=z_dim,
        dim_mult=list(DIM_MULT),
        num_res_blocks=NUM_RES_BLOCKS,
        attn_scales=[],
        temperal_downsample=list(TEMPORAL_DOWNSAMPLE),
        dropout=0.0,
        latents_mean=list(LATENTS_MEAN[:z_dim]) if z_dim == 16 else [0.0] * z_dim,
        latents_std=list(LATENTS_STD[:z_dim]) if z_dim == 16 else [1.0] * z_dim,
    )


def convert_vae_state_dict(state_dict: dict[str, torch.Tensor], expected: dict[str, torch.Size]
                           ) -> dict[str, torch.Tensor]:
    """Rename every original key; fail naming any unknown, missing, extra or wrongly-shaped key."""
    out: dict[str, torch.Tensor] = {}
    unexpected = []
    for k, v in state_dict.items():
        try:
            out[vae_key_to_diffusers(k)] = v
        except CheckpointKeyError:
            unexpected.append(k)
    missing = sorted(set(expected) - set(out))
    extra = sorted(set(out) - set(expected))
    bad_shape = sorted(k for k in set(out) & set(expected) if tuple(out[k].shape) != tuple(expected[k]))
    if unexpected or missing or extra or bad_shape:
        parts = []
        if unexpected:
            parts.append(f"unexpected keys in the .pth: {unexpected[:10]}")
        if missing:
            parts.append(f"missing keys: {[_orig_name(k) for k in missing[:10]]}")
        if extra:
            parts.append(f"keys the model does not have: {extra[:10]}")
        if bad_shape:
            parts.append("shape mismatch: " + ", ".join(
                f"{_orig_name(k)} {tuple(out[k].shape)} != {tuple(expected[k])}" for k in bad_shape[:10]))
        raise CheckpointKeyError("VAE checkpoint does not match AutoencoderKLWan: " + "; ".join(parts))
    return out


def _orig_name(key: str) -> str:
    try:
        return diffusers_key_to_vae(key)
    except CheckpointKeyError:
        return key


def load_wan_vae(path: str | Path, dtype: torch.dtype = torch.float32):
    """Build ``AutoencoderKLWan`` from Wan's original ``Wan2.1_VAE.pth`` (CPU, eval mode)."""
    from diffusers import AutoencoderKLWan

    sd = torch.load(str(path), map_location="cpu", weights_only=True)
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    for need in ("encoder.conv1.weight", "conv2.weight"):
        if need not in sd:
            raise CheckpointKeyError(f"VAE checkpoint lacks {need!r}; is this Wan2.1_VAE.pth?")
    base_dim = int(sd["encoder.conv1.weight"].shape[0])
    z_dim = int(sd["conv2.weight"].shape[0])
    with torch.device("meta"):
        model = AutoencoderKLWan(**vae_config(base_dim=base_dim, z_dim=z_dim))
    expected = {k: v.shape for k, v in model.state_dict().items()}
    converted = convert_vae_state_dict(sd, expected)
    model.load_state_dict({k: v.to(dtype) for k, v in converted.items()}, strict=True, assign=True)
    return model.eval().requires_grad_(False)


class VideoVAE:
    """Wan 2.1 VAE: video ``[B,3,T,H,W]`` in [-1,1]  <->  normalised latents ``[B,16,1+(T-1)/4,H/8,W/8]``."""

    def __init__(self, model, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32):
        self.model = model
        self.device = torch.device(device)
        self.dtype = dtype
        z = model.config.z_dim
        self.mean = torch.tensor(model.config.latents_mean, dtype=torch.float32).view(1, z, 1, 1, 1)
        self.std = torch.tensor(model.config.latents_std, dtype=torch.float32).view(1, z, 1, 1, 1)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: torch.device | str = "cpu",
                        dtype: torch.dtype = torch.float32) -> "VideoVAE":
        path = Path(path)
        if path.is_dir():
            path = path / VAE_CHECKPOINT
        if not path.is_file():
            raise FileNotFoundError(f"VAE weights not found: {path}")
        model = load_wan_vae(path, dtype=dtype).to(device)
        return cls(model, device=device, dtype=dtype)

    @property
    def z_dim(self) -> int:
        return self.model.config.z_dim

    def normalize(self, mu: torch.Tensor) -> torch.Tensor:
        return (mu.float() - self.mean.to(mu.device)) / self.std.to(mu.device)

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        return z.float() * self.std.to(z.device) + self.mean.to(z.device)

    @staticmethod
    def latent_frames(num_frames: int) -> int:
        return 1 + (num_frames - 1) // TEMPORAL_STRIDE

    @torch.no_grad()
    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """``[B,3,T,H,W]`` in [-1,1] (T = 1+4k, H,W multiples of 8) -> normalised float32 latents."""
        if video.ndim != 5 or video.shape[1] != 3:
            raise ValueError(f"expected video [B,3,T,H,W], got {tuple(video.shape)}")
        if video.shape[-1] % SPATIAL_STRIDE or video.shape[-2] % SPATIAL_STRIDE:
            raise ValueError(f"height and width must be multiples of {SPATIAL_STRIDE}: {tuple(video.shape)}")
        dev = next(self.model.parameters()).device
        posterior = self.model.encode(video.to(dev, self.dtype)).latent_dist
        return self.normalize(posterior.mode())

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalised latents ``[B,16,t,h,w]`` -> float32 video ``[B,3,1+4(t-1),8h,8w]`` in [-1,1]."""
        if latents.ndim != 5 or latents.shape[1] != self.z_dim:
            raise ValueError(f"expected latents [B,{self.z_dim},t,h,w], got {tuple(latents.shape)}")
        dev = next(self.model.parameters()).device
        z = self.denormalize(latents.to(dev)).to(self.dtype)
        return self.model.decode(z).sample.float().clamp_(-1, 1)

    def decode_clip(self, motion_latents: torch.Tensor, clip_latents: torch.Tensor,
                    infer_frames: int) -> torch.Tensor:
        """Decode one clip "online" as upstream does: decode ``[motion, clip]`` together (so the causal
        decoder sees the history) and keep the last ``infer_frames`` frames."""
        video = self.decode(torch.cat([motion_latents.to(clip_latents), clip_latents], dim=2))
        return video[:, :, -infer_frames:]

    def offload(self) -> None:
        self.model.to("cpu")
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


class OnlineDecoder:
    """Per-clip decoding with a sliding history (Live Avatar ``enable_online_decode``).

    Holds the last ``motion_frames`` (73) decoded frames; each clip is decoded together with the
    current motion latents, its last ``infer_frames`` frames are returned (the first clip also drops
    its first ``first_clip_trim`` = 3 frames, as upstream does), the history slides and is re-encoded
    into the next motion latents. Memory stays bounded by one clip + history, however long the video.
    """

    def __init__(self, vae: VideoVAE, history: torch.Tensor, infer_frames: int,
                 motion_frames: int = 73, first_clip_trim: int = 3):
        if history.shape[2] != motion_frames:
            raise ValueError(f"history must hold {motion_frames} frames, got {history.shape[2]}")
        self.vae = vae
        self.history = history.float()
        self.infer_frames = infer_frames
        self.motion_frames = motion_frames
        self.first_clip_trim = first_clip_trim
        self.motion_latents = vae.encode(self.history)
        self.clips_done = 0

    def push(self, clip_latents: torch.Tensor) -> torch.Tensor:
        """Decode one clip's latents; returns its new frames ``[B,3,n,H,W]`` (float32, [-1,1])."""
        frames = self.vae.decode_clip(self.motion_latents, clip_latents, self.infer_frames)
        if self.clips_done == 0 and self.first_clip_trim:
            frames = frames[:, :, self.first_clip_trim:]
        n = min(self.motion_frames, frames.shape[2])
        self.history = torch.cat([self.history[:, :, n:], frames[:, :, -n:].to(self.history)], dim=2)
        self.motion_latents = self.vae.encode(self.history)
        self.clips_done += 1
        return frames


class BlockDecoder:
    """:class:`OnlineDecoder`'s frames, a block at a time (live mode), at the cost of one clip decode.

    The Wan decoder is causal in time and diffusers' ``AutoencoderKLWan._decode`` already runs it one
    latent frame at a time, carrying each causal convolution's last inputs in a cache list. Here that
    cache lives across calls, so a block's 3 latent frames give its 12 frames as soon as it is
    denoised, instead of after the whole clip; diffusers has no public API for a cache that outlives a
    call, hence this loop over its decoder module (the same calls ``_decode`` makes). At each clip's
    start the cache is cleared and the motion latents are run through first, exactly as
    ``decode_clip`` decodes ``[motion, clip]``; at its end the history slides as in
    :meth:`OnlineDecoder.push` (first clip untrimmed, as the pipeline uses it).
    """

    def __init__(self, vae: VideoVAE, history: torch.Tensor, infer_frames: int, motion_frames: int = 73):
        if history.shape[2] != motion_frames:
            raise ValueError(f"history must hold {motion_frames} frames, got {history.shape[2]}")
        if infer_frames % TEMPORAL_STRIDE:
            raise ValueError(f"frames per clip must be a multiple of {TEMPORAL_STRIDE}; got {infer_frames}")
        self.vae = vae
        self.history = history.float()
        self.infer_frames = infer_frames
        self.motion_frames = motion_frames
        self.motion_latents = vae.encode(self.history)
        self._cache: list | None = None
        self._clip: list[torch.Tensor] = []  # this clip's frames so far

    @torch.no_grad()
    def _run(self, latents: torch.Tensor, first: bool) -> torch.Tensor:
        model = self.vae.model
        dev = next(model.parameters()).device
        x = model.post_quant_conv(self.vae.denormalize(latents.to(dev)).to(self.vae.dtype))
        out = []
        for i in range(x.shape[2]):
            out.append(model.decoder(x[:, :, i : i + 1], feat_cache=self._cache, feat_idx=[0], first_chunk=first and i == 0))
        return torch.cat(out, dim=2).float().clamp_(-1, 1)

    def push(self, block_latents: torch.Tensor) -> torch.Tensor:
        """Decode one block's latents (in order); returns its frames ``[B,3,4t,H,W]`` (float32, [-1,1])."""
        if not self._clip:  # a clip starts: a fresh cache primed with the motion history
            self._cache = [None] * model_conv_count(self.vae.model)
            self._run(self.motion_latents, first=True)
        frames = self._run(block_latents, first=False)
        self._clip.append(frames)
        made = sum(f.shape[2] for f in self._clip)
        if made > self.infer_frames:
            raise ValueError(f"blocks overran the clip of {self.infer_frames} frames")
        if made == self.infer_frames:
            clip = torch.cat(self._clip, dim=2)
            n = min(self.motion_frames, clip.shape[2])
            self.history = torch.cat([self.history[:, :, n:], clip[:, :, -n:].to(self.history)], dim=2)
            self.motion_latents = self.vae.encode(self.history)
            self._clip = []
            self._cache = None
        return frames


def model_conv_count(model) -> int:
    """Causal convolutions in the decoder: the length of the cache list its forward fills."""
    from diffusers.models.autoencoders.autoencoder_kl_wan import WanCausalConv3d

    return sum(isinstance(m, WanCausalConv3d) for m in model.decoder.modules())


def write_tiny_vae(path: str | Path, *, base_dim: int = 8, z_dim: int = 16, seed: int = 0) -> Path:
    """Write a tiny random Wan 2.1 VAE .pth in the ORIGINAL Wan key names (float32 flat state dict)."""
    from diffusers import AutoencoderKLWan

    path = Path(path)
    if path.suffix != ".pth":
        path = path / VAE_CHECKPOINT
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoencoderKLWan(**vae_config(base_dim=base_dim, z_dim=z_dim))
    sd = {diffusers_key_to_vae(k): v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    torch.save(sd, path)
    return path


__all__ = [
    "BlockDecoder", "LATENTS_MEAN", "LATENTS_STD", "OnlineDecoder", "VAE_CHECKPOINT", "VideoVAE", "convert_vae_state_dict",
    "diffusers_key_to_vae", "load_wan_vae", "vae_config", "vae_key_to_diffusers", "write_tiny_vae",
]
