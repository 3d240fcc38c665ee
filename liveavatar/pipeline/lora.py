"""Merge the Live Avatar LoRA into the DiT without PEFT.

Upstream wraps the DiT with ``peft.get_peft_model(LoraConfig(r=128, lora_alpha=64,
target_modules=["q","k","v","o","ffn.0","ffn.2"]))``, prefixes the file's keys with
``base_model.model.`` when they lack it, calls ``load_state_dict(strict=False)`` (so full, non-LoRA
tensors in the file replace the base weights of the same name) and then ``merge_and_unload()``.
:func:`merge_lora` does the same on a plain module:

1. every full tensor (``<name>`` or ``<module>.base_layer.<weight|bias>``) replaces the base
   parameter/buffer of that name (shape must match);
2. then, for every LoRA pair ``<module>.lora_A[.<adapter>].weight`` (shape ``[r, in]``) and
   ``<module>.lora_B[.<adapter>].weight`` (shape ``[out, r]``) on a targeted module,
   ``W += (alpha / r) * (B @ A)``, computed in float32 and cast back to ``W``'s dtype.

``r`` is read from the tensors' shape (``A.shape[0]``) and checked against ``rank`` (pass
``rank=None`` to accept any); ``alpha`` comes from the argument (the file does not store it).
Targets match like PEFT's ``target_modules`` list: a module named exactly ``t`` or ending with
``"." + t``. LoRA pairs on existing modules outside the targets are ignored (PEFT would not have
created them, and ``strict=False`` drops them), as are ``lora_B`` biases (upstream uses
``lora_bias=False``); both are listed in the report. Keys naming no module/parameter, incomplete
pairs and shape mismatches raise :class:`LoraError`.

Note: in bf16, PEFT adds ``bf16(delta)`` to the bf16 weight (two roundings); we round once
(``bf16(f32(W) + delta)``), so results may differ from PEFT by one bf16 ulp; in float32 they agree.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

PEFT_PREFIX = "base_model.model."
DEFAULT_TARGETS = ("q", "k", "v", "o", "ffn.0", "ffn.2")

_LORA_KEY = re.compile(r"^(?P<module>.+)\.lora_(?P<ab>A|B)(?:\.(?P<adapter>[^.]+))?\.(?P<kind>weight|bias)$")


class LoraError(ValueError):
    """A LoRA file does not fit the model; the message names the key and the shapes."""


@dataclass
class LoraReport:
    merged: int = 0  # modules that got W += scale * B @ A
    replaced: int = 0  # full tensors that replaced a base parameter/buffer
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)
    rank: int | None = None
    alpha: float = 0.0
    adapter: str | None = None
    merged_modules: list[str] = field(default_factory=list)
    replaced_names: list[str] = field(default_factory=list)

    @property
    def scale(self) -> float | None:
        return self.alpha / self.rank if self.rank else None

    def summary(self) -> str:
        rank = f"rank {self.rank}, alpha {self.alpha:g}, scale {self.scale:g}" if self.rank else "no LoRA pairs"
        return (f"LoRA: merged {self.merged} modules ({rank}), replaced {self.replaced} full tensors, "
                f"ignored {len(self.ignored)} keys")


def load_lora_file(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """Read a ``.safetensors`` LoRA file into a ``{key: tensor}`` dict on the CPU."""
    from safetensors.torch import load_file

    return load_file(str(path), device="cpu")


def _is_target(module_name: str, targets: Iterable[str]) -> bool:
    return any(module_name == t or module_name.endswith("." + t) for t in targets)


def _strip(key: str) -> str:
    return key[len(PEFT_PREFIX):] if key.startswith(PEFT_PREFIX) else key


@torch.no_grad()
def merge_lora(
    model: nn.Module,
    lora_state: Mapping[str, Tensor],
    *,
    rank: int | None = 128,
    alpha: float = 64,
    targets: Iterable[str] = DEFAULT_TARGETS,
) -> LoraReport:
    """Merge ``lora_state`` into ``model`` in place (see the module docstring for the rules).

    Accepts keys with or without the ``base_model.model.`` prefix, with or without an adapter name
    (``lora_A.default.weight`` / ``lora_A.weight``), ``<module>.base_layer.weight|bias`` and plain
    full tensors. Everything is validated before any weight changes, so a :class:`LoraError`
    leaves the model untouched.
    """
    targets = tuple(targets)
    modules = dict(model.named_modules())
    tensors: dict[str, Tensor] = dict(model.named_parameters())
    tensors.update({n: b for n, b in model.named_buffers()})
    report = LoraReport(rank=None, alpha=float(alpha))

    pairs: dict[str, dict[str, tuple[str, Tensor]]] = {}
    adapters: set[str] = set()
    replacements: list[tuple[str, str, Tensor]] = []  # (file key, model name, tensor)

    for key, value in lora_state.items():
        name = _strip(key)
        m = _LORA_KEY.match(name)
        if m:
            module_name, ab, adapter, kind = m["module"], m["ab"], m["adapter"], m["kind"]
            if module_name not in modules:
                raise LoraError(f"LoRA key {key!r} names module {module_name!r}, which the model does not have")
            if kind == "bias":
                report.ignored.append((key, "lora_B bias (upstream uses lora_bias=False)"))
                continue
            if not _is_target(module_name, targets):
                report.ignored.append((key, f"module {module_name!r} is not a LoRA target {list(targets)}"))
                continue
            adapters.add(adapter or "")
            slot = pairs.setdefault(module_name, {})
            if ab in slot:
                raise LoraError(f"LoRA key {key!r} duplicates {slot[ab][0]!r} (two adapters for one module?)")
            slot[ab] = (key, value)
            continue
        if any(part.startswith("lora_") for part in name.split(".")):
            raise LoraError(f"Unsupported LoRA key {key!r} (only lora_A/lora_B weights are supported)")
        target = name.replace(".base_layer.", ".")
        if target not in tensors:
            raise LoraError(f"Key {key!r} matches no parameter or buffer of the model (looked for {target!r})")
        current = tensors[target]
        if tuple(value.shape) != tuple(current.shape):
            raise LoraError(f"Key {key!r}: shape {tuple(value.shape)} does not match {target!r} "
                            f"(expected {tuple(current.shape)})")
        replacements.append((key, target, value))

    if len(adapters) > 1:
        raise LoraError(f"LoRA file mixes adapter names {sorted(a or '<none>' for a in adapters)}; expected one")
    report.adapter = (next(iter(adapters)) or None) if adapters else None

    merges: list[tuple[str, nn.Module, Tensor, Tensor]] = []
    for module_name, slot in sorted(pairs.items()):
        if "A" not in slot or "B" not in slot:
            have, lack = ("A", "B") if "A" in slot else ("B", "A")
            raise LoraError(f"LoRA key {slot[have][0]!r} has no matching lora_{lack} for module {module_name!r}")
        (key_a, a), (key_b, b) = slot["A"], slot["B"]
        module = modules[module_name]
        weight = getattr(module, "weight", None)
        if not isinstance(weight, Tensor) or weight.dim() != 2:
            shape = None if not isinstance(weight, Tensor) else tuple(weight.shape)
            raise LoraError(f"LoRA key {key_a!r}: module {module_name!r} ({type(module).__name__}, weight "
                            f"{shape}) is not a linear layer; only Linear LoRA is supported")
        out_f, in_f = weight.shape
        if a.dim() != 2 or a.shape[1] != in_f:
            raise LoraError(f"LoRA key {key_a!r}: shape {tuple(a.shape)}, expected (r, {in_f}) for {module_name!r}")
        r = a.shape[0]
        if b.dim() != 2 or tuple(b.shape) != (out_f, r):
            raise LoraError(f"LoRA key {key_b!r}: shape {tuple(b.shape)}, expected ({out_f}, {r}) for "
                            f"{module_name!r} (r={r} from {key_a!r})")
        if rank is not None and r != rank:
            raise LoraError(f"LoRA key {key_a!r}: rank {r}, expected rank {rank} (pass rank=None to accept it)")
        if report.rank is None:  # with rank=None and mixed ranks, each pair still uses its own alpha / r
            report.rank = r
        merges.append((module_name, module, a, b))

    # Apply: replacements first (PEFT's load_state_dict), then merges (merge_and_unload).
    for key, target, value in replacements:
        dst = tensors[target]
        dst.copy_(value.to(device=dst.device, dtype=dst.dtype))
        report.replaced += 1
        report.replaced_names.append(target)
    for module_name, module, a, b in merges:
        weight = module.weight
        scale = float(alpha) / a.shape[0]
        delta = (b.to(weight.device, torch.float32) @ a.to(weight.device, torch.float32)) * scale
        weight.copy_((weight.float() + delta).to(weight.dtype))
        report.merged += 1
        report.merged_modules.append(module_name)
    return report
