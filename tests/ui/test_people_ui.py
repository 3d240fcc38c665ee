"""The page's several-people parts (issue 14), without a browser: the face-order choices, the main
Speech box's label, the numbered overlay, the run details and summary, and the history that keeps
(and gives back) every person's track, old entries included."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest

from liveavatar.backends import choose_backend
from liveavatar.examples import load_examples
from liveavatar.fixes import image as fix
from liveavatar.history import HistoryEntry, OutputStore
from liveavatar.studio import inspect_inputs
from liveavatar.ui.handlers import (
    ServiceOptions, Studio, face_order_choices, face_tracks, people_info, result_summary,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {e.name: e for e in load_examples(ROOT / "examples")}
PAIR = EXAMPLES["Two people talking"]


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    return Studio(choose_backend(None, force_preview=True), ServiceOptions(output_dir=tmp_path_factory.mktemp("out")))


def test_face_order_choices_spell_out_each_order():
    one = face_order_choices(1)
    assert [v for _, v in one] == [""]
    two = face_order_choices(2)
    assert two == [("In order: track 1 → face 1, track 2 → face 2", ""), ("2,1: track 1 → face 2, track 2 → face 1", "2,1")]
    assert len(face_order_choices(3)) == 6 and len(face_order_choices(4)) == 24
    assert [v for _, v in face_order_choices(3)][:3] == ["", "1,3,2", "2,1,3"]
    zh = face_order_choices(2, "zh")
    assert zh[1] == ("2,1: 音轨 1 → 人脸 2, 音轨 2 → 人脸 1", "2,1")


def test_the_speech_label_and_orders_follow_the_tracks_given():
    label, order = Studio.people_inputs(None, None, None, "", "en")
    assert label["label"].key == "audio_label" and order["interactive"] is False and order["value"] == ""
    label, order = Studio.people_inputs("b.wav", None, None, "2,1", "en")
    assert label["label"].key == "audio_label_person1"
    assert order["interactive"] is True and order["value"] == "2,1" and len(order["choices"]) == 2
    # an order for two tracks does not survive a third; a typed " 1, 2" is the in-order choice
    assert Studio.people_inputs("b.wav", "c.wav", None, "2,1", "en")[1]["value"] == ""
    assert Studio.people_inputs("b.wav", None, None, " 1, 2", "en")[1]["value"] == ""
    assert Studio.people_inputs("b.wav", "c.wav", None, "3,1,2", "en")[1]["value"] == "3,1,2"


def test_the_overlay_numbers_faces_and_says_which_track_drives_each(studio):
    straight = inspect_inputs("", PAIR.image, PAIR.audio, more_audio=PAIR.more_audio)
    swapped = inspect_inputs("", PAIR.image, PAIR.audio, more_audio=PAIR.more_audio, face_order="2,1")
    assert face_tracks(straight) == [1, 2] and face_tracks(swapped) == [2, 1]
    assert face_tracks(inspect_inputs("", PAIR.image, PAIR.audio)) is None  # one track: numbers only
    assert people_info(swapped) == {"count": 2, "tracks": [{"track": 1, "face": 2}, {"track": 2, "face": 1}]}

    _, overlay, *_ = studio.refresh(PAIR.prompt, PAIR.image, PAIR.audio, "quick", "", "en", PAIR.more_audio[0], None, None, "2,1")
    plain = straight.image.rgb
    assert overlay.shape == plain.shape
    green = np.all(overlay == np.array(fix.SINGLE_FACE_COLOUR, np.uint8), axis=2)
    for face in straight.faces:  # both faces are driven: green boxes, a badge under each
        x0, y0, x1, y1 = face.box
        assert green[y0, x0:x1 - 1].all()
        assert green[y1 + 3:y1 + 20, x0:x0 + 10].mean() > 0.5
    white = np.all(overlay >= 250, axis=2) & ~np.all(plain >= 250, axis=2)
    assert white.sum() > 200  # the numbers and "← track k" are drawn

    # one track, two faces: red boxes, numbered, no track labels
    _, one, *_ = studio.refresh(PAIR.prompt, PAIR.image, PAIR.audio, "quick", "", "en")
    red = np.all(one == np.array(fix.MULTI_FACE_COLOUR, np.uint8), axis=2)
    assert not np.all(one == np.array(fix.SINGLE_FACE_COLOUR, np.uint8), axis=2).any()
    for face in straight.faces:
        assert red[face.box[1], face.box[0]:face.box[2] - 1].all()


def test_a_bad_order_answers_in_the_checklist(studio):
    html, overlay, *_ = studio.refresh(PAIR.prompt, PAIR.image, PAIR.audio, "quick", "", "en", PAIR.more_audio[0], None, None, "1,1")
    assert "Face order" in html and overlay is None


def test_the_summary_says_who_spoke():
    info = {"status": "done", "seed": 7, "video_seconds": 13.2, "seconds": 2.5, "first_clip_seconds": None,
            "backend": "preview", "warnings": [], "error": None, "plan": {"width": 384, "height": 256},
            "people": {"count": 2, "tracks": [{"track": 1, "face": 2}, {"track": 2, "face": 1}]}}
    assert "2 people speak: track 1 → face 2, track 2 → face 1." in result_summary(info, "en")
    zh = result_summary(info, "zh")
    assert "2 人说话:音轨 1 → 人脸 2, 音轨 2 → 人脸 1。" in zh
    assert "people speak" not in result_summary({**info, "people": {"count": 1, "tracks": []}}, "en")


def test_history_keeps_every_track_and_loads_them_back(studio, tmp_path):
    visitor = "a" * 32
    job = studio.store.new_job(visitor)
    video = job / "output.mp4"
    video.write_bytes(b"mp4")
    entry = studio.store.record(HistoryEntry(
        id=job.name, visitor=visitor, video=str(video), prompt="Two people.", image=PAIR.image, audio=PAIR.audio,
        preset="quick", settings={"size": "384*256", "seed": 3}, seed=3, more_audio=list(PAIR.more_audio), face_order="2,1",
    ))
    stored = json.loads((job / "entry.json").read_text())
    assert stored["more_audio"] == ["input-audio-2.wav"] and stored["face_order"] == "2,1"
    assert Path(entry.more_audio[0]).read_bytes() == Path(PAIR.more_audio[0]).read_bytes()
    loaded = studio.history_load(visitor, job.name)
    assert len(loaded) == 17
    assert loaded[13] == str(job / "input-audio-2.wav") and loaded[14:16] == (None, None) and loaded[16] == "2,1"


def test_an_old_history_entry_still_loads_with_empty_people_slots(tmp_path):
    store = OutputStore(tmp_path / "jobs", ttl_seconds=3600)
    studio = Studio.__new__(Studio)
    studio.store = store
    visitor = "b" * 32
    job = store.new_job(visitor)
    (job / "output.mp4").write_bytes(b"mp4")
    (job / "input-audio.wav").write_bytes(b"wav")
    old = {"id": job.name, "visitor": visitor, "created": 1.0, "video": "output.mp4", "prompt": "A man.",
           "image": None, "audio": "input-audio.wav", "preset": "quick", "settings": {}, "seed": 1,
           "seconds": 1.0, "first_clip_seconds": None, "cancelled": False, "cli": "python -m liveavatar.generate"}
    (job / "entry.json").write_text(json.dumps(old))
    entry = store.get(visitor, job.name)
    assert entry is not None and entry.more_audio == [] and entry.face_order == ""
    loaded = Studio.history_load(studio, visitor, job.name)
    assert loaded[2] == str(job / "input-audio.wav") and loaded[13:] == (None, None, None, "")
    # a tampered entry cannot point a track outside its folder
    (job / "entry.json").write_text(json.dumps({**old, "more_audio": ["../../x.wav", 5], "face_order": None}))
    entry = store.get(visitor, job.name)
    assert entry.more_audio == [] and entry.face_order == ""


def test_every_new_label_has_its_chinese():
    from liveavatar.i18n import UI

    for key in ("people_accordion", "people_help", "face_order_label", "face_order_info", "overlay_track",
                *(f"audio_label_person{n}" for n in range(1, 5))):
        assert re.search(r"[\u4e00-\u9fff]", UI[key]["zh"]), key
