"""The app (preview backend) on a free loopback port, and Debian's Chromium, for the browser test."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from liveavatar.testing.server import launched_app

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Offline: no component updates, no sync, no QUIC, no background calls home.
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
]


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
def chromium_flags() -> list[str]:
    """The flags every test's Chromium starts with (a test that needs its own browser adds to them)."""
    return list(CHROMIUM_FLAGS)


@pytest.fixture(scope="session")
def app_server(chromium_path, tmp_path_factory):
    with launched_app(tmp_path_factory.mktemp("browser-outputs"), "--preview") as server:
        yield server


@pytest.fixture(scope="session")
def playwright(chromium_path):
    """One Playwright driver for the session: its sync API refuses a second one started inside it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright, chromium_path):
    b = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_FLAGS)
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
