"""The app on rank 0 of a ``torchrun`` group, driving timestep-forcing pipeline parallelism.

``torchrun --nproc_per_node N app.py --tpp --ckpt_dir ckpt``: every process starts ``app.py``;
:func:`start_tpp` sends ranks 1..N-1 into :func:`~liveavatar.pipeline.distributed.serve_jobs` (each
loads the full pipeline and runs its share of the denoising steps for every job) and gives rank 0 a
backend whose ``generate`` broadcasts the job and decodes its clips. Rank 0 is the decode rank, so the
process serving the page receives each clip as it is decoded, and it loads no DiT (the decode-only
loader), leaving its GPU for the VAE and the encoders.

The app's Stop is honoured at the next clip boundary (every rank stops together there). Speed
options are those the processes were started with; per-job ones are not sent to the other ranks.
A failure on another rank (out of memory, say) ends that rank; torchrun then stops the group.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from liveavatar.backends.base import Clip, LiveSession, PreparedInputs
from liveavatar.backends.liveavatar import LiveAvatarBackend, people_arrays, plan_clip
from liveavatar.pipeline.checkpoint import CheckpointLayout, find_checkpoint
from liveavatar.pipeline.pipeline import LiveAvatarPipeline, PipelineError

if TYPE_CHECKING:
    from liveavatar.backends import BackendChoice
    from liveavatar.plan import GenerationPlan


class TppBackend(LiveAvatarBackend):
    name = "liveavatar"
    is_preview = False

    def __init__(self, layout: CheckpointLayout, device: str, pipe: LiveAvatarPipeline, world: int):
        super().__init__(layout, device)
        self._pipe = pipe
        self.world = world
        self.label = f"Live Avatar model over {world} processes (pipeline-parallel: {world - 1} denoise, rank 0 decodes)"
        self._job_lock = threading.Lock()  # one job at a time goes down the chain

    def generate(self, plan: GenerationPlan, inputs: PreparedInputs, cancel: threading.Event | None = None,
                 on_step: Callable[[int, int, int, int], None] | None = None) -> Iterator[Clip]:
        from liveavatar.pipeline.distributed import submit_job

        tracks, masks = people_arrays(inputs)
        job = dict(prompt=inputs.prompt, reference=inputs.reference, audio_16k=inputs.audio_16k,
                   frames_per_clip=plan.frames_per_clip, num_clips=plan.num_clips, steps=plan.settings.sample_steps,
                   seed=inputs.seed, fps=plan.fps, tracks_16k=tracks, person_masks=masks)
        with self._job_lock:
            for out in submit_job(self._pipe, job, cancel):
                yield plan_clip(plan, out)

    def start_live(self, plan: GenerationPlan, inputs: PreparedInputs) -> LiveSession:
        """Not over TPP: its ranks take a whole job's audio up front (``submit_job``); a live block would
        wait for the chain to fill and drain, and the ranks have no way to receive audio mid-job."""
        raise PipelineError(
            f"Live mode runs the model on one GPU; this server splits it over {self.world} processes (--tpp). "
            "Upload the speech and press Generate, or start the app without --tpp for live mode."
        )


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def start_tpp(ckpt_dir: str | None, device: str | None, lora: str | None = None) -> BackendChoice:
    """Join the process group; on rank 0 return the app's backend, on the other ranks serve jobs and exit."""
    import torch
    import torch.distributed as dist

    from liveavatar.backends import BackendChoice
    from liveavatar.pipeline.distributed import serve_jobs

    if world_size() < 2:
        raise SystemExit("--tpp needs at least 2 processes: start the app with torchrun --nproc_per_node N app.py --tpp")
    cuda = torch.cuda.is_available() and device != "cpu"
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    here = f"cuda:{local_rank}" if cuda else "cpu"
    layout = find_checkpoint(ckpt_dir)
    pipe, report = LiveAvatarPipeline.from_checkpoint(layout, device=here, lora_path=lora, load_dit=rank != 0)
    if rank != 0:
        print(f"[tpp] rank {rank}/{world} ready: {report.summary()}", flush=True)
        try:
            serve_jobs(pipe, decode_rank=0)
        finally:
            dist.destroy_process_group()
        sys.exit(0)
    backend = TppBackend(layout, here, pipe, world)
    return BackendChoice(backend, f"Weights from {layout.root}; {world} processes: ranks 1–{world - 1} denoise, "
                                  f"this one (rank 0) decodes ({report.summary()}).")


def stop_tpp() -> None:
    """Rank 0, when the app closes: let the serving ranks leave their loop."""
    import torch.distributed as dist

    from liveavatar.pipeline.distributed import shutdown_jobs

    if dist.is_initialized():
        shutdown_jobs()
        dist.destroy_process_group()
