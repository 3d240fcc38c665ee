"""Input components that hand the uploaded file to our own loaders untouched.

Why not plain ``gr.Image(type="filepath", image_mode=None)``: Gradio's ``preprocess`` (see
``gradio/image_utils.py::preprocess_image``) still calls ``PIL.Image.open`` on every upload to
compare its mode with ``image_mode``. A text file named ``.png`` then fails inside Gradio with
``UnidentifiedImageError``, and a picture over Pillow's ~179 MP bomb limit with
``DecompressionBombError``; the visitor sees Gradio's generic "Error" instead of our message.
:func:`liveavatar.media.image.load_image` is the one place that decodes a portrait (with the pixel
limit read from the header first, and a specific sentence for every failure), so the component
only passes the path on.

``gr.Audio(type="filepath", format=None)`` already returns the path unchanged; :class:`SpeechInput`
pins that down so a later ``format="wav"`` (which makes Gradio decode and re-encode the upload
with its own error messages, before :func:`liveavatar.media.audio.load_audio` sees it) cannot slip in.

Both still accept base64 ``data:`` URLs the way Gradio does (written to a file, not decoded).
"""

from __future__ import annotations

from typing import Any

import gradio as gr
from gradio import image_utils

from liveavatar.ui.errors import UserError


def _uploaded_path(payload: Any, cache_dir: str, fmt: str) -> str | None:
    if payload is None:
        return None
    url = getattr(payload, "url", None)
    if url and str(url).startswith("data:"):
        return image_utils.decode_base64_to_file(url, cache_dir, fmt)
    path = getattr(payload, "path", None)
    if not path:
        raise UserError("The upload did not arrive. Please upload the file again.")
    return str(path)


class PortraitInput(gr.Image):
    """``gr.Image`` whose ``preprocess`` returns the uploaded file's path without opening it.

    No ``__init__`` of its own on purpose: Gradio builds a component's front-end config from its
    constructor's named parameters, so a ``(*args, **kwargs)`` wrapper would leave the widget
    without its props (the page then fails in the browser). Build it with ``type="filepath"``.
    """

    def preprocess(self, payload: Any) -> str | None:  # type: ignore[override]
        return _uploaded_path(payload, self.GRADIO_CACHE, self.format)

    def get_block_name(self) -> str:  # the same front-end widget as gr.Image
        return "image"


class SpeechInput(gr.Audio):
    """``gr.Audio`` that always returns the uploaded file's path, never a Gradio re-encode.

    No ``__init__`` of its own, for the same reason as :class:`PortraitInput`.
    """

    def preprocess(self, payload: Any) -> str | None:  # type: ignore[override]
        return _uploaded_path(payload, self.GRADIO_CACHE, "wav")

    def get_block_name(self) -> str:
        return "audio"
