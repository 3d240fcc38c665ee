"""Live mode for the in-process pipeline: speech pushed in as it is spoken, video taken out block by block.

:class:`LiveGeneration` is :meth:`LiveAvatarPipeline.generate` turned inside out. The offline run
knows the whole speech, encodes it at once and loops over blocks; here the prompt, reference,
sink-prefilled KV caches and noise are prepared once, and each block is made as soon as its audio
(plus the audio encoder's lookahead) has arrived: its features (:class:`IncrementalAudioFeatures`),
its denoising steps (:meth:`LiveAvatarPipeline.denoise_block`, the offline loop's own code), and its
12 frames (:class:`BlockDecoder`, without waiting for the clip). The KV caches and the sink live as
long as the session, and wrap as they do offline, so a session can last as long as the speech.

Given the same per-frame audio features, the frames are the offline run's bit for bit (the tests
check it by handing the session the offline features); the only difference is those features, which
live mode computes from a window of the speech (see :class:`IncrementalAudioFeatures`).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch

from liveavatar.backends.base import LiveBlock
from liveavatar.pipeline.audio import SAMPLE_RATE, AudioWindow, IncrementalAudioFeatures
from liveavatar.pipeline.pipeline import OOM_LADDER, LiveAvatarPipeline, PipelineError
from liveavatar.pipeline.scheduler import make_scheduler
from liveavatar.pipeline.vae import BlockDecoder
from liveavatar.speed import SpeedOptions

FeatureSource = Callable[[int, int], torch.Tensor]
"""``(first frame, end frame) -> [layers, frames, dim]`` features; the default is incremental."""


class LiveGeneration:
    """One live session on a loaded pipeline (it holds the pipeline's lock until :meth:`close`)."""

    def __init__(self, pipe: LiveAvatarPipeline, prompt: str, reference: np.ndarray, *, frames_per_clip: int = 48,
                 steps: int = 4, seed: int = 420, fps: int = 25, speed: SpeedOptions | None = None,
                 window: AudioWindow = AudioWindow(), total_samples: int | None = None,
                 features: FeatureSource | None = None):
        """``total_samples``: the speech's length when known in advance (a recording played live), so the
        audio features take the offline run's time grid; ``features`` replaces the incremental features
        (the tests hand in the offline run's to compare the rest bit for bit)."""
        speed = pipe.speed if speed is None else speed
        if speed.offload_kv:
            # Host-memory KV caches pay off only in the amortised schedule, which keeps ``steps`` blocks in
            # flight: each would wait for the audio of the blocks behind it, (steps - 1) × 0.48 s more delay.
            # Live mode runs the plain loop (streamed block weights still work there), caches on the device.
            speed = replace(speed, offload_kv=False)
        pipe.check_inputs(reference, np.zeros(SAMPLE_RATE, np.float32), frames_per_clip, steps)
        if not pipe.try_reserve():
            raise PipelineError("The model is busy with another generation; live mode starts when it is free.")
        try:
            self._prepare(pipe, prompt, reference, frames_per_clip, steps, seed, fps, speed, window, total_samples,
                          features)
        except BaseException:
            pipe.release()
            raise

    def _prepare(self, pipe: LiveAvatarPipeline, prompt: str, reference: np.ndarray, frames_per_clip: int,
                 steps: int, seed: int, fps: int, speed: SpeedOptions, window: AudioWindow,
                 total_samples: int | None, features: FeatureSource | None) -> None:
        t0 = time.perf_counter()
        self.pipe = pipe
        self.steps, self.seed, self.fps, self.speed = steps, seed, fps, speed
        self.block_frames = pipe.config.num_frames_per_block * 4
        self.samples_per_frame = SAMPLE_RATE // fps
        self.audio = IncrementalAudioFeatures(pipe.audio_encoder, fps=fps, window=window, total_samples=total_samples)
        self._features = features or self.audio.frames
        self.lookahead_samples = self.audio.lookahead_samples
        self.context = pipe.encode_prompt(prompt, on_cpu=speed.text_encoder_on_cpu)
        ref_latents, motion_latents, history = pipe.prepare_latents(reference)
        self.decoder = BlockDecoder(pipe.vae, history, frames_per_clip, pipe.config.motion_frames)
        if pipe.offload_model:
            pipe.transformer.to(pipe.device)
        self.lat_t = frames_per_clip // 4
        self.num_blocks = self.lat_t // pipe.config.num_frames_per_block
        _, _, _, self.lat_h, self.lat_w = ref_latents.shape
        self.caches = pipe.prefilled_caches(steps, ref_latents, motion_latents, self.context, self.lat_t,
                                            static=speed.static_kv)
        scheduler = make_scheduler(steps, device=pipe.device)
        self.timesteps, self.sigmas = scheduler.timesteps, scheduler.sigmas
        self.rope_rng = random.Random(seed)
        self._noise: torch.Tensor | None = None
        self._next = 0  # the next block to make
        self._lock = threading.Lock()  # push_audio / end_audio from another thread than next_block
        self._working = threading.Lock()  # held while a block is made, so close() waits for it
        self._closed = False
        self.prepare_s = time.perf_counter() - t0

    # ------------------------------------------------------------------ audio in
    def push_audio(self, samples_16k: np.ndarray) -> None:
        with self._lock:
            self.audio.push(samples_16k)

    def end_audio(self) -> None:
        with self._lock:
            self.audio.end()

    def _blocks_spoken(self) -> int:
        """Blocks with at least one sample of speech (the last may be partly silence)."""
        span = self.block_frames * self.samples_per_frame
        return -(-self.audio.samples // span)

    @property
    def finished(self) -> bool:
        with self._lock:
            return self._closed or (self.audio.ended and self._next >= self._blocks_spoken())

    def _ready(self) -> bool:
        with self._lock:
            if self._closed:
                return False
            if self.audio.ended:
                return self._next < self._blocks_spoken()
            return self.audio.frames_ready((self._next + 1) * self.block_frames)

    # ------------------------------------------------------------------ video out
    def next_block(self) -> LiveBlock | None:
        with self._working:
            if not self._ready():
                return None
            try:
                return self._make_block()
            except torch.cuda.OutOfMemoryError:
                raise PipelineError(OOM_LADDER) from None

    @torch.no_grad()
    def _make_block(self) -> LiveBlock:
        pipe, k = self.pipe, self._next
        f0 = k * self.block_frames
        t0 = time.perf_counter()
        with self._lock:  # the buffer is read while no push can change it
            feats = self._features(f0, f0 + self.block_frames)
        block_audio = feats.permute(0, 2, 1).unsqueeze(0).to(pipe.device, pipe.dtype)  # [1, L, D, 12]
        t1 = time.perf_counter()
        r, b = divmod(k, self.num_blocks)
        if b == 0:
            self._noise = pipe.clip_noise(self.seed, r, self.lat_t, self.lat_h, self.lat_w)
        fpb = pipe.config.num_frames_per_block
        x = self._noise[:, :, b * fpb : (b + 1) * fpb]
        x = pipe.denoise_block(x, k, block_audio, self.rope_rng, self.timesteps, self.sigmas, self.context,
                               self.caches, self.steps, self.speed.attention)
        t2 = time.perf_counter()
        pixels = pipe.decode(self.decoder, x)
        t3 = time.perf_counter()
        self._next += 1
        spf = self.samples_per_frame
        start, end = f0 * spf, (f0 + self.block_frames) * spf
        with self._lock:
            audio = self.audio.spoken(start, end)
        audio_end = start + len(audio)
        if len(audio) < end - start:  # the speech ended in this block: keep the frames that show it
            shown = -(-len(audio) // spf)
            pixels = pixels[:shown]
            audio = np.concatenate([audio, np.zeros(shown * spf - len(audio), np.float32)])
        return LiveBlock(k, pixels, audio, audio_end,
                         {"features_s": t1 - t0, "denoise_s": t2 - t1, "decode_s": t3 - t2})

    def close(self) -> None:
        """End the session (also from another thread: a block being made is finished first) and free the
        model for other work."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        with self._working:
            self.caches = []
        self.pipe.release()

    def __enter__(self) -> LiveGeneration:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["FeatureSource", "LiveGeneration"]
