"""Launch TPP ranks as local CPU processes (gloo over loopback), for tests that compare them with one process.

Each rank runs ``python -c script *args`` with torch.distributed's environment set (``RANK``,
``WORLD_SIZE``, a free ``MASTER_PORT``) and one intra-op thread: the ranks share the machine's cores,
and a CPU kernel may sum in another order with another thread count, so the single-process reference
a test compares against must run with one thread too.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_ranks(world: int, script: str, args: Sequence[str], timeout_s: float = 150) -> None:
    """Run ``world`` ranks of ``script`` to the end; raise ``AssertionError`` with each rank's log tail
    when one fails or does not finish in ``timeout_s`` (the others are then killed, never left behind)."""
    env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()), WORLD_SIZE=str(world),
               OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    if Path("/sys/class/net/lo").exists():
        env["GLOO_SOCKET_IFNAME"] = "lo"  # loopback only
    procs = [subprocess.Popen([sys.executable, "-c", script, *map(str, args)],
                              env=dict(env, RANK=str(r), LOCAL_RANK=str(r)),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for r in range(world)]
    logs = []
    try:
        for r, p in enumerate(procs):
            text, _ = p.communicate(timeout=timeout_s)
            logs.append(f"--- rank {r} (rc {p.returncode})\n{text[-3000:]}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert all(p.returncode == 0 for p in procs), "\n".join(logs)
