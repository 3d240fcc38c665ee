"""The start-up warm-up: it loads the audio libraries off the request path, never blocks, never crashes."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from liveavatar import warmup


@pytest.fixture
def fresh(monkeypatch):
    """The warm-up runs once per process; give each test its own flags."""
    monkeypatch.setattr(warmup, "_started", threading.Event())
    monkeypatch.setattr(warmup, "_done", threading.Event())
    monkeypatch.setattr(warmup, "_timings", {})


def test_warm_up_loads_librosa_and_noisereduce():
    timings = warmup.warm_up()
    assert set(timings) == {"librosa (resample)", "noisereduce (import)"}
    assert "librosa" in sys.modules and "noisereduce" in sys.modules
    assert all(t >= 0 for t in timings.values())


def test_start_returns_at_once_runs_on_a_daemon_thread_and_only_once(fresh, monkeypatch):
    release = threading.Event()

    def slow():
        release.wait(10)
        return {"step": 0.5}

    monkeypatch.setattr(warmup, "warm_up", slow)
    started = time.perf_counter()
    thread = warmup.start_warm_up()
    assert time.perf_counter() - started < 0.5, "the warm-up must not delay the server"
    assert thread is not None and thread.daemon and not warmup.warmed_up()
    assert warmup.start_warm_up() is None  # a second call starts nothing
    release.set()
    assert warmup.warmed_up(timeout=10)
    assert warmup.timings() == {"step": 0.5}


def test_a_failing_warm_up_is_one_log_line_not_a_crash(fresh, monkeypatch, caplog):
    def broken():
        raise ImportError("no module named numba")

    monkeypatch.setattr(warmup, "warm_up", broken)
    thread = warmup.start_warm_up()
    assert thread is not None
    thread.join(10)
    assert warmup.warmed_up()
    messages = [r.getMessage() for r in caplog.records if r.name == "liveavatar.warmup"]
    assert len(messages) == 1 and "Warm-up skipped (ImportError: no module named numba)" in messages[0]
    assert not any(r.exc_info for r in caplog.records)
