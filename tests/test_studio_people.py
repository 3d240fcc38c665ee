"""Several people in one portrait, through the studio's use cases (no Gradio): inspect with extra
tracks and a face order, check, plan as long as the longest track, prepare each person, generate."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from liveavatar.backends import BackendChoice, PreviewBackend
from liveavatar.media.audio import load_audio
from liveavatar.media.video import probe_video
from liveavatar.presets import SettingsError, resolve_settings
from liveavatar.repro import cli_command
from liveavatar.report import plan_summary
from liveavatar.studio import InputProblemError, check_inputs, generate, inspect_inputs, parse_face_order

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT / "examples" / "media"
TWO = str(MEDIA / "two_faces.png")
LONG, SHORT = str(MEDIA / "speech.wav"), str(MEDIA / "speech_short_sentence.wav")
PROMPT = ("Two women with short brown hair in orange flight suits sit side by side in a studio and talk to "
          "each other in turn, calm and friendly, soft even light, documentary style.")
CHOICE = BackendChoice(PreviewBackend(), "test")


def _settings(**over):
    return resolve_settings("custom", {"size": "384*256", "sample_steps": 3, "infer_frames": 24, "seed": 3, **over})


def test_face_order_reads_a_permutation_and_refuses_anything_else() -> None:
    assert parse_face_order("", 2) is None and parse_face_order(None, 3) is None
    assert parse_face_order("2,1", 2) == [1, 0]
    assert parse_face_order(" 3, 1,2 ", 3) == [2, 0, 1]
    for bad in ("1,1", "1", "1,2,3", "a,b", "0,1"):
        with pytest.raises(SettingsError, match="each face number 1–2 once"):
            parse_face_order(bad, 2)


def test_two_tracks_pair_with_the_faces_left_to_right_and_in_the_given_order() -> None:
    insp = inspect_inputs(PROMPT, TWO, LONG, more_audio=[None, SHORT, ""])
    assert insp.track_count == 2 and insp.several_people
    left, right = insp.faces_numbered
    assert left.centre[0] < right.centre[0]
    assert [f.box for f in insp.people_faces] == [left.box, right.box]
    assert insp.audio_seconds == pytest.approx(8.13, abs=0.01)  # the longest track, not the shortest
    swapped = inspect_inputs(PROMPT, TWO, LONG, more_audio=[SHORT], face_order="2,1")
    assert [f.box for f in swapped.people_faces] == [right.box, left.box]
    report = check_inputs(insp, _settings(), CHOICE)
    assert not report.problems, report.problems
    assert report.plan.video_seconds >= 8.1  # the plan covers the longest track
    assert any("2 people speak: the video lasts as long as the longest track (8.1 s)" in n for n in report.plan.notes)
    assert "2 people speak" in plan_summary(report.plan, "en", None)  # said on the page, not only to engineers


def test_faces_and_tracks_that_do_not_pair_up_are_refused_with_both_counts() -> None:
    one_face = check_inputs(inspect_inputs(PROMPT, str(MEDIA / "portrait.png"), LONG, more_audio=[SHORT]), _settings(), CHOICE)
    count = [r for r in one_face.problems if r.id == "people.count"]
    assert count and "1 face" in count[0].value and "2" in count[0].value, one_face.problems
    one_track = check_inputs(inspect_inputs(PROMPT, TWO, LONG), _settings(), CHOICE)
    faces = [r for r in one_track.problems if r.id == "image.faces"]
    assert faces and "1 speech track" in faces[0].fix, one_track.problems


def test_an_unreadable_second_track_is_named(tmp_path) -> None:
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"not a wav at all")
    report = check_inputs(inspect_inputs(PROMPT, TWO, LONG, more_audio=[str(bad)]), _settings(), CHOICE)
    assert any(r.id == "audio.file" and "track 2" in r.value for r in report.problems)
    with pytest.raises(InputProblemError):
        generate(inspect_inputs(PROMPT, TWO, LONG, more_audio=[str(bad)]), _settings(), CHOICE, tmp_path)


def test_a_two_person_video_lasts_as_long_as_the_longest_track_with_the_tracks_mixed(tmp_path) -> None:
    insp = inspect_inputs(PROMPT, TWO, SHORT, more_audio=[LONG])  # track 1 is the shorter one
    result = generate(insp, _settings(), CHOICE, tmp_path, file_name="two.mp4")
    video = probe_video(result.video_path)
    assert video.has_audio and video.duration_s == pytest.approx(result.plan.video_seconds, abs=0.1)
    assert result.plan.video_seconds >= 8.1
    sound = load_audio(result.video_path).samples[0]
    assert np.abs(sound).max() < 1.0  # the mix never clips
    # both voices are in it: the second half (only track 2 still speaks) is not silent
    half = len(sound) // 2
    assert np.sqrt(np.mean(sound[half + len(sound) // 8 :].astype(np.float64) ** 2)) > 0.01


def test_the_cli_line_joins_the_tracks_as_upstream_does() -> None:
    line = cli_command("p", "two.png", "a.wav", _settings(), more_audio=["b.wav"], face_order="2,1")
    assert "--audio a.wav+b.wav" in line and "--face_order 2,1" in line
    assert "--face_order" not in cli_command("p", "one.png", "a.wav", _settings())


def test_each_track_gets_the_recording_checks_named_by_track_in_english_and_chinese() -> None:
    """Person 2's 8 kHz, noisy recording is flagged as track 2's (not person 1's clean one); the length
    check runs once, on the longest track; the Chinese page names the track too."""
    from liveavatar.i18n.checks import translate_result

    insp = inspect_inputs(PROMPT, TWO, LONG, more_audio=[str(MEDIA / "quiet_noisy_8k.wav")])
    report = check_inputs(insp, _settings(), CHOICE)
    rate = [r for r in report.results if r.id == "audio.sample_rate"]
    assert [r.value.split(":")[0] for r in rate] == ["track 1", "track 2"]
    assert rate[0].level == "ok" and rate[1].level == "warning" and "8 kHz" in rate[1].value
    assert [r.id for r in report.results].count("audio.duration") == 1
    assert not any(r.id == "audio.silence" for r in report.results)  # people.silent says it per track
    zh = translate_result(rate[1], "zh")
    assert zh.value.startswith("音轨 2:") and not re.search(r"[A-Za-z]{3,}", zh.value.replace("kHz", "")), zh.value
