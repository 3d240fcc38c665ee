"""Which memory path a GPU card gets, and which presets fit it.

Three paths, each a set of :class:`~liveavatar.speed.SpeedOptions` (the plan names them by card size):

* **80 GB**: plain bf16, everything on the GPU;
* **48 GB**: FP8 blocks, the text encoder on the CPU (``SpeedOptions.low_memory()``);
* **24 GB**: the 48 GB path plus the DiT blocks streamed from pinned host memory and the per-step KV caches
  on the host (``SpeedOptions.card_24gb()``); the caches stay on the GPU when the plan still fits with them
  there (quick on a 24 GB card: ~20 GB), since over PCIe they cost more than the weights.

For a card (read from ``torch.cuda.mem_get_info`` or given as ``--vram_gb``) and the machine's RAM, each
run takes the fastest path whose plan fits: GPU memory within the card's free memory less a headroom, and
the host memory the path pins within a share of the RAM. A preset no path fits says what it needs.

No torch at import time: the preview-only install may lack it. :func:`read_card` imports it only when asked
for a CUDA device's figures.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass, fields, replace
from typing import Any

from liveavatar.plan import GB, HOST_PIN_FRACTION, GenerationPlan, make_plan, memory_path
from liveavatar.presets import PRESETS, GenerationSettings
from liveavatar.speed import SpeedOptions

log = logging.getLogger(__name__)

HEADROOM_GB = 1.5
"""Kept free on the card: the caching allocator's fragmentation and the kernels' workspaces."""
CONTEXT_GB = 0.5
"""What the CUDA context takes before anything is allocated (for ``--vram_gb``, where nothing is measured)."""


@dataclass(frozen=True)
class MemoryPath:
    key: str  # "80", "48", "24": the card size it is the path for
    speed: SpeedOptions

    @property
    def card_gb(self) -> int:
        return int(self.key)


PATHS: tuple[MemoryPath, ...] = (
    MemoryPath("80", SpeedOptions()),
    MemoryPath("48", SpeedOptions.low_memory()),
    MemoryPath("24", SpeedOptions.card_24gb()),
)
"""Fastest first: a run takes the first one that fits."""
PATH_BY_KEY = {p.key: p for p in PATHS}


@dataclass(frozen=True)
class Card:
    """A GPU's memory (GB = 1e9 bytes) and the machine's RAM, as the plan uses them."""

    total_gb: float
    free_gb: float
    name: str
    host_gb: float | None = None
    """The machine's RAM; None: unknown (host memory is then not checked)."""

    @property
    def budget_gb(self) -> float:
        """The most a plan may say for this card."""
        return round(self.free_gb - HEADROOM_GB, 1)

    @property
    def host_budget_gb(self) -> float | None:
        return None if self.host_gb is None else round(self.host_gb * HOST_PIN_FRACTION, 1)

    @property
    def path(self) -> MemoryPath:
        """The card's class: the path named by its size (a preset may still need a leaner one)."""
        if self.total_gb >= 75:
            return PATH_BY_KEY["80"]
        if self.total_gb >= 40:
            return PATH_BY_KEY["48"]
        return PATH_BY_KEY["24"]


