"""Does the prompt agree with the audio and the image?

The guide's examples are a prompt saying "laughing heartily" over serious audio (emotional
mismatch) and a prompt describing someone the image does not show. Only what can be measured
offline is checked here: the delivery's loudness and liveliness from :class:`AudioStats`, and the
number of faces the image check found. Whether the face is a man or a woman, or what the speaker
feels, cannot be measured reliably, so it is not guessed at.

The audio heuristics are deliberately conservative: a warning needs both the level *and* the
liveliness to disagree with the prompt, because either alone also depends on the microphone gain.
"""

from __future__ import annotations

import math

from liveavatar.checks.audio import AudioStats
from liveavatar.checks.prompt import PromptText
from liveavatar.checks.result import CheckResult, ok, warning

# ---- thresholds (heuristics; see AudioStats for what the measures mean) ---------------------
QUIET_SPEECH_DBFS = -24.0
"""Speech RMS below this is quiet delivery (or a low recording level)."""
FLAT_VARIATION_DB = 2.5
"""Syllable-to-syllable loudness variation below this is a flat, even delivery."""
LOUD_SPEECH_DBFS = -14.0
"""Speech RMS above this is loud delivery (a hot recording level alone rarely gets there)."""
LIVELY_VARIATION_DB = 6.0
"""Loudness variation above this is strongly emphasised, animated delivery."""

ENERGETIC_TERMS: tuple[str, ...] = (
    "laughing heartily", "laughing", "laughs", "laugh", "laughter", "shouting", "shouts", "shout",
    "yelling", "yells", "screaming", "screams", "excited", "excitedly", "excitement",
    "enthusiastic", "enthusiastically", "energetic", "energetically", "cheering", "cheers",
    "exclaiming", "exclaims", "passionate", "passionately", "animated", "ecstatic", "thrilled",
    "furious", "angry", "angrily", "exuberant", "loudly", "hyped",
)
"""Words asking for a loud, lively delivery."""

CALM_TERMS: tuple[str, ...] = (
    "calm", "calmly", "whispering", "whispers", "whisper", "whispered", "serious", "seriously",
    "quiet", "quietly", "solemn", "solemnly", "sombre", "somber", "subdued", "monotone",
    "hushed", "speaks softly", "speaking softly", "softly spoken", "soft-spoken", "low voice",
    "gentle voice", "soothing", "meditative", "tranquil", "sleepy", "melancholic",
)
"""Words asking for a quiet, even delivery."""

_PEOPLE_NOUNS = (
    "people", "persons", "men", "women", "girls", "boys", "kids", "children", "friends",
    "speakers", "hosts", "presenters", "anchors", "characters", "siblings", "colleagues",
    "brothers", "sisters", "students", "singers", "faces",
)
_COUNT_WORDS = ("two", "three", "four", "five", "several", "multiple", "both", "2", "3", "4", "5")
MULTI_PERSON_TERMS: tuple[str, ...] = (
    *(f"{c} {n}" for c in _COUNT_WORDS for n in _PEOPLE_NOUNS),
    "group", "couple", "duo", "trio", "pair of", "crowd", "team of", "they", "each other",
    "one another", "both of them", "a man and a woman", "a woman and a man", "a boy and a girl",
    "a girl and a boy", "husband and wife", "mother and daughter", "father and son",
    "mother and son", "father and daughter", "side by side", "interview between",
)
"""Phrases that put more than one person in the shot. "they" also refers to one person of
unstated gender, so a warning from it tells the user to ignore it in that case."""

SINGLE_PERSON_TERMS: tuple[str, ...] = (
    "he", "she", "him", "his", "her", "himself", "herself", "woman", "man", "girl", "boy",
    "person", "lady", "gentleman", "guy", "child", "presenter", "anchor", "host", "speaker",
)
"""Words describing one person."""

_NAMES = {"consistency.emotion": "Prompt vs. audio mood", "consistency.people": "Prompt vs. image: people"}


def _finite(x: object) -> float | None:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _quoted(words: list[str]) -> str:
    return ", ".join(f'"{w}"' for w in words[:4])


