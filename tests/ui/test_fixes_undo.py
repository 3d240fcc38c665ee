"""One-click fixes do no harm: the face crop never plans a smaller video than the photo gives, says so
when it can't crop, warns when the prompt describes what may be cut away, and every fix can be undone
(the handlers behind the page's buttons, with the app's own Studio)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from liveavatar.backends import BackendChoice, PreviewBackend
from liveavatar.examples import load_examples
from liveavatar.fixes.image import crop_keeping_size, plan_face_crop
from liveavatar.plan import fit_size
from liveavatar.presets import resolve_settings
from liveavatar.studio import InputCache, plan_for
from liveavatar.testing.server import ROOT
from liveavatar.ui.handlers import ServiceOptions, Studio

GOOD = next(e for e in load_examples(ROOT / "examples") if e.expect == "ok")


@pytest.fixture
def studio(tmp_path):
    return Studio(BackendChoice(PreviewBackend(), "test"), ServiceOptions(output_dir=tmp_path / "out"))


def _planned(path: str, preset: str = "standard") -> tuple[int, int]:
    plan = plan_for(InputCache().inspect("", path, None), resolve_settings(preset, None),
                    BackendChoice(PreviewBackend(), "test"))
    return plan.width, plan.height


def test_the_plain_head_crop_would_shrink_the_video_so_the_crop_grows():
    # the 512² astronaut plans 448×448 at standard; a 3-face-height crop (~315 px) would plan 320×320
    face = (200, 60, 305, 165)
    tight = plan_face_crop(512, 512, face, 1.0)
    side = tight[2] - tight[0]
    assert fit_size(side, side, 688 * 368) < (448, 448)
    box = crop_keeping_size(512, 512, face, 1.0, lambda w, h: fit_size(w, h, 688 * 368)[0] * fit_size(w, h, 688 * 368)[1] >= 448 * 448)
    assert box is not None and box[2] - box[0] > side
    w, h = box[2] - box[0], box[3] - box[1]
    assert fit_size(w, h, 688 * 368) == (448, 448)
    assert crop_keeping_size(512, 512, face, 1.0, lambda w, h: False) is None  # never satisfied: no crop at all


def test_crop_keeps_the_planned_size_warns_about_the_prompt_and_undoes(studio):
    before = _planned(GOOD.image)
    path, message, undo = studio.fix_crop(GOOD.image, "standard", "", GOOD.prompt, [], "en")
    assert Image.open(path).size != Image.open(GOOD.image).size
    assert _planned(path) == before, "the crop lowered the planned video size"
    assert f"the video stays {before[0]}×{before[1]}" in message
    assert "surroundings" in message and "backdrop" in message  # the prompt's words that may be cut
    assert undo == [["image", GOOD.image]]

    image, audio, *_, said, undo = studio.undo_fix(undo, "en")
    assert image == GOOD.image and said.startswith("Undone") and undo == []
    *_, said, _ = studio.undo_fix(undo, "en")
    assert said == "There is no fix to undo."


def test_a_photo_too_small_to_crop_is_left_alone_with_the_reason(studio, tmp_path):
    # a small portrait whose face fills most of it: any head crop would plan a smaller video
    small = tmp_path / "small.png"
    Image.open(GOOD.image).crop((150, 20, 360, 230)).save(small)
    path, message, undo = studio.fix_crop(str(small), "standard", "", "", [], "en")
    assert message.startswith("Not cropped") and undo == []
    assert not isinstance(path, str)  # the input is left as it is (a no-op update)


def test_audio_fix_is_undone_to_the_original_recording(studio):
    path, message, undo = studio.fix_audio("loudness", GOOD.audio, [], "zh")
    assert Path(path).exists() and path != GOOD.audio
    assert "撤销" in message  # the message says how to get the original back, in the page's language
    image, audio, *_, said, undo = studio.undo_fix(undo, "zh")
    assert audio == GOOD.audio and undo == [] and said == "已撤销:输入已恢复为修复前的样子。"
