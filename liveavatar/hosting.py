"""Hosting on Hugging Face Spaces: ZeroGPU wrapping and the presets its time limit allows.

On ZeroGPU hardware a GPU is attached only inside functions decorated with ``spaces.GPU`` and
for a limited time per call. Elsewhere the ``spaces`` package is absent or inert, and nothing here
has any effect.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from liveavatar.plan import make_plan
from liveavatar.presets import PRESETS, Preset

F = TypeVar("F", bound=Callable[..., Any])

ZERO_GPU_ENV = "SPACES_ZERO_GPU"
ZERO_GPU_SECONDS = int(os.environ.get("LIVEAVATAR_ZERO_GPU_SECONDS", "120"))


def on_zero_gpu() -> bool:
    return os.environ.get(ZERO_GPU_ENV, "").strip().lower() in ("1", "true", "yes")


SPACE_ENV = "SPACE_ID"


def on_hosted_space() -> bool:
    """True on a Hugging Face Space (the runtime sets ``SPACE_ID``, e.g. ``user/app``): a public app
    where any visitor could otherwise start a 50 GB download, so the app does not offer it there
    unless the operator passes ``--allow_download``."""
    return bool(os.environ.get(SPACE_ENV, "").strip())


def gpu_function(fn: F, seconds: int = ZERO_GPU_SECONDS) -> F:
    """``spaces.GPU(duration=seconds)(fn)`` on ZeroGPU; ``fn`` unchanged anywhere else."""
    if not on_zero_gpu():
        return fn
    try:
        import spaces  # provided by the Spaces runtime
    except ImportError:
        return fn
    return spaces.GPU(duration=seconds)(fn)


def presets_within(seconds: float, *, audio_seconds: float = 10.0) -> dict[str, Preset]:
    """The presets whose expected model time for ``audio_seconds`` of speech fits ``seconds``."""
    fitting = {}
    for key, preset in PRESETS.items():
        plan = make_plan(preset.settings, image_size=(704, 384), audio_seconds=audio_seconds, backend="liveavatar")
        if plan.estimated_seconds <= seconds:
            fitting[key] = preset
    return fitting
