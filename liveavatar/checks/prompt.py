"""Checking a prompt against the parameter guide's rules for ``--prompt``.

The guide asks for structured English that covers four elements (character, action/state,
environment, style), 100–200 words, no vague words and no contradictions. None of that can be
judged exactly without a language model, so these checks are deliberately plain: word lists and
phrase lookups that explain what they found, so the user can see why a warning fired and decide.

Everything here is linear in the text length (one regex pass to tokenise, then set and substring
look-ups), so a 20,000-word paste is checked in a few milliseconds.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Iterable

from liveavatar.checks.result import CheckResult, ok, warning

MIN_WORDS = 30
"""Fewer words than this is a warning. Was the guide's 100, which flagged upstream's own prompts
(44–80 words: the dwarven blacksmith, the boy in the park) and the guide's own good example (43
words), all of which name character, action, place and style. Four short clauses, one per element,
come to about 30 words; "a woman talking" (3) and one-line prompts stay well under it."""
GUIDE_MIN_WORDS = 100
"""The guide's advice (100–200 words), quoted in the threshold text; not a reason to warn."""
MAX_WORDS = 200
"""More than this is a warning, as in the guide: the rest may be ignored (T5 reads ~512 tokens,
but the guide's authors saw long prompts partly ignored)."""
NEGATION_WINDOW = 3
"""A keyword preceded within this many words by "not", "no", "without", … is not counted."""

# ---- example prompts ------------------------------------------------------------------------

BAD_PROMPT_EXAMPLE = "a woman talking"
"""The guide's example of a prompt that gives the model nothing to work with."""

GOOD_PROMPT_EXAMPLE = (
    "A young woman with long black hair and brown eyes, wearing a blue business suit, standing "
    "in a modern office. She is smiling warmly and gesturing with her hands while speaking. "
    "Professional lighting, shallow depth of field, cinematic style like a corporate video."
)
"""The guide's good example, verbatim. It covers all four elements in 43 words: enough for the
length check (the guide's own 100-word figure is advice); the "corporate presenter" template is
its full-length form."""

PROMPT_TEMPLATES: dict[str, str] = {
    "corporate presenter": (
        "A young woman in her late twenties with long black hair and brown eyes, wearing a "
        "tailored blue business suit over a white silk blouse, standing in a modern glass-walled "
        "office. She is smiling warmly and gesturing with her hands while speaking, nodding "
        "slightly to stress key points and keeping steady eye contact with the camera. Her "
        "posture is upright and confident, her shoulders relaxed, her expression composed and "
        "approachable. Behind her, an open-plan workspace with desks, green plants and large "
        "windows is softly blurred, and diffuse natural light falls across her face. "
        "Professional three-point lighting, shallow depth of field, medium shot at eye level, "
        "cinematic style like a corporate video, crisp colours and realistic skin texture."
    ),
    "news anchor": (
        "A middle-aged male news anchor with short grey hair and a neatly trimmed beard, wearing "
        "a dark navy suit, a white shirt and a burgundy tie, sitting upright behind a glossy "
        "news desk. He looks straight into the camera and speaks clearly in a calm, "
        "authoritative voice, with small nods and occasional hand movements above the desk. His "
        "expression is serious and focused, with a slight reassuring smile at the end of each "
        "sentence. Behind him is a modern television studio with blue and white screens showing "
        "a blurred city skyline, soft key light from the front, a gentle rim light on his "
        "shoulders and a shallow depth of field that keeps the background out of focus. "
        "Medium close-up shot, steady camera, broadcast television style like an evening news "
        "programme, sharp and realistic."
    ),
    "teacher": (
        "A female teacher in her early forties with shoulder-length curly brown hair and round "
        "glasses, wearing a light green cardigan over a cream blouse, standing in front of a "
        "chalkboard covered with simple diagrams. She speaks patiently and clearly, smiling "
        "warmly, raising one hand to point at the board and then turning back to face the "
        "camera with open, relaxed gestures. Her expression is attentive and encouraging, and "
        "she raises her eyebrows when she asks a question. The classroom behind her has wooden "
        "desks, a window with soft afternoon sunlight, potted plants on the sill and a bookshelf "
        "slightly out of focus. Natural warm lighting, shallow depth of field, medium shot at "
        "eye level, realistic educational video style like an online course lecture."
    ),
    "game character (Blizzard cinematics style)": (
        "A battle-worn dwarf warrior in his fifties with a long braided red beard, deep-set grey "
        "eyes and a scar across his left cheek, wearing heavy engraved steel armour with fur "
        "trim and a horned helmet. He stands firmly with both hands resting on the handle of a "
        "massive war hammer, speaking in a deep gravelly voice, his brows furrowed and his eyes "
        "narrowed in determination, leaning forward now and then as he delivers his words. "
        "Behind him rises a snowy mountain fortress at dusk, with torches flickering on stone "
        "walls, drifting snowflakes and distant banners moving in the wind. Dramatic warm "
        "firelight from the side against cold blue ambient light, volumetric fog, shallow depth "
        "of field. Fantasy game cinematic in the Blizzard cinematics style, highly detailed 3D "
        "render, slow push-in camera movement."
    ),
    "vlogger": (
        "A young man in his mid-twenties with messy dark brown hair, light stubble and a relaxed "
        "smile, wearing a grey hoodie over a white T-shirt, sitting on a sofa in a cosy "
        "apartment living room. He talks enthusiastically to the camera held at arm's length, "
        "raising his eyebrows, laughing briefly and using lively hand gestures as he explains "
        "his story. His expression is open and energetic, with frequent eye contact with the "
        "lens. Behind him are a bookshelf, a green plant, warm string lights and a large window "
        "with soft daylight, slightly blurred by a shallow depth of field. Natural lighting with "
        "a warm colour tone, handheld medium close-up shot, casual YouTube vlog style, realistic "
        "and bright, slightly wide-angle lens."
    ),
}
"""Full-length starting points (100–200 words, all four elements), per the guide's advice to start
from a proven template and adjust."""

