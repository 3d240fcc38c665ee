"""``benchmarks/live_latency.py``: a short real-time run of the preview prints numbers that make sense."""

import re
import sys

import pytest


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("live_latency")


def test_a_short_real_time_run_prints_p50_p95_and_drift(bench, capsys):
    assert bench.main(["--seconds", "2.4", "--backends", "preview"]) == 0
    out = capsys.readouterr().out
    row = re.search(r"^preview\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([+-][\d.]+)$", out, re.M)
    assert row, out
    blocks, p50, p95 = int(row.group(1)), float(row.group(2)), float(row.group(3))
    assert blocks == 5  # 2.4 s of speech = 60 frames = 5 blocks
    # Chunks come every 0.48 s and a block waits for 3 frames of lookahead from the next chunk, so the
    # delay is about one chunk; the preview itself takes a few milliseconds.
    assert 0.2 < p50 <= p95 < 1.5


def test_an_unknown_row_is_reported_and_fails_the_run(bench, capsys):
    assert bench.main(["--seconds", "0.5", "--backends", "nonsense"]) == 1
    assert "skipped: unknown backend" in capsys.readouterr().out
