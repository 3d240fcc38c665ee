"""The seam between the app and whatever makes frames.

The preview and the real pipeline both implement :class:`Backend`: they take a plan and prepared
inputs and yield finished clips one by one. Streaming, progress and cancel are built on that
iterator, so the app behaves the same whichever backend runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from liveavatar.plan import GenerationPlan


@dataclass
class PersonInputs:
    """One speaking person of a several-people portrait, fitted to the plan like the rest.

    ``audio_16k`` is this person's own track, exactly as long as the planned video (silence where
    their recording has ended). ``mask`` is float32 ``[H, W]`` in 0..1 on ``reference``: where this
    person is (face, hair, body); the model turns it into its routing gates, the preview ignores it.
    """

    audio_16k: np.ndarray
    mask: np.ndarray
    face_box: tuple[int, int, int, int] | None = None
    mouth_box: tuple[int, int, int, int] | None = None


@dataclass
class PreparedInputs:
    """Inputs already fitted to the plan, so a backend never resizes or resamples.

    ``reference`` is the portrait resized and centre-cropped to the plan's width×height.
    ``audio_16k`` is mono float32 at 16 kHz, exactly as long as the planned video; with several
    people (``people``, in the order their tracks were given) it is their tracks mixed, the sound
    of the video, and ``face_box``/``mouth_box`` are ``None``.
    Boxes are ``(x0, y0, x1, y1)`` in pixels of ``reference``; ``None`` when unknown.
    """

    prompt: str
    reference: np.ndarray
    audio_16k: np.ndarray
    seed: int
    face_box: tuple[int, int, int, int] | None = None
    mouth_box: tuple[int, int, int, int] | None = None
    people: list[PersonInputs] = field(default_factory=list)

    @property
    def several_people(self) -> bool:
        """Two or more people, each driven by their own track (``people``); else one, by ``audio_16k``."""
        return len(self.people) >= 2


@dataclass
class Clip:
    """One finished clip: ``frames`` is uint8 [T, H, W, 3] at the plan's size and fps."""

    index: int
    frames: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class LiveBlock:
    """One block made in live mode: ``frames`` uint8 [n, H, W, 3] showing ``audio_16k`` (n × 640 samples
    at 25 fps). ``index`` counts blocks from 0; ``audio_end`` is the sample (since the session started)
    at which this block's speech ends, so the caller can match it with when that audio arrived."""

    index: int
    frames: np.ndarray
    audio_16k: np.ndarray
    audio_end: int
    timings: dict[str, float] = field(default_factory=dict)


class LiveSession(Protocol):
    """Speech in, video out, block by block, for as long as the speech lasts (live mode).

    ``push_audio`` may be called from one thread while another calls ``next_block`` (which does the
    work, synchronously). A block can be made once its audio plus ``lookahead_samples`` of what
    follows it have arrived (the audio encoder's right context); ``end_audio`` says no more is
    coming, after which the remaining audio is made into blocks (the last one padded with silence).
    """

    block_frames: int
    lookahead_samples: int

    def push_audio(self, samples_16k: np.ndarray) -> None: ...

    def end_audio(self) -> None: ...

    def next_block(self) -> LiveBlock | None:
        """Make and return the next block if its audio is in, else ``None`` at once (never waits)."""
        ...

    @property
    def finished(self) -> bool:
        """``end_audio`` was called and every block has been returned."""
        ...

    def close(self) -> None: ...


class Backend(Protocol):
    name: str
    label: str
    is_preview: bool

    def start_live(self, plan: GenerationPlan, inputs: PreparedInputs) -> LiveSession:
        """Open a live session at the plan's size, steps and fps (its clip count is ignored; the audio in
        ``inputs`` is empty and arrives through ``push_audio``)."""
        ...

    def generate(
        self,
        plan: GenerationPlan,
        inputs: PreparedInputs,
        cancel: threading.Event | None = None,
        on_step: Callable[[int, int, int, int], None] | None = None,
    ) -> Iterator[Clip]:
        """Yield ``plan.num_clips`` clips in order; the last one may be shorter (trimmed to the audio).

        Stops early, without error, once ``cancel`` is set. ``on_step(clip, block, step, steps)``
        reports denoising steps where the backend has them (progress and ETA within a clip).
        """
        ...