# ---- lexicons -------------------------------------------------------------------------------

VAGUE_WORDS: tuple[str, ...] = (
    "nice", "beautiful", "good", "great", "amazing", "pretty", "cool", "awesome", "interesting",
    "lovely", "wonderful", "gorgeous", "stunning", "fantastic", "perfect", "attractive", "cute",
    "excellent", "incredible", "fine", "best", "epic", "fancy", "normal", "okay",
)
"""Words that praise without describing: the model cannot draw "beautiful"."""

# "cool" is a colour temperature in lighting language: "cool blue light" describes something.
_VAGUE_EXCEPTIONS: dict[str, frozenset[str]] = {
    "cool": frozenset(
        {"tone", "tones", "toned", "light", "lighting", "lights", "color", "colors", "colour",
         "colours", "palette", "temperature", "blue", "white", "grey", "gray", "hues", "hue",
         "shadows", "ambient"}
    ),
}

CONTRADICTION_PAIRS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("happy", "joyful", "cheerful"), ("sad", "unhappy", "sorrowful", "gloomy", "depressed")),
    (("smiling", "smile", "smiles", "smiled"), ("crying", "cry", "cries", "frowning", "frown", "frowns")),
    (("laughing", "laugh", "laughs", "laughed"), ("crying", "cry", "cries", "weeping", "sobbing")),
    (("calm", "calmly", "relaxed", "peaceful"), ("angry", "furious", "enraged", "agitated")),
    (("whispering", "whisper", "whispers"), ("shouting", "shout", "shouts", "yelling", "screaming")),
    (("day", "daytime", "midday", "noon"), ("night", "nighttime", "midnight")),
    (("indoor", "indoors"), ("outdoor", "outdoors")),
    (("standing", "stands", "stand"), ("sitting", "sits", "seated", "sit")),
    (("sunny",), ("rainy", "raining")),
    (("summer",), ("winter",)),
    (("young",), ("elderly",)),
    (("bald",), ("long hair", "curly hair", "ponytail")),
    (("black and white", "monochrome"), ("colorful", "colourful", "vibrant colors", "vibrant colours")),
)
"""Opposites that cannot both hold for one shot ("happy but sad"). Each side lists word forms;
a side matches when any form occurs and is not negated ("happy, not sad" is fine)."""

