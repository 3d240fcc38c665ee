"""prompt_builder: the guide's four elements as fields, composed into a prompt the checklist accepts."""

from __future__ import annotations

import pytest

from liveavatar.checks.prompt import GOOD_PROMPT_EXAMPLE, PROMPT_TEMPLATES, PromptText, check_prompt, prompt_elements
from liveavatar.prompt_builder import (
    GOOD_EXAMPLE_KEY,
    PART_NAMES,
    TEMPLATES,
    PromptParts,
    clean_part,
    compose,
    missing_parts,
)


def _levels(prompt: str) -> dict[str, str]:
    return {r.id: r.level for r in check_prompt(prompt)}


def test_templates_cover_every_prompt_template_and_the_good_example():
    assert list(TEMPLATES) == [*PROMPT_TEMPLATES, GOOD_EXAMPLE_KEY]
    assert PART_NAMES == ("character", "action", "environment", "style")


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_each_template_composes_into_a_prompt_that_passes_the_checklist(name):
    parts = TEMPLATES[name]
    prompt = compose(parts)
    levels = _levels(prompt)
    assert levels["prompt.elements"] == "ok", prompt_elements(prompt)
    assert levels["prompt.vague_words"] == "ok"
    assert levels["prompt.contradictions"] == "ok"
    n = len(PromptText(prompt).tokens)
    if name == GOOD_EXAMPLE_KEY:
        assert n < 100  # the guide's own example is short; that is its only warning
    else:
        assert 100 <= n <= 200 and levels["prompt.length"] == "ok"
    assert missing_parts(parts) == []


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_each_part_carries_its_own_element(name):
    """The split is by meaning: every field alone names its element."""
    for part in PART_NAMES:
        text = getattr(TEMPLATES[name], part)
        assert text.strip()
        assert prompt_elements(text)[part], (name, part)


def test_template_split_keeps_the_template_content():
    """Hand-split, lightly reworded: nearly every word of the template is still there."""
    for name, original in PROMPT_TEMPLATES.items():
        words = set(PromptText(original).tokens)
        composed = set(PromptText(compose(TEMPLATES[name])).tokens)
        assert len(words - composed) <= 4, (name, words - composed)
    good = set(PromptText(GOOD_PROMPT_EXAMPLE).tokens)
    assert good <= set(PromptText(compose(TEMPLATES[GOOD_EXAMPLE_KEY])).tokens)


def test_compose_cleans_and_joins_sentences():
    parts = PromptParts(
        character="  a woman  with\n short brown hair ,",
        action="",
        environment="in a studio!",
        style="   documentary style.   ",
    )
    assert compose(parts) == "A woman with short brown hair. In a studio! Documentary style."


def test_compose_skips_empty_and_blank_parts():
    assert compose(PromptParts()) == ""
    assert compose(PromptParts(character=" \n\t ", style="film style")) == "Film style."
    assert compose(PromptParts(action="...", style=" , ")) == ""


def test_clean_part():
    assert clean_part(None) == ""
    assert clean_part("smiling;") == "Smiling."
    assert clean_part("Is she smiling?") == "Is she smiling?"
    assert clean_part("3D render") == "3D render."
    assert clean_part("café lights —") == "Café lights."


def test_missing_parts():
    assert missing_parts(PromptParts()) == list(PART_NAMES)
    assert missing_parts(PromptParts(character="a man with a beard", style="anime style")) == ["action", "environment"]
    # Filled but naming nothing the checklist recognises for that element.
    assert missing_parts(PromptParts(character="a man", action="nodding", environment="there", style="cinematic")) == [
        "environment"
    ]


def test_parts_dict_round_trip():
    parts = TEMPLATES["teacher"]
    assert PromptParts.from_dict(parts.to_dict()) == parts
    assert PromptParts.from_dict({"character": None, "style": "x", "extra": 1}) == PromptParts(style="x")
