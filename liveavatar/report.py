"""Human-readable renderings of the checklist and the plan, in English or Chinese.

HTML-escaped throughout: inputs (a prompt with markup, a file name) are never rendered as markup.
"""

from __future__ import annotations

import html

from liveavatar.checks.result import CheckResult
from liveavatar.i18n import badge, t, translate_result
from liveavatar.plan import FSDP_NOTE, GenerationPlan
from liveavatar.presets import PRESETS, Preset


def checklist_html(results: list[CheckResult], lang: str = "en") -> str:
    if not results:
        return f"<p>{html.escape(t('checklist_empty', lang))}</p>"
    problems = sum(r.level == "problem" for r in results)
    warnings = sum(r.level == "warning" for r in results)
    if problems:
        head = f"<p class='la-verdict la-problem'><b>{html.escape(t('verdict_problems', lang, n=problems))}</b>"
    elif warnings:
        head = f"<p class='la-verdict la-warning'><b>{html.escape(t('verdict_ready', lang))}</b>"
    else:
        head = f"<p class='la-verdict la-ok'><b>{html.escape(t('verdict_all_passed', lang))}</b>"
    head += f" — {html.escape(t('verdict_warnings', lang, n=warnings))}.</p>" if warnings else ".</p>"
    order = {"problem": 0, "warning": 1, "info": 2, "ok": 3}
    rows = []
    for r in sorted((translate_result(r, lang) for r in results), key=lambda r: order[r.level]):
        fix = f"<br><small>➜ {html.escape(r.fix)}</small>" if r.fix else ""
        rows.append(
            f"<tr class='la-{r.level}' data-check='{html.escape(r.id)}'><td><span class='la-badge la-badge-{r.level}'>"
            f"{html.escape(badge(r.level, lang))}</span></td>"
            f"<td><b>{html.escape(r.name)}</b>{fix}</td><td>{html.escape(r.value)}</td>"
            f"<td><small>{html.escape(r.threshold)}</small></td></tr>"
        )
    cols = "".join(f"<th>{html.escape(t(k, lang))}</th>" for k in ("col_check", "col_measured", "col_rule"))
    return (
        head + f"<table class='la-checklist'><thead><tr><th></th>{cols}</tr></thead>"
        "<tbody>" + "".join(rows) + "</tbody></table>"
    )


def _fmt_seconds(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def plan_markdown(plan: GenerationPlan, backend_reason: str, preset: Preset | None = None, lang: str = "en") -> str:
    s = plan.settings
    on_off = {True: t("on", lang), False: t("off", lang)}
    clips = f"{plan.num_clips} × {plan.frames_per_clip}"
    if plan.covers_whole_audio and plan.last_clip_frames != plan.frames_per_clip:
        clips += f" (last clip trimmed to {plan.last_clip_frames} frames to end with the audio)" if lang != "zh" else \
            f"(最后一段裁剪为 {plan.last_clip_frames} 帧,与音频同时结束)"
    audio = t("plan_no_audio", lang) if plan.audio_seconds is None else f"{plan.audio_seconds:.1f} s"
    lines = [
        f"**{t('plan_backend', lang)}:** {plan.backend_label}. {backend_reason}",
        "",
        f"- **{t('plan_output', lang)}:** {plan.width}×{plan.height} px, {plan.fps} fps ({s.size})",
        f"- **{t('plan_clips', lang)}:** {clips}; {plan.frames_per_clip / plan.fps:.2f} s / clip",
        f"- **{t('plan_video_length', lang)}:** {plan.video_seconds:.2f} s ({plan.video_frames} frames) ← {audio}",
        f"- **{t('plan_sampling', lang)}:** {s.sample_steps} steps, online decode {on_off[s.online_decode]}, "
        f"CPU offload {on_off[s.offload_model]}, seed {t('random', lang) if s.seed < 0 else s.seed}",
        f"- **{t('plan_speed', lang)}:** {', '.join(s.speed.enabled()) or t('plan_speed_plain', lang)}",
        f"- **{t('plan_expected_time', lang)}:** ~{_fmt_seconds(plan.estimated_seconds)} ({plan.time_basis})",
        f"- **{t('plan_gpu_memory', lang)}:** ~{plan.gpu_memory_gb:.0f} GB ("
        + ", ".join(f"{k} {v:.1f}" for k, v in plan.gpu_memory_parts.items())
        + " GB); DiT bf16 = 32.6 GB, FP8 = 18.6 GB",
        f"- **{t('plan_multi_gpu', lang)}:** {preset.guide_figures if preset else '—'}. {FSDP_NOTE}",
    ]
    if preset and preset.note:
        lines.append(f"- **{t('plan_note', lang)}:** {preset.note}")
    lines += [f"- **{t('plan_note', lang)}:** {n}" for n in plan.notes]
    return "\n".join(lines)


def preset_for(key: str) -> Preset | None:
    return PRESETS.get(key)
