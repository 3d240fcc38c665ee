"""The in-process Live Avatar pipeline: load the checkpoint, then stream clips block by block.

Order of work, one obvious place for each (as diffusers' pipelines): :meth:`check_inputs`,
:meth:`encode_prompt`, :meth:`encode_audio`, :meth:`prepare_latents`, the denoising loop in
:meth:`generate` (blocks of 3 latent frames, one KV cache per denoising step, the reference +
motion "sink" prefilled once at t = 0), and :meth:`decode` per clip.

Deliberate differences from upstream's ``causal_s2v_pipeline.py`` (read for the order of operations):

* The first clip keeps all its frames. Upstream drops the first 3 decoded frames of clip 0, so its
  video is 3 frames shorter than ``clips × infer_frames`` and its lips lead the muxed audio by
  120 ms; we keep them so the plan's frame count and the audio line up exactly.
* The sink keeps the user's reference for the whole video. With online decode upstream replaces the
  reference by the first generated latent frame after clip 0 and prefills again; we don't, so online
  and offline decode produce the same video.
* The reference frame's random RoPE time shift is drawn, like upstream, anew for every forward call,
  but from ``random.Random(seed)``, so the same seed gives the same video.

Several people (``tracks_16k`` + ``person_masks``): as upstream's multi-actor path, each person's track
is encoded on its own (exactly as a one-person run encodes its audio) and the features are stacked
along the batch dimension; the people masks become per-token gates on the latent grid
(:func:`liveavatar.routing.routing_masks`) that the DiT uses to route each track's audio injection
(decision 7 of :mod:`liveavatar.pipeline.transformer`). The latents, the caches and the sink stay batch 1.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from torch.nn.attention import sdpa_kernel

from liveavatar.pipeline.audio import AudioEncoder, to_video_frames
from liveavatar.pipeline.checkpoint import CheckpointLayout, find_checkpoint, verify_checkpoint
from liveavatar.pipeline.config import S2VConfig
from liveavatar.pipeline.fp8 import to_device_with_fp8_blocks
from liveavatar.pipeline.lora import LoraReport, load_lora_file, merge_lora
from liveavatar.pipeline.scheduler import make_scheduler
from liveavatar.pipeline.text import TextEncoder
from liveavatar.pipeline.transformer import (
    CausalS2VTransformer,
    KVCache,
    load_dit_state_dict,
    sample_ref_rope_shift,
)
from liveavatar.pipeline.vae import BlockDecoder, OnlineDecoder, VideoVAE
from liveavatar.routing import MAX_PEOPLE, routing_masks, token_grid
from liveavatar.speed import SpeedOptions, sdpa_backends

LORA_RANK = 128
LORA_ALPHA = 64
REF_REPEATS = 5  # upstream encodes the reference as 5 identical frames and keeps the second latent

OOM_LADDER = (
    "The GPU ran out of memory. Try, in this order: a smaller size (384*256), 36 frames per clip "
    "(the guide's 32 rounded to the model's blocks of 12), online decode on, then CPU offload "
    "(--offload_model True; slower)."
)


def euler_step(sigmas: torch.Tensor, step: int, x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Flow-matching Euler update with exactly the arithmetic of diffusers'
    ``FlowMatchEulerDiscreteScheduler.step`` (no stochastic sampling): ``x.float() + (sigma_next - sigma) *
    flow``, cast back to ``flow``'s dtype. Written out so a rank that owns only step i needs no scheduler
    state (diffusers keeps a running step index)."""
    dt = sigmas[step + 1] - sigmas[step]
    return (x.to(torch.float32) + dt * flow).to(flow.dtype)


def draw_ref_rope_shifts(rng: random.Random, block_start_frame: int, steps: int) -> list[int]:
    """One block's reference RoPE shifts, one per denoising step, in the order the forward calls run.
    Every TPP rank draws all of them (to keep the shared sequence aligned) and uses its own steps'."""
    return [sample_ref_rope_shift(block_start_frame, rng) for _ in range(steps)]