ELEMENT_NAMES: dict[str, str] = {
    "character": "character",
    "action": "action / state",
    "environment": "environment",
    "style": "style",
}

ELEMENT_EXAMPLES: dict[str, str] = {
    "character": "a woman in her thirties with shoulder-length brown hair, wearing a grey blazer",
    "action": "smiling slightly and nodding while she speaks, gesturing with one hand",
    "environment": "in a modern office with soft window light and a shallow depth of field",
    "style": "cinematic style like a corporate video (or \"Blizzard cinematics style\")",
}

ELEMENT_LEXICON: dict[str, tuple[str, ...]] = {
    "character": (
        "woman", "man", "girl", "boy", "lady", "gentleman", "person", "guy", "female", "male",
        "child", "kid", "teenager", "teen", "adult", "elderly", "young", "middle-aged",
        "years old", "twenties", "thirties", "forties", "fifties",
        "sixties", "mid-twenties", "hair", "haired", "beard", "mustache", "moustache", "stubble",
        "bald", "eyes", "skin", "freckles", "glasses", "wearing", "dressed", "wears", "suit",
        "shirt", "t-shirt", "blouse", "dress", "jacket", "blazer", "hoodie", "sweater", "cardigan",
        "coat", "uniform", "armor", "armour", "hat", "helmet", "tie", "scarf", "anchor",
        "presenter", "host", "teacher", "doctor", "warrior", "knight", "soldier", "wizard",
        "dwarf", "elf", "robot", "character", "avatar", "businesswoman", "businessman", "vlogger",
        "streamer", "reporter", "actor", "actress", "student", "grandmother", "grandfather",
        # roles and occupations (upstream's prompts: "anchorwoman", "blacksmith", "baker", ...)
        "anchorwoman", "anchorman", "newsreader", "newscaster", "broadcaster", "journalist",
        "announcer", "spokeswoman", "spokesman", "spokesperson", "hostess", "narrator",
        "speaker", "lecturer", "professor", "instructor", "coach", "trainer", "chef",
        "cook", "baker", "blacksmith", "farmer", "nurse", "scientist", "engineer", "lawyer",
        "judge", "politician", "salesperson", "saleswoman", "salesman", "blogger", "influencer",
        "youtuber", "podcaster", "singer", "musician", "producer", "dj", "artist", "dancer",
        "athlete", "pilot", "astronaut", "police officer", "officer", "detective", "king",
        "queen", "prince", "princess", "pirate", "monk", "priest", "villager", "merchant",
        "businessperson", "entrepreneur", "ceo", "manager", "receptionist", "customer service",
        "grandma", "grandpa", "mother", "father", "mom", "dad", "daughter", "son", "baby",
        "toddler", "cyclops", "ogre", "troll", "goblin", "orc", "giant", "creature", "monster",
        "alien", "cyborg", "android", "animal", "cat", "dog", "fox", "mascot",
    ),
    "action": (
        "speaking", "speaks", "talking", "talks", "saying", "says", "explaining", "explains",
        "presenting", "narrating", "telling", "singing", "reading", "smiling", "smile", "smiles",
        "laughing", "laughs", "nodding", "nods", "gesturing", "gestures", "gesture", "pointing",
        "looking", "looks", "gazing", "facing", "eye contact", "standing", "stands", "sitting",
        "sits", "seated", "leaning", "walking", "posture", "pose", "posing", "expression",
        "emotion", "mood", "calm", "calmly", "serious", "happy", "sad", "excited", "enthusiastic",
        "enthusiastically", "confident", "relaxed", "focused", "angry", "surprised", "frowning",
        "shouting", "whispering", "crying", "raising", "raises", "holding", "holds", "tilting",
        "turning", "blinking", "hands", "head tilt", "eyebrows",
        # talking to someone, and what presenters and characters do while they talk
        "interacting", "interacts", "interact", "engaging", "engages", "addressing", "addresses",
        "chatting", "chats", "conversing", "discussing", "discusses", "describing", "describes",
        "introducing", "introduces", "announcing", "announces", "reporting", "reports",
        "hosting", "hosts", "teaching", "teaches", "lecturing", "demonstrating", "demonstrates",
        "showing", "shows", "presents", "narrates", "greeting", "greets", "waving", "waves",
        "welcoming", "answering", "answers", "asking", "asks", "reacting", "listening",
        "performing", "cooking", "baking", "kneading", "stirring", "mixing", "playing",
        "working", "recording", "streaming", "vlogging", "interviewing", "singing along",
        "shrugging", "winking", "grinning", "grins", "cheerful", "cheerfully", "warmly",
        "animatedly", "expressive", "lively",
    ),
    "environment": (
        "background", "backdrop", "behind", "setting", "room", "office", "studio", "classroom",
        "kitchen", "bedroom", "living room", "library", "street", "city", "forest", "beach",
        "park", "garden", "mountain", "mountains", "desert", "stage", "desk", "window", "windows",
        "wall", "walls", "indoors", "outdoors", "indoor", "outdoor", "interior", "landscape",
        "skyline", "fortress", "castle", "cafe", "café", "restaurant", "car", "lighting",
        "light", "lit", "sunlight", "daylight", "moonlight", "firelight", "lamp", "lamps",
        "shadows", "sunset", "sunrise", "dusk", "dawn", "night", "depth of field", "bokeh",
        "blurred", "out of focus", "fog", "rain", "snow", "snowy", "apartment", "newsroom",
        "set", "scene",
        "forge", "bakery", "workshop", "kitchen counter", "shop", "store", "market", "farm",
        "hall", "auditorium", "theater", "theatre", "arena", "gym", "hospital", "laboratory",
        "lab", "factory", "warehouse", "church", "temple", "palace", "village", "town",
        "countryside", "field", "lake", "river", "ocean", "sea", "sky", "cliff", "canyon",
        "space", "spaceship", "studio lighting", "home", "house", "living-room", "bedroom",
        "lounge", "bar", "pub", "train", "bus", "airport", "station", "outside", "inside",
    ),
    "style": (
        "style", "styled", "cinematic", "cinematics", "film", "filmic", "movie", "photorealistic",
        "realistic", "hyperrealistic", "documentary", "anime", "cartoon", "pixar", "disney",
        "ghibli", "blizzard", "3d", "render", "rendered", "cgi", "illustration", "painting",
        "painted", "watercolor", "watercolour", "oil painting", "sketch", "comic", "noir",
        "vintage", "retro", "35mm", "lens", "shot on", "close-up", "medium shot", "wide shot",
        "full shot", "medium close-up", "camera movement", "camera angle", "handheld", "vlog", "broadcast", "corporate video",
        "commercial", "music video", "editorial", "portrait photography", "photography",
        "color grading", "colour grading", "high contrast", "low-key", "high-key",
        "animation", "animated film", "animated movie", "3d animation", "cg", "cgi animation",
        "stop-motion", "claymation", "photograph", "photo", "selfie", "webcam", "livestream",
        "live stream", "television", "tv", "news broadcast", "cinematography", "aesthetic",
        "lighting style", "unreal engine", "octane", "pixar-style",
    ),
}
"""Keywords per element. A lexicon cannot understand a sentence; it only tells the user which
parts of the guide's structure the prompt visibly touches."""

