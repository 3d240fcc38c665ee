"""Launch the real app (``python app.py``) on a free loopback port, for tests and benchmarks.

Lives in the package because pytest's importlib mode keeps test folders from importing each
other's helpers, and the benchmarks launch the app the same way.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def launched_app(out: Path, *args: str, timeout: float = 120, launcher: Sequence[str] = ()) -> Iterator[dict]:
    """Start the app with ``args``; yield ``{"url", "proc", "out", "log"}``; stop it afterwards.

    ``launcher`` replaces ``python`` in front of ``app.py`` (e.g. ``python -m torch.distributed.run
    --nproc_per_node 2`` for the pipeline-parallel app).

    ``HF_ENDPOINT`` points at a closed loopback port, so anything that tried to reach the Hub
    would fail at once instead of leaving the machine.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = out / "server.log"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", "HF_ENDPOINT": "http://127.0.0.1:9"}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [*(launcher or [sys.executable]), "app.py", "--port", str(port), "--output_dir", str(out), *args],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env,
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError("app exited early:\n" + log_path.read_text())
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("app did not start:\n" + log_path.read_text()) from None
                    time.sleep(0.2)
            yield {"url": f"http://127.0.0.1:{port}/", "proc": proc, "out": out, "log": log_path}
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
