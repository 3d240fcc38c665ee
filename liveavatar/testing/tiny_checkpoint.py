"""A complete tiny random-weight checkpoint in the REAL on-disk layout, written in seconds on a CPU.

``python -m liveavatar.testing.tiny_checkpoint OUT_DIR`` (or :func:`write_tiny_checkpoint`) writes::

    OUT_DIR/Wan2.2-S2V-14B/config.json                                  # S2VConfig.tiny(...) + _class_name/model_type
    OUT_DIR/Wan2.2-S2V-14B/diffusion_pytorch_model-0000{1..N}-of-0000N.safetensors   # bf16 DiT shards
    OUT_DIR/Wan2.2-S2V-14B/diffusion_pytorch_model.safetensors.index.json
    OUT_DIR/Wan2.2-S2V-14B/models_t5_umt5-xxl-enc-bf16.pth + google/umt5-xxl/...     # tiny UMT5 + tokenizer
    OUT_DIR/Wan2.2-S2V-14B/Wan2.1_VAE.pth                               # tiny Wan 2.1 VAE (z_dim 16)
    OUT_DIR/Wan2.2-S2V-14B/wav2vec2-large-xlsr-53-english/              # tiny wav2vec2 (CTC) folder
    OUT_DIR/LiveAvatar/liveavatar.safetensors                           # PEFT-form LoRA for the DiT

Every part loads through the same code as the 50 GB checkpoint (``verify_checkpoint``,
``load_dit_state_dict``, ``TextEncoder`` / ``VideoVAE`` / ``AudioEncoder.from_checkpoint``,
``merge_lora``), and the sizes agree with each other (see :class:`TinySizes`): the DiT's
``text_dim`` is the T5's ``d_model``, ``audio_dim`` the wav2vec2 hidden size, ``num_audio_layers``
the wav2vec2 hidden-state count (layers + 1), ``in_dim``/``out_dim``/``cond_dim`` the VAE's ``z_dim``.

The LoRA uses rank :data:`TinySizes.lora_rank` (4); the file does not store alpha, so merge with
``merge_lora(model, state, rank=TINY.lora_rank, alpha=TINY.lora_alpha)``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from liveavatar.pipeline.checkpoint import (
    DIT_INDEX,
    LORA_DIRNAME,
    LORA_FILENAME,
    WAN_DIRNAME,
    WAV2VEC_DIR,
)
from liveavatar.pipeline.config import S2VConfig
from liveavatar.pipeline.lora import DEFAULT_TARGETS, PEFT_PREFIX

__all__ = ["TINY", "TinySizes", "tiny_dit_config", "tiny_dit_state_dict", "tiny_lora_state_dict",
           "write_tiny_checkpoint", "main"]


@dataclass(frozen=True)
class TinySizes:
    """Every size of the tiny checkpoint, in one place (the cross-part constraints are derived)."""

    # T5 (UMT5 encoder): d_model becomes the DiT's text_dim
    t5_d_model: int = 32
    t5_num_layers: int = 2
    t5_num_heads: int = 4
    t5_d_kv: int = 8
    t5_d_ff: int = 48
    t5_tokenizer_vocab: int = 96
    # VAE: z_dim becomes the DiT's in_dim / out_dim / cond_dim
    vae_base_dim: int = 8
    vae_z_dim: int = 16
    # wav2vec2: hidden_size becomes audio_dim, num_layers + 1 becomes num_audio_layers
    wav2vec_hidden: int = 32
    wav2vec_num_layers: int = 4
    wav2vec_num_heads: int = 2
    # DiT shards and LoRA
    dit_shards: int = 3
    lora_rank: int = 4
    lora_alpha: float = 4.0  # not stored in the file (as upstream); pass it to merge_lora
    lora_b_std: float = 0.05  # non-zero B, so the merge visibly changes the weights (> 1 bf16 ulp)
    lora_on_injectors: bool = True  # PEFT's targets also match audio_injector.injector.N.{q,k,v,o}


TINY = TinySizes()

# The one full (non-LoRA) tensor written with lora_full_tensors=True; it replaces this base weight.
FULL_TENSOR_KEY = "trainable_cond_mask.weight"


def tiny_dit_config(num_layers: int = 3, sizes: TinySizes = TINY) -> S2VConfig:
    """``S2VConfig.tiny(num_layers)`` made consistent with the tiny T5 / VAE / wav2vec2."""
    base = S2VConfig.tiny(num_layers=num_layers)
    return dataclasses.replace(
        base,
        in_dim=sizes.vae_z_dim,
        out_dim=sizes.vae_z_dim,
        cond_dim=sizes.vae_z_dim,
        text_dim=sizes.t5_d_model,
        audio_dim=sizes.wav2vec_hidden,
        num_audio_layers=sizes.wav2vec_num_layers + 1,
        extra={"_class_name": "WanModel_S2V", "model_type": "s2v"},
    )


def tiny_dit_state_dict(config: S2VConfig, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random bf16 DiT weights with exactly the keys/shapes of ``CausalS2VTransformer(config)``."""
    from liveavatar.pipeline.transformer import CausalS2VTransformer

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CausalS2VTransformer(config)
    return {k: v.detach().to(torch.bfloat16).contiguous().clone() for k, v in model.state_dict().items()}


