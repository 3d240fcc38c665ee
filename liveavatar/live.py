"""Live mode without Gradio: speech pushed in as it is spoken, video handed out block by block.

A :class:`LiveRun` owns one backend :class:`~liveavatar.backends.base.LiveSession` and two threads:

- the *worker* calls ``next_block`` whenever audio is in (the session does the work, synchronously)
  and stamps each block with the wall time its frames were handed out;
- the *writer* turns each block into a short MP4 segment (its frames and its audio) that the page
  streams, and appends it to the run's one MP4, which is finished with the audio when the run ends.

Writing is off the worker's thread so encoding never holds back the next block. For every block
the run records when the speech that ends it arrived (``push`` stamps each piece of audio) and when
its frames were handed out: the difference is the speech-to-mouth delay this module measures
(:func:`latency_stats`: p50, p95, and the drift, i.e. whether the delay grows over the run, which it
does when the backend is slower than real time).

A stop (:meth:`LiveRun.stop`) ends the worker after the block in hand; :meth:`LiveRun.finish`
then closes the MP4 with everything made so far, so nothing finished is lost. Limits live here
too: a run takes at most ``max_seconds`` of speech (the rest is refused and the run drains), and
:class:`LiveRooms` allows one live run per visitor.
"""

from __future__ import annotations

import bisect
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from liveavatar.backends.base import LiveBlock, LiveSession
from liveavatar.media.label import stamp_label
from liveavatar.media.video import VideoWriter, write_mp4
from liveavatar.studio import failure_message

log = logging.getLogger(__name__)

AUDIO_RATE = 16_000
#: The drift compares the delay over this many seconds of speech at the start and at the end.
DRIFT_WINDOW_S = 10.0


class LiveBusyError(RuntimeError):
    """This visitor already has a live run going (one at a time)."""


@dataclass
class BlockRecord:
    """One block's timeline. Times are ``time.monotonic()`` seconds; ``audio_end`` is in samples."""

    index: int
    frames: int
    audio_end: int
    speech_arrived: float
    """When the audio up to ``audio_end`` (the block's last spoken sample) arrived."""
    ready_arrived: float
    """When the audio that let the block be made (its speech plus the lookahead, or the end) arrived."""
    handed_out: float
    """When the session returned the block's frames."""
    segment: str | None = None
    segment_ready: float | None = None

    @property
    def delay(self) -> float:
        """Speech to mouth: from the block's last spoken sample arriving to its frames existing."""
        return self.handed_out - self.speech_arrived

    @property
    def compute(self) -> float:
        """From the block becoming makeable to its frames existing: the backend's own share."""
        return self.handed_out - self.ready_arrived


@dataclass(frozen=True)
class LatencyStats:
    """What the latency readout and the benchmark print. Seconds; ``None`` when there are no blocks."""

    blocks: int
    p50: float | None
    p95: float | None
    compute_p50: float | None
    first_window: float | None
    """Mean delay over the blocks whose speech ends in the first ``DRIFT_WINDOW_S`` seconds."""
    last_window: float | None
    """The same over the last ``DRIFT_WINDOW_S`` seconds of the speech made so far."""
    slope: float | None
    """Least-squares trend of the delay, seconds of delay per second of speech (0 = no drift)."""

    def to_dict(self) -> dict[str, float | int | None]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def latency_stats(records: list[BlockRecord], window_s: float = DRIFT_WINDOW_S) -> LatencyStats:
    """p50/p95 of the speech-to-mouth delay, and its drift over the run."""
    if not records:
        return LatencyStats(0, None, None, None, None, None, None)
    delays = np.array([r.delay for r in records])
    compute = np.array([r.compute for r in records])
    at = np.array([r.audio_end / AUDIO_RATE for r in records])
    first = delays[at <= at[0] + window_s]
    last = delays[at >= at[-1] - window_s]
    slope = float(np.polyfit(at, delays, 1)[0]) if len(records) >= 3 and np.ptp(at) > 0 else None
    return LatencyStats(
        blocks=len(records), p50=float(np.percentile(delays, 50)), p95=float(np.percentile(delays, 95)),
        compute_p50=float(np.percentile(compute, 50)), first_window=float(first.mean()),
        last_window=float(last.mean()), slope=slope,
    )


@dataclass
class LiveResult:
    """How a run ended: the MP4 (``None`` when no block was made), its blocks' timeline and stats."""

    video: str | None
    records: list[BlockRecord]
    stats: LatencyStats
    stopped: bool
    limit_reached: bool
    seconds: float
    speech_seconds: float
    error: str | None = None


@dataclass
class _Arrivals:
    """Cumulative samples after each push, and when: maps a sample position to its arrival time."""

    ends: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    def add(self, total: int, when: float) -> None:
        self.ends.append(total)
        self.times.append(when)

    def time_of(self, sample: int) -> float | None:
        i = bisect.bisect_left(self.ends, sample)
        return self.times[i] if i < len(self.ends) else None