_NEGATORS = frozenset(
    {"not", "no", "never", "without", "nor", "neither", "none", "nothing", "instead", "avoid",
     "avoiding", "don't", "doesn't", "isn't", "aren't", "wasn't", "weren't", "won't", "shouldn't"}
)

_TAG_RE = re.compile(r"<[^<>]{0,500}>")
_WORD_RE = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")
_LATIN_RE = re.compile(r"[A-Za-z]")


# ---- text handling --------------------------------------------------------------------------


class PromptText:
    """A prompt tokenised once, answering "does this word or phrase occur, un-negated?".

    Matching is on whole lower-case words separated by single spaces, so "day" does not match
    "today" and "depth of field" matches across line breaks and punctuation.
    """

    def __init__(self, text: object) -> None:
        raw = text if isinstance(text, str) else ("" if text is None else str(text))
        raw = unicodedata.normalize("NFKC", raw).replace("\u2019", "'").replace("\u2018", "'")
        raw = html.unescape(_TAG_RE.sub(" ", raw))
        self.tokens: list[str] = [t.lower() for t in _WORD_RE.findall(raw)]
        self.joined = " " + " ".join(self.tokens) + " "
        self.words = frozenset(self.tokens)
        self.latin_share = (
            sum(1 for t in self.tokens if _LATIN_RE.match(t)) / len(self.tokens) if self.tokens else 1.0
        )

    def has(self, term: str) -> bool:
        """True when ``term`` occurs at least once without a negator just before it."""
        if " " not in term and term not in self.words:
            return False
        needle = f" {term} "
        start = self.joined.find(needle)
        while start != -1:
            before = self.joined[max(0, start - 60) : start].split()[-NEGATION_WINDOW:]
            if not any(w in _NEGATORS or w.endswith("n't") for w in before):
                return True
            start = self.joined.find(needle, start + 1)
        return False

    def found(self, terms: Iterable[str]) -> list[str]:
        return [t for t in terms if self.has(t)]


