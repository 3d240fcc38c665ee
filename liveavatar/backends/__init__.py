"""Which backend runs, and why: the app shows the reason next to the plan."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from liveavatar.backends.base import Backend, Clip, PreparedInputs
from liveavatar.backends.preview import PreviewBackend

CKPT_ENV = "LIVEAVATAR_CKPT_DIR"

__all__ = ["Backend", "BackendChoice", "Clip", "PreparedInputs", "PreviewBackend", "choose_backend"]


@dataclass
class BackendChoice:
    backend: Backend
    reason: str


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def choose_backend(ckpt_dir: str | os.PathLike[str] | None = None, *, force_preview: bool = False) -> BackendChoice:
    """The real model needs its weights on disk and a CUDA GPU; anything less runs the preview.

    Never downloads anything: a missing checkpoint is reported, not fetched.
    """
    preview = PreviewBackend()
    if force_preview:
        return BackendChoice(preview, "The preview was chosen with --preview.")
    ckpt = Path(ckpt_dir or os.environ.get(CKPT_ENV, "ckpt")).expanduser()
    has_weights = (ckpt / "Wan2.2-S2V-14B" / "config.json").is_file()
    if not has_weights:
        return BackendChoice(
            preview,
            f"No Live Avatar weights found in {ckpt} (set {CKPT_ENV} or --ckpt_dir), so the CPU preview runs: "
            "it animates the portrait's mouth with the audio's loudness to show the plan, it is not the model.",
        )
    if not _cuda_available():
        return BackendChoice(preview, "Weights found, but no CUDA GPU is available, so the CPU preview runs.")
    return BackendChoice(
        preview,
        "Weights and a GPU were found, but this build does not include the in-process model pipeline yet, "
        "so the CPU preview runs.",
    )