def _check_emotion(t: PromptText, audio: AudioStats | None) -> CheckResult:
    cid, name = "consistency.emotion", _NAMES["consistency.emotion"]
    threshold = (
        f"lively prompt vs. quiet (< {QUIET_SPEECH_DBFS:.0f} dBFS) and flat (< {FLAT_VARIATION_DB:g} dB) "
        f"audio; calm prompt vs. loud (> {LOUD_SPEECH_DBFS:.0f} dBFS) and lively (> {LIVELY_VARIATION_DB:g} dB) audio"
    )
    energetic = t.found(ENERGETIC_TERMS)
    calm = t.found(CALM_TERMS)
    if audio is None:
        return ok(cid, name, "not measured (no audio yet)", threshold)
    if not energetic and not calm:
        return ok(cid, name, "not measured (the prompt names no tone of voice)", threshold)
    rms = _finite(audio.speech_rms_dbfs)
    var = _finite(audio.loudness_variation_db)
    active = _finite(getattr(audio, "active_fraction", 1.0))
    if rms is None or var is None or not active:
        return ok(cid, name, "not measured (no speech found in the audio)", threshold)
    value = f"speech {rms:.1f} dBFS, loudness variation {var:.1f} dB"
    if energetic and rms < QUIET_SPEECH_DBFS and var < FLAT_VARIATION_DB:
        return warning(
            cid, name, f"prompt: {_quoted(energetic)}; audio: quiet and flat ({value})", threshold,
            "The prompt asks for a lively delivery but the recording is quiet and even, so the "
            "face may act excited while the mouth barely moves. Record the speech with the energy "
            "the prompt describes, or describe a calmer delivery in the prompt.",
        )
    if calm and rms > LOUD_SPEECH_DBFS and var > LIVELY_VARIATION_DB:
        return warning(
            cid, name, f"prompt: {_quoted(calm)}; audio: loud and lively ({value})", threshold,
            "The prompt asks for a calm or quiet delivery but the recording is loud and strongly "
            "emphasised, so expression and mouth may disagree. Describe the delivery as it "
            "sounds (e.g. \"speaking enthusiastically\"), or record it more calmly.",
        )
    words = _quoted(energetic + calm)
    return ok(cid, name, f"prompt: {words}; audio: {value}", threshold)


def _check_people(t: PromptText, face_count: int | None, speakers: int = 1) -> CheckResult:
    cid, name = "consistency.people", _NAMES["consistency.people"]
    threshold = "the number of people in the prompt matches the faces in the image"
    multi = t.found(MULTI_PERSON_TERMS)
    single = t.found(SINGLE_PERSON_TERMS)
    faces = None
    if face_count is not None:
        f = _finite(face_count)
        faces = int(f) if f is not None else None
    if faces is None or faces < 1:
        return ok(cid, name, "not measured (no face count from the image)", threshold)
    face_txt = f"{faces} face{'s' if faces != 1 else ''} in the image"
    if faces == 1 and multi:
        extra = ' If "they" means the one person, ignore this.' if multi == ["they"] else ""
        return warning(
            cid, name, f"prompt mentions several people ({_quoted(multi)}); {face_txt}", threshold,
            "The image shows one person, so only one can be animated. Describe just that person "
            "in the prompt." + extra,
        )
    if faces > 1 and single and not multi and speakers > 1:
        return warning(
            cid, name, f"prompt describes one person ({_quoted(single)}); {face_txt}", threshold,
            f"{speakers} people speak in this video: describe each of them in the prompt (e.g. \"two women "
            "talking to each other\"), so the model does not treat the others as background.",
        )
    if faces > 1 and single and not multi:
        return warning(
            cid, name, f"prompt describes one person ({_quoted(single)}); {face_txt}", threshold,
            "The model may animate the wrong face. Crop the image to the one person you mean, or "
            "say in the prompt which person speaks.",
        )
    if multi:
        return ok(cid, name, f"prompt mentions several people; {face_txt}", threshold)
    if single:
        return ok(cid, name, f"prompt describes one person; {face_txt}", threshold)
    return ok(cid, name, f"prompt does not say how many people; {face_txt}", threshold)


def check_consistency(
    prompt: str, *, face_count: int | None, audio: AudioStats | None, speakers: int = 1
) -> list[CheckResult]:
    """``consistency.emotion`` and ``consistency.people``, in that order. Never raises.
    ``speakers``: how many speech tracks drive faces (several people speak when over 1)."""
    try:
        t = PromptText(prompt)
    except Exception:  # noqa: BLE001
        t = PromptText("")
    results = []
    for cid, fn in (
        ("consistency.emotion", lambda: _check_emotion(t, audio)),
        ("consistency.people", lambda: _check_people(t, face_count, speakers)),
    ):
        try:
            results.append(fn())
        except Exception as exc:  # noqa: BLE001 - the checklist must always render
            results.append(warning(cid, _NAMES[cid], "could not be checked", "", f"Internal error: {exc!r}"))
    return results
