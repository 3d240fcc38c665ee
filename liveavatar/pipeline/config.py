"""Configuration of Live Avatar's causal speech-to-video DiT (Wan2.2-S2V-14B + block-wise causality).

Field names follow the checkpoint's ``config.json`` (the keyword arguments of upstream's
``WanModel_S2V`` / ``CausalWanModel_S2V`` constructors), so a real ``config.json`` loads with
:meth:`S2VConfig.from_json`. Keys that are not fields (``_class_name``, ``_diffusers_version``,
``model_type``, ``zero_init``, ...) are kept in :attr:`S2VConfig.extra` and written back by
:meth:`S2VConfig.to_json`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Upstream (Wan2.2 ``wan_s2v_14B`` config and Live Avatar) values for the 14B DiT.
_FULL_INJECT_LAYERS = (0, 4, 8, 12, 16, 20, 24, 27, 30, 33, 36, 39)


@dataclass
class S2VConfig:
    """Every hyper-parameter of the DiT. Defaults are the full 14B model."""

    patch_size: tuple[int, int, int] = (1, 2, 2)
    dim: int = 5120
    ffn_dim: int = 13824
    freq_dim: int = 256
    num_heads: int = 40
    num_layers: int = 40
    in_dim: int = 16
    out_dim: int = 16
    text_dim: int = 4096
    text_len: int = 512
    qk_norm: bool = True
    cross_attn_norm: bool = True
    eps: float = 1e-6
    window_size: tuple[int, int] = (-1, -1)
    # speech-to-video parts
    audio_dim: int = 1024
    num_audio_layers: int = 25  # wav2vec2-large hidden states averaged by casual_audio_encoder.weights
    num_audio_token: int = 4
    audio_inject_layers: tuple[int, ...] = _FULL_INJECT_LAYERS
    enable_adain: bool = True
    adain_mode: str = "attn_norm"
    cond_dim: int = 16
    zero_timestep: bool = True
    enable_motioner: bool = False
    enable_framepack: bool = True
    framepack_drop_mode: str = "padd"
    add_last_motion: bool = True
    motion_frames: int = 73
    # Live Avatar
    num_frames_per_block: int = 3
    local_attn_size: int = -1
    # numerics that reproduce upstream (see transformer.py docstrings)
    rope_theta: float = 10000.0
    rope_fp16_tables: bool = True
    bf16_cross_attn_input: bool = True
    # config.json keys that are not fields, kept verbatim
    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    # ------------------------------------------------------------------ derived
    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads

    @property
    def lat_motion_frames(self) -> int:
        """Latent frames of the motion history (73 video frames -> 19 latent frames)."""
        return (self.motion_frames + 3) // 4

    @property
    def frame_buckets(self) -> tuple[int, int, int]:
        """FramePack buckets, newest first: 1 frame at 1x, 2 at 2x, 16 at 4x compression."""
        return (1, 2, 16)

    def __post_init__(self) -> None:
        self.patch_size = tuple(int(v) for v in self.patch_size)
        self.window_size = tuple(int(v) for v in self.window_size)
        self.audio_inject_layers = tuple(int(v) for v in self.audio_inject_layers)
        self.validate()

    def validate(self) -> None:
        if self.dim % self.num_heads:
            raise ValueError(f"dim {self.dim} is not divisible by num_heads {self.num_heads}")
        if self.head_dim % 2:
            raise ValueError(f"head dim {self.head_dim} must be even for RoPE")
        if len(self.patch_size) != 3:
            raise ValueError(f"patch_size must have 3 entries, got {self.patch_size}")
        bad = [i for i in self.audio_inject_layers if not 0 <= i < self.num_layers]
        if bad:
            raise ValueError(
                f"audio_inject_layers {bad} are outside 0..{self.num_layers - 1} (num_layers={self.num_layers})"
            )
        if len(set(self.audio_inject_layers)) != len(self.audio_inject_layers):
            raise ValueError(f"audio_inject_layers has duplicates: {self.audio_inject_layers}")
        if self.enable_motioner:
            raise ValueError("enable_motioner=True (the transformer motioner) is not supported; S2V-14B uses FramePack")
        if self.adain_mode != "attn_norm" and self.enable_adain:
            raise ValueError(f"adain_mode {self.adain_mode!r} is not supported (only 'attn_norm')")
        if self.framepack_drop_mode not in ("padd", "drop"):
            raise ValueError(f"framepack_drop_mode must be 'padd' or 'drop', got {self.framepack_drop_mode!r}")

    # ------------------------------------------------------------------ presets
    @classmethod
    def full(cls) -> "S2VConfig":
        """The Wan2.2-S2V-14B / Live Avatar values (16.30 B parameters)."""
        return cls()

    @classmethod
    def tiny(cls, num_layers: int = 3) -> "S2VConfig":
        """A few-hundred-thousand-parameter config for CPU tests (a forward takes milliseconds)."""
        inject = tuple(i for i in (0, 2) if i < num_layers)
        return cls(
            dim=64,
            ffn_dim=128,
            freq_dim=32,
            num_heads=4,
            num_layers=num_layers,
            text_dim=32,
            text_len=16,
            audio_dim=32,
            num_audio_layers=5,
            audio_inject_layers=inject,
        )

    # ------------------------------------------------------------------ json
    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls) if f.name != "extra")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "S2VConfig":
        names = set(cls.field_names())
        known = {k: v for k, v in data.items() if k in names}
        extra = {k: v for k, v in data.items() if k not in names}
        return cls(**known, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        for name in self.field_names():
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_json(cls, path: str | Path) -> "S2VConfig":
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
        return cls.from_dict(data)

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
