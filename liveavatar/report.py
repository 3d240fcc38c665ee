"""What the page says about the checks and the plan, in two layers, in English or Chinese.

The first layer is for everyone: one verdict sentence, only the items that need the user's action
with their plain fix, and what the video will be. The second layer ("Details for engineers") has
every check with its measured value and rule, the GPU arithmetic and the notes about speed options.

HTML-escaped throughout: inputs (a prompt with markup, a file name) are never rendered as markup.
"""

from __future__ import annotations

import html

from liveavatar.checks.result import CheckResult
from liveavatar.i18n import badge, t, translate_result, translate_text
from liveavatar.plan import FSDP_NOTE, GenerationPlan
from liveavatar.presets import PRESETS, Preset
from liveavatar.vram import Card, Fit, fit_plan, preset_fits

#: Checks that say an input is missing: before it is given they are steps still to do, not errors
#: (a page that has nothing uploaded yet shows no red).
MISSING_VALUES = {"no image", "no audio"}
_ORDER = {"problem": 0, "warning": 1, "info": 2, "ok": 3}


def _is_missing(r: CheckResult) -> bool:
    return r.id in ("image.file", "audio.file") and r.value in MISSING_VALUES


def checklist_html(results: list[CheckResult], lang: str = "en") -> str:
    """The first layer: a verdict and only what needs doing (missing inputs, problems, warnings)."""
    missing = [r for r in results if _is_missing(r)]
    problems = [r for r in results if r.level == "problem" and not _is_missing(r)]
    warnings = [r for r in results if r.level == "warning"]
    if not results or (len(missing) == 2 and not problems):
        return f"<p class='la-verdict la-todo'>{html.escape(t('checklist_empty', lang))}</p>"
    if problems:
        cls, head = "la-problem", t("verdict_problems", lang, n=len(problems))
    elif missing:
        cls, head = "la-todo", t("verdict_missing", lang)
    elif warnings:
        cls, head = "la-warning", t("verdict_ready_warnings", lang, n=len(warnings))
    else:
        cls, head = "la-ok", t("verdict_all_passed", lang)
    items = []
    for r in [*missing, *problems, *warnings]:
        level = "todo" if r in missing else r.level
        tr = translate_result(r, lang)
        fix = f" — {html.escape(tr.fix)}" if tr.fix else ""
        items.append(f"<li class='la-item la-{level}' data-check='{html.escape(r.id)}'>"
                     f"<b>{html.escape(tr.name)}</b>{fix}</li>")
    passed = sum(r.level in ("ok", "info") for r in results)
    passed_key = "checks_passed" if items else "checks_passed_all"
    tail = f"<p class='la-passed'><small>{html.escape(t(passed_key, lang, n=passed))}</small></p>" if passed else ""
    listing = f"<ul class='la-actions'>{''.join(items)}</ul>" if items else ""
    return f"<p class='la-verdict {cls}'><b>{html.escape(head)}</b></p>{listing}{tail}"


def checklist_table_html(results: list[CheckResult], lang: str = "en") -> str:
    """The second layer: every check with what was measured and the rule it was held against."""
    if not results:
        return ""
    rows = []
    for r in sorted((translate_result(r, lang) for r in results), key=lambda r: _ORDER[r.level]):
        fix = f"<br><small>➜ {html.escape(r.fix)}</small>" if r.fix else ""
        rows.append(
            f"<tr class='la-{r.level}' data-check='{html.escape(r.id)}'><td><span class='la-badge la-badge-{r.level}'>"
            f"{html.escape(badge(r.level, lang))}</span></td>"
            f"<td><b>{html.escape(r.name)}</b>{fix}</td><td>{html.escape(r.value)}</td>"
            f"<td><small>{html.escape(r.threshold)}</small></td></tr>"
        )
    cols = "".join(f"<th>{html.escape(t(k, lang))}</th>" for k in ("col_check", "col_measured", "col_rule"))
    return (f"<table class='la-checklist'><thead><tr><th></th>{cols}</tr></thead>"
            "<tbody>" + "".join(rows) + "</tbody></table>")


def fmt_seconds(s: float, lang: str = "en") -> str:
    if s < 90:
        return t("n_seconds", lang, n=f"{s:.0f}")
    if s < 5400:
        return t("n_minutes", lang, n=f"{s / 60:.1f}")
    return t("n_hours", lang, n=f"{s / 3600:.1f}")


def plan_summary(plan: GenerationPlan, lang: str = "en", card: Card | None = None) -> str:
    """The first layer of the plan: what the video will be and how long it takes, plus the notes
    that change what the user gets (part of the audio unused, fewer clips than asked) and, for a known
    card, that the run doesn't fit it."""
    if plan.audio_seconds is None:
        length = t("plan_length_from_audio", lang)
    else:
        length = t("plan_length", lang, seconds=f"{plan.video_seconds:.1f}", clips=plan.num_clips)
    lines = [t("plan_you_get", lang, length=length, w=plan.width, h=plan.height, fps=plan.fps,
               time=fmt_seconds(plan.estimated_seconds, lang))]
    lines += [f"- {translate_text(n, lang)}" for n in plan.notes if _user_note(n)]
    if card is not None and plan.backend != "preview":
        f = fit_plan(plan, card)
        if not f.fits:
            lines.append(f"- {_needs(f, lang)}")
    return "\n".join(lines)


def _gb(v: float) -> str:
    return f"{v:.1f}"


