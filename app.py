"""Live Avatar Studio — the Gradio app. Layout and wiring only; the logic lives in ``liveavatar/``.

Run: ``python app.py [--host 127.0.0.1] [--port 7860] [--share] [--ckpt_dir ckpt] [--preview]``.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline is the normal case: no telemetry calls
os.environ.setdefault("GLOG_minloglevel", "2")  # mediapipe's C++ logging would flood the console

import gradio as gr  # noqa: E402

from liveavatar.backends import CKPT_ENV, BackendChoice, choose_backend  # noqa: E402
from liveavatar.checks.prompt import BAD_PROMPT_EXAMPLE, GOOD_PROMPT_EXAMPLE, PROMPT_TEMPLATES  # noqa: E402
from liveavatar.examples import load_examples  # noqa: E402
from liveavatar.fixes.audio import convert_to_16k_mono, denoise, normalise_loudness  # noqa: E402
from liveavatar.fixes.image import crop_to_face, draw_face_overlay  # noqa: E402
from liveavatar.pipeline.checkpoint import CheckpointError, DownloadError, download_checkpoint, plan_download  # noqa: E402
from liveavatar.pipeline.pipeline import PipelineError  # noqa: E402
from liveavatar.prepare import crop_box_in_source  # noqa: E402
from liveavatar.presets import CUSTOM, PRESETS, SIZES, SettingsError, resolve_settings  # noqa: E402
from liveavatar.report import checklist_html, plan_markdown, preset_for  # noqa: E402
from liveavatar.studio import InputCache, InputProblemError, check_inputs, generate  # noqa: E402

ROOT = Path(__file__).resolve().parent
PRESET_CHOICES = [(p.label, p.key) for p in PRESETS.values()] + [("Custom (advanced settings)", CUSTOM)]
FRAME_CHOICES = [12, 24, 36, 48, 60, 72, 84, 96]
TEMPLATES = {"Good example (guide)": GOOD_PROMPT_EXAMPLE, "Bad example (guide)": BAD_PROMPT_EXAMPLE, **PROMPT_TEMPLATES}
CSS = """
.la-checklist {width: 100%; border-collapse: collapse; font-size: 0.92em}
.la-checklist td, .la-checklist th {padding: 4px 6px; border-bottom: 1px solid var(--border-color-primary); vertical-align: top}
.la-problem td {background: rgba(220, 38, 38, 0.08)}
.la-warning td {background: rgba(234, 179, 8, 0.08)}
.la-verdict {margin: 0 0 6px 0}
.la-badge {font-size: 0.75em; font-weight: 700; padding: 1px 5px; border-radius: 4px; color: white}
.la-badge-ok {background: #15803d} .la-badge-warning {background: #b45309} .la-badge-problem {background: #b91c1c}
"""


class Studio:
    """The handlers behind the widgets; one instance per launched app, holding its caches."""

    def __init__(self, choice: BackendChoice, output_dir: Path, ckpt_dir: str | None = None, device: str | None = None):
        self.choice = choice
        self.output_dir = output_dir
        self.ckpt_dir = ckpt_dir
        self.device = device
        self.cache = InputCache()

    # --- checks and plan ------------------------------------------------------------------
    def _report(self, prompt: str, image: str | None, audio: str | None, preset: str, advanced: str | None):
        settings = resolve_settings(preset, advanced)
        insp = self.cache.inspect(prompt, image, audio)
        return insp, check_inputs(insp, settings, self.choice)

    def check_api(self, prompt: str, image: str | None, audio: str | None, preset: str = "standard") -> list[dict[str, str]]:
        """The checklist as JSON: a list of {id, name, level, value, threshold, fix}."""
        try:
            _, report = self._report(prompt, image, audio, preset, None)
        except SettingsError as exc:
            raise gr.Error(str(exc)) from None
        return report.to_list()

    def refresh(self, prompt: str, image: str | None, audio: str | None, preset: str, advanced: str | None):
        """Live checklist, annotated portrait and plan for the page (not part of the public API)."""
        try:
            insp, report = self._report(prompt, image, audio, preset, advanced)
        except SettingsError as exc:
            return f"<p class='la-verdict la-problem'><b>Settings:</b> {html.escape(str(exc))}</p>", None, f"**Settings:** {exc}"
        except Exception as exc:  # a bug in a check must not leave the page without an answer
            msg = html.escape(f"The checks could not run ({type(exc).__name__}: {exc}). Try another file.")
            return f"<p class='la-verdict la-problem'>{msg}</p>", None, ""
        overlay = None
        if insp.image is not None:
            crop = crop_box_in_source(insp.image.width, insp.image.height, report.plan.width, report.plan.height)
            overlay = draw_face_overlay(insp.image.rgb, insp.faces, crop)
        return checklist_html(report.results), overlay, plan_markdown(report.plan, self.choice.reason, preset_for(preset))

    # --- generation ---------------------------------------------------------------------------
    def generate_api(
        self,
        prompt: str,
        image: str | None,
        audio: str | None,
        preset: str = "standard",
        advanced: str | None = "",
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[str, dict[str, Any]]:
        """Returns (video, {seed, plan, timings…}). Problems come back as a clear error, never a traceback."""
        try:
            settings = resolve_settings(preset, advanced)
            insp = self.cache.inspect(prompt, image, audio)
            progress(0, desc="Starting")

            def on_clip(done: int, total: int, elapsed: float) -> None:
                progress((done, total), desc=f"Clip {done} of {total} ({elapsed:.0f} s)", unit="clips")

            result = generate(insp, settings, self.choice, self.output_dir, on_clip=on_clip, cancel=threading.Event())
        except (SettingsError, InputProblemError, CheckpointError) as exc:
            raise gr.Error(str(exc), duration=None) from None
        except PipelineError as exc:  # includes the out-of-memory ladder
            raise gr.Error(str(exc), duration=None) from None
        except MemoryError:
            raise gr.Error("Out of memory. Try the quick preset or a smaller size.", duration=None) from None
        except Exception as exc:  # the UI must never show a traceback
            raise gr.Error(f"Generation failed: {type(exc).__name__}: {exc}", duration=None) from None
        return result.video_path, result.to_dict()

    # --- one-click fixes ----------------------------------------------------------------------
    def fix_crop(self, image: str | None, preset: str, advanced: str | None):
        if not image:
            raise gr.Error("Upload a portrait first.")
        insp, report = self._report("", image, None, preset, advanced)
        if insp.image is None or insp.face is None:
            raise gr.Error("Cropping needs exactly one detected face; see the checklist.")
        path, message = crop_to_face(insp.image, insp.face, self._fix_dir(), aspect=report.plan.width / report.plan.height)
        gr.Info(message)
        return path, message

    def fix_audio(self, which: str, audio: str | None):
        if not audio:
            raise gr.Error("Upload or record the speech first.")
        insp = self.cache.inspect("", None, audio)
        if insp.audio is None:
            raise gr.Error(insp.file_results[-1].fix if insp.file_results else "The audio could not be read.")
        fn = {"denoise": denoise, "loudness": normalise_loudness, "convert": convert_to_16k_mono}[which]
        path, message = fn(insp.audio, self._fix_dir())
        gr.Info(message)
        return path, message

    # --- model weights ----------------------------------------------------------------------
    def download_weights(self, progress: gr.Progress = gr.Progress()) -> str:
        """Only runs when the user presses the button; offline it fails at once with the reason."""
        target = Path(self.ckpt_dir or os.environ.get(CKPT_ENV, "ckpt"))
        try:
            plan = plan_download(timeout=10)
            gr.Info(f"Downloading {plan.describe()} to {target}")

            def report(message: str, done: int, total: int) -> None:
                progress((done, total) if total else None, desc=message)

            download_checkpoint(target, report, timeout=10)
        except (DownloadError, CheckpointError) as exc:
            raise gr.Error(str(exc), duration=None) from None
        self.choice = choose_backend(target, device=self.device)
        return f"Downloaded to {target}. **Now running:** {self.choice.backend.label}. {self.choice.reason}"

    def _fix_dir(self) -> Path:
        d = Path(tempfile.mkdtemp(prefix="fix-", dir=self.output_dir))
        return d


def advanced_json(preset: str, size: str, clips: float | None, steps: int, frames: int, seed: float | None, online: bool, offload: bool) -> str:
    """The advanced widgets as the JSON the /generate API takes (named presets keep their own values)."""
    values: dict[str, Any] = {"seed": int(seed) if seed is not None else -1, "online_decode": online, "offload_model": offload}
    if preset == CUSTOM:
        values.update(size=size, num_clip=int(clips) if clips else None, sample_steps=int(steps), infer_frames=int(frames))
    return json.dumps(values)


def result_summary(info: dict[str, Any] | None) -> str:
    if not info:
        return ""
    plan = info["plan"]
    text = (
        f"**Seed used: {info['seed']}** (type it into Seed under Custom to repeat this result) · "
        f"{info['clips_done']} clip(s), {info['video_seconds']:.2f} s of video at {plan['width']}×{plan['height']}, "
        f"made in {info['seconds']:.1f} s by the {info['backend']} backend."
    )
    if info["warnings"]:
        text += f" Generated despite {len(info['warnings'])} warning(s): " + "; ".join(info["warnings"])
    return text


def preset_widgets(preset: str):
    """Show the chosen preset's values in the advanced widgets; open them for custom."""
    if preset == CUSTOM:
        return [gr.update()] * 6 + [gr.Accordion(open=True)]
    s = PRESETS[preset].settings
    return (
        gr.update(value=s.size), gr.update(value=s.num_clip or 0), gr.update(value=s.sample_steps),
        gr.update(value=s.infer_frames), gr.update(value=s.online_decode), gr.update(value=s.offload_model),
        gr.Accordion(open=False),
    )


def build_app(
    choice: BackendChoice | None = None,
    output_dir: str | Path | None = None,
    ckpt_dir: str | None = None,
    device: str | None = None,
) -> gr.Blocks:
    choice = choice or choose_backend(ckpt_dir, device=device)
    out = Path(output_dir or Path(tempfile.gettempdir()) / "liveavatar-studio")
    out.mkdir(parents=True, exist_ok=True)
    studio = Studio(choice, out, ckpt_dir, device)
    examples = load_examples(ROOT / "examples")
    std = PRESETS["standard"].settings

    with gr.Blocks(title="Live Avatar Studio", analytics_enabled=False) as demo:
        gr.Markdown(
            "# Live Avatar Studio\nGive a **prompt**, a **portrait** and a **speech recording**; get a lip-synced video "
            "of that person talking. Inputs are checked before anything runs."
        )
        banner = gr.Markdown(f"**Running:** {choice.backend.label}. {choice.reason}", elem_id="backend-banner")
        if choice.backend.is_preview:
            with gr.Accordion("Model weights (about 50 GB; needs internet and a GPU with 80 GB)", open=False):
                gr.Markdown(
                    "The real model needs Wan2.2-S2V-14B and the Live Avatar LoRA on disk. Point the app at them with "
                    f"`--ckpt_dir` or `{CKPT_ENV}`, or download them here (sizes are shown before anything is fetched)."
                )
                download_btn = gr.Button("Download the model weights", size="sm")
            download_btn.click(studio.download_weights, None, banner, api_name="download_weights", concurrency_limit=1)
        with gr.Row():
            with gr.Column(scale=5):
                prompt = gr.Textbox(label="Prompt", lines=6, max_lines=14, placeholder="Character, action, environment, style — 100–200 words.")
                template = gr.Dropdown(label="Start from a prompt template", choices=list(TEMPLATES), value=None)
                with gr.Row():
                    image = gr.Image(label="Portrait", type="filepath", image_mode=None, sources=["upload", "webcam", "clipboard"], height=320)
                    audio = gr.Audio(label="Speech", type="filepath", sources=["upload", "microphone"])
                with gr.Row():
                    crop_btn = gr.Button("Crop around the face", size="sm")
                    denoise_btn = gr.Button("Denoise audio", size="sm")
                    loud_btn = gr.Button("Normalise loudness", size="sm")
                    convert_btn = gr.Button("Convert to 16 kHz mono 16-bit", size="sm")
                fix_msg = gr.Markdown()
                preset = gr.Dropdown(label="Preset", choices=PRESET_CHOICES, value="standard")
                with gr.Accordion("Advanced settings (choose the Custom preset to change them)", open=False) as adv_box:
                    with gr.Row():
                        size = gr.Dropdown(label="Size (area, width*height)", choices=list(SIZES), value=std.size)
                        clips = gr.Number(label="Clips (0 = whole audio)", value=std.num_clip or 0, precision=0, minimum=0)
                        steps = gr.Dropdown(label="Steps", choices=[3, 4, 5, 6], value=std.sample_steps)
                        frames = gr.Dropdown(label="Frames per clip (multiple of 12; model distilled at 48)", choices=FRAME_CHOICES, value=std.infer_frames)
                    with gr.Row():
                        seed = gr.Number(label="Seed (-1 = random)", value=-1, precision=0)
                        online = gr.Checkbox(label="Online decode (bounded memory on long videos)", value=std.online_decode)
                        offload = gr.Checkbox(label="CPU offload (fits smaller GPUs, slower)", value=std.offload_model)
                    adv_json = gr.Textbox(label="Settings as JSON (what the /generate API receives)", interactive=False, value=advanced_json("standard", std.size, 0, 4, 48, -1, True, False))
                generate_btn = gr.Button("Generate", variant="primary")
                if examples:
                    gr.Examples(
                        examples=[[e.prompt, e.image, e.audio, e.preset] for e in examples],
                        example_labels=[e.label for e in examples],
                        inputs=[prompt, image, audio, preset],
                        label="Examples — good inputs, and bad ones that show each check firing",
                        cache_examples=False,
                    )
                overlay = gr.Image(label="What the checks found (face box, and the crop the video will use)", interactive=False, height=300)
            with gr.Column(scale=5):
                video = gr.Video(label="Result", interactive=False, buttons=["download"], height=420)
                result_md = gr.Markdown(elem_id="result-summary")
                with gr.Accordion("Run details (seed used, plan, timings)", open=False):
                    info = gr.JSON(show_label=False)
                plan_md = gr.Markdown(elem_id="plan")
                checklist = gr.HTML(elem_id="checklist")

        adv_inputs = [preset, size, clips, steps, frames, seed, online, offload]
        for comp in adv_inputs:
            comp.change(advanced_json, adv_inputs, adv_json, api_visibility="private", queue=False)
        preset.change(preset_widgets, preset, [size, clips, steps, frames, online, offload, adv_box], api_visibility="private", queue=False)
        template.change(lambda name: TEMPLATES.get(name, gr.update()), template, prompt, api_visibility="private", queue=False)

        live_inputs = [prompt, image, audio, preset, adv_json]
        for comp in (image, audio, preset, adv_json):
            comp.change(studio.refresh, live_inputs, [checklist, overlay, plan_md], api_visibility="private", trigger_mode="always_last", concurrency_limit=4, concurrency_id="checks")
        prompt.change(studio.refresh, live_inputs, [checklist, overlay, plan_md], api_visibility="private", trigger_mode="always_last", show_progress="hidden", concurrency_limit=4, concurrency_id="checks")
        demo.load(studio.refresh, live_inputs, [checklist, overlay, plan_md], api_visibility="private")

        crop_btn.click(studio.fix_crop, [image, preset, adv_json], [image, fix_msg], api_visibility="undocumented", api_name="fix_crop")
        for btn, which in ((denoise_btn, "denoise"), (loud_btn, "loudness"), (convert_btn, "convert")):
            btn.click(lambda a, w=which: studio.fix_audio(w, a), audio, [audio, fix_msg], api_visibility="undocumented", api_name=f"fix_{which}")

        generate_btn.click(
            studio.generate_api, [prompt, image, audio, preset, adv_json], [video, info],
            api_name="generate", concurrency_limit=1, concurrency_id="gpu",
        ).then(result_summary, info, result_md, api_visibility="private", queue=False)
        # The public checklist endpoint; a hidden button carries it so the API has the documented signature.
        check_btn = gr.Button("Check", visible=False)
        check_json = gr.JSON(visible=False)
        check_btn.click(studio.check_api, [prompt, image, audio, preset], check_json, api_name="check", concurrency_limit=4, concurrency_id="checks")
    demo.queue(default_concurrency_limit=1)
    return demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Live Avatar Studio")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="create a public gradio.live link (reaches the network)")
    parser.add_argument("--ckpt_dir", default=None, help="folder holding Wan2.2-S2V-14B/ and LiveAvatar/ (default: $LIVEAVATAR_CKPT_DIR or ./ckpt)")
    parser.add_argument("--preview", action="store_true", help="always use the CPU preview backend")
    parser.add_argument("--device", default=None, help="run the model on this device (default: cuda when available, else the preview)")
    parser.add_argument("--output_dir", default=None, help="where videos are written (default: the system temp folder)")
    args = parser.parse_args(argv)
    demo = build_app(choose_backend(args.ckpt_dir, force_preview=args.preview, device=args.device), args.output_dir, args.ckpt_dir, args.device)
    demo.launch(
        server_name=args.host, server_port=args.port, share=args.share, ssr_mode=False,
        allowed_paths=[str(ROOT / "examples")], css=CSS, footer_links=["api"],
    )


if __name__ == "__main__":
    main()
