"""The app's public API, driven through gradio_client against the launched server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from liveavatar.examples import load_examples
from liveavatar.media.video import probe_video
from liveavatar.studio import inspect_inputs

ROOT = Path(__file__).resolve().parents[2]

EXAMPLES = {e.name: e for e in load_examples(ROOT / "examples")}
GOOD = [e for e in EXAMPLES.values() if e.expect == "ok"]
BAD = [e for e in EXAMPLES.values() if e.expect != "ok"]
FRAME = 1 / 25


def _check(client, e, preset="quick"):
    return client.predict(e.prompt, handle_file(e.image), handle_file(e.audio), preset, api_name="/check")


def test_examples_exist():
    assert GOOD and BAD


def test_check_returns_the_checklist_as_json(client):
    checks = _check(client, GOOD[0])
    assert isinstance(checks, list) and len(checks) > 10
    for c in checks:
        assert set(c) >= {"id", "name", "level", "value", "threshold", "fix"}
        assert c["level"] in ("ok", "warning", "problem")
    assert not [c for c in checks if c["level"] == "problem"], checks
    ids = {c["id"] for c in checks}
    assert {"image.faces", "audio.loudness", "prompt.length", "consistency.emotion"} <= ids


@pytest.mark.parametrize("name", [e.name for e in BAD])
def test_each_bad_example_trips_its_check(client, name):
    e = EXAMPLES[name]
    checks = {c["id"]: c for c in _check(client, e)}
    hit = checks[e.expect]
    assert hit["level"] in ("warning", "problem"), hit
    assert hit["fix"], "a failed check must say how to fix it"


def _good_with_whole_audio():
    return GOOD[0]


def test_generate_covers_the_whole_audio(client):
    e = _good_with_whole_audio()
    video, info = client.predict(
        e.prompt, handle_file(e.image), handle_file(e.audio), "quick", json.dumps({"seed": 7}), api_name="/generate"
    )
    plan = info["plan"]
    assert info["seed"] == 7 and plan["covers_whole_audio"]
    v = probe_video(video["video"] if isinstance(video, dict) else video)
    assert (v.width, v.height) == (plan["width"], plan["height"])
    assert v.fps == pytest.approx(25, abs=0.01)
    assert v.video_codec == "h264" and v.pix_fmt == "yuv420p" and v.has_audio and v.audio_codec == "aac"
    audio_s = inspect_inputs("", None, e.audio).audio_stats.duration_s
    assert v.frame_count == plan["video_frames"]
    assert abs(v.duration_s - audio_s) <= FRAME + 1e-6
    assert abs(v.audio_duration_s - v.duration_s) <= FRAME + 0.03  # AAC frames are 64 ms at 16 kHz


def test_generate_with_fewer_clips_than_the_audio_and_random_seed(client):
    e = GOOD[0]
    video, info = client.predict(
        e.prompt, handle_file(e.image), handle_file(e.audio), "custom",
        json.dumps({"size": "384*256", "num_clip": 2, "infer_frames": 24, "sample_steps": 3}), api_name="/generate",
    )
    assert isinstance(info["seed"], int) and info["seed"] >= 0
    v = probe_video(video["video"] if isinstance(video, dict) else video)
    assert v.frame_count == 48
    assert abs(v.duration_s - 48 / 25) <= FRAME + 1e-6
    assert v.has_audio


@pytest.mark.parametrize("name", [e.name for e in BAD])
def test_problems_block_generation_and_warnings_do_not(client, name):
    e = EXAMPLES[name]
    checks = {c["id"]: c for c in _check(client, e)}
    problems = [c for c in checks.values() if c["level"] == "problem"]
    if not problems:
        video, info = client.predict(e.prompt, handle_file(e.image), handle_file(e.audio), "quick", "", api_name="/generate")
        assert probe_video(video["video"] if isinstance(video, dict) else video, decode=False).has_audio
        assert info["warnings"], "the warnings that did not block are reported with the result"
        return
    with pytest.raises(AppError) as err:
        client.predict(e.prompt, handle_file(e.image), handle_file(e.audio), "quick", "", api_name="/generate")
    message = str(err.value)
    assert "Please fix before generating" in message
    for p in problems:
        assert p["name"] in message
    assert "Traceback" not in message
    # the server is still up and answering
    assert _check(client, GOOD[0])


def test_bad_settings_get_a_specific_message(client):
    e = GOOD[0]
    with pytest.raises(AppError, match="multiple of 12"):
        client.predict(e.prompt, handle_file(e.image), handle_file(e.audio), "custom", json.dumps({"infer_frames": 32}), api_name="/generate")
    with pytest.raises(AppError, match="Unknown preset 'ultra'"):
        client.predict(e.prompt, handle_file(e.image), handle_file(e.audio), "ultra", "", api_name="/check")


def test_one_click_audio_fixes_replace_the_input_and_the_check_passes(client):
    quiet = next(e for e in BAD if e.expect == "audio.sample_rate")
    before = {c["id"]: c for c in _check(client, quiet)}
    # -24 dBFS speech is not "quiet" since issue 11 (wav2vec2 normalises the level); its noise still warns
    assert before["audio.sample_rate"]["level"] == "warning" and before["audio.noise"]["level"] == "warning"

    fixed, message = client.predict(handle_file(quiet.audio), api_name="/fix_convert")
    assert "16 kHz" in message and "restore" in message  # says plainly up-sampling can't add what 8 kHz lacks
    fixed, message = client.predict(handle_file(fixed), api_name="/fix_loudness")
    assert "dBFS" in message
    after = {c["id"]: c for c in client.predict(quiet.prompt, handle_file(quiet.image), handle_file(fixed), "quick", api_name="/check")}
    assert after["audio.sample_rate"]["level"] == "ok"
    assert after["audio.loudness"]["level"] == "ok"
    assert after["audio.bit_depth"]["level"] == "ok"


def test_crop_fix_returns_a_portrait_cropped_around_the_face(client):
    from PIL import Image

    good = GOOD[0]
    cropped, message = client.predict(handle_file(good.image), "standard", "", good.prompt, api_name="/fix_crop")
    w, h = Image.open(cropped).size
    assert (w, h) != Image.open(good.image).size
    # the crop never lowers the planned video size: the 512² portrait plans 448×448 before and after
    assert "the video stays 448×448" in message, message
    # the prompt describes the surroundings (flag, shuttle, backdrop): the message says they may be cut
    assert "surroundings" in message and "Undo" in message, message
    checks = {c["id"]: c for c in client.predict(good.prompt, handle_file(cropped), handle_file(good.audio), "standard", api_name="/check")}
    assert checks["image.faces"]["level"] == "ok"


def test_the_weights_download_is_not_in_the_api(client):
    """A script (or a stranger) cannot start the 50 GB download: it is a two-step button on the page
    only (tests/app/test_weights_download.py tests its offline answer)."""
    with pytest.raises(ValueError):
        client.predict(api_name="/download_weights")
    assert _check(client, GOOD[0])  # still serving
