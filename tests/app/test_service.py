"""The app as a live service, through gradio_client: streamed clips, stop, queue, history, checks while busy."""

from __future__ import annotations

import json
import time
from pathlib import Path

from gradio_client import Client, handle_file
from gradio_client.utils import Status

from liveavatar.examples import load_examples
from liveavatar.media.video import probe_video

ROOT = Path(__file__).resolve().parents[2]
GOOD = next(e for e in load_examples(ROOT / "examples") if e.expect == "ok")
# Many short clips at a large size: slow enough on the preview to stop, queue and check in between.
LONG = json.dumps({"size": "704*384", "num_clip": None, "infer_frames": 12, "sample_steps": 3, "seed": 5})


def _submit(client: Client, settings: str = LONG):
    return client.submit(GOOD.prompt, handle_file(GOOD.image), handle_file(GOOD.audio), "custom", settings,
                         api_name="/generate")


def _video(value) -> str:
    return value["video"] if isinstance(value, dict) else value


def _wait_for_outputs(job, n: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(job.outputs()) < n:
        assert not job.done() or len(job.outputs()) >= n, "job ended before producing enough outputs"
        assert time.monotonic() < deadline, "timed out waiting for streamed clips"
        time.sleep(0.05)


def test_clips_stream_before_the_job_ends(app_server):
    client = Client(app_server["url"], verbose=False)
    job = _submit(client)
    _wait_for_outputs(job, 1)
    first_video, first_info = job.outputs()[0]
    assert first_info["status"] == "running" and not job.done()
    clip = probe_video(_video(first_video))
    assert clip.frame_count == 12 and clip.has_audio  # the first clip plays on its own, with its audio
    final_video, info = job.result(timeout=300)
    assert info["status"] == "done" and info["clips_done"] > 1
    assert len(job.outputs()) == info["clips_done"] + 1
    assert info["first_clip_seconds"] < info["seconds"]
    assert info["cli"].startswith("python -m liveavatar.generate") and "--base_seed 5" in info["cli"]
    meta = probe_video(_video(final_video))
    assert meta.frame_count == info["plan"]["video_frames"]


def test_stop_keeps_the_finished_clips_with_matching_audio(app_server):
    client = Client(app_server["url"], verbose=False)
    job = _submit(client)
    _wait_for_outputs(job, 2)
    message = client.predict(api_name="/stop")
    assert "Stopping" in message
    video, info = job.result(timeout=120)
    assert info["status"] == "stopped" and info["cancelled"]
    v = probe_video(_video(video))
    assert 0 < v.frame_count < info["plan"]["video_frames"]
    assert v.frame_count == info["frames_written"]
    assert abs(v.audio_duration_s - v.duration_s) < 0.07  # AAC frames at 16 kHz are 64 ms
    assert client.predict(api_name="/stop") == "Nothing is running."


def test_jobs_queue_in_order_and_checks_answer_while_busy(app_server):
    a, b, c = (Client(app_server["url"], verbose=False) for _ in range(3))
    job_a = _submit(a)
    _wait_for_outputs(job_a, 1)
    job_b = _submit(b)
    saw_queued = False
    deadline = time.monotonic() + 60
    while not job_a.done() and time.monotonic() < deadline:
        status = job_b.status()
        if status.code == Status.IN_QUEUE and status.rank is not None and status.rank >= 0:
            saw_queued = True
            break
        time.sleep(0.05)
    assert saw_queued, "the second job should wait in the queue with its position"
    started = time.monotonic()
    checks = c.predict(GOOD.prompt, handle_file(GOOD.image), handle_file(GOOD.audio), "quick", api_name="/check")
    assert checks and not job_a.done(), "checks must answer while the generator is busy"
    assert time.monotonic() - started < 30
    _, info_a = job_a.result(timeout=300)
    _, info_b = job_b.result(timeout=300)
    assert info_a["status"] == info_b["status"] == "done"
    assert len(job_b.outputs()) == info_b["clips_done"] + 1
