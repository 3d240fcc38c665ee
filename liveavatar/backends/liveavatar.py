"""Adapter from the app's Backend protocol to the in-process Live Avatar pipeline.

The pipeline is loaded on the first generation (tens of GB at full size), not at app start, so the
page comes up at once and checks answer while the weights load.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from liveavatar.backends.base import Clip, LiveSession, PreparedInputs
from liveavatar.pipeline.checkpoint import CheckpointLayout
from liveavatar.pipeline.pipeline import OOM_LADDER, ClipOutput, LiveAvatarPipeline, LoadReport, PipelineError
from liveavatar.speed import SpeedOptions

if TYPE_CHECKING:
    from liveavatar.plan import GenerationPlan


class LiveAvatarBackend:
    name = "liveavatar"
    label = "Live Avatar model (Wan2.2-S2V-14B + Live Avatar LoRA)"
    is_preview = False

    def __init__(self, layout: CheckpointLayout, device: str, *, load_lora: bool = True, lora_path: str | None = None):
        self.layout = layout
        self.device = device
        self.load_lora = load_lora
        self.lora_path = lora_path
        self._pipeline: LiveAvatarPipeline | None = None
        self._loaded_with: tuple | None = None  # offload + the load-time speed options of the loaded model
        self.load_report: LoadReport | None = None
        self._lock = threading.Lock()

    def pipeline(self, offload_model: bool = False, speed: SpeedOptions = SpeedOptions()) -> LiveAvatarPipeline:
        """The loaded model; loaded again only when offload or a load-time speed option (FP8, compile, streamed
        block weights: :meth:`SpeedOptions.load_key`) changes. KV caches in host memory and the amortised
        schedule are run-time options, passed to ``generate`` with the others."""
        key = (offload_model, speed.load_key())
        with self._lock:
            if self._pipeline is None or self._loaded_with != key:
                self._pipeline = None
                self._pipeline, self.load_report = LiveAvatarPipeline.from_checkpoint(
                    self.layout, device=self.device, load_lora=self.load_lora, lora_path=self.lora_path,
                    offload_model=offload_model, speed=speed,
                )
                self._loaded_with = key
            return self._pipeline

    def generate(
        self,
        plan: GenerationPlan,
        inputs: PreparedInputs,
        cancel: threading.Event | None = None,
        on_step: Callable[[int, int, int, int], None] | None = None,
    ) -> Iterator[Clip]:
        s = plan.settings
        tracks, masks = people_arrays(inputs)
        try:
            pipe = self.pipeline(s.offload_model, s.speed)
            for out in pipe.generate(
                inputs.prompt, inputs.reference, inputs.audio_16k, frames_per_clip=plan.frames_per_clip,
                num_clips=plan.num_clips, steps=s.sample_steps, seed=inputs.seed, fps=plan.fps,
                online_decode=s.online_decode, cancel=cancel, on_step=on_step, speed=s.speed,
                tracks_16k=tracks, person_masks=masks,
            ):
                yield plan_clip(plan, out)
        except _oom():
            _release_memory()
            raise PipelineError(OOM_LADDER) from None


    def start_live(self, plan: GenerationPlan, inputs: PreparedInputs) -> LiveSession:
        """A live session (:class:`~liveavatar.pipeline.live.LiveGeneration`) at the plan's size, steps and
        fps on the loaded model; it holds the model until closed. The plan's clip length is the KV cache's
        window, as offline; its clip count does not matter (the speech decides)."""
        from liveavatar.pipeline.live import LiveGeneration

        refuse_live_people(inputs)
        s = plan.settings
        try:
            pipe = self.pipeline(s.offload_model, s.speed)
            return LiveGeneration(pipe, inputs.prompt, inputs.reference, frames_per_clip=plan.frames_per_clip,
                                  steps=s.sample_steps, seed=inputs.seed, fps=plan.fps, speed=s.speed)
        except _oom():
            _release_memory()
            raise PipelineError(OOM_LADDER) from None


def people_arrays(inputs: PreparedInputs) -> tuple[list[np.ndarray] | None, np.ndarray | None]:
    """The pipeline's several-people arguments: each person's track, and their masks stacked
    ``[A, H, W]`` in the same order; ``(None, None)`` for one person (driven by ``inputs.audio_16k``)."""
    if not inputs.several_people:
        return None, None
    return [p.audio_16k for p in inputs.people], np.stack([np.asarray(p.mask, np.float32) for p in inputs.people])


def refuse_live_people(inputs: PreparedInputs) -> None:
    """Live mode takes one microphone, so one speech stream: it cannot drive several people."""
    if inputs.several_people:
        raise PipelineError(
            "Live mode takes one microphone, so it drives one person. For several people, upload each "
            "person's speech and press Generate."
        )


def _oom() -> type[BaseException]:
    try:
        import torch

        return torch.cuda.OutOfMemoryError
    except (ImportError, AttributeError):  # pragma: no cover - torch always has it
        return MemoryError


def plan_clip(plan: GenerationPlan, out: ClipOutput) -> Clip:
    """A pipeline clip as the plan wants it: the last clip trimmed to end with the audio."""
    frames = out.frames[: plan.last_clip_frames] if out.index == plan.num_clips - 1 else out.frames
    return Clip(out.index, frames, out.timings)


def _release_memory() -> None:
    """After an out-of-memory error, give the failed step's tensors back so the next job can run.

    The exception's traceback (dropped by ``from None``) held the frames that referenced them;
    collecting, then emptying CUDA's cache, returns that memory to the device.
    """
    import gc

    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # pragma: no cover - best effort; the error message is what matters
        pass
