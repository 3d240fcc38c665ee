"""Live mode's refusals before any work, with the app's own Studio: a portrait with several faces is
refused (one voice drives one face), in the page's language, pointing to the video with one track each;
a refusal reaches the visitor as itself (it used to be hidden by a KeyError from the clean-up)."""

from __future__ import annotations

import pytest

from liveavatar.backends import BackendChoice, PreviewBackend
from liveavatar.testing.server import ROOT
from liveavatar.ui.errors import UserError
from liveavatar.ui.handlers import ServiceOptions, Studio
from liveavatar.ui.live import LiveMode

PROMPT = "Two women in orange flight suits talk to each other in a studio, calm, documentary style."


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    studio = Studio(BackendChoice(PreviewBackend(), "test"), ServiceOptions(output_dir=tmp_path_factory.mktemp("out")))
    return LiveMode(studio)


@pytest.mark.parametrize("lang, words", [("en", ["2 faces", "Several people in the portrait"]),
                                         ("zh", ["2 张人脸", "画面中有多个人"])])
def test_a_portrait_with_two_faces_is_refused_with_the_way_out(live, lang, words):
    with pytest.raises(UserError) as err:
        next(live.run_text(PROMPT, str(ROOT / "examples/media/two_faces.png"), "quick", "", "Hello there.", "", lang))
    message = str(err.value)
    assert all(w in message for w in words), message
    # refused before any run existed: nothing is left claimed, so the next try is not "already running"
    with pytest.raises(UserError, match="needs a portrait" if lang == "en" else "需要人像"):
        next(live.run_text(PROMPT, None, "quick", "", "Hello there.", "", lang))