class LiveRun:
    """One live run: push speech in, take segments out, stop or let it drain, then :meth:`finish`.

    ``on_block`` (optional) is called on the writer thread with each :class:`BlockRecord` once its
    segment is written (tests, benchmarks). ``segments=False`` skips the per-block files (the
    benchmark measures the backend, not the encoder).
    """

    def __init__(
        self,
        session: LiveSession,
        out_dir: str | Path,
        *,
        width: int,
        height: int,
        fps: float,
        max_seconds: float = 15 * 60,
        ai_label: bool = True,
        metadata: dict[str, str] | None = None,
        file_name: str = "live.mp4",
        segments: bool = True,
        clock: Callable[[], float] = time.monotonic,
        on_block: Callable[[BlockRecord], None] | None = None,
    ) -> None:
        self.session = session
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.width, self.height, self.fps = int(width), int(height), float(fps)
        self.max_samples = int(max_seconds * AUDIO_RATE)
        self.ai_label = ai_label
        self.metadata = metadata
        self.path = self.out_dir / file_name
        self.segments = segments
        self.clock = clock
        self.on_block = on_block
        self.started = clock()
        self.records: list[BlockRecord] = []
        self.limit_reached = False
        self.error: str | None = None
        self._arrivals = _Arrivals()
        self._samples = 0
        self._ended_at: float | None = None
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._changed = threading.Condition()
        self._blocks: queue.Queue[tuple[LiveBlock, BlockRecord] | None] = queue.Queue()
        self._frames_written = 0
        self._audio: list[np.ndarray] = []
        self._writer: VideoWriter | None = None
        self._finished: LiveResult | None = None
        self._worker = threading.Thread(target=self._work, name="live-worker", daemon=True)
        self._encoder = threading.Thread(target=self._write, name="live-writer", daemon=True)
        self._worker.start()
        self._encoder.start()

    # --- audio in ---------------------------------------------------------------------------
    @property
    def speech_seconds(self) -> float:
        return self._samples / AUDIO_RATE

    @property
    def audio_ended(self) -> bool:
        return self._ended_at is not None

    def push(self, samples_16k: np.ndarray) -> int:
        """Hand the session more speech (16 kHz mono float32); returns the samples taken.

        Past ``max_seconds`` the rest is refused and the audio ends, so the run drains and finishes.
        """
        audio = np.asarray(samples_16k, dtype=np.float32).reshape(-1)
        if self._ended_at is not None or self._stop.is_set() or not len(audio):
            return 0
        room = self.max_samples - self._samples
        if len(audio) > room:
            audio = audio[: max(room, 0)]
            self.limit_reached = True
        if len(audio):
            self.session.push_audio(audio)
            self._samples += len(audio)
            self._arrivals.add(self._samples, self.clock())
        if self.limit_reached:
            self.end_audio()
        self._poke()
        return len(audio)

    def end_audio(self) -> None:
        """No more speech: the session makes the rest into blocks, then the run ends by itself."""
        if self._ended_at is None:
            self._ended_at = self.clock()
            self.session.end_audio()
        self._poke()

    def stop(self) -> None:
        """End now: the worker stops after the block in hand; what was made is kept (see :meth:`finish`)."""
        self._stop.set()
        self._poke()

    def _poke(self) -> None:
        with self._wake:
            self._wake.notify_all()

    # --- the worker ---------------------------------------------------------------------------
    def _work(self) -> None:
        try:
            while not self._stop.is_set():
                block = self.session.next_block()
                if block is None:
                    if self.session.finished:
                        break
                    with self._wake:  # woken by push / end / stop; the timeout is only a safety net
                        self._wake.wait(0.05)
                    continue
                handed_out = self.clock()
                self._blocks.put((block, self._record(block, handed_out)))
        except Exception as exc:  # keep what was made; the page says what went wrong
            log.exception("live session failed")
            self.error = failure_message(exc)  # a message meant for the user (e.g. out of memory) as it is
        finally:
            self._blocks.put(None)

    def _record(self, block: LiveBlock, handed_out: float) -> BlockRecord:
        lookahead = int(getattr(self.session, "lookahead_samples", 0))
        speech = self._arrivals.time_of(min(block.audio_end, self._samples)) or handed_out
        ready = self._arrivals.time_of(block.audio_end + lookahead)
        if ready is None:  # made because the audio ended, not because its lookahead came
            ready = self._ended_at if self._ended_at is not None else handed_out
        return BlockRecord(index=block.index, frames=len(block.frames), audio_end=int(block.audio_end),
                           speech_arrived=speech, ready_arrived=max(ready, speech), handed_out=handed_out)

    # --- the writer ---------------------------------------------------------------------------
    def _write(self) -> None:
        while (item := self._blocks.get()) is not None:
            block, record = item
            try:
                self._write_block(block, record)
            except Exception as exc:
                log.exception("writing a live block failed")
                self.error = self.error or f"{type(exc).__name__}: {exc}"
                self.stop()
            with self._changed:
                self.records.append(record)
                self._changed.notify_all()
            if self.on_block is not None:
                self.on_block(record)
        with self._changed:
            self._changed.notify_all()

    def _write_block(self, block: LiveBlock, record: BlockRecord) -> None:
        frames = np.ascontiguousarray(block.frames)
        pixels = stamp_label(frames.copy()) if self.ai_label else frames
        if self._writer is None:
            self._writer = VideoWriter(str(self.path), self.width, self.height, self.fps)
        self._writer.append(pixels)
        self._frames_written += len(pixels)
        samples = int(round(len(pixels) * AUDIO_RATE / self.fps))
        audio = np.zeros(samples, np.float32)
        audio[: min(samples, len(block.audio_16k))] = block.audio_16k[:samples]
        self._audio.append(audio)
        if self.segments:
            seg = self.out_dir / f"segment-{block.index:05d}.mp4"
            write_mp4(str(seg), [pixels], self.width, self.height, self.fps, audio_16k=audio, metadata=self.metadata)
            record.segment = str(seg)
        record.segment_ready = self.clock()

    # --- reading --------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._encoder.is_alive()

    def wait_for_blocks(self, seen: int, timeout: float) -> list[BlockRecord]:
        """Records after the first ``seen``, waiting up to ``timeout`` s for one (fewer when the run ended)."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.records) > seen or not self._encoder.is_alive(), timeout)
            return list(self.records[seen:])

    def speech(self) -> np.ndarray:
        """The speech under the frames written so far (16 kHz mono float32), as the MP4 carries it."""
        return np.concatenate(self._audio) if self._audio else np.zeros(0, np.float32)

    def stats(self) -> LatencyStats:
        with self._changed:
            return latency_stats(list(self.records))

    # --- the end --------------------------------------------------------------------------------
    def finish(self, timeout: float | None = None) -> LiveResult:
        """Wait for the worker and writer (stop first to end now), close the MP4 and the session.

        Idempotent. The MP4 holds every block made, with its audio; none is written (``video`` is
        ``None``) when no block was made. Segment files are removed: the page has taken them.
        """
        if self._finished is not None:
            return self._finished
        self._worker.join(timeout)
        if self._worker.is_alive():  # a block still being made: let it go, write what is done
            self._stop.set()
            self._blocks.put(None)
        self._encoder.join(timeout)
        video = None
        try:
            if self._writer is not None and self._frames_written:
                self._writer.close(audio_16k=self.speech(), sample_rate=AUDIO_RATE, metadata=self.metadata)
                video = str(self.path)
            elif self._writer is not None:
                self._writer.abort()
        except Exception as exc:
            log.exception("finishing the live video failed")
            self.error = self.error or f"{type(exc).__name__}: {exc}"
            self._writer.abort()
        finally:
            try:
                self.session.close()
            except Exception:  # pragma: no cover - a session that fails to close has nothing more to give
                log.exception("closing the live session failed")
        for record in self.records:
            if record.segment:
                Path(record.segment).unlink(missing_ok=True)
        self._finished = LiveResult(
            video=video, records=list(self.records), stats=latency_stats(self.records),
            stopped=self._stop.is_set() and not self.session.finished, limit_reached=self.limit_reached,
            seconds=self.clock() - self.started, speech_seconds=self.speech_seconds, error=self.error,
        )
        return self._finished


class LiveRooms:
    """Who is live: at most one run per visitor, found again by the browser session that started it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_visitor: dict[str, LiveRun | None] = {}
        self._by_session: dict[str, str] = {}

    def claim(self, visitor: str, session: str) -> None:
        """Reserve the visitor's one slot before the (slow) session is opened; LiveBusyError if taken."""
        with self._lock:
            if visitor in self._by_visitor:
                raise LiveBusyError(visitor)
            self._by_visitor[visitor] = None
            self._by_session[session] = visitor

    def attach(self, visitor: str, run: LiveRun) -> None:
        with self._lock:
            self._by_visitor[visitor] = run

    def run_for(self, session: str) -> LiveRun | None:
        with self._lock:
            visitor = self._by_session.get(session)
            return self._by_visitor.get(visitor) if visitor else None

    def release(self, visitor: str, session: str) -> None:
        with self._lock:
            self._by_visitor.pop(visitor, None)
            if self._by_session.get(session) == visitor:
                del self._by_session[session]

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_visitor)