def prompt_elements(text: str) -> dict[str, list[str]]:
    """For each of the guide's four elements, the keywords found in ``text`` (empty: missing)."""
    t = PromptText(text)
    return {element: t.found(words) for element, words in ELEMENT_LEXICON.items()}


def _vague_words(t: PromptText) -> list[str]:
    vague = set(VAGUE_WORDS)
    found: list[str] = []
    if not (t.words & vague):
        return found
    for i, tok in enumerate(t.tokens):
        if tok not in vague or tok in found:
            continue
        exceptions = _VAGUE_EXCEPTIONS.get(tok)
        if exceptions and i + 1 < len(t.tokens) and t.tokens[i + 1] in exceptions:
            continue
        found.append(tok)
    return found


def _contradictions(t: PromptText) -> list[tuple[str, str]]:
    pairs = []
    for left, right in CONTRADICTION_PAIRS:
        a, b = t.found(left), t.found(right)
        if a and b:
            pairs.append((a[0], b[0]))
    return pairs


# ---- checks ---------------------------------------------------------------------------------

_NAMES = {
    "prompt.characters": "Hidden characters",
    "prompt.length": "Prompt length",
    "prompt.vague_words": "Vague words",
    "prompt.contradictions": "Contradictions",
    "prompt.elements": "Prompt structure",
}


def _check_length(t: PromptText) -> CheckResult:
    cid, name = "prompt.length", _NAMES["prompt.length"]
    n = len(t.tokens)
    threshold = f"{MIN_WORDS}–{MAX_WORDS} words ({GUIDE_MIN_WORDS}–{MAX_WORDS} is the guide's advice)"
    value = f"{n} word{'s' if n != 1 else ''}"
    english = (
        " Write it in English: the model follows English prompts best."
        if n and t.latin_share < 0.5
        else ""
    )
    if n == 0:
        return warning(
            cid, name, "empty", threshold,
            "Without a prompt the model is driven by the image and the audio alone. Describe the "
            "character, their action or state, the environment and the style in "
            f"{GUIDE_MIN_WORDS}–{MAX_WORDS} words, or start from a template.",
        )
    if n < MIN_WORDS:
        return warning(
            cid, name, value, threshold,
            f"Add detail up to at least {MIN_WORDS} words ({GUIDE_MIN_WORDS}–{MAX_WORDS} is best): "
            "appearance and clothing, expression and gestures, background and lighting, and a style "
            "reference. A template is a good start."
            + english,
        )
    if n > MAX_WORDS:
        return warning(
            cid, name, value, threshold,
            f"Shorten it to {MAX_WORDS} words or fewer: the model may ignore part of a longer "
            "prompt. Keep the character, action, environment and style; drop repetition." + english,
        )
    if english:
        return warning(cid, name, value, threshold, english.strip())
    return ok(cid, name, value, threshold)


def _check_vague(t: PromptText) -> CheckResult:
    cid, name = "prompt.vague_words", _NAMES["prompt.vague_words"]
    threshold = "none of: " + ", ".join(VAGUE_WORDS[:9]) + ", …"
    found = _vague_words(t)
    if not found:
        return ok(cid, name, "none", threshold)
    quoted = ", ".join(f'"{w}"' for w in found)
    return warning(
        cid, name, quoted, threshold,
        f"Replace {quoted} with what you actually want to see, e.g. \"beautiful woman\" → "
        "\"woman with long wavy auburn hair and green eyes\", \"nice lighting\" → \"soft warm "
        "light from a window on the left\".",
    )


