"""Which backend runs, and why: the app shows the reason next to the plan."""

from __future__ import annotations

import os
from dataclasses import dataclass

from liveavatar.backends.base import Backend, Clip, PreparedInputs
from liveavatar.backends.preview import PreviewBackend

CKPT_ENV = "LIVEAVATAR_CKPT_DIR"

__all__ = ["Backend", "BackendChoice", "BackendUnavailable", "Clip", "PreparedInputs", "PreviewBackend", "choose_backend"]


@dataclass
class BackendChoice:
    backend: Backend
    reason: str


class BackendUnavailable(RuntimeError):
    """The model was required (CLI without --preview) but cannot run here; the message says why."""


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def choose_backend(
    ckpt_dir: str | os.PathLike[str] | None = None,
    *,
    force_preview: bool = False,
    device: str | None = None,
    lora: str | None = None,
    load_lora: bool = True,
    require_model: bool = False,
) -> BackendChoice:
    """The real model needs its weights on disk and a device to run on (CUDA, or ``device="cpu"`` when
    asked for explicitly, as the tests do with the tiny checkpoint); anything less runs the preview.

    Never downloads anything: a missing checkpoint is reported, not fetched. Files are only located
    here; they are verified and loaded on the first generation.
    """
    preview = PreviewBackend()
    if force_preview:
        return BackendChoice(preview, "The preview was chosen with --preview.")
    from liveavatar.pipeline.checkpoint import CheckpointError, find_checkpoint

    try:
        layout = find_checkpoint(None if ckpt_dir is None else str(ckpt_dir))
    except CheckpointError as exc:
        if require_model:
            raise BackendUnavailable(str(exc)) from None
        return BackendChoice(
            preview,
            "No Live Avatar weights were found, so the CPU preview runs: it animates the portrait's mouth with the "
            f"audio's loudness to show the plan; it is not the model. ({exc})",
        )
    if device is None:
        if not _cuda_available():
            message = (
                f"Weights found in {layout.root}, but no CUDA GPU is available, so the CPU preview runs "
                "(pass --device cpu to run the real model on the CPU: only practical for tiny test checkpoints)."
            )
            if require_model:
                raise BackendUnavailable(message)
            return BackendChoice(preview, message)
        device = "cuda"
    from liveavatar.backends.liveavatar import LiveAvatarBackend

    backend = LiveAvatarBackend(layout, device, load_lora=load_lora, lora_path=lora)
    return BackendChoice(backend, f"Weights from {layout.root}, running on {device}; they load on the first generation.")