def _lora_modules(state: dict[str, torch.Tensor], sizes: TinySizes) -> list[str]:
    """Linear modules PEFT would wrap: every block's self/cross-attn q,k,v,o and ffn.0/ffn.2
    (plus the audio injectors' q,k,v,o when ``sizes.lora_on_injectors``)."""
    mods = []
    for key, value in state.items():
        if not key.endswith(".weight") or value.dim() != 2:
            continue
        module = key[: -len(".weight")]
        if not any(module == t or module.endswith("." + t) for t in DEFAULT_TARGETS):
            continue
        if module.startswith("blocks.") or (sizes.lora_on_injectors and module.startswith("audio_injector.")):
            mods.append(module)
    return mods


def tiny_lora_state_dict(dit_state: dict[str, torch.Tensor], *, seed: int = 0, sizes: TinySizes = TINY,
                         full_tensors: bool = False) -> dict[str, torch.Tensor]:
    """PEFT-form LoRA pairs (``base_model.model.<module>.lora_{A,B}.default.weight``, bf16) for the
    targeted Linear layers of ``dit_state``; with ``full_tensors`` also one full replacement tensor."""
    g = torch.Generator().manual_seed(seed + 1)
    r = sizes.lora_rank
    out: dict[str, torch.Tensor] = {}
    for module in _lora_modules(dit_state, sizes):
        out_f, in_f = dit_state[module + ".weight"].shape
        a = torch.randn(r, in_f, generator=g) * in_f ** -0.5
        b = torch.randn(out_f, r, generator=g) * sizes.lora_b_std
        out[f"{PEFT_PREFIX}{module}.lora_A.default.weight"] = a.to(torch.bfloat16).contiguous()
        out[f"{PEFT_PREFIX}{module}.lora_B.default.weight"] = b.to(torch.bfloat16).contiguous()
    if full_tensors:
        ref = dit_state[FULL_TENSOR_KEY]
        out[PEFT_PREFIX + FULL_TENSOR_KEY] = torch.randn(ref.shape, generator=g).to(ref.dtype).contiguous()
    return out


