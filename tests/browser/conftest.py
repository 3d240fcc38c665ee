"""Launch the real app (preview backend) on a free loopback port for the browser test.

Own small launcher: pytest's importlib mode cannot import ``tests/app/conftest.py`` from here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Offline: no component updates, no sync, no QUIC, no background calls home.
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def launched_app(out: Path, *args: str):
    """Start ``python app.py`` on a free loopback port; yield its URL; stop it afterwards."""
    port = _free_port()
    log_path = out / "server.log"
    log = open(log_path, "w")
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", "HF_ENDPOINT": "http://127.0.0.1:9"}
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), "--output_dir", str(out), *args],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    try:
        deadline = time.time() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError("app exited early:\n" + log_path.read_text())
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError("app did not start:\n" + log_path.read_text()) from None
                time.sleep(0.3)
        yield {"url": f"http://127.0.0.1:{port}/", "proc": proc, "out": out, "log": log_path}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _chromium_or_skip() -> str:
    path = CHROMIUM if os.path.isabs(CHROMIUM) else shutil.which(CHROMIUM)
    missing = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "the Python package 'playwright' is not installed (pip install playwright)"
    if missing is None and not (path and os.access(path, os.X_OK)):
        missing = f"Chromium not found at {CHROMIUM!r} (apt-get install chromium, or set CHROMIUM=/path/to/chromium)"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"browser test must run in CI: {missing}", pytrace=False)
        pytest.skip(f"browser test skipped: {missing}")
    return path


@pytest.fixture(scope="session")
def chromium_path() -> str:
    return _chromium_or_skip()


@pytest.fixture(scope="session")
def app_server(chromium_path, tmp_path_factory):
    with launched_app(tmp_path_factory.mktemp("browser-outputs"), "--preview") as server:
        yield server


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, app_server):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    try:
        yield pg
    finally:
        context.close()
