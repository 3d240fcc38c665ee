"""Two people in one portrait, each with their own speech track (issue 14), the way a user does it
in the browser: load the example, see the numbered faces and the second track, swap who speaks,
generate, get the video."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from liveavatar.fixes.image import SINGLE_FACE_COLOUR

from .test_browser import VIDEO_SRC, open_engineers, shot, wait_text

EXAMPLE = "Two people talking"


def _overlay_pixels(page, colour: tuple[int, int, int], tolerance: int = 40) -> int:
    """How many pixels of the overlay the page shows are close to ``colour`` (fetched at full size;
    Gradio sends it as lossy WebP)."""
    src = page.eval_on_selector("#overlay img", "i => i.src")
    rgb = np.asarray(Image.open(io.BytesIO(page.request.get(src).body())).convert("RGB")).astype(int)
    return int((np.abs(rgb - np.array(colour)).max(axis=2) < tolerance).sum())


def test_two_people_from_the_example_to_the_video(page, app_server):
    page.goto(app_server["url"], wait_until="load")
    wait_text(page, "#checklist", "Add a portrait and a speech recording")
    people = page.locator("#people")
    assert not page.locator("#speech-2").is_visible(), "the several-people accordion starts closed"

    page.get_by_role("button", name=EXAMPLE, exact=True).click()
    wait_text(page, "#checklist", "Ready to generate")
    # two faces in the portrait: the accordion opens itself, with person 2's track in it
    page.locator("#speech-2").wait_for(state="visible", timeout=20_000)
    page.wait_for_function("() => !!document.querySelector('#speech-2 audio, #speech-2 [data-testid=\"waveform-Speech (person 2)\"]')"
                           " || !!document.querySelector('#speech-2 button[aria-label*=\"Play\" i]')", timeout=20_000)
    assert "Speech (person 1)" in page.locator("body").inner_text()  # the main box says whose it is
    face_order = page.locator("#face-order input")
    page.wait_for_function("() => { const e = document.querySelector('#face-order input'); "
                           "return !!e && e.value.startsWith('In order: track 1 → face 1'); }", timeout=20_000)
    # the overlay: both faces green (each driven by a track), with their numbers
    page.wait_for_function("() => { const i = document.querySelector('#overlay img'); return !!i && i.complete && i.naturalWidth > 0; }",
                           timeout=20_000)
    page.wait_for_timeout(1000)  # the last refresh (all of the example's inputs) has replaced earlier ones
    assert _overlay_pixels(page, SINGLE_FACE_COLOUR) > 2000  # green (driven) boxes and number badges; the photo has none
    shot(page, "08-two-people")

    # swap who speaks: track 1 now drives face 2
    face_order.click()
    page.get_by_role("option", name="2,1: track 1 → face 2, track 2 → face 1", exact=True).click()
    page.wait_for_function("() => document.querySelector('#face-order input').value.startsWith('2,1')", timeout=10_000)
    wait_text(page, "#checklist", "Ready to generate", timeout=30_000)

    page.locator("#consent input[type=checkbox]").check()
    page.get_by_role("button", name="Generate", exact=True).click()
    wait_text(page, "#result-summary", "Seed used", timeout=120_000)
    summary = page.locator("#result-summary").inner_text()
    assert "2 people speak: track 1 → face 2, track 2 → face 1." in summary, summary
    assert page.evaluate(VIDEO_SRC), "the video is missing"
    open_engineers(page)  # the command line is an engineer's detail: upstream's --audio a.wav+b.wav
    wait_text(page, "#run-details", "--face_order 2,1")
    assert ".wav+" in page.locator("#run-details").inner_text()
    assert people.is_visible()


def test_typed_speech_for_person_3_fills_their_box_and_the_checks_count_it(page, app_server):
    """Typed speech for another person: the text goes into the chosen person's box (person 3), the
    checklist then counts three tracks against the example's two faces and says so; Undo takes it back."""
    page.goto(app_server["url"], wait_until="load")
    page.get_by_role("button", name=EXAMPLE, exact=True).click()
    wait_text(page, "#checklist", "Ready to generate")
    page.locator("#speech-2").wait_for(state="visible", timeout=20_000)
    page.locator("#people-tts-text textarea").fill("Thank you both, that was very clear.")
    page.locator("#people-tts-target input").click()
    page.get_by_role("option", name="Speech (person 3)", exact=True).click()
    page.locator("#people-speak-text").click()
    wait_text(page, "#fix-message", "Spoke 7 words", timeout=60_000)
    wait_text(page, "#checklist", "2 faces found but 3 speech tracks", timeout=30_000)
    page.locator("#undo-fix").click()
    wait_text(page, "#checklist", "Ready to generate", timeout=30_000)
