"""Launch the real app in its own process and talk to it the way users' scripts do."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def launched_app(out: Path, *args: str):
    """Start ``python app.py`` on a free loopback port; yield its URL; stop it afterwards."""
    port = _free_port()
    log = open(out / "server.log", "w")
    # HF_ENDPOINT points at a closed loopback port: any attempt to reach the Hub fails at once.
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", "HF_ENDPOINT": "http://127.0.0.1:9"}
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), "--output_dir", str(out), *args],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    try:
        deadline = time.time() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError("app exited early:\n" + (out / "server.log").read_text())
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError("app did not start:\n" + (out / "server.log").read_text()) from None
                time.sleep(0.5)
        yield {"url": f"http://127.0.0.1:{port}/", "proc": proc, "out": out}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    with launched_app(tmp_path_factory.mktemp("outputs"), "--preview") as server:
        yield server


@pytest.fixture(scope="session")
def client(app_server):
    from gradio_client import Client

    return Client(app_server["url"], verbose=False, download_files=str(app_server["out"] / "downloads"))


@pytest.fixture(scope="module")
def model_server(tmp_path_factory):
    """The app pointed at a tiny random checkpoint, running the real pipeline on the CPU."""
    from liveavatar.testing.tiny_checkpoint import write_tiny_checkpoint

    ckpt = write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))
    with launched_app(tmp_path_factory.mktemp("model-outputs"), "--ckpt_dir", str(ckpt), "--device", "cpu") as server:
        yield server
