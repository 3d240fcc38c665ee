"""Load on the launched app (preview backend, loopback only): 20 clients at once, each sending one
``/check``, plus a few small ``/generate`` jobs submitted in order. Prints requests, failures,
p50/p95 ``/check`` latency, and the server's memory (RSS of the app and its children) idle, at its
peak under load and after the load has settled.

Run: ``python benchmarks/load.py [--clients 20] [--generations 3]``. ``tests/app/test_load.py``
runs the same :func:`run_load` with assertions.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.utils import Status  # noqa: E402

from liveavatar.examples import load_examples  # noqa: E402
from liveavatar.testing.server import launched_app  # noqa: E402

GOOD = next(e for e in load_examples(ROOT / "examples") if e.expect == "ok")
# One short clip: a real job through the queue, quick on the preview.
SMALL = {"size": "384*256", "num_clip": 1, "sample_steps": 3, "infer_frames": 12}


# --- memory ----------------------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                kids += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    except OSError:
        pass
    return kids


def _exe(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def rss_bytes(pid: int) -> int:
    """VmRSS of ``pid`` and all its descendants (ffmpeg encoders while a job runs), in bytes.

    A child caught between fork and exec still runs the parent's executable and shares the
    parent's pages (with vfork, its very address space): its VmRSS is the parent's again, and
    counting it showed a momentary peak of twice the app. Such a child is counted from its exec on.
    """
    total, todo = 0, [pid]
    app_exe = _exe(pid)
    while todo:
        p = todo.pop()
        if p != pid and app_exe is not None and _exe(p) == app_exe:
            todo += _children(p)
            continue
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            continue
        todo += _children(p)
    return total


class RssSampler:
    """Samples RSS every ``interval`` seconds in a thread; ``peak`` is the highest seen."""

    def __init__(self, pid: int, interval: float = 0.05):
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def settle(pid: int, target: int, timeout: float = 15.0) -> int:
    """RSS once it is at or below ``target``, or after ``timeout`` seconds: the last reading."""
    deadline = time.monotonic() + timeout
    rss = rss_bytes(pid)
    while rss > target and time.monotonic() < deadline:
        time.sleep(0.25)
        rss = rss_bytes(pid)
    return rss


# --- load ----------------------------------------------------------------------------------------
@dataclass
class LoadResult:
    requests: int = 0
    failures: list[str] = field(default_factory=list)
    check_latencies: list[float] = field(default_factory=list)
    check_results: list[list] = field(default_factory=list)
    generation_order: list[int] = field(default_factory=list)  # submission index, in order of finishing
    generation_infos: list[dict] = field(default_factory=list)
    wall_s: float = 0.0

    @staticmethod
    def percentile(values: list[float], q: float) -> float:
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def warm_up(url: str) -> None:
    """First use loads the face detector and encoders: do it once so 'idle' means a warm server."""
    client = Client(url, verbose=False)
    client.predict(GOOD.prompt, handle_file(GOOD.image), handle_file(GOOD.audio), "quick", api_name="/check")
    client.predict(GOOD.prompt, handle_file(GOOD.image), handle_file(GOOD.audio), "custom",
                   json.dumps({**SMALL, "seed": 0}), api_name="/generate")


def run_load(url: str, clients: int = 20, generations: int = 3, timeout: float = 120.0) -> LoadResult:
    """``clients`` clients send one ``/check`` each, all at once, while ``generations`` small jobs are
    submitted one after another. Every thread has a deadline: nothing can hang the caller."""
    result = LoadResult()
    deadline = time.monotonic() + timeout
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1, timeout=timeout)

    def one_check(i: int) -> None:
        try:
            client = Client(url, verbose=False)
            image, audio = handle_file(GOOD.image), handle_file(GOOD.audio)
            barrier.wait()
            t = time.perf_counter()
            job = client.submit(GOOD.prompt, image, audio, "quick", api_name="/check")
            value = job.result(timeout=max(1.0, deadline - time.monotonic()))
            dt = time.perf_counter() - t
            with lock:
                result.check_latencies.append(dt)
                result.check_results.append(value)
        except Exception as exc:  # counted, never hidden
            with lock:
                result.failures.append(f"check {i}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=one_check, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    started = time.perf_counter()
    barrier.wait()  # the checks go now; the generations are submitted beside them, in order
    jobs = []
    for i in range(generations):
        client = Client(url, verbose=False)
        job = client.submit(GOOD.prompt, handle_file(GOOD.image), handle_file(GOOD.audio), "custom",
                            json.dumps({**SMALL, "seed": 100 + i}), api_name="/generate")
        # The next one is submitted only once this one is in the server's queue: a defined order.
        while job.status().code in (Status.STARTING, Status.JOINING_QUEUE) and time.monotonic() < deadline:
            time.sleep(0.01)
        jobs.append(job)
    pending = set(range(len(jobs)))
    while pending and time.monotonic() < deadline:
        for i in sorted(pending):
            if jobs[i].done():
                pending.discard(i)
                result.generation_order.append(i)
        time.sleep(0.005)
    for i, job in enumerate(jobs):
        try:
            _, info = job.result(timeout=max(1.0, deadline - time.monotonic()))
            result.generation_infos.append(info)
        except Exception as exc:
            result.failures.append(f"generate {i}: {type(exc).__name__}: {exc}")
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()))
    lost = clients - len(result.check_latencies) - sum(f.startswith("check") for f in result.failures)
    result.failures += [f"check lost (no answer before the deadline)" for _ in range(lost)]
    result.requests = clients + generations
    result.wall_s = time.perf_counter() - started
    return result


def measure(url: str, pid: int, clients: int = 20, generations: int = 3) -> dict:
    """Idle RSS (warm), the load with its peak RSS, and RSS after it settles."""
    warm_up(url)
    gc.collect()
    time.sleep(1.0)
    idle = rss_bytes(pid)
    with RssSampler(pid) as sampler:
        load = run_load(url, clients, generations)
    final = settle(pid, int(idle * 1.10))
    return {"load": load, "idle": idle, "peak": max(sampler.peak, final), "final": final}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--generations", type=int, default=3)
    args = parser.parse_args()
    mib = 1024 * 1024
    with launched_app(Path(tempfile.mkdtemp(prefix="la-load-")), "--preview") as server:
        m = measure(server["url"], server["proc"].pid, args.clients, args.generations)
    load: LoadResult = m["load"]
    lat = load.check_latencies
    print(f"requests: {load.requests} ({args.clients} /check from {args.clients} clients at once, "
          f"{args.generations} /generate), wall {load.wall_s:.1f} s")
    print(f"failures: {len(load.failures)}" + "".join(f"\n  {f}" for f in load.failures))
    print(f"/check latency: p50 {LoadResult.percentile(lat, 50) * 1000:.0f} ms, "
          f"p95 {LoadResult.percentile(lat, 95) * 1000:.0f} ms, max {max(lat) * 1000 if lat else float('nan'):.0f} ms"
          + (f", mean {statistics.mean(lat) * 1000:.0f} ms" if lat else ""))
    print(f"generations finished in submission order: {load.generation_order == sorted(load.generation_order)} "
          f"({load.generation_order})")
    print(f"memory (RSS, app + children): idle {m['idle'] / mib:.0f} MiB, peak {m['peak'] / mib:.0f} MiB, "
          f"final {m['final'] / mib:.0f} MiB ({m['final'] / m['idle'] * 100:.1f} % of idle)")


if __name__ == "__main__":
    main()
