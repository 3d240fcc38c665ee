"""A prompt as the parameter guide's four elements: character, action / state, environment, style.

:class:`PromptParts` holds one text per element; :func:`compose` turns them into the prompt the
model gets (clean sentences, each part ending with a period, empty parts skipped);
:func:`missing_parts` says which elements a builder form still lacks. :data:`TEMPLATES` holds each
of :data:`~liveavatar.checks.prompt.PROMPT_TEMPLATES` and the guide's good example split by hand
into the four parts; ``compose`` of each passes the prompt checklist (the guide's short good
example only misses the 100-word minimum).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields

from liveavatar.checks.prompt import ELEMENT_LEXICON, PROMPT_TEMPLATES, PromptText

PART_NAMES: tuple[str, ...] = ("character", "action", "environment", "style")
"""Field names, in prompt order; the same keys as ``checks.prompt.ELEMENT_NAMES``."""

_SPACE_RE = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT_RE = re.compile(r"\s+([,.;:!?])")
_END = (".", "!", "?")


@dataclass(frozen=True)
class PromptParts:
    character: str = ""
    action: str = ""
    environment: str = ""
    style: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> PromptParts:
        names = {f.name for f in fields(cls)}
        return cls(**{k: "" if v is None else str(v) for k, v in data.items() if k in names})


def clean_part(text: object) -> str:
    """One part as clean sentences: whitespace collapsed, first letter upper-case, ends with a period.

    Returns "" for an empty or blank part. Trailing commas, semicolons, colons and dashes are
    replaced by the period; a part already ending with ``.``, ``!`` or ``?`` keeps its ending.
    """
    s = "" if text is None else str(text)
    s = _SPACE_RE.sub(" ", s).strip()
    s = _SPACE_BEFORE_PUNCT_RE.sub(r"\1", s)
    s = s.rstrip(",;:-–— ").strip()
    if not s or not any(ch.isalnum() for ch in s):
        return ""
    if s[0].isalpha() and s[0].islower():
        s = s[0].upper() + s[1:]
    if not s.endswith(_END):
        s += "."
    return s


def compose(parts: PromptParts) -> str:
    """The prompt: each non-empty part as clean sentences, in the guide's order, joined by spaces."""
    cleaned = (clean_part(getattr(parts, name)) for name in PART_NAMES)
    return " ".join(c for c in cleaned if c)


def missing_parts(parts: PromptParts) -> list[str]:
    """Names of the parts (see :data:`PART_NAMES`) that are still missing, in prompt order.

    A part is missing when it is blank, or when it names nothing the prompt checklist recognises
    for that element (the same keyword lists as ``check_prompt``'s structure check), e.g. an
    environment field that says only "there".
    """
    missing = []
    for name in PART_NAMES:
        text = clean_part(getattr(parts, name))
        if not text or not PromptText(text).found(ELEMENT_LEXICON[name]):
            missing.append(name)
    return missing


GOOD_EXAMPLE_KEY = "guide's good example (short)"

