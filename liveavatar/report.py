"""Human-readable renderings of the checklist and the plan (HTML-escaped: inputs are never markup)."""

from __future__ import annotations

import html

from liveavatar.checks.result import CheckResult
from liveavatar.plan import FSDP_NOTE, GenerationPlan
from liveavatar.presets import PRESETS, Preset

_BADGE = {"ok": "OK", "warning": "WARNING", "problem": "PROBLEM"}


def checklist_html(results: list[CheckResult]) -> str:
    if not results:
        return "<p>Add a portrait and a speech recording to see the checks.</p>"
    problems = sum(r.level == "problem" for r in results)
    warnings = sum(r.level == "warning" for r in results)
    if problems:
        head = f"<p class='la-verdict la-problem'><b>{problems} problem(s) must be fixed before generating</b>"
    elif warnings:
        head = "<p class='la-verdict la-warning'><b>Ready to generate</b>"
    else:
        head = "<p class='la-verdict la-ok'><b>Ready to generate: every check passed</b>"
    head += f" — {warnings} warning(s).</p>" if warnings else ".</p>"
    order = {"problem": 0, "warning": 1, "ok": 2}
    rows = []
    for r in sorted(results, key=lambda r: order[r.level]):
        fix = f"<br><small>➜ {html.escape(r.fix)}</small>" if r.fix else ""
        rows.append(
            f"<tr class='la-{r.level}' data-check='{html.escape(r.id)}'><td><span class='la-badge la-badge-{r.level}'>{_BADGE[r.level]}</span></td>"
            f"<td><b>{html.escape(r.name)}</b>{fix}</td><td>{html.escape(r.value)}</td>"
            f"<td><small>{html.escape(r.threshold)}</small></td></tr>"
        )
    return (
        head + "<table class='la-checklist'><thead><tr><th></th><th>Check</th><th>Measured</th><th>Rule</th></tr></thead>"
        "<tbody>" + "".join(rows) + "</tbody></table>"
    )


def _fmt_seconds(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def plan_markdown(plan: GenerationPlan, backend_reason: str, preset: Preset | None = None) -> str:
    s = plan.settings
    clips = f"{plan.num_clips} clip(s) × {plan.frames_per_clip} frames"
    if plan.covers_whole_audio and plan.last_clip_frames != plan.frames_per_clip:
        clips += f" (last clip trimmed to {plan.last_clip_frames} frames to end with the audio)"
    audio = "no audio yet" if plan.audio_seconds is None else f"{plan.audio_seconds:.1f} s of audio"
    lines = [
        f"**Backend:** {plan.backend_label}. {backend_reason}",
        "",
        f"- **Output:** {plan.width}×{plan.height} px at {plan.fps} fps (area of {s.size}, fitted to the portrait)",
        f"- **Clips:** {clips}; {plan.frames_per_clip / plan.fps:.2f} s per clip",
        f"- **Video length:** {plan.video_seconds:.2f} s ({plan.video_frames} frames) from {audio}",
        f"- **Sampling:** {s.sample_steps} steps, online decode {'on' if s.online_decode else 'off'}, "
        f"CPU offload {'on' if s.offload_model else 'off'}, seed {'random' if s.seed < 0 else s.seed}",
        f"- **Expected time:** about {_fmt_seconds(plan.estimated_seconds)} ({plan.time_basis})",
        f"- **Real model on one GPU:** about {plan.gpu_memory_gb:.0f} GB peak ("
        + ", ".join(f"{k} {v:.1f}" for k, v in plan.gpu_memory_parts.items())
        + " GB); the DiT alone is 32.6 GB in bf16.",
        f"- **Multi-GPU:** {preset.guide_figures if preset else 'see the presets'}. {FSDP_NOTE}",
    ]
    if preset and preset.note:
        lines.append(f"- **Note:** {preset.note}")
    lines += [f"- **Note:** {n}" for n in plan.notes]
    return "\n".join(lines)


def preset_for(key: str) -> Preset | None:
    return PRESETS.get(key)
