"""Live mode's orchestration (liveavatar/live.py) on the preview's live session: blocks out while the
speech is still coming in, segments the page can play, one MP4 at the end, stop, limits, latency."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from liveavatar.backends.base import LiveBlock, PreparedInputs
from liveavatar.backends.preview import PreviewBackend
from liveavatar.live import BlockRecord, LiveBusyError, LiveRooms, LiveRun, latency_stats
from liveavatar.media.video import probe_video
from liveavatar.plan import make_plan
from liveavatar.presets import QUICK
from liveavatar.testing.synth import speech_like

SR = 16_000
W, H = 256, 192
CHUNK = 12 * 640  # 0.48 s


def new_run(tmp_path: Path, **kw) -> LiveRun:
    plan = make_plan(QUICK.settings, image_size=(W, H), audio_seconds=1.0)
    ref = np.full((plan.height, plan.width, 3), 120, np.uint8)
    session = PreviewBackend().start_live(plan, PreparedInputs("p", ref, np.zeros(0, np.float32), seed=1))
    return LiveRun(session, tmp_path, width=plan.width, height=plan.height, fps=plan.fps, **kw)


def test_blocks_come_out_while_the_speech_is_still_arriving_and_the_end_keeps_them_all(tmp_path):
    seen_segments: list[bool] = []
    run = new_run(tmp_path, on_block=lambda r: seen_segments.append(Path(r.segment).is_file()))
    audio = speech_like(3.0, seed=2)
    got_before_end: list[BlockRecord] = []
    for i in range(0, len(audio), CHUNK):
        run.push(audio[i : i + CHUNK])
        if i >= 2 * CHUNK:  # the first block needs one chunk of lookahead: it is out by the third push
            got_before_end = run.wait_for_blocks(0, timeout=5)
    assert got_before_end and not run.audio_ended  # video before the speech has ended
    run.end_audio()
    result = run.finish(timeout=30)
    frames = int(np.ceil(len(audio) / 640))
    assert sum(r.frames for r in result.records) == frames == 75
    assert [r.index for r in result.records] == list(range(len(result.records)))
    assert seen_segments and all(seen_segments)  # each segment existed when it was announced
    assert not list(tmp_path.glob("segment-*.mp4"))  # and they are gone once the run is finished
    info = probe_video(result.video)
    assert (info.width, info.height, info.frame_count) == (W, H, frames)
    assert info.audio_duration_s == pytest.approx(frames / 25, abs=0.05)
    assert not result.stopped and not result.limit_reached and result.error is None
    assert result.stats.blocks == len(result.records) and result.stats.p50 is not None
    assert 0 <= result.stats.p50 <= result.stats.p95 < 5
    assert all(r.handed_out >= r.ready_arrived >= r.speech_arrived for r in result.records)


def test_stop_ends_the_worker_and_keeps_what_was_made(tmp_path):
    run = new_run(tmp_path)
    run.push(speech_like(6.0, seed=3))  # enough for 12 blocks at once
    assert run.wait_for_blocks(0, timeout=10)
    run.stop()
    result = run.finish(timeout=30)
    assert result.stopped and result.video is not None
    made = sum(r.frames for r in result.records)
    assert 0 < made < 150
    assert probe_video(result.video).frame_count == made
    assert run.push(speech_like(0.5)) == 0  # nothing is taken after a stop
    assert run.finish() is result


def test_a_run_takes_at_most_max_seconds_of_speech_then_drains(tmp_path):
    run = new_run(tmp_path, max_seconds=1.0, segments=False)
    assert run.push(speech_like(2.0)) == SR
    assert run.limit_reached and run.audio_ended
    result = run.finish(timeout=30)
    assert result.limit_reached and result.speech_seconds == 1.0
    assert sum(r.frames for r in result.records) == 25
    assert all(r.segment is None for r in result.records)


def test_stop_before_any_block_leaves_no_video(tmp_path):
    run = new_run(tmp_path)
    run.push(np.zeros(1000, np.float32))
    run.stop()
    result = run.finish(timeout=10)
    assert result.video is None and result.records == []
    assert not list(tmp_path.glob("*.mp4"))


class FailingSession:
    """Makes one block, then fails: the run keeps the block and reports the error."""

    block_frames, lookahead_samples = 12, 0

    def __init__(self) -> None:
        self.calls, self.closed, self.heard = 0, False, 0

    def push_audio(self, samples):
        self.heard += len(samples)

    def end_audio(self):
        pass

    def next_block(self):
        if self.heard < CHUNK:
            return None
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("out of memory")
        return LiveBlock(0, np.zeros((12, H, W, 3), np.uint8), np.zeros(CHUNK, np.float32), CHUNK)

    @property
    def finished(self):
        return False

    def close(self):
        self.closed = True


def test_a_failing_backend_keeps_the_blocks_made_and_says_why(tmp_path):
    session = FailingSession()
    run = LiveRun(session, tmp_path, width=W, height=H, fps=25)
    run.push(np.zeros(CHUNK, np.float32))
    result = run.finish(timeout=10)
    assert result.error == "RuntimeError: out of memory"
    assert len(result.records) == 1 and probe_video(result.video).frame_count == 12
    assert session.closed


def fake(index: int, speech_s: float, delay: float) -> BlockRecord:
    return BlockRecord(index=index, frames=12, audio_end=int(speech_s * SR), speech_arrived=speech_s,
                       ready_arrived=speech_s + 0.1, handed_out=speech_s + delay)


def test_latency_stats_percentiles_and_drift():
    flat = latency_stats([fake(i, 0.48 * (i + 1), 0.5) for i in range(100)])
    assert flat.blocks == 100 and flat.p50 == pytest.approx(0.5) and flat.p95 == pytest.approx(0.5)
    assert flat.compute_p50 == pytest.approx(0.4) and flat.slope == pytest.approx(0.0, abs=1e-9)
    # A backend at 80 % of real time falls behind by 0.25 s for each second of speech.
    slow = latency_stats([fake(i, 0.48 * (i + 1), 0.3 + 0.25 * 0.48 * (i + 1)) for i in range(125)])
    assert slow.slope == pytest.approx(0.25, rel=1e-6)
    assert slow.last_window - slow.first_window == pytest.approx(0.25 * (60 - 10), abs=0.3)
    assert slow.p95 > slow.p50
    assert latency_stats([]).p50 is None


def test_one_live_run_per_visitor():
    rooms = LiveRooms()
    rooms.claim("a" * 32, "tab1")
    with pytest.raises(LiveBusyError):
        rooms.claim("a" * 32, "tab2")  # the same visitor in another tab
    rooms.claim("b" * 32, "tab3")  # another visitor is free to go live
    assert rooms.run_for("tab1") is None and len(rooms) == 2
    rooms.release("a" * 32, "tab1")
    rooms.claim("a" * 32, "tab2")
    assert len(rooms) == 2
