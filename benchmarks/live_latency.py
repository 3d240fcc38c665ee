"""Live mode's latency: speech fed in real time, how long until its frames exist, and whether that grows.

Feeds ``--seconds`` of speech-like audio (default 60) into a :class:`liveavatar.live.LiveRun` in
0.48 s chunks, each pushed at its own wall-clock time (as a microphone delivers it), and prints per
backend: p50/p95 of the delay from a block's last spoken sample arriving to its frames being handed
out, the backend's own share of it (compute p50), and the drift: mean delay over the first and the
last 10 s of speech, and the least-squares slope (seconds of delay per 10 s of speech; > 0 means the
backend is slower than real time and falls further behind the longer one speaks).

Rows: ``preview`` (the CPU stand-in) and ``tiny`` (the real pipeline on a tiny random checkpoint on the
CPU, from :mod:`liveavatar.testing.tiny_checkpoint`, at 64×64: it measures the orchestration and the model's
code path, not the 14B model's speed). A row whose backend has no live mode yet is skipped with the
reason. ``--fast`` pushes the chunks as quickly as the run takes them instead of in real time: a
quick smoke run whose delays then measure throughput, not latency.

    python benchmarks/live_latency.py                 # 60 s, both rows, real time
    python benchmarks/live_latency.py --seconds 5 --backends preview
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from liveavatar.backends.base import PreparedInputs  # noqa: E402
from liveavatar.live import AUDIO_RATE, LatencyStats, LiveRun  # noqa: E402
from liveavatar.plan import make_plan  # noqa: E402
from liveavatar.presets import resolve_settings  # noqa: E402
from liveavatar.testing.synth import speech_like  # noqa: E402

CHUNK_S = 0.48
SIZE = "384*256"
TINY_SIDE = 64


def _backend(name: str, work: Path):
    """(backend, settings) for a row; raises ``LookupError`` with the reason when it cannot run."""
    if name == "preview":
        from liveavatar.backends.preview import PreviewBackend

        return PreviewBackend(), resolve_settings("quick", None)
    if name == "tiny":
        from liveavatar.backends import choose_backend
        from liveavatar.testing.tiny_checkpoint import write_tiny_checkpoint

        ckpt = write_tiny_checkpoint(work / "ckpt")
        backend = choose_backend(str(ckpt), device="cpu").backend
        if backend.name == "preview":
            raise LookupError("the tiny checkpoint did not load (the preview was chosen instead)")
        return backend, resolve_settings("custom", f'{{"size": "{SIZE}", "sample_steps": 3, "infer_frames": 48, "seed": 1}}')
    raise LookupError(f"unknown backend {name!r}")


def measure(name: str, seconds: float, fast: bool, work: Path) -> LatencyStats | str:
    """Run one row; the stats, or the reason it was skipped."""
    try:
        backend, settings = _backend(name, work)
    except LookupError as exc:
        return str(exc)
    plan = make_plan(settings, image_size=(384, 256), audio_seconds=seconds, backend=backend.name)
    if name == "tiny":  # the tiny checkpoint's VAE is full width: 64×64 frames keep a CPU block to seconds
        plan = replace(plan, width=TINY_SIDE, height=TINY_SIDE)
    reference = np.full((plan.height, plan.width, 3), 128, np.uint8)
    reference[plan.height // 4 : 3 * plan.height // 4, plan.width // 3 : 2 * plan.width // 3] = (200, 160, 140)
    inputs = PreparedInputs("A person talking to the camera.", reference, np.zeros(0, np.float32), seed=1)
    start_live = getattr(backend, "start_live", None)
    if start_live is None:
        return f"{type(backend).__name__} has no start_live"
    try:
        session = start_live(plan, inputs)
    except NotImplementedError as exc:
        return f"start_live is not implemented yet ({exc or type(backend).__name__})"
    speech = speech_like(seconds, seed=5)
    chunk = int(round(CHUNK_S * AUDIO_RATE))
    run = LiveRun(session, work / name, width=plan.width, height=plan.height, fps=plan.fps,
                  max_seconds=seconds + 1, ai_label=False, segments=False)
    started = time.monotonic()
    for k, i in enumerate(range(0, len(speech), chunk)):
        if fast:
            while len(run.records) < k - 1 and run.running:  # stay about one block ahead of the run
                run.wait_for_blocks(len(run.records), timeout=0.05)
        else:
            time.sleep(max(0.0, started + (k + 1) * CHUNK_S - time.monotonic()))  # the chunk has been spoken
        run.push(speech[i : i + chunk])
    run.end_audio()
    result = run.finish()
    if result.error:
        return f"failed: {result.error}"
    return result.stats


def _fmt(v: float | None, scale: float = 1.0, sign: bool = False) -> str:
    return "—" if v is None else (f"{v * scale:+.3f}" if sign else f"{v * scale:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of speech fed in (default 60)")
    parser.add_argument("--fast", action="store_true", help="push as fast as the run takes it (smoke run, not latency)")
    parser.add_argument("--backends", default="preview,tiny", help="comma-separated rows: preview, tiny")
    args = parser.parse_args(argv)
    mode = "as fast as taken (throughput, not latency)" if args.fast else "real time, 0.48 s chunks"
    print(f"Live latency: {args.seconds:g} s of speech, {mode}; seconds from a block's speech arriving to its frames")
    print(f"{'backend':<9} {'blocks':>6} {'p50':>7} {'p95':>7} {'compute':>8} {'first10s':>9} {'last10s':>8} {'drift/10s':>10}")
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for name in [b.strip() for b in args.backends.split(",") if b.strip()]:
            stats = measure(name, args.seconds, args.fast, Path(tmp))
            if isinstance(stats, str):
                print(f"{name:<9} skipped: {stats}")
                failed |= stats.startswith("failed") or stats.startswith("unknown")
                continue
            print(f"{name:<9} {stats.blocks:>6} {_fmt(stats.p50):>7} {_fmt(stats.p95):>7} {_fmt(stats.compute_p50):>8} "
                  f"{_fmt(stats.first_window):>9} {_fmt(stats.last_window):>8} {_fmt(stats.slope, 10, True):>10}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