_SPLIT: dict[str, PromptParts] = {
    "corporate presenter": PromptParts(
        character=(
            "A young woman in her late twenties with long black hair and brown eyes, wearing a "
            "tailored blue business suit over a white silk blouse"
        ),
        action=(
            "She is smiling warmly and gesturing with her hands while speaking, nodding slightly "
            "to stress key points and keeping steady eye contact with the camera. Her posture is "
            "upright and confident, her shoulders relaxed, her expression composed and approachable"
        ),
        environment=(
            "She is standing in a modern glass-walled office. Behind her, an open-plan workspace "
            "with desks, green plants and large windows is softly blurred, and diffuse natural "
            "light falls across her face"
        ),
        style=(
            "Professional three-point lighting, shallow depth of field, medium shot at eye level, "
            "cinematic style like a corporate video, crisp colours and realistic skin texture"
        ),
    ),
    "news anchor": PromptParts(
        character=(
            "A middle-aged male news anchor with short grey hair and a neatly trimmed beard, "
            "wearing a dark navy suit, a white shirt and a burgundy tie"
        ),
        action=(
            "He sits upright, looks straight into the camera and speaks clearly in a calm, "
            "authoritative voice, with small nods and occasional hand movements above the desk. "
            "His expression is serious and focused, with a slight reassuring smile at the end of "
            "each sentence"
        ),
        environment=(
            "He is behind a glossy news desk in a modern television studio, with blue and white "
            "screens behind him showing a blurred city skyline, soft key light from the front, a "
            "gentle rim light on his shoulders and a shallow depth of field that keeps the "
            "background out of focus"
        ),
        style=(
            "Medium close-up shot, steady camera, broadcast television style like an evening news "
            "programme, sharp and realistic"
        ),
    ),
    "teacher": PromptParts(
        character=(
            "A female teacher in her early forties with shoulder-length curly brown hair and round "
            "glasses, wearing a light green cardigan over a cream blouse"
        ),
        action=(
            "She speaks patiently and clearly, smiling warmly, raising one hand to point at the "
            "board and then turning back to face the camera with open, relaxed gestures. Her "
            "expression is attentive and encouraging, and she raises her eyebrows when she asks a "
            "question"
        ),
        environment=(
            "She is standing in front of a chalkboard covered with simple diagrams. The classroom "
            "behind her has wooden desks, a window with soft afternoon sunlight, potted plants on "
            "the sill and a bookshelf slightly out of focus"
        ),
        style=(
            "Natural warm lighting, shallow depth of field, medium shot at eye level, realistic "
            "educational video style like an online course lecture"
        ),
    ),
    "game character (Blizzard cinematics style)": PromptParts(
        character=(
            "A battle-worn dwarf warrior in his fifties with a long braided red beard, deep-set "
            "grey eyes and a scar across his left cheek, wearing heavy engraved steel armour with "
            "fur trim and a horned helmet"
        ),
        action=(
            "He stands firmly with both hands resting on the handle of a massive war hammer, "
            "speaking in a deep gravelly voice, his brows furrowed and his eyes narrowed in "
            "determination, leaning forward now and then as he delivers his words"
        ),
        environment=(
            "Behind him rises a snowy mountain fortress at dusk, with torches flickering on stone "
            "walls, drifting snowflakes and distant banners moving in the wind. Dramatic warm "
            "firelight from the side against cold blue ambient light, volumetric fog"
        ),
        style=(
            "Fantasy game cinematic in the Blizzard cinematics style, highly detailed 3D render, "
            "shallow depth of field, slow push-in camera movement"
        ),
    ),
    "vlogger": PromptParts(
        character=(
            "A young man in his mid-twenties with messy dark brown hair, light stubble and a "
            "relaxed smile, wearing a grey hoodie over a white T-shirt"
        ),
        action=(
            "He talks enthusiastically to the camera held at arm's length, raising his eyebrows, "
            "laughing briefly and using lively hand gestures as he explains his story. His "
            "expression is open and energetic, with frequent eye contact with the lens"
        ),
        environment=(
            "He is sitting on a sofa in a cosy apartment living room. Behind him are a bookshelf, "
            "a green plant, warm string lights and a large window with soft daylight, slightly "
            "blurred by a shallow depth of field"
        ),
        style=(
            "Natural lighting with a warm colour tone, handheld medium close-up shot, casual "
            "YouTube vlog style, realistic and bright, slightly wide-angle lens"
        ),
    ),
    GOOD_EXAMPLE_KEY: PromptParts(
        character="A young woman with long black hair and brown eyes, wearing a blue business suit",
        action="She is smiling warmly and gesturing with her hands while speaking",
        environment="She is standing in a modern office",
        style="Professional lighting, shallow depth of field, cinematic style like a corporate video",
    ),
}

TEMPLATES: dict[str, PromptParts] = {
    **{name: _SPLIT[name] for name in PROMPT_TEMPLATES if name in _SPLIT},
    GOOD_EXAMPLE_KEY: _SPLIT[GOOD_EXAMPLE_KEY],
}
"""Each of ``PROMPT_TEMPLATES`` (same keys, same order), then the guide's good example, as parts.

A template added to ``PROMPT_TEMPLATES`` needs its split here too; the tests check that every one
has one (the app keeps working without it, the builder just doesn't offer it).
"""
