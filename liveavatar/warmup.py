"""Warm-up at start: pay the audio libraries' one-time costs before the first visitor does.

The first resample of a recording that is not already 16 kHz imports librosa, whose numba
functions compile on import (``guvectorize`` compiles eagerly). Right after an install, before
numba has cached them on disk, that takes ~13 s on a 2-core machine; on later launches it is
~1.3 s (the cache is read back). The denoise fix's first call imports noisereduce (~1 s). Without a
warm-up the first visitor's check or generation absorbs that, and the page looks stuck.

:func:`start_warm_up` runs :func:`warm_up` on a daemon thread so the server is reachable at once; a
request that needs librosa meanwhile simply waits on Python's import lock for the same work (it is
never done twice). Any failure is logged in one line and otherwise ignored: the request that needs
the library then imports it itself and reports its own error.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

log = logging.getLogger(__name__)

_started = threading.Event()
_done = threading.Event()
_timings: dict[str, float] = {}


def warm_up() -> dict[str, float]:
    """Import and exercise the lazily loaded audio libraries once; returns seconds per step."""
    from liveavatar.media.audio import LoadedAudio, to_mono_16k

    timings: dict[str, float] = {}
    t = time.perf_counter()
    # The resampling path every non-16 kHz upload takes (44.1 and 48 kHz, stereo), on 0.1 s of noise.
    rng = np.random.default_rng(0)
    for rate in (44100, 48000):
        samples = (0.01 * rng.standard_normal((2, rate // 10))).astype(np.float32)
        to_mono_16k(LoadedAudio(samples, rate, "WAV", "PCM_16", "warm-up.wav"))
    timings["librosa (resample)"] = time.perf_counter() - t
    t = time.perf_counter()
    import noisereduce  # noqa: F401 - the denoise fix's library

    timings["noisereduce (import)"] = time.perf_counter() - t
    return timings


def _run() -> None:
    started = time.perf_counter()
    try:
        _timings.update(warm_up())
    except Exception as exc:  # noqa: BLE001 - a warm-up must never take the app down
        log.warning("Warm-up skipped (%s: %s); the first request will load the audio libraries itself.",
                    type(exc).__name__, exc)
    else:
        log.info("Warm-up done in %.1f s (%s)", time.perf_counter() - started,
                 ", ".join(f"{k} {v:.1f} s" for k, v in _timings.items()))
    finally:
        _done.set()


def start_warm_up() -> threading.Thread | None:
    """Start the warm-up on a daemon thread (once per process); returns it, or None if already started."""
    if _started.is_set():
        return None
    _started.set()
    thread = threading.Thread(target=_run, name="liveavatar-warm-up", daemon=True)
    thread.start()
    return thread


def warmed_up(timeout: float | None = 0) -> bool:
    """True once the warm-up has finished (successfully or not); waits up to ``timeout`` seconds."""
    return _done.wait(timeout)


def timings() -> dict[str, float]:
    """Seconds per warm-up step, once it has finished."""
    return dict(_timings)
