"""Prints, for the launched app on the preview backend: time to first clip and total time per preset,
and how long ``/check`` takes while a generation is running.

Run: ``python benchmarks/service_speed.py``. Talks to the app through gradio_client, as users' scripts do.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gradio_client import Client, handle_file  # noqa: E402

from liveavatar.examples import load_examples  # noqa: E402
from liveavatar.testing.server import launched_app  # noqa: E402

GOOD = next(e for e in load_examples(ROOT / "examples") if e.expect == "ok")


def main() -> None:
    with launched_app(Path(tempfile.mkdtemp()), "--preview") as server:
        url = server["url"]
        client = Client(url, verbose=False)
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


if __name__ == "__main__":
    main()
