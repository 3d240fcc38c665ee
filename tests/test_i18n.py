"""English / Chinese text: completeness of the tables, language choice, and checklist translation."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from liveavatar import i18n
from liveavatar.backends import choose_backend
from liveavatar.checks.prompt import BAD_PROMPT_EXAMPLE, GOOD_PROMPT_EXAMPLE, PROMPT_TEMPLATES
from liveavatar.checks.result import CheckResult, ok, problem, warning
from liveavatar.examples import load_examples
from liveavatar.presets import PRESETS, resolve_settings
from liveavatar.studio import check_inputs, inspect_inputs
from liveavatar.testing.synth import speech_like

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


# --- tables ------------------------------------------------------------------------------------
def test_languages():
    assert i18n.LANGUAGES == ("en", "zh")


@pytest.mark.parametrize("key", sorted(i18n.UI))
def test_every_ui_key_has_both_languages(key):
    entry = i18n.UI[key]
    assert set(entry) == set(i18n.LANGUAGES)
    for lang in i18n.LANGUAGES:
        assert entry[lang].strip(), f"{key}/{lang} is empty"
    assert CJK.search(entry["zh"]), f"{key}: the zh text has no Chinese"
    # the same {placeholders} in both languages
    assert set(re.findall(r"{(\w+)}", entry["en"])) == set(re.findall(r"{(\w+)}", entry["zh"]))


def test_required_ui_keys_present():
    for key in (
        "app_title", "prompt_label", "prompt_placeholder", "image_label", "audio_label", "generate_button",
        "advanced_accordion", "examples_label", "plan_backend", "plan_output", "plan_clips", "plan_video_length",
        "plan_sampling", "plan_expected_time", "plan_gpu_memory", "plan_multi_gpu", "plan_note",
        "verdict_problems", "verdict_ready", "col_check", "col_measured", "col_rule",
        "badge_ok", "badge_warning", "badge_problem",
    ):
        assert key in i18n.UI


def test_app_labels_are_covered():
    """Every literal label=/placeholder=/button text in app.py has an English entry in UI."""
    src = (ROOT / "app.py").read_text(encoding="utf-8")
    english = {e["en"] for e in i18n.UI.values()}
    found = set(re.findall(r'label="([^"]+)"', src))
    found |= set(re.findall(r'\bL\("([^"]+)"\)', src))
    found |= set(re.findall(r'placeholder="([^"]+)"', src))
    found |= set(re.findall(r'gr\.Button\("([^"]+)"', src))
    found |= set(re.findall(r'gr\.Accordion\("([^"]+)"', src))
    found |= {p.label for p in PRESETS.values()}
    found |= {label for label, _ in _builder_fields(src)} | {hint for _, hint in _builder_fields(src)}
    # a label built with an f-string is matched by its literal start ("... for {hours} hours")
    missing = sorted(s for s in found if s not in english and not any(e.startswith(s) for e in english))
    assert not missing, f"labels without a translation: {missing}"


def _builder_fields(src: str) -> list[tuple[str, str]]:
    block = re.search(r"BUILDER_FIELDS = \((.*?)\n\)", src, re.S)
    return re.findall(r'\("([^"]+)", "([^"]+)"\)', block.group(1)) if block else []


def test_template_names_are_covered():
    from liveavatar.prompt_builder import TEMPLATES as BUILDER_TEMPLATES

    english = {e["en"] for e in i18n.UI.values()}
    assert set(PROMPT_TEMPLATES) <= english
    assert set(BUILDER_TEMPLATES) <= english
    assert GOOD_PROMPT_EXAMPLE and BAD_PROMPT_EXAMPLE  # the two guide examples have keys template_good/bad
    assert {"template_good", "template_bad"} <= set(i18n.UI)


def test_t_and_formatting():
    assert i18n.t("generate_button", "en") == "Generate"
    assert i18n.t("generate_button", "zh") == "生成"
    assert i18n.t("generate_button", "fr") == "Generate"  # unknown language → English
    assert i18n.t("generate_button", None) == "Generate"
    assert i18n.t("verdict_problems", "zh", n=2) == "生成前必须解决 2 个问题"
    assert i18n.t("verdict_problems", "en", n=2).startswith("2 problem(s) must be fixed before generating")
    with pytest.raises(KeyError):
        i18n.t("no_such_key", "en")


def test_gradio_translations_shape():
    tr = i18n.gradio_translations()
    assert set(tr) == {"en", "zh"}
    assert set(tr["en"]) == set(tr["zh"]) == set(i18n.UI) | set(i18n.GRADIO_MISSING)


def test_prompt_tips():
    assert set(i18n.PROMPT_TIPS) == set(i18n.LANGUAGES)
    zh = i18n.PROMPT_TIPS["zh"]
    for term in ("人物特征", "动作状态", "环境设定", "艺术风格", "模糊词汇", "矛盾", "100–200", "例如"):
        assert term in zh, term
    assert zh.count("例如") >= 4  # an example for each of the four elements
    en = i18n.PROMPT_TIPS["en"]
    for term in ("Character", "Action", "Environment", "Style", "vague", "contradiction", "100–200"):
        assert term.lower() in en.lower(), term


# --- pick_language ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "header, expected",
    [
        (None, "en"),
        ("", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("zh-TW", "zh"),
        ("zh-HK,en;q=0.5", "zh"),
        ("zh", "zh"),
        ("ZH-cn", "zh"),
        ("zh_CN", "zh"),
        ("zh-Hans-CN;q=1.0", "zh"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("en-GB", "en"),
        ("fr-FR,zh-CN;q=0.5", "en"),  # first preference decides
        ("en;q=0.5,zh-CN", "zh"),  # q values decide, not the order
        ("*", "en"),
        ("zh-CN;q=0", "en"),  # q=0 means "not acceptable"
        ("garbage;;", "en"),
        ("zhx", "en"),
    ],
)
def test_pick_language(header, expected):
    assert i18n.pick_language(header) == expected


# --- checklist ----------------------------------------------------------------------------------
def _produced_ids(tmp_path: Path) -> set[str]:
    from skimage import data

    Image.fromarray(data.astronaut()).save(tmp_path / "astronaut.png")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    (tmp_path / "broken.wav").write_bytes(b"not audio")
    sf.write(tmp_path / "speech.wav", speech_like(seconds=6), 16000)
    sf.write(tmp_path / "noisy.wav", speech_like(seconds=4, sr=8000, level_dbfs=-35, noise_dbfs=-40, variation_db=12), 8000)
    loud = np.clip(speech_like(seconds=3, level_dbfs=-3, variation_db=12) * 4, -1, 1)
    sf.write(tmp_path / "clipped.wav", np.stack([loud, loud], 1), 44100, subtype="PCM_24")
    img, snd = str(tmp_path / "astronaut.png"), str(tmp_path / "speech.wav")
    cases: list[tuple[str | None, str | None, str | None]] = [
        (GOOD_PROMPT_EXAMPLE, img, snd),
        (BAD_PROMPT_EXAMPLE, img, str(tmp_path / "noisy.wav")),
        ("A happy but sad, beautiful, nice man laughing heartily. Two women and a crowd.", img, str(tmp_path / "clipped.wav")),
        ("x " * 20000, None, None),
        ("", str(tmp_path / "broken.png"), str(tmp_path / "broken.wav")),
    ]
    cases += [(e.prompt, e.image, e.audio) for e in load_examples(ROOT / "examples")]
    choice = choose_backend(None, force_preview=True)
    ids: set[str] = set()
    for prompt, image, audio in cases:
        for preset in ("quick", "standard"):
            report = check_inputs(inspect_inputs(prompt, image, audio), resolve_settings(preset, None), choice)
            ids |= {r.id for r in report.results}
    return ids


def test_every_produced_check_id_has_a_translation(tmp_path):
    ids = _produced_ids(tmp_path)
    # the families the checks cover, so a broken harness cannot pass by producing nothing
    for expected in ("image.faces", "image.file", "audio.file", "audio.loudness", "prompt.length", "prompt.too_long",
                     "consistency.emotion"):
        assert expected in ids, expected
    missing = sorted(ids - set(i18n.CHECKS_ZH))
    assert not missing, f"check ids without a Chinese name/fix: {missing}"


def test_every_check_id_in_the_source_has_a_translation():
    """Catches a new check even when no test input triggers it."""
    ids = set()
    for path in [*(ROOT / "liveavatar" / "checks").glob("*.py"), ROOT / "liveavatar" / "studio.py"]:
        ids |= set(re.findall(r'"((?:image|audio|prompt|consistency|people)\.[a-z_]+)"', path.read_text(encoding="utf-8")))
    assert ids, "no ids found: the pattern is out of date"
    missing = sorted(ids - set(i18n.CHECKS_ZH))
    assert not missing, f"check ids without a Chinese name/fix: {missing}"


@pytest.mark.parametrize("cid", sorted(i18n.CHECKS_ZH))
def test_check_translations_are_chinese(cid):
    name, fix = i18n.CHECKS_ZH[cid]
    assert name.strip() and fix.strip()
    assert CJK.search(name) and CJK.search(fix)
    assert fix.rstrip().endswith("。"), cid


def test_translate_result_keeps_value_and_threshold(tmp_path):
    report = check_inputs(
        inspect_inputs(BAD_PROMPT_EXAMPLE, str(ROOT / "examples/media/two_faces.png"), str(ROOT / "examples/media/quiet_noisy_8k.wav")),
        resolve_settings("standard", None), choose_backend(None, force_preview=True),
    )
    assert any(r.level != "ok" for r in report.results)
    for r in report.results:
        zh = i18n.translate_result(r, "zh")
        # value and threshold are translated too (issue 11): the Chinese page shows no English
        from liveavatar.i18n.checks import translate_measure

        assert (zh.id, zh.level) == (r.id, r.level)
        assert (zh.value, zh.threshold) == (translate_measure(r.value, "zh"), translate_measure(r.threshold, "zh"))
        assert CJK.search(zh.name)
        if r.fix:
            assert zh.fix == i18n.CHECKS_ZH[r.id][1]
            assert not LATIN_WORD.search(re.sub(r'[“"][^”"]*[”"]|\(.*?\)|(.*?)|Real-ESRGAN|WAV|MP3|JPG|PNG|RMS|EXIF|kHz|dB|bit', "", zh.fix)), zh.fix
        else:
            assert zh.fix == ""
        assert i18n.translate_result(r, "en") == r


def test_translate_result_cases():
    w = warning("audio.loudness", "Speech loudness", "-31.2 dBFS", "≥ -18 dBFS", "The speech is quiet…")
    zh = i18n.translate_result(w, "zh")
    assert zh.name == "语音音量" and zh.value == "-31.2 dBFS" and zh.threshold == "≥ -18 dBFS"
    assert zh.fix.startswith("语音音量过低")
    assert i18n.translate_result(ok("image.faces", "Faces", "1 face", "exactly 1 face"), "zh").fix == ""
    err = warning("audio.noise", "Background noise", "could not be measured", "", "Internal error: ValueError()")
    assert "内部错误" in i18n.translate_result(err, "zh").fix
    unknown = problem("new.check", "New", "1", "2", "Do it")
    assert i18n.translate_result(unknown, "zh") == unknown
    assert isinstance(i18n.translate_result(w, "zh"), CheckResult)
    assert i18n.badge("problem", "zh") == "问题" and i18n.badge("ok", "en") == "OK"