def prepare_transformer(model: CausalS2VTransformer, speed: SpeedOptions, device: torch.device | str,
                        dtype: torch.dtype) -> CausalS2VTransformer:
    """Put the DiT where it runs with the load-time speed options applied: FP8 block linears (converted
    on the device, block by block) and ``torch.compile`` of each block (CUDA graphs through the
    compiler's ``reduce-overhead`` mode, which captures the fixed-shape block step once and replays it).
    Compiling in place keeps the state-dict keys.

    ``stream_blocks``: the 40 layers' weights (FP8 or ``dtype``) stay in host memory and are copied in
    around each use (:func:`liveavatar.pipeline.streaming.stream_transformer_`); only the rest of the
    DiT moves to ``device``. On the meta device (the random pipeline's shapes-only build) there is no
    host memory to stream from: the caller attaches the streamer after materialising."""
    if speed.stream_blocks and torch.device(device).type != "meta":
        from liveavatar.pipeline.streaming import stream_transformer_

        stream_transformer_(model, device, dtype, fp8=speed.fp8)
    elif speed.fp8:
        to_device_with_fp8_blocks(model, device, dtype)
    else:
        model.to(device=device, dtype=dtype)
    model.eval().requires_grad_(False)
    if speed.torch_compile or speed.cuda_graphs:
        # Each block compiles a few variants (first-clip mask or none, cache slot 0 or not, the sink
        # pass); torch's default of 8 per code object is met within the first clip, after which calls
        # silently run uncompiled. The limit is torch's own process-wide setting: raised, never lowered.
        import torch._dynamo.config as dynamo_config

        dynamo_config.recompile_limit = max(dynamo_config.recompile_limit, 64)
        mode = "reduce-overhead" if speed.cuda_graphs else None
        for block in model.blocks:
            block.compile(mode=mode)
    return model


@dataclass
class _BlockWork:
    """What a block loop needs from :meth:`LiveAvatarPipeline._clips`."""

    context: torch.Tensor
    audio: torch.Tensor
    caches: list[KVCache]
    steps: int
    seed: int
    lat_t: int
    lat_h: int
    lat_w: int
    num_blocks: int
    num_clips: int
    attention: str
    cancel: threading.Event | None
    on_step: Callable[[int, int, int, int], None] | None
    audio_mask: torch.Tensor | None = None  # [A, h*w] routing gates with several people, else None


@dataclass
class _Job:
    """A block in flight in the amortised schedule: its latents after ``step`` steps."""

    k: int  # absolute block index
    r: int
    b: int
    x: torch.Tensor
    audio: torch.Tensor
    shifts: list[int]
    step: int = 0


class PipelineError(RuntimeError):
    """A failure with a message meant for the user."""


@dataclass
class LoadReport:
    """What loading did: where the weights came from and what the LoRA changed."""

    layout: CheckpointLayout
    lora: LoraReport | None
    dit_parameters: int
    device: str
    dtype: str

    def summary(self) -> str:
        if not self.dit_parameters:
            return f"decode-only (text/audio encoders and VAE, no DiT) on {self.device}"
        lora = self.lora.summary() if self.lora else "LoRA not loaded"
        return f"DiT {self.dit_parameters / 1e9:.2f} B parameters on {self.device} ({self.dtype}); {lora}"


@dataclass
class ClipOutput:
    """One clip's frames (uint8 [T, H, W, 3]) and how long each stage took."""

    index: int
    frames: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)


def _load_dit(layout: CheckpointLayout, config: S2VConfig) -> CausalS2VTransformer:
    """Build on the meta device and assign the shards' tensors: no second full-size copy in memory."""
    with torch.device("meta"):
        model = CausalS2VTransformer(config)
    state: dict[str, torch.Tensor] = {}
    for shard in layout.dit_shards():
        with safe_open(str(shard), framework="pt") as f:
            for key in f.keys():
                state[key] = f.get_tensor(key)
    load_dit_state_dict(model, state, assign=True)
    return model


def _resolve_lora(lora_path: str | Path | None, layout: CheckpointLayout) -> Path:
    """Upstream's ``--lora_path_dmd`` is a file, a folder or the repo id ``Quark-Vision/Live-Avatar``;
    a repo id resolves to the copy the checkpoint finder located (never a download)."""
    if not lora_path:
        return layout.lora_file
    path = Path(lora_path).expanduser()
    if path.is_dir():
        path = path / layout.lora_file.name
    if path.is_file():
        return path
    if str(lora_path).count("/") == 1 and not Path(lora_path).exists() and layout.lora_file.is_file():
        return layout.lora_file
    raise PipelineError(f"LoRA file not found: {lora_path}. Give the path of liveavatar.safetensors or its folder.")


