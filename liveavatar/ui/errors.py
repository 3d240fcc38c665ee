"""Errors shown to the visitor, and what they leave in the server's console.

Gradio 6 prints the full traceback of every exception a handler raises, ``gr.Error`` included,
unless the error says ``print_exception=False`` (``gradio/queueing.py``: ``if not isinstance(e,
Error) or e.print_exception: traceback.print_exc()``). A missing portrait or an unticked consent
box is not a bug, and a console full of tracebacks for them hides the real ones. So:

- :class:`UserError` — an ordinary mistake in the inputs: the visitor sees the message, the console
  gets one plain line (logger ``liveavatar.ui``), no traceback;
- :func:`bug_error` — something that should not happen: the console gets the original exception's
  traceback (not Gradio's of the re-raise, which ``from None`` would make useless), the visitor a
  short message.
"""

from __future__ import annotations

import logging

import gradio as gr

log = logging.getLogger("liveavatar.ui")


class UserError(gr.Error):
    """``gr.Error`` for an ordinary user mistake: one plain line in the console, no traceback."""

    def __init__(self, message: str = "Error raised.", duration: float | None = 10, **kwargs):
        kwargs["print_exception"] = False
        super().__init__(message, duration=duration, **kwargs)
        first = str(message).strip().splitlines()[0] if str(message).strip() else ""
        log.warning("User error (shown to the visitor): %s", first[:300])


def bug_error(exc: BaseException, message: str, duration: float | None = None) -> gr.Error:
    """Log ``exc`` with its traceback and return the quiet ``gr.Error`` to raise in its place."""
    log.error("%s", message, exc_info=(type(exc), exc, exc.__traceback__))
    return gr.Error(message, duration=duration, print_exception=False)
