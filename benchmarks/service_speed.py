"""Prints, for the launched app on the preview backend: time to first clip and total time per preset,
and how long ``/check`` takes while a generation is running.

Run: ``python benchmarks/service_speed.py``. Talks to the app through gradio_client, as users' scripts do.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gradio_client import Client, handle_file  # noqa: E402

from liveavatar.examples import load_examples  # noqa: E402

GOOD = next(e for e in load_examples(ROOT / "examples") if e.expect == "ok")


def launch() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), "--preview", "--output_dir", tempfile.mkdtemp()],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_ENDPOINT": "http://127.0.0.1:9"},
    )
    url = f"http://127.0.0.1:{port}/"
    for _ in range(600):
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return proc, url
        except OSError:
            time.sleep(0.1)
    raise SystemExit("app did not start")


def main() -> None:
    proc, url = launch()
    try:
        client = Client(url, verbose=False)
        audio_s = 8.1
        for preset in ("quick", "standard", "high-quality"):
            t = time.perf_counter()
            job = client.submit(GOOD.prompt, handle_file(GOOD.image), handle_file(GOOD.audio), preset, '{"seed": 1}',
                                api_name="/generate")
            while not job.outputs():
                time.sleep(0.01)
            first = time.perf_counter() - t
            _, info = job.result(timeout=600)
            total = time.perf_counter() - t
            plan = info["plan"]
            print(f"{preset:13s} {plan['width']}x{plan['height']}, {info['clips_done']} clips, {info['video_seconds']:.1f} s of video: "
                  f"first clip in {first:.2f} s (server {info['first_clip_seconds']:.2f} s), total {total:.2f} s "
                  f"= {info['video_seconds'] / total:.1f}x real time")
        # /check latency while a long generation runs
        busy = Client(url, verbose=False)
        job = busy.submit(GOOD.prompt, handle_file(GOOD.image), handle_file(GOOD.audio), "custom",
                          '{"size": "704*384", "infer_frames": 12, "num_clip": null}', api_name="/generate")
        while not job.outputs():
            time.sleep(0.01)
        checker = Client(url, verbose=False)
        latencies = []
        while not job.done() and len(latencies) < 20:
            t = time.perf_counter()
            checker.predict(GOOD.prompt, handle_file(GOOD.image), handle_file(GOOD.audio), "quick", api_name="/check")
            latencies.append(time.perf_counter() - t)
        job.result(timeout=600)
        latencies.sort()
        p95 = latencies[min(len(latencies) - 1, int(round(0.95 * (len(latencies) - 1))))]
        print(f"/check while generating: {len(latencies)} requests, p50 {statistics.median(latencies) * 1000:.0f} ms, "
              f"p95 {p95 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


if __name__ == "__main__":
    main()
