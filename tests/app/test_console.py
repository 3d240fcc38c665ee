"""The server's console: an ordinary user error leaves at most one plain line, never a traceback;
a real bug still logs its traceback (Gradio 6 prints one for every ``gr.Error`` unless told not to)."""

from __future__ import annotations

import logging
import time

import gradio as gr
import pytest

from liveavatar.examples import load_examples
from liveavatar.testing.server import ROOT, launched_app
from liveavatar.ui.errors import UserError, bug_error

GOOD = next(e for e in load_examples(ROOT / "examples") if e.expect == "ok")


def test_user_error_is_quiet_and_one_line(caplog):
    caplog.set_level(logging.INFO)
    err = UserError("Upload a portrait first.\nsecond line")
    assert isinstance(err, gr.Error) and err.print_exception is False and err.duration == 10
    lines = [r for r in caplog.records if r.name == "liveavatar.ui"]
    assert len(lines) == 1 and lines[0].getMessage().endswith("Upload a portrait first.") and not lines[0].exc_info


def test_a_real_bug_keeps_its_traceback(caplog):
    try:
        {}["missing"]
    except KeyError as exc:
        err = bug_error(exc, "Generation failed: KeyError: 'missing'")
    assert err.print_exception is False  # Gradio's own print would show only the re-raise
    record = next(r for r in caplog.records if r.name == "liveavatar.ui")
    assert record.levelno == logging.ERROR and record.exc_info and record.exc_info[0] is KeyError


def test_bad_requests_leave_no_traceback_in_the_console(tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    with launched_app(tmp_path, "--preview") as server:
        client = Client(server["url"], verbose=False, download_files=False)
        log = server["log"]
        before = log.read_text()
        bad = [
            lambda: client.predict(GOOD.prompt, None, None, "quick", "", api_name="/generate"),  # no portrait, no speech
            lambda: client.predict(GOOD.prompt, handle_file(GOOD.image), handle_file(GOOD.audio), "quick",
                                   '{"sample_steps": 99}', api_name="/generate"),  # a bad setting
            lambda: client.predict(GOOD.prompt, handle_file(str(ROOT / "README.md")), handle_file(GOOD.audio), "quick", "",
                                   api_name="/generate"),  # not a picture
            lambda: client.predict(GOOD.prompt, handle_file(GOOD.image), handle_file(GOOD.audio), "ultra", "",
                                   api_name="/generate"),  # a preset that doesn't exist
        ]
        for call in bad:
            with pytest.raises(AppError):
                call()
        time.sleep(1)  # let the server finish writing
        after = log.read_text()[len(before):]
    assert "Traceback" not in after, after
    user_lines = [line for line in after.splitlines() if "User error" in line]
    assert 1 <= len(user_lines) <= len(bad), after
    noisy = [line for line in after.splitlines() if line.strip() and "User error" not in line]
    assert len(noisy) <= 2, f"more than the user-error lines in the console:\n{after}"
