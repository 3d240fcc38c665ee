"""The Chinese page shows no English: every text a visitor can see, through a whole run.

Walks the page as a Chinese-speaking user does (``?lang=zh``): a good example, a one-click fix and
its undo, consent, a generation to the end, the history, then "Details for engineers" opened. At
each stage every visible text node is read; words of three or more Latin letters must be on a short
list of names and units (model and format names, px, fps, dB …). Code (paths, the command line),
the JSON view and what the user typed are not page text and are skipped.
"""

from __future__ import annotations

import re

from liveavatar.i18n import t

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # the browser fixtures skip (or fail under CI) with the reason
    PlaywrightTimeout = TimeoutError

# Names and units that are the same in Chinese text (product, model, formats, units, hardware).
ALLOWED = {
    "live", "avatar", "studio", "english", "api", "cpu", "gpu", "gpus", "fps", "gb", "mb", "khz", "hz", "dbfs",
    "wav", "mp3", "png", "jpg", "jpeg", "rgb", "cmyk", "exif", "pcm", "lora", "dit", "vae", "fp8", "bf16",
    "json", "cuda", "torch", "compile", "h100", "rtx", "fsdp", "wan2", "s2v", "14b", "esrgan", "real",
    "preview", "ffmpeg", "mp4", "umt5", "generate", "auto", "flash", "efficient", "cudnn", "math", "rms",
}

# Visible text nodes, minus code, what the user typed (inputs, text areas) and the raw JSON view.
VISIBLE_TEXT_JS = """() => {
  const skip = (el) => el.closest('code, pre, textarea, input, script, style, #run-json, .json-holder, svg');
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    const text = n.nodeValue.trim();
    if (!text || !el || skip(el)) continue;
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (r.width === 0 || r.height === 0 || style.visibility === 'hidden' || style.display === 'none') continue;
    out.push(text);
  }
  return out;
}"""


# Gradio 6.31's status tracker writes "processing |" / "queue: 1/2 |" untranslated while an event runs; the
# snapshots are taken once the page is idle, so they read what the visitor reads when the work is done.
IDLE_JS = "() => ![...document.querySelectorAll('.progress-text, .meta-text, .meta-text-center')].some(e => e.offsetParent)"


# English words quoted from the (English) prompt, or that the checks look for in it, stay English in quotes.
QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"")


def english_on_page(page) -> list[str]:
    try:
        page.wait_for_function(IDLE_JS, timeout=30_000)
    except PlaywrightTimeout:
        pass  # still busy: whatever Gradio shows now is read, and named by the assertion if it is English
    found = []
    for text in page.evaluate(VISIBLE_TEXT_JS):
        words = {w for w in re.findall(r"[A-Za-z][A-Za-z0-9]{2,}", QUOTED.sub("", text)) if w.lower() not in ALLOWED}
        if words:
            found.append(text)
    return found


def wait_text(page, selector: str, needle: str, timeout: float = 60_000) -> None:
    page.wait_for_function(
        "([sel, needle]) => { const e = document.querySelector(sel); return !!e && e.innerText.includes(needle); }",
        arg=[selector, needle], timeout=timeout,
    )


def test_chinese_page_shows_no_english(browser, app_server):
    # A Chinese-speaking visitor: the browser's language is zh-CN (Gradio's own texts follow it).
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
    try:
        _walk_the_page_in_chinese(context.new_page(), app_server["url"])
    finally:
        context.close()


def _walk_the_page_in_chinese(page, url: str) -> None:
    page.set_default_timeout(30_000)
    page.goto(url, wait_until="load")
    page.get_by_role("button", name=t("generate_button", "zh"), exact=True).wait_for(timeout=30_000)
    wait_text(page, "#checklist", t("checklist_empty", "zh"))
    stages = {"empty page": english_on_page(page)}

    page.get_by_role("button", name="宇航员,8 秒语音", exact=True).click()
    wait_text(page, "#checklist", "可以生成")
    stages["example loaded"] = english_on_page(page)

    page.get_by_role("button", name=t("loudness_button", "zh"), exact=True).click()
    wait_text(page, "#fix-message", t("fix_undo_hint", "zh"))
    stages["after a fix"] = english_on_page(page)
    page.get_by_role("button", name=t("undo_button", "zh"), exact=True).click()
    wait_text(page, "#fix-message", t("undone", "zh"))

    page.locator("#consent input[type=checkbox]").check()
    page.get_by_role("button", name=t("generate_button", "zh"), exact=True).click()
    wait_text(page, "#result-summary", "所用种子", timeout=120_000)
    page.wait_for_function("() => document.querySelectorAll('#history img, #history video').length >= 1", timeout=20_000)
    stages["after a run"] = english_on_page(page)

    page.locator("#engineers").get_by_text(t("engineers_accordion", "zh")).first.click()
    page.locator("#checks-table").wait_for(state="visible", timeout=10_000)
    stages["details for engineers"] = english_on_page(page)

    leftovers = {stage: texts for stage, texts in stages.items() if texts}
    assert not leftovers, f"English on the Chinese page: {leftovers}"
