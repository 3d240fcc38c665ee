"""Keep the app's resident memory near its idle level after a busy minute (glibc only).

Gradio runs every handler in one of its many worker threads (anyio's pool, up to 40). Under
glibc each new thread's first allocation gets it a malloc *arena* of its own (up to 8 per core),
and what a thread frees stays in its arena: decoding inputs, detecting
faces and rendering clips leave tens of MB spread over a dozen arenas, fragmented by the few
small objects still alive in each, so neither the kernel nor ``malloc_trim`` can take it back.
Measured with ``benchmarks/load.py`` (20 checks at once + 3 jobs, 2-core machine): the process
stayed at ~108-116 % of its warm idle RSS with the default arena count, ~101-104 % with two.

Two calls, both no-ops where the C library is not glibc (musl, macOS, Windows):

* :func:`limit_malloc_arenas` — cap the number of arenas, once, when the app starts (before its
  worker threads have allocated). Python code runs one thread at a time under the GIL, so the
  extra arenas bought little concurrency here and cost memory.
* :func:`release_free_memory` — ``malloc_trim(0)`` when work ends, giving the free pages of every
  arena back to the system.

No state of our own: the C library holds the setting, and the process has one C library.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable

__all__ = ["ARENA_ENV", "DEFAULT_MAX_ARENAS", "M_ARENA_MAX", "limit_malloc_arenas", "release_free_memory"]

#: ``mallopt`` parameter number of ``M_ARENA_MAX`` in glibc's ``<malloc.h>``.
M_ARENA_MAX = -8
#: The main arena plus one for all worker threads: the measured sweet spot (see the module docstring).
DEFAULT_MAX_ARENAS = 2
#: glibc's own environment variable for the same setting; when the operator sets it, it wins.
ARENA_ENV = "MALLOC_ARENA_MAX"


def _libc_function(name: str) -> Callable[..., int] | None:
    """``name`` from the C library the process runs on, or ``None`` when it has no such function."""
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError, TypeError):  # not glibc (musl lacks both; Windows has no CDLL(None))
        return None


def _find_mallopt() -> Callable[[int, int], int] | None:
    """glibc's ``mallopt``, only on glibc: parameter numbers like ``M_ARENA_MAX`` are glibc's own."""
    if _libc_function("gnu_get_libc_version") is None:
        return None
    mallopt = _libc_function("mallopt")
    if mallopt is not None:
        mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        mallopt.restype = ctypes.c_int
    return mallopt


# Looked up once: the process has one C library. Constants, not state.
_MALLOPT = _find_mallopt()
_MALLOC_TRIM = _libc_function("malloc_trim")


def limit_malloc_arenas(max_arenas: int = DEFAULT_MAX_ARENAS) -> bool:
    """Cap glibc's malloc arenas at ``max_arenas``; ``True`` when the cap was set.

    Skipped (``False``) where ``mallopt`` does not exist, when ``MALLOC_ARENA_MAX`` is set in the
    environment (the operator chose; glibc has already applied it), or when glibc refuses the
    value. Takes effect for arenas created afterwards, so call it before the worker threads start:
    the app does it when its :class:`~liveavatar.ui.handlers.Studio` is created.
    """
    if max_arenas < 1:
        raise ValueError(f"max_arenas must be at least 1, got {max_arenas}")
    if os.environ.get(ARENA_ENV):
        return False
    if _MALLOPT is None:
        return False
    return _MALLOPT(M_ARENA_MAX, max_arenas) == 1  # glibc returns 1 on success, 0 on error


def release_free_memory() -> None:
    """Hand memory that Python and numpy have freed back to the system.

    Decoding inputs, detecting faces and rendering clips in Gradio's worker threads frees hundreds
    of MB into glibc's arenas, which keep it: the process's memory would stay at its peak after a
    busy minute (about +110 MiB after 20 checks at once). ``malloc_trim`` returns it.
    Called when work ends (an inspection with nothing else inspecting, a finished job); a few ms.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