def _check_contradictions(t: PromptText) -> CheckResult:
    cid, name = "prompt.contradictions", _NAMES["prompt.contradictions"]
    threshold = "no opposite pairs (e.g. happy / sad, day / night, standing / sitting)"
    pairs = _contradictions(t)
    if not pairs:
        return ok(cid, name, "none", threshold)
    listed = "; ".join(f'"{a}" vs "{b}"' for a, b in pairs)
    return warning(
        cid, name, listed, threshold,
        "Keep one side of each pair: the model cannot show both at once and may pick either, or "
        "blend them. If the change happens over time, describe only the state you want most.",
    )


def _check_elements(t: PromptText) -> CheckResult:
    cid, name = "prompt.elements", _NAMES["prompt.elements"]
    threshold = "all of: " + ", ".join(ELEMENT_NAMES.values())
    found = {element: t.found(words) for element, words in ELEMENT_LEXICON.items()}
    missing = [e for e, words in found.items() if not words]
    if not missing:
        return ok(cid, name, "all four present", threshold)
    value = "missing: " + ", ".join(ELEMENT_NAMES[e] for e in missing)
    hints = "; ".join(f"{ELEMENT_NAMES[e]} — e.g. \"{ELEMENT_EXAMPLES[e]}\"" for e in missing)
    return warning(cid, name, value, threshold, f"Add {hints}.")


# Bidirectional embeddings, overrides and isolates: invisible, and able to make the text read
# differently from what the model receives ("Trojan Source"). Ordinary right-to-left text
# (Hebrew, Arabic) needs none of them, and emoji joiners (U+200D) are not among them.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def hidden_characters(text: object) -> list[str]:
    """Control characters (other than tab and line breaks) and bidi controls in ``text``, as U+XXXX."""
    if not isinstance(text, str):
        return []
    found: dict[str, None] = {}
    for ch in text:
        if ch in "\t\n\r":
            continue
        if ch in _BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cs"):
            found.setdefault(f"U+{ord(ch):04X}", None)
    return list(found)


def _check_characters(text: object) -> CheckResult | None:
    """A line only when the prompt holds invisible control characters (nothing to say otherwise)."""
    codes = hidden_characters(text)
    if not codes:
        return None
    shown = ", ".join(codes[:6]) + (f" and {len(codes) - 6} more" if len(codes) > 6 else "")
    return warning(
        "prompt.characters", _NAMES["prompt.characters"], f"{len(codes)} kind(s) of invisible control "
        f"character: {shown}", "printable text (tabs and line breaks are fine)",
        "The prompt contains invisible control characters, usually left over from copying and pasting. "
        "They mean nothing to the model; retype or paste the prompt as plain text to remove them.",
    )


def check_hidden_characters(text: object) -> list[CheckResult]:
    """``[prompt.characters warning]`` when the text holds invisible control characters, else ``[]``.

    Kept out of :func:`check_prompt` (whose four lines are always the same) because it has nothing
    to say about an ordinary prompt. Never raises.
    """
    try:
        result = _check_characters(text)
    except Exception:  # noqa: BLE001 - the checklist must always render
        return []
    return [result] if result else []


def check_prompt(text: str) -> list[CheckResult]:
    """The prompt checklist, in display order. Never raises, whatever the text."""
    try:
        t = PromptText(text)
    except Exception:  # noqa: BLE001 - cannot happen for str input; keep the UI alive regardless
        t = PromptText("")
    checks: list[tuple[str, Callable[[PromptText], CheckResult]]] = [
        ("prompt.length", _check_length),
        ("prompt.vague_words", _check_vague),
        ("prompt.contradictions", _check_contradictions),
        ("prompt.elements", _check_elements),
    ]
    results = []
    for cid, fn in checks:
        try:
            results.append(fn(t))
        except Exception as exc:  # noqa: BLE001 - the checklist must always render
            results.append(warning(cid, _NAMES[cid], "could not be checked", "", f"Internal error: {exc!r}"))
    return results