def check_people(reference: np.ndarray, audio_16k: np.ndarray, tracks_16k: Sequence[np.ndarray] | None,
                 person_masks: np.ndarray | None) -> None:
    """Several people's inputs, before any model work: 2-4 mono tracks, each as long as the audio (the
    frame count comes from ``audio_16k``), and one 0..1 mask per track at the reference's size."""
    if tracks_16k is None and person_masks is None:
        return
    if tracks_16k is None or person_masks is None:
        raise PipelineError("Several people need both a speech track and a mask for each person.")
    count = len(tracks_16k)
    if not 2 <= count <= MAX_PEOPLE:
        raise PipelineError(f"Several people means 2 to {MAX_PEOPLE} speech tracks; got {count}.")
    for n, track in enumerate(tracks_16k, 1):
        track = np.asarray(track)
        if track.ndim != 1:
            raise PipelineError(f"Speech track {n} must be mono 16 kHz.")
        if len(track) < len(audio_16k):
            raise PipelineError(
                f"Speech track {n} is {len(track) / 16000:.2f} s but the audio is {len(audio_16k) / 16000:.2f} s; "
                "pad each person's track with silence to the length of the video."
            )
    masks = np.asarray(person_masks)
    h, w = reference.shape[:2]
    if masks.shape != (count, h, w):
        raise PipelineError(f"Expected {count} person masks of {w}x{h} (one per track, on the reference); "
                            f"got shape {masks.shape}.")
    if masks.size and (np.nanmin(masks) < 0 or np.nanmax(masks) > 1 or np.isnan(masks).any()):
        raise PipelineError("Person masks must hold values between 0 and 1.")


