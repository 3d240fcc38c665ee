"""check_consistency: prompt tone vs. measured delivery, prompt people vs. face count."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liveavatar.checks import consistency as C
from liveavatar.checks.audio import AudioStats, analyse_audio
from liveavatar.checks.consistency import check_consistency
from liveavatar.checks.prompt import PROMPT_TEMPLATES
from liveavatar.testing.synth import as_loaded, speech_like

IDS = ["consistency.emotion", "consistency.people"]


def analysed(x: np.ndarray) -> AudioStats:
    return analyse_audio(as_loaded(x))


def stats(rms: float, var: float) -> AudioStats:
    return AudioStats(
        duration_s=10.0, sample_rate=16000, channels=1, subtype="PCM_16", source_format="WAV",
        speech_rms_dbfs=rms, noise_floor_dbfs=-60.0, peak_dbfs=-3.0, clipped_fraction=0.0,
        longest_silence_s=0.3, active_fraction=0.7, loudness_variation_db=var,
        loudest_frame_dbfs=rms + 5,
    )


def emotion(prompt: str, audio: AudioStats | None):
    return {r.id: r for r in check_consistency(prompt, face_count=1, audio=audio)}["consistency.emotion"]


def people(prompt: str, faces: int | None):
    return {r.id: r for r in check_consistency(prompt, face_count=faces, audio=None)}["consistency.people"]


FLAT_QUIET = speech_like(8.0, level_dbfs=-30.0, variation_db=0.0)
LOUD_LIVELY = speech_like(8.0, level_dbfs=-11.0, variation_db=12.0)  # float: peaks may pass 0 dBFS


def test_synthetic_deliveries_measure_as_intended() -> None:
    flat, lively = analysed(FLAT_QUIET), analysed(LOUD_LIVELY)
    assert flat.speech_rms_dbfs < C.QUIET_SPEECH_DBFS and flat.loudness_variation_db < C.FLAT_VARIATION_DB
    assert lively.speech_rms_dbfs > C.LOUD_SPEECH_DBFS and lively.loudness_variation_db > C.LIVELY_VARIATION_DB


def test_laughing_heartily_over_flat_quiet_audio_warns() -> None:
    r = emotion("A man laughing heartily at a joke", analysed(FLAT_QUIET))
    assert r.level == "warning"
    assert "laughing heartily" in r.value and "quiet and flat" in r.value


def test_calm_prompt_over_loud_lively_audio_warns() -> None:
    r = emotion("She speaks calmly and quietly, in a serious tone", analysed(LOUD_LIVELY))
    assert r.level == "warning" and "loud and lively" in r.value


def test_matching_tone_is_ok() -> None:
    assert emotion("He is shouting excitedly", analysed(LOUD_LIVELY)).level == "ok"
    assert emotion("She whispers calmly", analysed(FLAT_QUIET)).level == "ok"


def test_not_measured_cases() -> None:
    assert "not measured" in emotion("laughing heartily", None).value
    r = emotion("A woman in an office", analysed(FLAT_QUIET))
    assert r.level == "ok" and "not measured" in r.value
    silent = analysed(np.zeros(16000, np.float32))
    assert emotion("laughing heartily", silent).level == "ok"


def test_negated_tone_word_is_ignored() -> None:
    r = emotion("She is not shouting and never laughing", analysed(FLAT_QUIET))
    assert r.level == "ok" and "not measured" in r.value


@pytest.mark.parametrize(
    ("rms", "var", "expected"),
    [
        (-24.5, 2.0, "warning"),
        (-23.5, 2.0, "ok"),  # not quiet enough
        (-24.5, 3.0, "ok"),  # not flat enough
    ],
)
def test_energetic_edges(rms: float, var: float, expected: str) -> None:
    assert emotion("speaking enthusiastically", stats(rms, var)).level == expected


@pytest.mark.parametrize(
    ("rms", "var", "expected"),
    [
        (-13.5, 6.5, "warning"),
        (-14.5, 6.5, "ok"),
        (-13.5, 5.5, "ok"),
    ],
)
def test_calm_edges(rms: float, var: float, expected: str) -> None:
    assert emotion("a calm, serious explanation", stats(rms, var)).level == expected


def test_thresholds_are_shown() -> None:
    r = emotion("excited", stats(-20, 4))
    for value in ("-24 dBFS", "2.5 dB", "-14 dBFS", "6 dB"):
        assert value in r.threshold


def test_people_mismatch_one_face() -> None:
    for text in ("Two people chatting in a cafe", "A couple dancing", "a group of friends", "a man and a woman talk"):
        r = people(text, 1)
        assert r.level == "warning", text
        assert "several people" in r.value


def test_they_gets_a_hint() -> None:
    r = people("A person with short hair; they are smiling", 1)
    assert r.level == "warning" and "ignore this" in r.fix


def test_people_mismatch_several_faces() -> None:
    r = people("A young woman speaking to the camera", 3)
    assert r.level == "warning" and "3 faces" in r.value and "Crop" in r.fix


def test_people_consistent_or_unknown() -> None:
    assert people("A young woman speaking", 1).level == "ok"
    assert people("Two people talking to each other", 2).level == "ok"
    assert people("A studio with soft light", 2).level == "ok"
    assert "not measured" in people("Two people", None).value
    assert "not measured" in people("Two people", 0).value


@pytest.mark.parametrize("name", sorted(PROMPT_TEMPLATES))
def test_templates_are_consistent_with_one_face(name: str) -> None:
    assert people(PROMPT_TEMPLATES[name], 1).level == "ok"


def test_returns_exactly_two_in_order() -> None:
    assert [r.id for r in check_consistency("", face_count=None, audio=None)] == IDS


@settings(max_examples=100, deadline=None)
@given(
    text=st.text(max_size=500),
    faces=st.one_of(st.none(), st.integers(-3, 50)),
    rms=st.floats(allow_nan=True, allow_infinity=True),
    var=st.floats(allow_nan=True, allow_infinity=True),
    with_audio=st.booleans(),
)
def test_never_raises(text, faces, rms, var, with_audio) -> None:
    audio = replace(stats(-20, 3), speech_rms_dbfs=rms, loudness_variation_db=var) if with_audio else None
    results = check_consistency(text + " laughing calm two people", face_count=faces, audio=audio)
    assert [r.id for r in results] == IDS
    assert not any(r.value == "could not be checked" for r in results)
