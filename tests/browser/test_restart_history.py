"""History survives an app restart, in a real browser: launch, generate, stop the server, launch it
again on the same output folder (and port: localStorage is per origin), reload, the entry is there.

Gradio's ``BrowserState`` encrypts the visitor id it keeps in localStorage; with the default key
(random per launch) the id no longer decrypts after a restart and the page starts a new, empty
history. The app keeps its key in the output folder (``liveavatar/secret.py``).
"""

from __future__ import annotations

import os

import pytest

from liveavatar.secret import SECRET_ENV, SECRET_FILE
from liveavatar.testing import server as server_mod

EXAMPLE = "Astronaut, 8 s of speech"  # a good example
HISTORY_ITEMS = "() => document.querySelectorAll('#history img, #history video').length"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
]


def _history_at_least(page, n: int, timeout: float) -> None:
    page.wait_for_function(f"() => ({HISTORY_ITEMS})() >= {n}", timeout=timeout)


def test_history_survives_an_app_restart(playwright, chromium_path, tmp_path, monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)
    port = server_mod.free_port()
    monkeypatch.setattr(server_mod, "free_port", lambda: port)  # the same origin after the restart
    out = tmp_path / "outputs"

    # A browser profile on disk, like a visitor's: localStorage lives in it.
    context = playwright.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=chromium_path,
                                                            args=CHROMIUM_FLAGS, viewport={"width": 1440, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        with server_mod.launched_app(out, "--preview") as first:
            page.goto(first["url"], wait_until="load")
            page.get_by_role("button", name=EXAMPLE, exact=True).click()
            page.locator("#consent input[type=checkbox]").check()
            page.get_by_role("button", name="Generate", exact=True).click()
            _history_at_least(page, 1, timeout=120_000)
            made = page.evaluate(HISTORY_ITEMS)
            stored = page.evaluate("() => localStorage.getItem('liveavatar-visitor')")
            assert stored, "the visitor id was not stored in the browser"
        assert (out / SECRET_FILE).is_file()

        with server_mod.launched_app(out, "--preview") as second:
            assert second["url"] == first["url"]
            page.reload(wait_until="load")
            try:
                _history_at_least(page, made, timeout=30_000)
            except Exception:  # noqa: BLE001 - say what the page showed
                pytest.fail(f"after the restart the history shows {page.evaluate(HISTORY_ITEMS)} of {made} "
                            "result(s): the browser's visitor id was not read back")
    finally:
        context.close()
    assert os.stat(out / SECRET_FILE).st_mode & 0o777 == 0o600
