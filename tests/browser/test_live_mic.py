"""Live mode in a real browser: Chromium's fake microphone plays a speech-like WAV into the page, the
server turns each 0.48 s of it into video while the "speaker" is still talking, and Stop ends the run
cleanly (no error toast, the run in the history, the server still answering).

Chromium loops the fake-capture file, so the microphone never runs dry before the test stops it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import soundfile as sf

from liveavatar.testing.synth import speech_like

ROOT = Path(__file__).resolve().parents[2]
PORTRAIT = ROOT / "examples" / "media" / "portrait.png"
READOUT = re.compile(r"Mouth follows your voice by ([\d.]+) s; p95 ([\d.]+) s\.\s*(\d+) blocks")
LATENCY = "#live-latency"


@pytest.fixture
def mic_page(playwright, chromium_path, chromium_flags, app_server, tmp_path):
    wav = tmp_path / "speech.wav"
    sf.write(wav, speech_like(6.0, sr=48_000, level_dbfs=-16, seed=3), 48_000, subtype="PCM_16")
    browser = playwright.chromium.launch(executable_path=chromium_path, args=[
        *chromium_flags, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
    ])
    try:
        context = browser.new_context(viewport={"width": 1440, "height": 1000}, permissions=["microphone"])
        page = context.new_page()
        page.set_default_timeout(30_000)
        yield page
    finally:
        browser.close()


def blocks_shown(page) -> int:
    m = READOUT.search(page.locator(LATENCY).inner_text())
    return int(m.group(3)) if m else 0


def test_microphone_speech_becomes_video_while_speaking_and_stop_ends_it_cleanly(mic_page, app_server):
    page = mic_page
    page.goto(app_server["url"], wait_until="load")
    page.locator("input[type=file][accept*='image']").first.set_input_files(str(PORTRAIT))
    page.locator("#consent input[type=checkbox]").check()
    page.locator("#live-mode").get_by_text("Live: speak").first.click()
    history_before = page.locator("#history img, #history video").count()

    page.locator("#live-mic button.record-button").click()
    # Blocks arrive while the microphone is still recording, and keep arriving.
    page.wait_for_function(f"() => /Mouth follows your voice by/.test(document.querySelector('{LATENCY}').innerText)",
                           timeout=30_000)
    first = blocks_shown(page)
    assert first >= 1
    page.wait_for_function(
        f"() => {{ const m = document.querySelector('{LATENCY}').innerText.match(/(\\d+) blocks/);"
        f" return m && +m[1] >= {first + 3}; }}", timeout=20_000)
    assert page.locator("#live-mic button.record-button").count() == 0, "the microphone stopped on its own"
    m = READOUT.search(page.locator(LATENCY).inner_text())
    assert m and float(m.group(1)) < 3.0, f"the mouth lags the voice by too much: {m and m.group(0)}"
    # The streamed video reached the page's player.
    page.wait_for_function("() => { const v = document.querySelector('#live-video video');"
                           " return !!(v && v.currentSrc && v.readyState >= 2 && v.buffered.length > 0); }", timeout=15_000)

    page.locator("#live-stop").click()
    page.wait_for_function(f"() => /saved to your history/.test(document.querySelector('{LATENCY}').innerText)",
                           timeout=30_000)
    text = page.locator(LATENCY).inner_text()
    assert "Stopped; what was made is saved." in text
    page.wait_for_function(
        f"() => document.querySelectorAll('#history img, #history video').length > {history_before}", timeout=15_000)
    page.locator("#live-mic button").filter(has_text=re.compile("Stop", re.I)).first.click()
    assert page.locator(".toast-body.error").count() == 0, page.locator(".toast-body.error").all_inner_texts()
    assert page.request.get(app_server["url"]).ok
    # A second run right after works: the first one released the visitor's live slot.
    page.locator("#live-mic button.record-button").click()
    page.wait_for_function(
        f"() => {{ const t = document.querySelector('{LATENCY}').innerText; return /blocks/.test(t) && !/saved/.test(t); }}",
        timeout=30_000)
    page.locator("#live-stop").click()
    page.wait_for_function(f"() => /saved to your history/.test(document.querySelector('{LATENCY}').innerText)",
                           timeout=30_000)
    assert page.locator(".toast-body.error").count() == 0, page.locator(".toast-body.error").all_inner_texts()