def host_memory_gb() -> float | None:
    """This machine's RAM in GB (None where the OS doesn't say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GB
    except (AttributeError, OSError, ValueError):
        return None


def card_for(vram_gb: float, host_gb: float | None = None) -> Card:
    """A card of ``vram_gb`` GB (``--vram_gb``): free memory is the total less the CUDA context."""
    if vram_gb <= 0:
        raise ValueError(f"--vram_gb must be a positive number of GB; got {vram_gb}.")
    return Card(total_gb=float(vram_gb), free_gb=float(vram_gb) - CONTEXT_GB, name=f"--vram_gb {vram_gb:g}",
                host_gb=host_memory_gb() if host_gb is None else host_gb)


def read_card(device: str | None = "cuda") -> Card | None:
    """The card behind ``device`` from ``torch.cuda.mem_get_info``; None without torch, CUDA or a CUDA device."""
    if not device or not str(device).startswith("cuda") or importlib.util.find_spec("torch") is None:
        return None
    import torch

    if not torch.cuda.is_available():
        return None
    dev = torch.device(device)
    free, total = torch.cuda.mem_get_info(dev)
    return Card(total_gb=total / GB, free_gb=free / GB, name=f"{torch.cuda.get_device_name(dev)} ({dev})",
                host_gb=host_memory_gb())


def card_for_backend(backend: Any, vram_gb: float | None = None) -> Card | None:
    """The card a run is planned for: ``--vram_gb`` when given; else, on the single-process model backend on
    CUDA, the card found (``torch.cuda.mem_get_info``); else none (the preview needs no torch). Shared by the
    app and the command line."""
    if vram_gb:
        return card_for(vram_gb)
    if backend.name == "preview" or getattr(backend, "world", None):  # the TPP chain spreads over its ranks
        return None
    try:
        return read_card(getattr(backend, "device", None))
    except Exception:  # a card that can't be read leaves the plan as before, never a failed start
        log.exception("could not read the GPU's memory")
        return None


def with_path(speed: SpeedOptions, path: MemoryPath) -> SpeedOptions:
    """``speed`` with the path's options turned on too (the user's own choices are kept)."""
    on = {f.name: True for f in fields(path.speed) if getattr(path.speed, f.name) is True}
    return replace(speed, **on)


@dataclass(frozen=True)
class Fit:
    """How a run's settings fit a card: the path taken (None: no path fits) and each path's figures."""

    card: Card
    path: MemoryPath | None
    settings: GenerationSettings
    """The settings with the path's options (unchanged when nothing fits)."""
    figures: dict[str, tuple[float, float]]
    """Per path key: (GPU GB, host GB) the plan says with that path's options."""

    @property
    def fits(self) -> bool:
        return self.path is not None

    def need(self) -> tuple[float, str, float]:
        """What the run would need: (GPU GB, path key, host GB) of the path asking the smallest card whose
        host memory this machine has, else the streamed path's (GPU, host)."""
        host = self.card.host_budget_gb
        ok = [(g, k, h) for k, (g, h) in self.figures.items() if host is None or h <= host]
        if ok:
            return min(ok)
        g, h = min(self.figures.values(), key=lambda gh: gh[1])
        return g, min(self.figures, key=lambda k: self.figures[k][1]), h

    @staticmethod
    def card_gb_for(gpu_gb: float) -> float:
        """The card size (GB) a plan figure needs: the figure plus the headroom and the CUDA context."""
        return round(gpu_gb + HEADROOM_GB + CONTEXT_GB)


def fit(settings: GenerationSettings, card: Card, *, image_size: tuple[int, int] | None = None,
        audio_seconds: float | None = None) -> Fit:
    """Try the paths fastest first; the first whose plan fits the card (and whose pinned host memory fits
    the machine's RAM) is taken."""
    figures: dict[str, tuple[float, float]] = {}
    chosen: MemoryPath | None = None
    for path in PATHS:
        s = replace(settings, speed=with_path(settings.speed, path))
        key = memory_path(s.speed)  # the user's own options may already be a leaner path's
        if key in figures:
            continue
        plan = make_plan(s, image_size=image_size, audio_seconds=audio_seconds, backend="liveavatar")
        figures[key] = (plan.gpu_memory_gb, plan.host_memory_gb)
        host_ok = card.host_budget_gb is None or plan.host_memory_gb <= card.host_budget_gb
        if chosen is None and plan.gpu_memory_gb <= card.budget_gb and host_ok:
            chosen = PATH_BY_KEY[key]
    out = settings if chosen is None else replace(settings, speed=with_path(settings.speed, chosen))
    if chosen is not None and out.speed.offload_kv and not settings.speed.offload_kv:
        # KV caches go to the host only where they don't fit: every step reads each layer's whole cache,
        # so over PCIe they cost more than the streamed weights (benchmarks/pipeline_speed.py's ceilings:
        # quick ~17 fps with the caches on the card, ~10 with them on the host).
        on_card = replace(out, speed=replace(out.speed, offload_kv=False))
        plan = make_plan(on_card, image_size=image_size, audio_seconds=audio_seconds, backend="liveavatar")
        host_ok = card.host_budget_gb is None or plan.host_memory_gb <= card.host_budget_gb
        if plan.gpu_memory_gb <= card.budget_gb and host_ok:
            out = on_card
            figures[chosen.key] = (plan.gpu_memory_gb, plan.host_memory_gb)
    return Fit(card=card, path=chosen, settings=out, figures=figures)


def fit_plan(plan: GenerationPlan, card: Card) -> Fit:
    """:func:`fit` for the sizes a plan has already worked out (its output size and audio)."""
    return fit(plan.settings, card, image_size=(plan.width, plan.height), audio_seconds=plan.audio_seconds)


def preset_fits(card: Card) -> dict[str, Fit]:
    """Each preset at its own size and clip count on ``card``."""
    return {key: fit(p.settings, card) for key, p in PRESETS.items()}


def offered_presets(card: Card | None) -> dict[str, Any]:
    """The presets a card can run (all of them when the card is unknown); quick when none fits, so the
    page still has one, its plan saying what it needs."""
    if card is None:
        return dict(PRESETS)
    fits = preset_fits(card)
    return {k: PRESETS[k] for k, f in fits.items() if f.fits} or {"quick": PRESETS["quick"]}
