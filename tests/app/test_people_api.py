"""Several people in one portrait, each speaking their own track (issue 14), through the launched
app's public API the way a user's script calls it: ``/check`` and ``/generate`` take ``face_order``
and ``speech_2``..``speech_4`` after their settings (positional callers unchanged)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from liveavatar.examples import load_examples
from liveavatar.media.audio import load_audio, to_mono_16k
from liveavatar.media.video import probe_video

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {e.name: e for e in load_examples(ROOT / "examples")}
PAIR = EXAMPLES["Two people talking"]  # two_faces.png; person 1 says speech.wav, then person 2 answers
SOLO = EXAMPLES["Astronaut, 8 s of speech"]  # one face
FRAME = 1 / 25
#: 5.76 s of video (3 clips of 48 frames): person 1 speaks all of it, person 2 has not started yet.
SHORT = json.dumps({"size": "384*256", "num_clip": 3, "infer_frames": 48, "sample_steps": 3, "seed": 5})


def _generate(client, e, *, speech_2=None, face_order="", preset="quick", advanced=""):
    """/generate with every parameter in its place: the old ones, then text/tts_rate, then the people."""
    return client.predict(
        e.prompt, handle_file(e.image), handle_file(e.audio), preset, advanced, None, 1.0,
        face_order, handle_file(speech_2) if speech_2 else None, None, None, api_name="/generate",
    )


def _check(client, e, *, speech_2=None, face_order=""):
    checks = client.predict(e.prompt, handle_file(e.image), handle_file(e.audio), "quick", "", face_order,
                            handle_file(speech_2) if speech_2 else None, api_name="/check")
    return {c["id"]: c for c in checks}


def _path(video) -> str:
    return video["video"] if isinstance(video, dict) else video


def test_the_api_documents_the_new_parameters(client):
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    for endpoint, old_last in (("/generate", "tts_rate"), ("/check", "advanced")):
        names = [p["parameter_name"] for p in api[endpoint]["parameters"]]
        assert names[names.index(old_last) + 1:] == ["face_order", "speech_2", "speech_3", "speech_4"], names
        defaults = {p["parameter_name"]: p.get("parameter_default") for p in api[endpoint]["parameters"]}
        assert defaults["speech_2"] is None and defaults["face_order"] == ""


def test_two_faces_and_one_track_says_add_a_track(client):
    e = EXAMPLES["Two faces"]  # the single-person bad example: one track, two faces
    with pytest.raises(AppError) as err:
        _generate(client, e)
    message = str(err.value)
    assert "2 faces found but 1 speech track" in message, message
    assert "add a speech track for each person" in message.lower(), message
    assert "Traceback" not in message


def test_one_face_and_two_tracks_says_which_is_missing(client):
    with pytest.raises(AppError) as err:
        _generate(client, SOLO, speech_2=PAIR.more_audio[0])
    message = str(err.value)
    assert "1 face found but 2 speech tracks" in message, message
    assert "Traceback" not in message


def test_a_bad_face_order_is_refused_plainly(client):
    with pytest.raises(AppError, match="Face order") as err:
        _check(client, PAIR, speech_2=PAIR.more_audio[0], face_order="1,1")
    assert "Traceback" not in str(err.value)


def test_check_takes_the_settings_json_fifth_as_generate_does(client):
    """/check's fifth value is the advanced settings JSON, as /generate's: "" is none, and the settings
    reach the plan the checks use (a custom size decides e.g. whether faces are far enough apart)."""
    solo = client.predict(SOLO.prompt, handle_file(SOLO.image), handle_file(SOLO.audio), "quick", "", api_name="/check")
    assert not [c for c in solo if c["level"] == "problem"]
    with pytest.raises(AppError, match="multiple of 12"):
        client.predict(SOLO.prompt, handle_file(SOLO.image), handle_file(SOLO.audio), "custom",
                       json.dumps({"infer_frames": 32}), api_name="/check")


def test_the_people_parameters_can_be_given_by_name(client):
    checks = client.predict(PAIR.prompt, handle_file(PAIR.image), handle_file(PAIR.audio), "quick",
                            speech_2=handle_file(PAIR.more_audio[0]), face_order="2,1", api_name="/check")
    people = {c["id"]: c for c in checks}["people.apart"]
    assert people["level"] == "ok" and "person 1 (track 2)" in people["value"], people


def test_the_two_person_example_passes_the_checks_in_either_order(client):
    for order in ("1,2", "2,1", ""):
        checks = _check(client, PAIR, speech_2=PAIR.more_audio[0], face_order=order)
        assert not [c for c in checks.values() if c["level"] in ("problem", "warning")], (order, checks)
        assert checks["people.count"]["value"] == "2 faces found, 2 speech tracks"
        assert "image.faces" not in checks  # the one-person face count gives way to people.count


def test_two_people_make_one_video_with_both_voices_mixed(client):
    video, info = _generate(client, PAIR, speech_2=PAIR.more_audio[0], face_order=PAIR.face_order)
    assert info["status"] == "done"
    assert info["people"] == {"count": 2, "tracks": [{"track": 1, "face": 1}, {"track": 2, "face": 2}]}
    assert "+" in info["cli"].split("--audio ", 1)[1].split(" --", 1)[0]  # upstream's --audio a.wav+b.wav

    path = _path(video)
    v = probe_video(path)
    assert v.has_audio and v.audio_codec == "aac"
    tracks = [to_mono_16k(load_audio(p)) for p in (PAIR.audio, *PAIR.more_audio)]
    longest = max(len(t) for t in tracks) / 16_000
    assert abs(v.duration_s - longest) <= FRAME + 1e-6  # as long as the longest track (person 2's)

    sound = to_mono_16k(load_audio(path))  # the video's own soundtrack, decoded
    assert np.abs(sound).max() < 0.999, "the mix clips"
    first_len = len(tracks[0])

    def rms_db(x: np.ndarray) -> float:
        return float(10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-12))

    # person 1 is heard first and person 2 after: both voices are in the mix, each where it speaks
    assert rms_db(sound[16_000: first_len - 16_000]) > -30
    assert rms_db(sound[first_len + 16_000: len(tracks[1]) - 8_000]) > -30
    # and the mix is the sum, not one track: it follows each track where that one speaks
    for track, part in ((tracks[0], slice(16_000, first_len - 16_000)), (tracks[1], slice(first_len + 16_000, len(tracks[1]) - 8_000))):
        a, b = sound[part], track[part]
        n = min(len(a), len(b))
        assert np.corrcoef(a[:n], b[:n])[0, 1] > 0.8


def _mouth_motion(path: str) -> tuple[float, float]:
    """Mean absolute change between frames in the lower half of each half of the frame: left, right
    (the mouths; the eyes that blink are above them)."""
    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32))
    cap.release()
    assert len(frames) > 50
    moves = np.mean([np.abs(b - a) for a, b in zip(frames, frames[1:])], axis=0)
    h, w = moves.shape
    return float(moves[h // 4:, : w // 2].mean()), float(moves[h // 4:, w // 2:].mean())


def test_the_face_order_decides_whose_mouth_moves(client):
    """Over the first 5.76 s only track 1 speaks: the face it drives moves, the other stays still;
    swapping the order swaps which face that is, and the run details and command line say so."""
    straight, info = _generate(client, PAIR, speech_2=PAIR.more_audio[0], face_order="", preset="custom", advanced=SHORT)
    swapped, info_swapped = _generate(client, PAIR, speech_2=PAIR.more_audio[0], face_order="2,1", preset="custom", advanced=SHORT)
    assert info["people"]["tracks"] == [{"track": 1, "face": 1}, {"track": 2, "face": 2}]
    assert info_swapped["people"]["tracks"] == [{"track": 1, "face": 2}, {"track": 2, "face": 1}]
    assert "--face_order 2,1" in info_swapped["cli"] and "--face_order" not in info["cli"]

    left, right = _mouth_motion(_path(straight))
    assert left > 3 * right, (left, right)
    left, right = _mouth_motion(_path(swapped))
    assert right > 3 * left, (left, right)
