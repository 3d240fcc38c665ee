"""The committed examples: every listed file is there, decodes, and is what its entry claims."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from liveavatar.presets import PRESETS

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
EXAMPLES = json.loads((EXAMPLES_DIR / "examples.json").read_text(encoding="utf-8"))
CHECK_ID = re.compile(r"^(image|audio|prompt|consistency)\.[a-z_]+$")


def test_examples_are_listed():
    assert len(EXAMPLES) >= 10
    assert len({e["name"] for e in EXAMPLES}) == len(EXAMPLES)
    assert any(e["expect"] == "ok" for e in EXAMPLES)


@pytest.mark.parametrize("entry", EXAMPLES, ids=[e["name"] for e in EXAMPLES])
def test_entry_files_exist_and_decode(entry):
    assert set(entry) >= {"name", "prompt", "image", "audio", "preset", "expect"}
    assert entry["preset"] in PRESETS
    assert entry["expect"] == "ok" or CHECK_ID.match(entry["expect"])
    assert all(CHECK_ID.match(c) for c in entry.get("also", []))
    assert entry["prompt"].strip()

    with Image.open(EXAMPLES_DIR / entry["image"]) as img:
        img.load()
        assert img.mode == "RGB" and min(img.size) >= 64

    for track in (entry["audio"], *entry.get("more_audio", [])):
        audio, sr = sf.read(EXAMPLES_DIR / track, dtype="float32")
        assert audio.ndim == 1 and sr in (8000, 16000)
        assert len(audio) / sr >= 0.5
    if "more_audio" in entry:  # several people: 2-4 tracks in all, and an order the API takes as it is
        assert 1 <= len(entry["more_audio"]) <= 3
        assert re.fullmatch(r"(\d(,\d)*)?", entry["face_order"])


def test_good_examples_meet_the_guide():
    for entry in (e for e in EXAMPLES if e["expect"] == "ok"):
        assert 100 <= len(entry["prompt"].split()) <= 200
        with Image.open(EXAMPLES_DIR / entry["image"]) as img:
            assert min(img.size) >= 512
        info = sf.info(EXAMPLES_DIR / entry["audio"])
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        audio, _ = sf.read(EXAMPLES_DIR / entry["audio"], dtype="float32")
        rms_db = 10 * np.log10(np.mean(audio.astype(np.float64) ** 2))
        assert -18.0 <= rms_db <= -14.0
        for track in entry.get("more_audio", []):  # the other people: same format, speech at the same level
            info = sf.info(EXAMPLES_DIR / track)
            assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
            audio, _ = sf.read(EXAMPLES_DIR / track, dtype="float32")
            frames = audio[: len(audio) // 320 * 320].reshape(-1, 320).astype(np.float64)
            db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
            speech = db > db.max() - 35
            assert -18.0 <= 10 * np.log10(np.mean(10 ** (db[speech] / 10))) <= -14.0


def test_the_two_people_example():
    """Two faces far enough apart for two tracks; person 1 says the single-person examples' speech,
    person 2 a different sentence that starts after it (they take turns)."""
    people = [e for e in EXAMPLES if e.get("more_audio")]
    assert [e["name"] for e in people] == ["Two people talking"]
    e = people[0]
    assert e["image"] == "media/two_faces.png" and e["audio"] == "media/speech.wav" and e["expect"] == "ok"
    first, sr = sf.read(EXAMPLES_DIR / e["audio"], dtype="float32")
    second, sr2 = sf.read(EXAMPLES_DIR / e["more_audio"][0], dtype="float32")
    assert sr == sr2 == 16000
    assert np.sqrt(np.mean(second[: len(first)] ** 2)) < 10 ** (-60 / 20)  # silent while person 1 speaks
    assert np.sqrt(np.mean(second[len(first):] ** 2)) > 10 ** (-30 / 20)  # then speaks
    # the existing bad example (one track, two faces) stays
    assert any(x["image"] == "media/two_faces.png" and x["expect"] == "image.faces" and not x.get("more_audio")
               for x in EXAMPLES)


def test_bad_examples_are_bad_in_the_stated_way():
    by_audio = {Path(e["audio"]).name: e for e in EXAMPLES}
    silence, _ = sf.read(EXAMPLES_DIR / by_audio["silence.wav"]["audio"], dtype="float32")
    assert not silence.any()
    assert sf.info(EXAMPLES_DIR / by_audio["quiet_noisy_8k.wav"]["audio"]).samplerate == 8000
    assert sf.info(EXAMPLES_DIR / by_audio["too_short.wav"]["audio"]).duration < 1.0
    with Image.open(EXAMPLES_DIR / "media" / "small_dark.jpg") as img:
        assert img.size == (256, 256) and np.asarray(img).mean() < 40
    assert any(e["prompt"] == "a woman talking" for e in EXAMPLES)


def test_media_stay_small():
    total = sum(p.stat().st_size for p in (EXAMPLES_DIR / "media").iterdir())
    assert total < 3 * 1024 * 1024


@pytest.mark.parametrize("entry", EXAMPLES, ids=[e["name"] for e in EXAMPLES])
def test_the_checklist_flags_what_the_example_claims(entry):
    """End to end through the real loaders and checks: good examples pass every check, bad ones
    fire exactly the checks they list (``expect`` plus ``also``)."""
    from liveavatar.checks.audio import analyse_audio, check_audio
    from liveavatar.checks.consistency import check_consistency
    from liveavatar.checks.image import check_image
    from liveavatar.checks.prompt import check_prompt
    from liveavatar.faces import detect_faces
    from liveavatar.media.audio import load_audio
    from liveavatar.media.image import load_image
    from liveavatar.presets import FPS

    if entry.get("more_audio"):
        _check_people_example(entry)
        return
    image = load_image(EXAMPLES_DIR / entry["image"])
    faces = detect_faces(image.rgb)
    stats = analyse_audio(load_audio(EXAMPLES_DIR / entry["audio"]))
    clip_seconds = PRESETS[entry["preset"]].settings.infer_frames / FPS
    results = [
        *check_image(image, faces),
        *check_audio(stats, clip_seconds=clip_seconds),
        *check_prompt(entry["prompt"]),
        *check_consistency(entry["prompt"], face_count=len(faces), audio=stats),
    ]
    # "info" lines only say what the app converted for the user; they are not verdicts
    fired = {r.id for r in results if r.level in ("warning", "problem")}
    expected = set() if entry["expect"] == "ok" else {entry["expect"], *entry.get("also", [])}
    assert fired == expected


def _check_people_example(entry):
    """Several people: the studio's own checklist (portrait, each person, the tracks, the prompt)
    fires exactly what the entry lists, with the tracks and the order it gives."""
    from liveavatar.backends import choose_backend
    from liveavatar.presets import resolve_settings
    from liveavatar.studio import check_inputs, inspect_inputs

    insp = inspect_inputs(entry["prompt"], str(EXAMPLES_DIR / entry["image"]), str(EXAMPLES_DIR / entry["audio"]),
                          more_audio=[str(EXAMPLES_DIR / a) for a in entry["more_audio"]], face_order=entry["face_order"])
    report = check_inputs(insp, resolve_settings(entry["preset"], None), choose_backend(None, force_preview=True))
    fired = {r.id for r in report.results if r.level in ("warning", "problem")}
    expected = set() if entry["expect"] == "ok" else {entry["expect"], *entry.get("also", [])}
    assert fired == expected
    assert insp.track_count == 1 + len(entry["more_audio"]) and insp.people_faces is not None