class LiveAvatarPipeline:
    def __init__(
        self,
        transformer: CausalS2VTransformer | None,
        text_encoder: TextEncoder,
        vae: VideoVAE,
        audio_encoder: AudioEncoder,
        *,
        device: torch.device | str,
        dtype: torch.dtype,
        offload_model: bool = False,
        speed: SpeedOptions = SpeedOptions(),
        config: S2VConfig | None = None,
    ):
        """``transformer`` None (with ``config``) makes a decode-only pipeline: it prepares the
        conditioning and decodes, as TPP's decode rank does, without the 32 GB DiT."""
        if transformer is None and config is None:
            raise ValueError("a decode-only pipeline needs the DiT's config")
        self.transformer = transformer
        self.text_encoder = text_encoder
        self.vae = vae
        self.audio_encoder = audio_encoder
        self.config: S2VConfig = transformer.config if transformer is not None else config
        self.device = torch.device(device)
        self.dtype = dtype
        self.offload_model = offload_model
        self.speed = speed  # the load-time options this model was prepared with (FP8, compile)
        self._lock = threading.Lock()  # one generation at a time per loaded model

    def try_reserve(self) -> bool:
        """Take the model for a run that outlives one call (a live session, until it is closed);
        False when another generation has it."""
        return self._lock.acquire(blocking=False)

    def release(self) -> None:
        """Give back what :meth:`try_reserve` took."""
        self._lock.release()

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_checkpoint(
        cls,
        ckpt: str | Path | CheckpointLayout | None = None,
        *,
        device: str | torch.device = "cuda",
        dtype: torch.dtype | None = None,
        load_lora: bool = True,
        lora_path: str | Path | None = None,
        offload_model: bool = False,
        speed: SpeedOptions = SpeedOptions(),
        load_dit: bool = True,
    ) -> tuple[LiveAvatarPipeline, LoadReport]:
        """Verify every file first (naming what is missing or broken), then load and merge the LoRA.

        ``speed``'s load-time options (FP8, compile) are applied here, after the LoRA merge (which
        needs the full-precision weights); the run-time ones are given to :meth:`generate`.
        ``load_dit=False`` loads only the text/audio encoders and the VAE (a decode rank's share)."""
        layout = ckpt if isinstance(ckpt, CheckpointLayout) else find_checkpoint(None if ckpt is None else str(ckpt))
        verify_checkpoint(layout).raise_if_broken()
        device = torch.device(device)
        dtype = dtype or (torch.bfloat16 if device.type == "cuda" else torch.float32)
        config = S2VConfig.from_json(layout.config)
        model, lora_report, params = None, None, 0
        if load_dit:
            model = _load_dit(layout, config)
            if load_lora:
                lora_file = _resolve_lora(lora_path, layout)
                lora_report = merge_lora(model, load_lora_file(lora_file), rank=None, alpha=LORA_ALPHA)
            params = sum(p.numel() for p in model.parameters())
            model = prepare_transformer(model, speed, "cpu" if offload_model else device, dtype)
        text = TextEncoder.from_checkpoint(layout.wan_dir, device="cpu", dtype=dtype, text_len=config.text_len)
        vae = VideoVAE.from_checkpoint(layout.vae, device=device, dtype=torch.float32)
        audio = AudioEncoder.from_checkpoint(layout.wan_dir, device=device, dtype=torch.float32)
        pipe = cls(model, text, vae, audio, device=device, dtype=dtype, offload_model=offload_model, speed=speed,
                   config=config)
        return pipe, LoadReport(layout, lora_report, params, str(device), str(dtype).replace("torch.", ""))

    # ------------------------------------------------------------------ steps
    def check_inputs(self, reference: np.ndarray, audio_16k: np.ndarray, frames_per_clip: int, steps: int,
                     tracks_16k: Sequence[np.ndarray] | None = None, person_masks: np.ndarray | None = None) -> None:
        fpb = self.config.num_frames_per_block
        if frames_per_clip % (4 * fpb):
            raise PipelineError(f"Frames per clip must be a multiple of {4 * fpb}; got {frames_per_clip}.")
        if reference.ndim != 3 or reference.shape[2] != 3 or reference.dtype != np.uint8:
            raise PipelineError("The reference must be an RGB uint8 image.")
        h, w = reference.shape[:2]
        if h % 64 or w % 64:
            raise PipelineError(f"Width and height must be multiples of 64; got {w}x{h}.")
        if audio_16k.ndim != 1 or len(audio_16k) < 400:
            raise PipelineError("The audio must be mono 16 kHz and at least 25 ms long.")
        make_scheduler(steps)  # raises a clear message for unsupported step counts
        check_people(reference, audio_16k, tracks_16k, person_masks)

    def encode_prompt(self, prompt: str, on_cpu: bool = False) -> torch.Tensor:
        """UMT5 runs where the DiT runs, then goes back to the CPU (it is ~11 GB at full size).
        ``on_cpu`` keeps it on the CPU (slower, once per video): the low-memory path's GPU never holds it."""
        if not on_cpu:
            self.text_encoder.model.to(self.device)
        try:
            context = self.text_encoder.encode([prompt])
        finally:
            self.text_encoder.offload()
        return context.to(self.device, self.dtype)

    def encode_audio(self, audio_16k: np.ndarray, num_frames: int, fps: int) -> torch.Tensor:
        """wav2vec2 hidden states resampled to one feature per video frame: ``[1, layers, dim, frames]``."""
        feats = self.audio_encoder.extract(audio_16k)
        per_frame = to_video_frames(feats, fps=fps, num_frames=num_frames)  # [layers, frames, dim]
        return per_frame.permute(0, 2, 1).unsqueeze(0).to(self.device, self.dtype)

    def encode_tracks(self, audio_16k: np.ndarray, tracks_16k: Sequence[np.ndarray] | None, num_frames: int,
                      fps: int) -> torch.Tensor:
        """``[A, layers, dim, frames]``: each person's track encoded on its own, exactly as a one-person
        run encodes its audio (wav2vec2 and its normalisation see one track at a time, as upstream's
        per-path ``encode_audio``), stacked along the batch; ``audio_16k`` alone without tracks."""
        if not tracks_16k:
            return self.encode_audio(audio_16k, num_frames, fps)
        return torch.cat([self.encode_audio(np.asarray(t, np.float32)[: len(audio_16k)], num_frames, fps)
                          for t in tracks_16k], dim=0)

    def routing_gates(self, person_masks: np.ndarray | None, reference: np.ndarray) -> torch.Tensor | None:
        """The people masks as the DiT's per-token audio gates ``[A, h*w]`` on the device (``None`` for
        one person: upstream routes nothing then). Same token grid as the latents: VAE /8, patch 2."""
        if person_masks is None or len(person_masks) < 2:
            return None
        grid = token_grid(reference.shape[1], reference.shape[0])
        gates = routing_masks(np.asarray(person_masks, np.float32), grid)
        return torch.from_numpy(gates.reshape(len(gates), -1)).to(self.device, self.dtype)

    def prepare_latents(self, reference: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reference latent, the 73-frame motion history (the reference repeated, as upstream) and its latents."""
        pixels = torch.from_numpy(reference).permute(2, 0, 1).float().div(127.5).sub(1.0)
        pixels = pixels[None, :, None].to(self.device)  # [1, 3, 1, H, W]
        ref_latents = self.vae.encode(pixels.repeat(1, 1, REF_REPEATS, 1, 1))[:, :, 1:]
        history = pixels.repeat(1, 1, self.config.motion_frames, 1, 1)
        motion_latents = self.vae.encode(history)
        return ref_latents.to(self.dtype), motion_latents.to(self.dtype), history

    def decode(self, decoder: OnlineDecoder | BlockDecoder, clip_latents: torch.Tensor) -> np.ndarray:
        frames = decoder.push(clip_latents.float())  # [1, 3, F, H, W] in [-1, 1]
        return frames[0].permute(1, 2, 3, 0).add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8).cpu().numpy()

    # ------------------------------------------------------------------ shared per-step code
    # ``generate`` and the TPP ranks (``liveavatar.pipeline.distributed``) both build on these, so a
    # rank that owns denoising step i runs exactly the arithmetic the single-process loop runs.
    def prepare_conditioning(self, prompt: str, reference: np.ndarray, audio_16k: np.ndarray,
                             frames_per_clip: int, num_clips: int, fps: int, text_on_cpu: bool = False,
                             tracks_16k: Sequence[np.ndarray] | None = None):
        """``(context, audio, ref_latents, motion_latents, history)`` for a whole video; with several
        people ``audio`` holds one row per track (:meth:`encode_tracks`)."""
        context = self.encode_prompt(prompt, on_cpu=text_on_cpu)
        audio = self.encode_tracks(audio_16k, tracks_16k, num_clips * frames_per_clip, fps)
        ref_latents, motion_latents, history = self.prepare_latents(reference)
        return context, audio, ref_latents, motion_latents, history

    def prefilled_caches(self, count: int, ref_latents: torch.Tensor, motion_latents: torch.Tensor,
                         context: torch.Tensor, lat_t: int, static: bool = False,
                         offload: bool = False) -> list[KVCache]:
        """``count`` per-step KV caches sharing one sink, prefilled once at t = 0 (``static``: each in
        the fixed-shape layout of :meth:`KVCache.make_static`; ``offload``: in host memory, pinned on
        CUDA, for :class:`~liveavatar.pipeline.streaming.KVStreamer`)."""
        _, _, _, lat_h, lat_w = ref_latents.shape
        where = "cpu" if offload else self.device
        caches = [KVCache.allocate(self.config, 1, lat_t, lat_h, lat_w, dtype=self.dtype, device=where)
                  for _ in range(count)]
        self.transformer.prefill_sink(ref_latents, motion_latents, context, caches[0])
        for cache in caches[1:]:
            cache.share_sink_from(caches[0])
        if offload:
            from liveavatar.pipeline.streaming import offload_caches_

            offload_caches_(caches, pin=self.device.type == "cuda")
            return caches
        if static:
            for cache in caches:
                cache.make_static()
        return caches

    def clip_noise(self, seed: int, r: int, lat_t: int, lat_h: int, lat_w: int) -> torch.Tensor:
        """Clip r's whole noise, drawn at once from ``seed + r`` (sliced per block by the caller)."""
        generator = torch.Generator(device=self.device).manual_seed(seed + r)
        return torch.randn((1, self.config.in_dim, lat_t, lat_h, lat_w), generator=generator,
                           device=self.device, dtype=torch.float32)

    def block_audio(self, audio: torch.Tensor, block_index: int) -> torch.Tensor:
        """The audio features of absolute block ``block_index`` (4 video frames per latent frame)."""
        span = self.config.num_frames_per_block * 4
        return audio[..., block_index * span : (block_index + 1) * span]

    def denoise_step(self, x: torch.Tensor, step: int, timesteps: torch.Tensor, sigmas: torch.Tensor,
                     context: torch.Tensor, block_audio: torch.Tensor, cache: KVCache, *,
                     block_index: int, ref_rope_shift: int, attention: str = "auto",
                     audio_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Denoising step ``step`` of block ``block_index``: one DiT forward (writing ``cache``) + Euler.
        ``audio_mask``: the routing gates (:meth:`routing_gates`) when ``block_audio`` has several tracks.

        ``attention`` pins torch's SDPA kernel for this forward only (torch's choice is process-wide,
        so it is set around the DiT call and not around the whole run, where the VAE also attends)."""
        pinned = contextlib.nullcontext() if attention == "auto" else sdpa_kernel(sdpa_backends(attention))
        with pinned:  # "auto" leaves torch's flags alone: nothing to set on the hot path
            flow = self.transformer.forward_block(
                x.to(self.dtype), timesteps[step].expand(1).float(), context, block_audio, cache,
                block_index=block_index, write_cache=True, ref_rope_shift=ref_rope_shift, audio_mask=audio_mask,
            )
        return euler_step(sigmas, step, x, flow.float())

    # ------------------------------------------------------------------ generation
    @torch.no_grad()
    def generate(
        self,
        prompt: str,
        reference: np.ndarray,
        audio_16k: np.ndarray,
        *,
        frames_per_clip: int = 48,
        num_clips: int = 1,
        steps: int = 4,
        seed: int = 420,
        fps: int = 25,
        online_decode: bool = True,
        cancel: threading.Event | None = None,
        on_step: Callable[[int, int, int, int], None] | None = None,
        speed: SpeedOptions | None = None,
        tracks_16k: Sequence[np.ndarray] | None = None,
        person_masks: np.ndarray | None = None,
    ) -> Iterator[ClipOutput]:
        """Yield ``num_clips`` clips of ``frames_per_clip`` frames, in order.

        Several people: ``tracks_16k`` (2-4 tracks, each as long as ``audio_16k``, which is their mix)
        and ``person_masks [A, H, W]`` on ``reference``, in the same order; each person's mouth follows
        their own track (see the module docstring).

        Stops between blocks once ``cancel`` is set. ``on_step(clip, block, step, steps)`` is called
        after each denoising step (progress and ETA are built on it). ``speed`` carries the run-time
        options (attention kernel, static KV buffers, decode overlap, text encoder on the CPU); the
        load-time ones were applied when the model was loaded. Default: the options it was loaded with.
        """
        speed = self.speed if speed is None else speed
        self.check_inputs(reference, audio_16k, frames_per_clip, steps, tracks_16k, person_masks)
        overlap = speed.overlap_decode and online_decode
        with self._lock, (ThreadPoolExecutor(1, "vae-decode") if overlap else contextlib.nullcontext()) as decoder_pool:
            yield from self._clips(prompt, reference, audio_16k, frames_per_clip, num_clips, steps, seed, fps,
                                   online_decode, cancel, on_step, speed, decoder_pool, tracks_16k, person_masks)

    def _clips(self, prompt: str, reference: np.ndarray, audio_16k: np.ndarray, frames_per_clip: int,
               num_clips: int, steps: int, seed: int, fps: int, online_decode: bool,
               cancel: threading.Event | None, on_step: Callable[[int, int, int, int], None] | None,
               speed: SpeedOptions, decoder_pool: ThreadPoolExecutor | None,
               tracks_16k: Sequence[np.ndarray] | None = None,
               person_masks: np.ndarray | None = None) -> Iterator[ClipOutput]:
        """The body of :meth:`generate`, run under its lock and with its decode thread (if overlapping)."""
        t0 = time.perf_counter()
        context, audio, ref_latents, motion_latents, history = self.prepare_conditioning(
            prompt, reference, audio_16k, frames_per_clip, num_clips, fps, text_on_cpu=speed.text_encoder_on_cpu,
            tracks_16k=tracks_16k)
        audio_mask = self.routing_gates(person_masks, reference) if tracks_16k else None
        decoder = OnlineDecoder(self.vae, history, frames_per_clip, self.config.motion_frames, first_clip_trim=0)
        prep_s = time.perf_counter() - t0

        if self.offload_model:
            self.transformer.to(self.device)
        fpb = self.config.num_frames_per_block
        lat_t = frames_per_clip // 4
        num_blocks = lat_t // fpb
        _, _, _, lat_h, lat_w = ref_latents.shape
        amortised = speed.stream_blocks or speed.offload_kv
        caches = self.prefilled_caches(steps, ref_latents, motion_latents, context, lat_t,
                                       static=speed.static_kv and not speed.offload_kv, offload=speed.offload_kv)
        pending: list[tuple[int, torch.Tensor, float]] = []
        decoding: list[Future[ClipOutput]] = []  # overlap: clips being decoded beside the denoising, in order
        work = _BlockWork(context, audio, caches, steps, seed, lat_t, lat_h, lat_w, num_blocks, num_clips,
                          speed.attention, cancel, on_step, audio_mask)
        source = self._amortised_blocks(work) if amortised else self._plain_blocks(work)

        def finished() -> Iterator[ClipOutput]:
            while decoding and decoding[0].done():
                yield decoding.pop(0).result()

        blocks: list[torch.Tensor] = []
        t_clip = time.perf_counter()
        for r, b, x in source:
            blocks.append(x)
            if b < num_blocks - 1:
                yield from finished()
                continue
            clip_latents = torch.cat(blocks, dim=2)
            blocks = []
            denoise_s = time.perf_counter() - t_clip
            prep = prep_s if r == 0 else 0.0
            if decoder_pool is not None:
                decoding.append(decoder_pool.submit(self._decoded_beside, decoder, r, clip_latents, denoise_s, prep))
            elif online_decode:
                yield self._decoded(decoder, r, clip_latents, denoise_s, prep)
            else:
                pending.append((r, clip_latents.cpu(), denoise_s))
            yield from finished()
            t_clip = time.perf_counter()
        for future in decoding:  # clips already denoised are kept, also when stopped
            yield future.result()
        if cancel is not None and cancel.is_set():
            return
        for r, clip_latents, denoise_s in pending:
            if cancel is not None and cancel.is_set():
                return
            yield self._decoded(decoder, r, clip_latents.to(self.device), denoise_s, prep_s if r == 0 else 0.0)

    def _plain_blocks(self, w: "_BlockWork") -> Iterator[tuple[int, int, torch.Tensor]]:
        """The block loop: each block through all its steps (one whole forward per step), in order.
        Yields ``(clip, block, latents)`` per finished block; stops before a block once cancelled."""
        scheduler = make_scheduler(w.steps, device=self.device)
        timesteps, sigmas = scheduler.timesteps, scheduler.sigmas
        fpb = self.config.num_frames_per_block
        rope_rng = random.Random(w.seed)
        for r in range(w.num_clips):
            noise = self.clip_noise(w.seed, r, w.lat_t, w.lat_h, w.lat_w)
            for b in range(w.num_blocks):
                if w.cancel is not None and w.cancel.is_set():
                    return
                block_index = r * w.num_blocks + b
                x = noise[:, :, b * fpb : (b + 1) * fpb]
                on_step = None if w.on_step is None else (lambda i, r=r, b=b: w.on_step(r, b, i, w.steps))
                x = self.denoise_block(x, block_index, self.block_audio(w.audio, block_index), rope_rng, timesteps,
                                       sigmas, w.context, w.caches, w.steps, w.attention, on_step,
                                       audio_mask=w.audio_mask)
                yield r, b, x

    def denoise_block(self, x: torch.Tensor, block_index: int, block_audio: torch.Tensor, rope_rng: random.Random,
                      timesteps: torch.Tensor, sigmas: torch.Tensor, context: torch.Tensor, caches: list[KVCache],
                      steps: int, attention: str = "auto",
                      on_step: Callable[[int], None] | None = None,
                      audio_mask: torch.Tensor | None = None) -> torch.Tensor:
        """One block through all its denoising steps, in order (the plain loop's body, and live mode's):
        its RoPE shifts drawn from ``rope_rng`` first, then step i writes ``caches[i]``."""
        shifts = draw_ref_rope_shifts(rope_rng, block_index * self.config.num_frames_per_block, steps)
        for i in range(steps):
            x = self.denoise_step(x, i, timesteps, sigmas, context, block_audio, caches[i],
                                  block_index=block_index, ref_rope_shift=shifts[i], attention=attention,
                                  audio_mask=audio_mask)
            if on_step:
                on_step(i + 1)
        return x

    def _amortised_blocks(self, w: "_BlockWork") -> Iterator[tuple[int, int, torch.Tensor]]:
        """Timestep forcing in one process: the S = ``steps`` denoising steps run as a pipeline over blocks.

        At tick t, block ``t - i`` is at step i for every i in 0..S-1 that exists (the first ticks fill
        the pipeline, the last S-1 drain it). Each layer's weights come onto the device once per tick and
        every in-flight block's forward runs through that layer while they are there, one block after
        another (not batched, so each block's arithmetic is exactly :meth:`denoise_step`'s); then each
        block takes its Euler step. Layer weights thus cross PCIe once per finished block instead of once
        per step. Causality: block k at step i reads cache[i], which block k-1 wrote at step i a tick
        earlier, and its own step i-1 result from a tick earlier; every cache sees the blocks' writes in
        the plain loop's order, so the frames are the plain loop's bit for bit. Noise is drawn per clip
        (seed + clip) and the RoPE shifts per block as it enters, in block order, as the plain loop does.

        Yields each block as it finishes (in order); a cancel stops before the next tick and drops the
        blocks in flight (they belong to clips not yet finished)."""
        from liveavatar.pipeline.streaming import KVStreamer

        tr = self.transformer
        scheduler = make_scheduler(w.steps, device=self.device)
        timesteps, sigmas = scheduler.timesteps, scheduler.sigmas
        fpb = self.config.num_frames_per_block
        rope_rng = random.Random(w.seed)
        total = w.num_clips * w.num_blocks
        kv = KVStreamer(self.device) if w.caches[0].host_memory else None
        jobs: list[_Job] = []  # in flight, oldest (highest step) first
        noise: dict[int, torch.Tensor] = {}
        pinned = contextlib.nullcontext() if w.attention == "auto" else sdpa_kernel(sdpa_backends(w.attention))
        for k in range(total + w.steps - 1):  # tick k: block k enters
            if w.cancel is not None and w.cancel.is_set():
                return
            if k < total:
                r, b = divmod(k, w.num_blocks)
                if b == 0:
                    noise[r] = self.clip_noise(w.seed, r, w.lat_t, w.lat_h, w.lat_w)
                x = noise[r][:, :, b * fpb : (b + 1) * fpb]
                if b == w.num_blocks - 1:
                    del noise[r]
                jobs.append(_Job(k, r, b, x, self.block_audio(w.audio, k),
                                 draw_ref_rope_shifts(rope_rng, k * fpb, w.steps)))
            with pinned:
                states = [tr.begin_block(j.x.to(self.dtype), timesteps[j.step].expand(1).float(), w.context, j.audio,
                                         w.caches[j.step], block_index=j.k, write_cache=True,
                                         ref_rope_shift=j.shifts[j.step], audio_mask=w.audio_mask) for j in jobs]
                for layer in range(len(tr.blocks)):
                    with tr.resident_block(layer):
                        for n, (job, state) in enumerate(zip(jobs, states)):
                            if kv is None:
                                tr.block_layer(state, layer)
                                continue
                            host = state.cache.layers[layer]
                            dev = kv.get((n, layer), host, state.valid)
                            if n + 1 < len(jobs):  # the next job's cache layer comes in while this one computes
                                kv.prefetch((n + 1, layer), states[n + 1].cache.layers[layer], states[n + 1].valid)
                            elif layer + 1 < len(tr.blocks):
                                kv.prefetch((0, layer + 1), states[0].cache.layers[layer + 1], states[0].valid)
                            tr.block_layer(state, layer, kv=dev)
                            kv.write_back(host, dev, state.slot, state.end)
                flows = [tr.finish_block(state) for state in states]
            del states
            for job, flow in zip(jobs, flows):
                job.x = euler_step(sigmas, job.step, job.x, flow.float())
                job.step += 1
                if w.on_step:
                    w.on_step(job.r, job.b, job.step, w.steps)
            while jobs and jobs[0].step == w.steps:
                done = jobs.pop(0)
                yield done.r, done.b, done.x
        if kv is not None:
            kv.clear()

    def _decoded_beside(self, decoder: OnlineDecoder, r: int, latents: torch.Tensor, denoise_s: float,
                        prep_s: float) -> ClipOutput:
        """Decode on the worker thread while the next clip denoises. On a GPU the decode gets its own
        CUDA stream (ordered after the stream that made the latents), so the two overlap on the device."""
        if self.device.type != "cuda":
            return self._decoded(decoder, r, latents, denoise_s, prep_s, move_dit=False)
        made = torch.cuda.current_stream(self.device)
        side = torch.cuda.Stream(self.device)
        side.wait_stream(made)
        with torch.cuda.stream(side):
            latents.record_stream(side)
            out = self._decoded(decoder, r, latents, denoise_s, prep_s, move_dit=False)
        side.synchronize()
        return out

    def _decoded(self, decoder: OnlineDecoder, r: int, latents: torch.Tensor, denoise_s: float, prep_s: float,
                 move_dit: bool = True) -> ClipOutput:
        t = time.perf_counter()
        if self.offload_model and move_dit:
            self.transformer.to("cpu")
        frames = self.decode(decoder, latents)
        if self.offload_model and move_dit:
            self.transformer.to(self.device)
        return ClipOutput(r, frames, {"prepare_s": prep_s, "denoise_s": denoise_s, "decode_s": time.perf_counter() - t})
