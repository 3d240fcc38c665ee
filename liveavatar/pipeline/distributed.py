"""Timestep-forcing pipeline parallelism (TPP) over ``torch.distributed``, as Live Avatar runs on 5 GPUs.

Layout (world size ``W >= 2``): ranks ``0 .. W-2`` denoise, rank ``W-1`` decodes. The ``steps``
denoising steps are split into ``W-1`` contiguous groups (:func:`step_groups`): with 4 steps and
``W = 5`` each denoising rank owns one step (upstream's layout); with ``W = 2`` rank 0 owns all of
them. Every block of 3 latent frames flows down the chain: rank 0 slices the block from the clip's
noise, runs its steps and ``send``\\ s the result to rank 1, which runs its steps, and so on; the last
denoising rank sends the clean block to the decode rank, which assembles each clip and decodes it with
the same :class:`~liveavatar.pipeline.vae.OnlineDecoder` as the single-process path. Sends and receives
are blocking and in block order, which already pipelines: rank 0 starts block ``b+1`` while rank 1 is
still on block ``b``.

Why the result equals :meth:`LiveAvatarPipeline.generate` (bit for bit on CPU):

* every rank runs :meth:`LiveAvatarPipeline.denoise_step`, the function the single-process loop runs;
* the KV cache of step ``i`` is written only by step ``i``'s forward calls, in block order, in both
  paths, so a rank holding only its steps' caches (each prefilled with the sink) sees the same cache;
* the clip noise comes from :meth:`LiveAvatarPipeline.clip_noise` (``seed + r``, whole clip at once);
* the reference RoPE shifts come from ``random.Random(seed)``: every denoising rank replays the whole
  sequence of draws (per block, per step, :func:`draw_ref_rope_shifts`) and uses its own steps' draws.

Conditioning: every rank loads the checkpoint and computes the prompt, audio and reference latents
itself (so each knows the shapes, and no rank waits on another to start), then rank 0's tensors are
broadcast over them. The broadcast is cheap (a few MB) and makes the ranks agree bitwise even where
GPU kernels are not deterministic run to run; without it two ranks could hold slightly different sinks.

The app (``torchrun --nproc_per_node N app.py --tpp``, :mod:`liveavatar.backends.tpp`) puts the
decode rank at 0, the process serving the page, which loads no DiT (``load_dit=False``); the other
ranks loop in :func:`serve_jobs`, and Stop is honoured at clip boundaries (``stoppable``).

Not implemented here (said so on purpose): per-step progress callbacks, CFG, CPU offload, per-job
speed options on the other ranks, and upstream's "replace the sink by the first generated frame" (the
single-process path does not do it either).

Launch::

    torchrun --nproc_per_node 5 -m liveavatar.pipeline.distributed --ckpt_dir ckpt --prompt "..." \\
        --image face.png --audio speech.wav --num_clip 10 --infer_frames 48 --sample_steps 4 \\
        --base_seed 420 --save_file out.mp4
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.distributed as dist

from liveavatar.pipeline.pipeline import ClipOutput, LiveAvatarPipeline, draw_ref_rope_shifts
from liveavatar.pipeline.scheduler import make_scheduler
from liveavatar.pipeline.vae import OnlineDecoder

DEFAULT_FPS = 25
AUDIO_RATE = 16000


def step_groups(steps: int, denoise_ranks: int) -> list[list[int]]:
    """Contiguous step groups, one per denoising rank; earlier ranks take the extra step.

    ``step_groups(4, 4) == [[0], [1], [2], [3]]``; ``step_groups(4, 2) == [[0, 1], [2, 3]]``;
    ``step_groups(4, 3) == [[0, 1], [2], [3]]``; ``step_groups(4, 1) == [[0, 1, 2, 3]]``.
    """
    if denoise_ranks < 1:
        raise ValueError("TPP needs at least 2 processes: one or more denoising ranks and one decode rank.")
    if denoise_ranks > steps:
        raise ValueError(f"{denoise_ranks} denoising ranks for {steps} steps: use at most {steps + 1} processes.")
    base, extra = divmod(steps, denoise_ranks)
    groups, start = [], 0
    for d in range(denoise_ranks):
        n = base + (1 if d < extra else 0)
        groups.append(list(range(start, start + n)))
        start += n
    return groups


def _broadcast_(tensors: Sequence[torch.Tensor], src: int = 0) -> None:
    for t in tensors:
        dist.broadcast(t, src=src)


def chain(world: int, decode_rank: int) -> list[int]:
    """The denoising ranks in block-flow order (every rank but the decode rank, ascending)."""
    if not 0 <= decode_rank < world:
        raise ValueError(f"decode rank {decode_rank} is not one of the {world} ranks")
    return [r for r in range(world) if r != decode_rank]


@torch.no_grad()
def iter_tpp(
    pipe: LiveAvatarPipeline,
    prompt: str,
    reference: np.ndarray,
    audio_16k: np.ndarray,
    *,
    frames_per_clip: int = 48,
    num_clips: int = 1,
    steps: int = 4,
    seed: int = 420,
    fps: int = DEFAULT_FPS,
    decode_rank: int | None = None,
    cancel: threading.Event | None = None,
    stoppable: bool = False,
    tracks_16k: Sequence[np.ndarray] | None = None,
    person_masks: np.ndarray | None = None,
) -> Iterator[ClipOutput]:
    """Run this process's part of a TPP generation; the process group must already be initialised.

    Yields the decoded clips, in order and as soon as each is decoded, on the decode rank (default
    ``world_size - 1``; the app uses rank 0, so the process that serves the page receives the clips)
    and nothing on the denoising ranks. Every rank must call this with the same arguments. Same seed,
    same frames as :meth:`LiveAvatarPipeline.generate`. A clip's timings: ``prepare_s`` (clip 0),
    ``wait_s`` (time the decode rank waited for the clip's blocks after the previous clip) and ``decode_s``.

    ``stoppable`` (the app's Stop): before each clip after the first, the decode rank tells every rank
    whether ``cancel`` is set, and all of them end there together. It costs the pipeline's fill at
    every clip boundary (the denoising ranks wait for the decode rank), so the CLI leaves it off.

    Several people (``tracks_16k``, ``person_masks``, as :meth:`LiveAvatarPipeline.generate`): the
    per-track audio rows are broadcast like the single track, and every denoising rank computes the
    same routing gates from the masks (a pure function of them); only the block latents travel.
    """
    if not dist.is_initialized():
        raise RuntimeError("run_tpp needs torch.distributed initialised (torchrun, or init_process_group).")
    rank, world = dist.get_rank(), dist.get_world_size()
    decode_rank = world - 1 if decode_rank is None else decode_rank
    pipe.check_inputs(reference, audio_16k, frames_per_clip, steps, tracks_16k, person_masks)
    denoisers = chain(world, decode_rank)
    groups = step_groups(steps, len(denoisers))  # raises the same error on every rank, before any traffic
    src = denoisers[0]  # the first denoising rank's conditioning is everyone's

    t0 = time.perf_counter()
    context, audio, ref_latents, motion_latents, history = pipe.prepare_conditioning(
        prompt, reference, audio_16k, frames_per_clip, num_clips, fps, tracks_16k=tracks_16k)
    _broadcast_([context, audio, ref_latents, motion_latents], src=src)
    prep_s = time.perf_counter() - t0

    fpb = pipe.config.num_frames_per_block
    lat_t = frames_per_clip // 4
    num_blocks = lat_t // fpb
    _, _, _, lat_h, lat_w = ref_latents.shape
    block_shape = (1, pipe.config.in_dim, fpb, lat_h, lat_w)
    device = pipe.device

    def stop_here(r: int) -> bool:
        """Every rank calls this at clip ``r`` (when stoppable): the decode rank's word, broadcast."""
        if not stoppable or r == 0:
            return False
        flag = torch.tensor([int(rank == decode_rank and cancel is not None and cancel.is_set())], device=device)
        dist.broadcast(flag, src=decode_rank)
        return bool(flag.item())

    if rank == decode_rank:
        decoder = OnlineDecoder(pipe.vae, history, frames_per_clip, pipe.config.motion_frames, first_clip_trim=0)
        for r in range(num_clips):
            if stop_here(r):
                return
            t_clip = time.perf_counter()
            blocks = []
            for _ in range(num_blocks):
                x = torch.empty(block_shape, dtype=torch.float32, device=device)
                dist.recv(x, src=denoisers[-1])
                blocks.append(x)
            wait_s = time.perf_counter() - t_clip
            t_dec = time.perf_counter()
            frames = pipe.decode(decoder, torch.cat(blocks, dim=2))
            yield ClipOutput(r, frames, {"prepare_s": prep_s if r == 0 else 0.0, "wait_s": wait_s,
                                         "decode_s": time.perf_counter() - t_dec})
        return

    position = denoisers.index(rank)
    previous = denoisers[position - 1] if position > 0 else None
    following = denoisers[position + 1] if position + 1 < len(denoisers) else decode_rank
    my_steps = groups[position]
    audio_mask = pipe.routing_gates(person_masks, reference) if tracks_16k else None
    caches = dict(zip(my_steps, pipe.prefilled_caches(len(my_steps), ref_latents, motion_latents, context, lat_t)))
    scheduler = make_scheduler(steps, device=device)
    timesteps, sigmas = scheduler.timesteps, scheduler.sigmas
    rope_rng = random.Random(seed)
    for r in range(num_clips):
        if stop_here(r):
            return
        noise = pipe.clip_noise(seed, r, lat_t, lat_h, lat_w) if previous is None else None
        for b in range(num_blocks):
            block_index = r * num_blocks + b
            shifts = draw_ref_rope_shifts(rope_rng, block_index * fpb, steps)  # all ranks replay all draws
            if previous is None:
                x = noise[:, :, b * fpb : (b + 1) * fpb]
            else:
                x = torch.empty(block_shape, dtype=torch.float32, device=device)
                dist.recv(x, src=previous)
            block_audio = pipe.block_audio(audio, block_index)
            for i in my_steps:
                x = pipe.denoise_step(x, i, timesteps, sigmas, context, block_audio, caches[i],
                                      block_index=block_index, ref_rope_shift=shifts[i], audio_mask=audio_mask)
            dist.send(x.to(torch.float32).contiguous(), dst=following)


def serve_jobs(pipe: LiveAvatarPipeline, decode_rank: int = 0) -> int:
    """The loop of every rank but the app's (rank 0): wait for a job from rank 0, run its part, repeat,
    until rank 0 sends ``None`` (shutdown). Returns how many jobs it ran.

    A job is the keyword arguments of :func:`iter_tpp` (arrays included), broadcast as one object.
    """
    done = 0
    while True:
        box: list = [None]
        dist.broadcast_object_list(box, src=0)
        if box[0] is None:
            return done
        for _ in iter_tpp(pipe, **box[0], decode_rank=decode_rank, stoppable=True):
            pass
        done += 1


def submit_job(pipe: LiveAvatarPipeline, job: dict, cancel: threading.Event | None = None) -> Iterator[ClipOutput]:
    """Rank 0's side of :func:`serve_jobs`: hand the job to the other ranks, then decode its clips here."""
    dist.broadcast_object_list([job], src=0)
    yield from iter_tpp(pipe, **job, decode_rank=0, cancel=cancel, stoppable=True)


def shutdown_jobs() -> None:
    """Rank 0 tells the serving ranks to end their loop."""
    dist.broadcast_object_list([None], src=0)


def run_tpp(pipe: LiveAvatarPipeline, prompt: str, reference: np.ndarray, audio_16k: np.ndarray, *,
            on_clip: Callable[[ClipOutput], None] | None = None, **kwargs) -> list[ClipOutput]:
    """:func:`iter_tpp` run to the end: the clips on the decode rank (``on_clip`` called with each as it
    is decoded), ``[]`` on the denoising ranks."""
    clips = []
    for clip in iter_tpp(pipe, prompt, reference, audio_16k, **kwargs):
        clips.append(clip)
        if on_clip:
            on_clip(clip)
    return clips


# ----------------------------------------------------------------------------- CLI (torchrun)
def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m liveavatar.pipeline.distributed",
        description="Live Avatar with timestep-forcing pipeline parallelism; run under torchrun "
                    "(--nproc_per_node N: N-1 denoising ranks and one decode rank).")
    p.add_argument("--ckpt_dir", required=True)
    p.add_argument("--lora_path_dmd", default=None)
    p.add_argument("--prompt", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--audio", required=True)
    p.add_argument("--size", default="704*384", help="output area as W*H; the image's aspect is kept")
    p.add_argument("--num_clip", type=int, default=1)
    p.add_argument("--infer_frames", type=int, default=48)
    p.add_argument("--sample_steps", type=int, default=4)
    p.add_argument("--base_seed", type=int, default=420)
    p.add_argument("--fps", type=int, default=DEFAULT_FPS)
    p.add_argument("--save_file", default="out.mp4")
    p.add_argument("--backend", default=None, help="nccl on CUDA, gloo otherwise (default)")
    return p.parse_args(argv)


def _inputs(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, int]:
    from liveavatar.media.audio import load_audio, to_mono_16k
    from liveavatar.media.image import load_image
    from liveavatar.plan import fit_size
    from liveavatar.prepare import fit_reference

    rgb = load_image(args.image).rgb
    w_area, h_area = (int(v) for v in args.size.replace("x", "*").split("*"))
    width, height = fit_size(rgb.shape[1], rgb.shape[0], w_area * h_area)
    reference = fit_reference(rgb, width, height)
    audio = to_mono_16k(load_audio(args.audio))
    clip_samples = args.infer_frames * AUDIO_RATE / args.fps
    num_clips = max(1, min(args.num_clip, math.ceil(len(audio) / clip_samples)))  # capped by the audio, as upstream
    n = int(round(num_clips * clip_samples))
    padded = np.zeros(n, dtype=np.float32)
    padded[: min(n, len(audio))] = audio[:n]
    return reference, padded, num_clips


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    cuda = torch.cuda.is_available()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=args.backend or ("nccl" if cuda else "gloo"))
    try:
        rank, world = dist.get_rank(), dist.get_world_size()
        reference, audio, num_clips = _inputs(args)
        device = f"cuda:{local_rank}" if cuda else "cpu"
        pipe, report = LiveAvatarPipeline.from_checkpoint(args.ckpt_dir, device=device, lora_path=args.lora_path_dmd)
        if rank == 0:
            print(f"[tpp] {world} processes: steps {step_groups(args.sample_steps, world - 1)} on ranks "
                  f"0..{world - 2}, decode on rank {world - 1}; {report.summary()}", flush=True)
        t0 = time.perf_counter()

        def log(clip: ClipOutput) -> None:
            print(f"[tpp] clip {clip.index + 1}/{num_clips} decoded "
                  + " ".join(f"{k}={v:.2f}" for k, v in clip.timings.items()), flush=True)

        clips = run_tpp(pipe, args.prompt, reference, audio, frames_per_clip=args.infer_frames,
                        num_clips=num_clips, steps=args.sample_steps, seed=args.base_seed, fps=args.fps,
                        on_clip=log)
        if rank == world - 1:
            from liveavatar.media.video import write_mp4

            h, w = reference.shape[:2]
            out = write_mp4(args.save_file, clips, w, h, args.fps, audio)
            frames = sum(len(c.frames) for c in clips)
            took = time.perf_counter() - t0
            print(f"[tpp] wrote {out}: {frames} frames in {took:.1f} s ({frames / took:.2f} FPS)", flush=True)
        dist.barrier()
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
