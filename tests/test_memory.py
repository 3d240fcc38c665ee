"""liveavatar.memory: the malloc arena cap really bounds glibc's arenas (counted by glibc itself, in
a fresh process, against an uncapped control), is skipped where it must be, and is set by the app."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from liveavatar import memory
from liveavatar.backends import BackendChoice, PreviewBackend
from liveavatar.ui import handlers
from liveavatar.ui.handlers import ServiceOptions, Studio

ROOT = Path(__file__).resolve().parents[1]
glibc_only = pytest.mark.skipif(memory._MALLOPT is None, reason="mallopt/M_ARENA_MAX are glibc's")

# Eight threads alive at once, each allocating through malloc (1 KiB bytearrays: above pymalloc's
# small-object limit, below the mmap threshold), then glibc's own per-arena report is counted.
# A new thread's first malloc takes a new arena until the limit is reached, so without a cap
# eight threads make up to eight more.
_ARENAS_SCRIPT = textwrap.dedent(
    """
    import ctypes, sys, threading
    from liveavatar import memory
    capped = memory.limit_malloc_arenas(int(sys.argv[1])) if sys.argv[1] != "none" else False
    barrier = threading.Barrier(8)
    def work():
        held = [bytearray(1024) for _ in range(2000)]
        barrier.wait()  # all alive together: no thread can inherit a finished thread's arena
        barrier.wait()
    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    print(f"capped={capped}", flush=True)
    ctypes.CDLL(None).malloc_stats()  # "Arena N:" per arena, on stderr
    """
)


def _arenas(arg: str, **extra_env: str) -> tuple[int, str]:
    """Arenas glibc reports in a fresh process (the cap is process-wide and binds only new arenas)."""
    env = {k: v for k, v in os.environ.items() if k != memory.ARENA_ENV} | extra_env
    done = subprocess.run([sys.executable, "-c", _ARENAS_SCRIPT, arg], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines()), done.stdout.strip()


@glibc_only
def test_the_cap_bounds_the_arenas_that_threads_create() -> None:
    uncapped, _ = _arenas("none")
    capped, said = _arenas("2")
    assert said == "capped=True"
    assert uncapped > 2, f"control: 8 threads made only {uncapped} arenas, the test could not fail"
    assert capped <= 2, f"{capped} arenas with a cap of 2"


@glibc_only
def test_an_operators_malloc_arena_max_wins() -> None:
    arenas, said = _arenas("2", MALLOC_ARENA_MAX="5")
    assert said == "capped=False"  # not overridden ...
    assert 2 < arenas <= 5  # ... and glibc applied the operator's value


def test_skipped_where_there_is_no_glibc_mallopt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(memory.ARENA_ENV, raising=False)
    monkeypatch.setattr(memory, "_MALLOPT", None)
    assert memory.limit_malloc_arenas() is False
    monkeypatch.setattr(memory, "_MALLOC_TRIM", None)
    memory.release_free_memory()  # nothing to call: no error


def test_a_cap_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        memory.limit_malloc_arenas(0)


def test_the_app_caps_the_arenas_when_it_starts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[tuple] = []
    monkeypatch.setattr(handlers, "limit_malloc_arenas", lambda *a: calls.append(a) or True)
    Studio(BackendChoice(PreviewBackend(), "test"), ServiceOptions(output_dir=tmp_path))
    assert calls == [()]  # once, with the default cap
