"""Re-makes assets/screenshot.png: launches the app, loads the first example, waits for the checks.

Needs Debian's chromium (``apt-get install chromium``) and ``pip install playwright``; Playwright
drives the system browser, so nothing is downloaded.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


def main(out: Path = ROOT / "assets" / "screenshot.png", example_index: int = 0, generate: bool = True) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--preview"], cwd=ROOT,
                            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1500})
            for _ in range(240):
                try:
                    page.goto(f"http://127.0.0.1:{port}/", wait_until="networkidle")
                    break
                except Exception:
                    time.sleep(0.5)
            page.locator(".gallery-item, button.example, [data-testid='examples'] button").nth(example_index).click()
            page.wait_for_selector("table.la-checklist", timeout=60_000)
            if generate:
                page.get_by_role("button", name="Generate").click()
                page.wait_for_selector("video", timeout=120_000)
                time.sleep(2)
            page.screenshot(path=str(out), full_page=True)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