def _needs(f: Fit, lang: str) -> str:
    gpu, key, host = f.need()
    ram = t("ram_unknown", lang) if f.card.host_gb is None else f"{f.card.host_gb:.0f} GB"
    return t("card_needs", lang, card=Fit.card_gb_for(gpu), path=key, gpu=_gb(gpu), host=_gb(host), ram=ram)


def memory_lines(plan: GenerationPlan, card: Card | None, lang: str = "en") -> list[str]:
    """The plan's memory path, its host memory and, for a known card (the one found, or ``--vram_gb``),
    whether this run and each preset fit it."""
    sp = plan.settings.speed
    label = "path_24_kv_on_card" if plan.memory_path == "24" and not sp.offload_kv else "path_" + plan.memory_path
    lines = [f"- **{t('plan_memory_path', lang)}:** {t(label, lang)}"]
    if plan.host_memory_parts:
        parts = ", ".join(f"{translate_text(k, lang)} {v:.1f}" for k, v in plan.host_memory_parts.items())
        lines.append(f"- **{t('plan_host_memory', lang)}:** ~{plan.host_memory_gb:.0f} GB ({parts} GB)")
    if card is None:
        return lines
    ram = t("ram_unknown", lang) if card.host_gb is None else f"{card.host_gb:.0f} GB"
    head = t("card_figures", lang, name=f"`{card.name}`", total=f"{card.total_gb:.1f}", budget=_gb(card.budget_gb),
             path=card.path.key, ram=ram)
    f = fit_plan(plan, card)
    if f.fits:
        gpu, host = f.figures[f.path.key]
        run = t("card_fits", lang, path=f.path.key, gpu=_gb(gpu), host=_gb(host))
    else:
        run = _needs(f, lang)
    lines.append(f"- **{t('plan_card', lang)}:** {head}; {run}")
    items = []
    for key, pf in preset_fits(card).items():
        name = t(f"preset_{key.replace('-', '_')}", lang)
        if pf.fits:
            gpu, _ = pf.figures[pf.path.key]
            items.append(t("preset_fits_on", lang, preset=name, path=pf.path.key, gpu=_gb(gpu)))
        else:
            gpu, path, host = pf.need()
            items.append(t("preset_needs", lang, preset=name, card=Fit.card_gb_for(gpu), path=path, host=_gb(host)))
    lines.append(f"- **{t('plan_presets_card', lang)}:** " + "; ".join(items))
    return lines


def _user_note(note: str) -> bool:
    """Only a note that changes what the user gets (part of their audio unused, a person silent after
    their track) is for everyone; the clip-count arithmetic and speed-option notes are for engineers."""
    return note.startswith("The audio is ") or " people speak: " in note


def plan_details(plan: GenerationPlan, backend_reason: str, preset: Preset | None = None, lang: str = "en",
                 card: Card | None = None) -> str:
    """The second layer: sampling settings, the memory arithmetic (GPU part by part, the memory path, host
    memory, and the card's fit when one is known), speed options and every note."""
    s = plan.settings
    on_off = {True: t("on", lang), False: t("off", lang)}
    clips = f"{plan.num_clips} × {plan.frames_per_clip}"
    if plan.covers_whole_audio and plan.last_clip_frames != plan.frames_per_clip:
        clips += t("plan_last_clip", lang, n=plan.last_clip_frames)
    audio = t("plan_no_audio", lang) if plan.audio_seconds is None else f"{plan.audio_seconds:.1f} s"
    parts = ", ".join(f"{translate_text(k, lang)} {v:.1f}" for k, v in plan.gpu_memory_parts.items())
    seed = t("random", lang) if s.seed < 0 else s.seed
    lines = [
        f"**{t('plan_backend', lang)}:** {translate_text(plan.backend_label, lang)}. {translate_text(backend_reason, lang)}",
        "",
        f"- **{t('plan_output', lang)}:** {plan.width}×{plan.height} px, {plan.fps} fps ({s.size})",
        f"- **{t('plan_clips', lang)}:** {clips}; {t('plan_per_clip', lang, s=f'{plan.frames_per_clip / plan.fps:.2f}')}",
        f"- **{t('plan_video_length', lang)}:** {plan.video_seconds:.2f} s ({t('n_frames', lang, n=plan.video_frames)}) ← {audio}",
        f"- **{t('plan_sampling', lang)}:** " + t("plan_sampling_values", lang, steps=s.sample_steps,
                                                  online=on_off[s.online_decode], offload=on_off[s.offload_model], seed=seed),
        f"- **{t('plan_speed', lang)}:** {', '.join(s.speed.enabled()) or t('plan_speed_plain', lang)}",
        f"- **{t('plan_expected_time', lang)}:** ~{fmt_seconds(plan.estimated_seconds, lang)} ({translate_text(plan.time_basis, lang)})",
        f"- **{t('plan_gpu_memory', lang)}:** ~{plan.gpu_memory_gb:.0f} GB ({parts} GB); DiT bf16 = 32.6 GB, FP8 = 18.6 GB",
        *memory_lines(plan, card, lang),
        f"- **{t('plan_multi_gpu', lang)}:** {translate_text(preset.guide_figures, lang) if preset else '—'}. "
        f"{translate_text(FSDP_NOTE, lang)}",
    ]
    if preset and preset.note:
        lines.append(f"- **{t('plan_note', lang)}:** {translate_text(preset.note, lang)}")
    lines += [f"- **{t('plan_note', lang)}:** {translate_text(n, lang)}" for n in plan.notes]
    return "\n".join(lines)


def preset_for(key: str) -> Preset | None:
    return PRESETS.get(key)