def _shard_names(n: int) -> list[str]:
    return [f"diffusion_pytorch_model-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)]


def _write_dit(wan_dir: Path, state: dict[str, torch.Tensor], num_shards: int) -> None:
    """Split ``state`` in module order into ``num_shards`` runs of (nearly) equal key counts and
    write the shards + the index (``metadata.total_size`` = the tensors' bytes, as upstream)."""
    from safetensors.torch import save_file

    keys = list(state)
    num_shards = max(1, min(num_shards, len(keys)))
    total = sum(t.numel() * t.element_size() for t in state.values())
    names = _shard_names(num_shards)
    shards: list[dict[str, torch.Tensor]] = [{} for _ in range(num_shards)]
    for i, k in enumerate(keys):
        shards[i * num_shards // len(keys)][k] = state[k]
    weight_map: dict[str, str] = {}
    for name, shard in zip(names, shards):
        save_file(shard, str(wan_dir / name), metadata={"format": "pt"})
        weight_map.update({k: name for k in shard})
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (wan_dir / DIT_INDEX).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")


def write_tiny_checkpoint(out_dir: str | Path, *, seed: int = 0, num_layers: int = 3, lora: bool = True,
                          lora_full_tensors: bool = False) -> Path:
    """Write the tiny checkpoint under ``out_dir`` (standard layout) and return ``out_dir``.

    ``lora=False`` skips ``LiveAvatar/liveavatar.safetensors`` (the layout then fails verification
    for the missing LoRA, which is sometimes what a test wants). ``lora_full_tensors`` adds one full
    tensor (``base_model.model.trainable_cond_mask.weight``) that replaces the base weight on merge.
    """
    from safetensors.torch import save_file

    from liveavatar.pipeline.audio import write_tiny_wav2vec2
    from liveavatar.pipeline.text import write_tiny_t5
    from liveavatar.pipeline.vae import write_tiny_vae

    sizes = TINY
    out = Path(out_dir)
    wan = out / WAN_DIRNAME
    wan.mkdir(parents=True, exist_ok=True)

    config = tiny_dit_config(num_layers, sizes)
    config.to_json(wan / "config.json")
    dit = tiny_dit_state_dict(config, seed=seed)
    _write_dit(wan, dit, sizes.dit_shards)

    write_tiny_t5(wan, d_model=sizes.t5_d_model, num_layers=sizes.t5_num_layers, num_heads=sizes.t5_num_heads,
                  d_kv=sizes.t5_d_kv, d_ff=sizes.t5_d_ff, tokenizer_vocab=sizes.t5_tokenizer_vocab, seed=seed)
    write_tiny_vae(wan, base_dim=sizes.vae_base_dim, z_dim=sizes.vae_z_dim, seed=seed)
    write_tiny_wav2vec2(wan / WAV2VEC_DIR, hidden_size=sizes.wav2vec_hidden, num_layers=sizes.wav2vec_num_layers,
                        num_heads=sizes.wav2vec_num_heads, seed=seed)

    if lora:
        lora_dir = out / LORA_DIRNAME
        lora_dir.mkdir(parents=True, exist_ok=True)
        state = tiny_lora_state_dict(dit, seed=seed, sizes=sizes, full_tensors=lora_full_tensors)
        save_file(state, str(lora_dir / LORA_FILENAME), metadata={"format": "pt"})
    return out


def _summary(out: Path) -> str:
    files = sorted(p for p in out.rglob("*") if p.is_file())
    total = sum(p.stat().st_size for p in files)
    lines = [f"{p.stat().st_size:>10,d}  {p.relative_to(out)}" for p in files]
    lines.append(f"{len(files)} files, {total:,d} bytes in total at {out}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m liveavatar.testing.tiny_checkpoint",
                                     description="Write a tiny random-weight Live Avatar checkpoint (real layout).")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-layers", type=int, default=3)
    parser.add_argument("--no-lora", action="store_true", help="do not write LiveAvatar/liveavatar.safetensors")
    parser.add_argument("--lora-full-tensors", action="store_true",
                        help="add one full tensor to the LoRA file that replaces a base weight")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    out = write_tiny_checkpoint(args.out_dir, seed=args.seed, num_layers=args.num_layers, lora=not args.no_lora,
                                lora_full_tensors=args.lora_full_tensors)
    print(_summary(out))
    print(f"written in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
