"""Live Avatar Studio — the Gradio app. Layout and wiring only; the handlers live in
``liveavatar/ui/handlers.py`` and the work in ``liveavatar/``.

Run: ``python app.py [--host 127.0.0.1] [--port 7860] [--share] [--ckpt_dir ckpt] [--preview]``;
``python app.py --help`` lists the hosting options (queue size, concurrency, limits, retention).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline is the normal case: no telemetry calls
os.environ.setdefault("GLOG_minloglevel", "2")  # mediapipe's C++ logging would flood the console

import gradio as gr  # noqa: E402

from liveavatar.backends import CKPT_ENV, BackendChoice, choose_backend  # noqa: E402
from liveavatar.prompt_builder import TEMPLATES as BUILDER_TEMPLATES  # noqa: E402
from liveavatar.prompt_builder import PromptParts, compose  # noqa: E402
from liveavatar.examples import load_examples  # noqa: E402
from liveavatar.hosting import ZERO_GPU_SECONDS, gpu_function, on_hosted_space, on_zero_gpu, presets_within  # noqa: E402
from liveavatar.i18n import AUTO_LOCALE_JS, PROMPT_TIPS, SET_LOCALE_JS, UI, gradio_translations, t  # noqa: E402
from liveavatar.presets import CUSTOM, PRESETS, SIZES  # noqa: E402
from liveavatar.secret import browser_state_secret  # noqa: E402
from liveavatar.speed import ATTENTION_KERNELS  # noqa: E402
from liveavatar.studio import Limits  # noqa: E402
from liveavatar.ui.components import PortraitInput, SpeechInput  # noqa: E402
from liveavatar.ui.live import build_live_section  # noqa: E402
from liveavatar.vram import offered_presets  # noqa: E402
from liveavatar.warmup import start_warm_up  # noqa: E402
from liveavatar.ui.handlers import (  # noqa: E402
    MAX_PEOPLE, ServiceOptions, Studio, consent_gate, face_order_choices, limits_text, result_details, result_summary,
)

ROOT = Path(__file__).resolve().parent
FRAME_CHOICES = [12, 24, 36, 48, 60, 72, 84, 96]
I18N = gr.I18n(**gradio_translations())
_KEY_BY_ENGLISH = {entry["en"]: key for key, entry in UI.items()}


def L(english: str):  # noqa: N802 - reads as a label marker
    """A text shown in the visitor's language; the English text names its entry in ``liveavatar/i18n.py``."""
    return I18N(_KEY_BY_ENGLISH[english])


BUILDER_FIELDS = (
    ("Character", "gender, age, hair, clothing — e.g. a young woman with long black hair in a blue suit"),
    ("Action / state", "pose, gestures, emotion — e.g. smiling warmly and gesturing while speaking"),
    ("Environment", "background, lighting, depth of field — e.g. a modern office, soft light"),
    ("Style", "a film or art reference — e.g. cinematic, like a corporate video"),
)
CSS = """
.la-checklist {width: 100%; border-collapse: collapse; font-size: 0.92em}
.la-checklist td, .la-checklist th {padding: 4px 6px; border-bottom: 1px solid var(--border-color-primary); vertical-align: top}
.la-problem td {background: rgba(220, 38, 38, 0.08)}
.la-warning td {background: rgba(234, 179, 8, 0.08)}
.la-verdict {margin: 0 0 6px 0}
.la-badge {font-size: 0.75em; font-weight: 700; padding: 1px 5px; border-radius: 4px; color: white}
.la-badge-ok {background: #15803d} .la-badge-warning {background: #b45309} .la-badge-problem {background: #b91c1c}
.la-badge-info {background: #475569}
.la-actions {margin: 0 0 6px 1.2em; padding: 0} .la-actions li {margin: 2px 0}
.la-item.la-problem::marker {color: #b91c1c} .la-item.la-warning::marker {color: #b45309}
.la-verdict.la-problem b {color: #b91c1c}
#progress-box {min-height: 2.2em}
"""


SPEED_FLAGS = (  # (SpeedOptions field, label): the boolean speed options, one checkbox each
    ("torch_compile", "torch.compile each block"),
    ("cuda_graphs", "CUDA graphs (GPU)"),
    ("fp8", "FP8 linear layers (18.6 GB weights)"),
    ("static_kv", "Static KV-cache buffers"),
    ("overlap_decode", "Decode a clip while the next one is made"),
    ("text_encoder_on_cpu", "Text encoder on the CPU (with FP8: the 48 GB path)"),
)


def advanced_json(preset: str, size: str, clips: float | None, steps: int, frames: int, seed: float | None,
                  online: bool, offload: bool, attention: str = "auto", speed: list[str] | None = None) -> str:
    """The advanced widgets as the JSON the /generate API takes (named presets keep their own values;
    speed options go with any preset, and only those that are on are written)."""
    values: dict[str, Any] = {"seed": int(seed) if seed is not None else -1, "online_decode": online, "offload_model": offload}
    if attention and attention != "auto":
        values["attention"] = attention
    values.update({name: True for name, _ in SPEED_FLAGS if name in (speed or [])})
    if preset == CUSTOM:
        values.update(size=size, num_clip=int(clips) if clips else None, sample_steps=int(steps), infer_frames=int(frames))
    return json.dumps(values)


def template_parts(name: str | None):
    t = BUILDER_TEMPLATES.get(name or "")
    return [gr.update()] * 4 if t is None else [t.character, t.action, t.environment, t.style]


def compose_prompt(character: str, action: str, environment: str, style: str) -> str:
    return compose(PromptParts(character, action, environment, style))


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


def build_app(choice: BackendChoice | None = None, options: ServiceOptions | None = None,
              concurrency: int = 1, max_queue: int | None = 64) -> gr.Blocks:
    options = options or ServiceOptions(output_dir=Path(tempfile.gettempdir()) / "liveavatar-studio")
    options.output_dir.mkdir(parents=True, exist_ok=True)
    choice = choice or choose_backend(options.ckpt_dir, device=options.device)
    studio = Studio(choice, options)
    offered = PRESETS
    if choice.backend.name != "preview" and studio.card is not None:  # only what fits the card (liveavatar/vram.py)
        offered = offered_presets(studio.card)
    if on_zero_gpu():  # only what fits one ZeroGPU call at the longest audio this server accepts
        offered = presets_within(ZERO_GPU_SECONDS, audio_seconds=options.limits.max_audio_seconds) or {"quick": PRESETS["quick"]}
    preset_choices = [(L(p.label), p.key) for p in offered.values()] + [(L("Custom (advanced settings)"), CUSTOM)]
    examples = [e for e in load_examples(ROOT / "examples") if e.preset in offered]
    default_preset = "standard" if "standard" in offered else next(iter(offered))
    std = PRESETS["standard"].settings

    # Gradio copies every upload and streamed clip into its cache: age it out like our own outputs.
    keep_s = int(options.keep_hours * 3600)
    with gr.Blocks(title="Live Avatar Studio", analytics_enabled=False,
                   delete_cache=(max(60, min(3600, keep_s)), max(60, keep_s))) as demo:
        # A fixed key (kept in the output folder), so the stored visitor id still decrypts after a restart.
        browser_visitor = gr.BrowserState("", storage_key="liveavatar-visitor", secret=browser_state_secret(options.output_dir))
        visitor = gr.State("")
        with gr.Row():
            gr.Markdown("# Live Avatar Studio")
            lang = gr.Radio([("English", "en"), ("中文", "zh")], value="en", label=L("Language"), elem_id="language", scale=0, min_width=200)
        gr.Markdown(I18N("app_intro"))
        lang_state = gr.State("en")  # the page's language, for texts the server writes
        banner = gr.Markdown(I18N("banner_preview" if choice.backend.is_preview else "banner_model"), elem_id="backend-banner")
        if choice.backend.is_preview:
            with gr.Accordion(L("Model weights (about 50 GB; needs internet and a GPU with 80 GB)"), open=False):
                if options.allow_download:
                    gr.Markdown(I18N("weights_help"))
                    download_btn = gr.Button(L("Download the model weights"), size="sm")
                    download_msg = gr.Markdown(elem_id="download-status")
                    confirm_btn = gr.Button(visible=False, variant="primary", size="sm", elem_id="download-confirm")
                else:  # a hosted Space: no stranger starts a 50 GB download (--allow_download turns it on)
                    gr.Markdown(I18N("weights_help_no_download"))
            if options.allow_download:
                # Two steps, neither in the API: the sizes first (nothing fetched), then the confirm starts it.
                download_btn.click(studio.download_offer, lang, [download_msg, confirm_btn], api_visibility="private",
                                   concurrency_limit=1, concurrency_id="download")
                confirm_btn.click(studio.download_weights, lang, [banner, download_msg, confirm_btn], api_visibility="private",
                                  concurrency_limit=1, concurrency_id="download")
        with gr.Row():
            with gr.Column(scale=5):
                prompt = gr.Textbox(label=L("Prompt"), lines=6, max_lines=14, placeholder=L("Character, action, environment, style — 100–200 words."))
                with gr.Accordion(L("Prompt builder: character, action, environment, style"), open=False):
                    template = gr.Dropdown(label=L("Start from a template"), choices=list(BUILDER_TEMPLATES), value=None)
                    parts = [gr.Textbox(label=L(label), lines=2, placeholder=L(hint)) for label, hint in BUILDER_FIELDS]
                    compose_btn = gr.Button(L("Write these into the prompt"), size="sm")
                    tips = gr.Markdown(PROMPT_TIPS["en"], elem_id="prompt-tips")
                with gr.Row():
                    # These hand the upload's path to our loaders untouched (see liveavatar/ui/components.py).
                    image = PortraitInput(label=L("Portrait"), type="filepath", image_mode=None, sources=["upload", "webcam", "clipboard"], height=320)
                    audio = SpeechInput(label=L("Speech"), type="filepath", sources=["upload", "microphone"])
                with gr.Accordion(L("Several people in the portrait (2–4)"), open=False, elem_id="people") as people_box:
                    gr.Markdown(I18N("people_help"))
                    with gr.Row():
                        more_speech = [SpeechInput(label=I18N(f"audio_label_person{n}"), type="filepath", sources=["upload", "microphone"],
                                                   elem_id=f"speech-{n}") for n in range(2, MAX_PEOPLE + 1)]
                    # A plain string in the API ("2,1"; "" = in order); the page offers the orders that fit the tracks.
                    face_order = gr.Dropdown(label=L("Which track drives which face"), info=I18N("face_order_info"),
                                             choices=face_order_choices(1), value="", allow_custom_value=True,
                                             interactive=False, elem_id="face-order")
                    with gr.Row():  # typed speech for persons 2..4 (person 1's is under the Speech box)
                        people_tts_text = gr.Textbox(label=I18N("people_tts_label"), placeholder=I18N("people_tts_placeholder"),
                                                     lines=2, max_lines=8, scale=3, elem_id="people-tts-text")
                        with gr.Column(scale=2, min_width=220):
                            people_tts_target = gr.Dropdown(label=I18N("people_tts_target"), value=2, elem_id="people-tts-target",
                                                            choices=[(I18N(f"audio_label_person{n}"), n) for n in range(2, MAX_PEOPLE + 1)])
                            people_speak_btn = gr.Button(L("Speak this text"), size="sm", elem_id="people-speak-text")
                speech_2, speech_3, speech_4 = more_speech
                with gr.Row():  # typed speech: spoken offline into the Speech box above (liveavatar/tts.py)
                    tts_text = gr.Textbox(label=L("Type what the avatar says"), lines=2, max_lines=8, scale=3, elem_id="tts-text",
                                          placeholder=L("English or Chinese (Mandarin). Press “Speak this text”: the speech is made offline and put into the Speech box above."))
                    with gr.Column(scale=2, min_width=220):
                        tts_rate = gr.Slider(0.5, 2.0, value=1.0, step=0.05, label=L("Speaking rate (1 = normal)"), elem_id="tts-rate")
                        speak_btn = gr.Button(L("Speak this text"), size="sm", elem_id="speak-text")
                limits_md = gr.Markdown(limits_text(options), elem_id="input-limits")
                with gr.Row():
                    crop_btn = gr.Button(L("Crop around the face"), size="sm")
                    denoise_btn = gr.Button(L("Denoise audio"), size="sm")
                    loud_btn = gr.Button(L("Normalise loudness"), size="sm")
                    convert_btn = gr.Button(L("Convert to 16 kHz mono 16-bit"), size="sm")
                    undo_btn = gr.Button(L("Undo the last fix"), size="sm", elem_id="undo-fix")
                undo_state = gr.State([])  # [kind, previous path] per fix, newest last
                fix_msg = gr.Markdown(elem_id="fix-message")
                # Any value reaches our settings check, which answers an unknown preset plainly (Gradio's own
                # choice check would print a traceback); the page offers only the list: nothing can be typed.
                preset = gr.Dropdown(label=L("Preset"), choices=preset_choices, value=default_preset, allow_custom_value=True, filterable=False)
                with gr.Accordion(L("Advanced settings (choose the Custom preset to change them)"), open=False) as adv_box:
                    with gr.Row():
                        size = gr.Dropdown(label=L("Size (area, width*height)"), choices=list(SIZES), value=std.size)
                        clips = gr.Number(label=L("Clips (0 = whole audio)"), value=std.num_clip or 0, precision=0, minimum=0)
                        steps = gr.Dropdown(label=L("Steps"), choices=[3, 4, 5, 6], value=std.sample_steps)
                        frames = gr.Dropdown(label=L("Frames per clip (multiple of 12; model distilled at 48)"), choices=FRAME_CHOICES, value=std.infer_frames)
                    with gr.Row():
                        seed = gr.Number(label=L("Seed (-1 = random)"), value=-1, precision=0)
                        online = gr.Checkbox(label=L("Online decode (bounded memory on long videos)"), value=std.online_decode)
                        offload = gr.Checkbox(label=L("CPU offload (fits smaller GPUs, slower)"), value=std.offload_model)
                consent = gr.Checkbox(label=L("I have the right to use this face and this voice."), value=False, elem_id="consent")
                with gr.Row():
                    generate_btn = gr.Button(L("Generate"), variant="primary", scale=3)
                    stop_btn = gr.Button(L("Stop"), variant="stop", scale=1)
                examples_box = None
                if examples:
                    examples_box = gr.Examples(  # every example sets the people's tracks too (none for one person)
                        examples=[[e.prompt, e.image, e.audio, e.preset, *e.speech_slots(MAX_PEOPLE - 1), e.face_order] for e in examples],
                        example_labels=[e.label for e in examples],
                        inputs=[prompt, image, audio, preset, *more_speech, face_order],
                        label=L("Examples — good inputs, and bad ones that show each check firing"),
                        cache_examples=False, examples_per_page=len(examples),
                    )
                overlay = gr.Image(label=L("What the checks found (face boxes numbered 1, 2, … from the left, and the crop the video will use)"),
                                   interactive=False, height=300, elem_id="overlay")
            with gr.Column(scale=5):
                video = gr.Video(label=L("Result (each clip plays as soon as it is made)"), interactive=False, buttons=["download"], height=420, autoplay=True, elem_id="result-video")
                # Gradio draws its progress over this empty box, so it never covers the status text below.
                progress_box = gr.Markdown(elem_id="progress-box")
                result_md = gr.Markdown(elem_id="result-summary")
                plan_md = gr.Markdown(elem_id="plan")
                checklist = gr.HTML(elem_id="checklist")
                with gr.Accordion(L("Details for engineers"), open=False, elem_id="engineers"):
                    gr.Markdown(I18N("engineers_plan"))
                    plan_details_md = gr.Markdown(elem_id="plan-details")
                    gr.Markdown(I18N("engineers_checks"))
                    checks_table = gr.HTML(elem_id="checks-table")
                    with gr.Row():
                        attention = gr.Dropdown(label=L("Attention kernel (model only)"), choices=list(ATTENTION_KERNELS), value="auto", scale=1)
                        speed = gr.CheckboxGroup(label=L("Speed options (model only; the plan shows their memory, and says why when this machine can't use one)"),
                                                 choices=[(L(label), name) for name, label in SPEED_FLAGS], value=[], scale=4, elem_id="speed-options")
                    adv_json = gr.Textbox(label=L("Settings as JSON (what the /generate API receives)"), interactive=False, value=advanced_json(default_preset, std.size, 0, 4, 48, -1, True, False))
                    run_md = gr.Markdown(elem_id="run-details")
                    info = gr.JSON(label=L("Run details (seed used, plan, timings)"), elem_id="run-json")
        live_section = build_live_section(studio, prompt=prompt, image=image, preset=preset, advanced=adv_json, consent=consent,
                                          visitor=visitor, lang=lang_state, concurrency=concurrency)
        with gr.Accordion(t("history_accordion", "en", hours=f"{options.keep_hours:g}"), open=True) as history_box:
            history = gr.Gallery(label=L("History"), columns=6, height=220, allow_preview=False, elem_id="history")
            history_id = gr.State("")
            history_md = gr.Markdown()
            with gr.Accordion(L("Details for engineers"), open=False):
                history_cli = gr.Markdown()
            with gr.Row():
                rerun_btn = gr.Button(L("Load these inputs to re-run with one change"), size="sm")
                delete_btn = gr.Button(L("Delete my files now"), size="sm", variant="stop")
            delete_msg = gr.Markdown()
        def footer_text(code: str) -> str:
            return t("retention", code, hours=f"{options.keep_hours:g}") + " " + t("ai_mark_on" if options.ai_label else "ai_mark_off", code)

        footer = gr.Markdown(footer_text("en"))

        # Not in the default (one-at-a-time) queue group: a page load must never wait behind other work.
        demo.load(studio.init_visitor, browser_visitor, [browser_visitor, visitor, history], api_visibility="private",
                  concurrency_limit=None, concurrency_id="control")

        adv_inputs = [preset, size, clips, steps, frames, seed, online, offload, attention, speed]
        for comp in adv_inputs:
            comp.change(advanced_json, adv_inputs, adv_json, api_visibility="private", queue=False)
        preset.change(preset_widgets, preset, [size, clips, steps, frames, online, offload, adv_box], api_visibility="private", queue=False)
        template.change(template_parts, template, parts, api_visibility="private", queue=False)
        compose_btn.click(compose_prompt, parts, prompt, api_visibility="private", queue=False)

        live_inputs = [prompt, image, audio, preset, adv_json, lang, *more_speech, face_order]
        live_outputs = [checklist, overlay, plan_md, checks_table, plan_details_md]
        demo.load(studio.initial_language, None, lang, api_visibility="private", queue=False)
        lang.change(None, lang, None, js=SET_LOCALE_JS, api_visibility="private", queue=False)

        def relabel(code: str) -> list:
            """Texts the server writes with numbers in them follow the language switch."""
            texts = [code, PROMPT_TIPS[code], limits_text(options, code), footer_text(code),
                     gr.Accordion(label=t("history_accordion", code, hours=f"{options.keep_hours:g}"))]
            return texts + ([gr.Dataset(sample_labels=[e.label_in(code) for e in examples])] if examples_box else [])

        lang.change(relabel, lang, [lang_state, tips, limits_md, footer, history_box]
                    + ([examples_box.dataset] if examples_box else []), api_visibility="private", queue=False)
        # The several-people inputs: the main box's label and the face orders follow the tracks given.
        people_inputs = [*more_speech, face_order, lang_state]
        for comp in (*more_speech, lang_state):
            comp.change(studio.people_inputs, people_inputs, [audio, face_order], api_visibility="private", queue=False)
        image.change(studio.people_open, image, people_box, api_visibility="private", concurrency_limit=4, concurrency_id="checks")
        # One event for every input (not one per input): loading an example changes nine of them at once,
        # and "always_last" then folds the burst into one pending refresh instead of queueing nine.
        gr.on([c.change for c in (image, audio, preset, adv_json, lang, *more_speech, face_order)], studio.refresh,
              live_inputs, live_outputs, api_visibility="private", trigger_mode="always_last", concurrency_limit=4,
              concurrency_id="checks")
        prompt.change(studio.refresh, live_inputs, live_outputs, api_visibility="private", trigger_mode="always_last", show_progress="hidden", concurrency_limit=4, concurrency_id="checks")
        demo.load(studio.refresh, live_inputs, live_outputs, api_visibility="private",
                  concurrency_limit=4, concurrency_id="checks")

        crop_btn.click(studio.fix_crop, [image, preset, adv_json, prompt, undo_state, lang_state], [image, fix_msg, undo_state],
                       api_visibility="undocumented", api_name="fix_crop")
        for btn, which in ((denoise_btn, "denoise"), (loud_btn, "loudness"), (convert_btn, "convert")):
            btn.click(lambda a, u, code, w=which: studio.fix_audio(w, a, u, code), [audio, undo_state, lang_state],
                      [audio, fix_msg, undo_state], api_visibility="undocumented", api_name=f"fix_{which}")
        speak_btn.click(studio.speak_text, [tts_text, tts_rate, audio, undo_state, lang_state], [audio, fix_msg, undo_state],
                        api_visibility="undocumented", api_name="speak_text", concurrency_limit=2, concurrency_id="tts")
        people_speak_btn.click(studio.speak_for_person, [people_tts_text, tts_rate, people_tts_target, *more_speech, undo_state, lang_state],
                               [*more_speech, fix_msg, undo_state], api_visibility="private", concurrency_limit=2, concurrency_id="tts")
        undo_btn.click(studio.undo_fix, [undo_state, lang_state], [image, audio, *more_speech, fix_msg, undo_state],
                       api_visibility="private", queue=False)

        # Queued (not queue=False): only queued events show their error as a toast in Gradio 6.
        generate_btn.click(consent_gate, [consent, lang_state], None, api_visibility="private", concurrency_limit=None,
                           concurrency_id="control").success(
            gpu_function(studio.generate_api), [prompt, image, audio, preset, adv_json, visitor, lang_state, tts_text, tts_rate,
                                                face_order, *more_speech], [video, info],
            api_name="generate", concurrency_limit=concurrency, concurrency_id="gpu", show_progress_on=progress_box,
        ).then(studio.history_gallery, [visitor, lang_state], history, api_visibility="private", queue=False)
        info.change(result_summary, [info, lang_state], result_md, api_visibility="private", queue=False)
        info.change(result_details, [info, lang_state], run_md, api_visibility="private", queue=False)
        stop_btn.click(studio.stop, lang_state, fix_msg, api_name="stop", concurrency_limit=None, concurrency_id="control")

        for event in live_section.done:  # a finished live run joins the history
            event.then(studio.history_gallery, [visitor, lang_state], history, api_visibility="private", queue=False)
        history.select(studio.history_select, [visitor, lang_state], [history_id, history_md, history_cli], api_visibility="private", queue=False)
        rerun_btn.click(studio.history_load, [visitor, history_id, lang_state],
                        [prompt, image, audio, preset, size, clips, steps, frames, seed, online, offload, attention, speed,
                         *more_speech, face_order], api_visibility="private",
                        concurrency_limit=None, concurrency_id="control")
        delete_btn.click(studio.delete_my_files, [visitor, lang_state], [history, delete_msg], api_visibility="private",
                         concurrency_limit=None, concurrency_id="control")

        # The public checklist endpoint; a hidden button carries it so the API has the documented signature.
        check_btn = gr.Button(L("Check"), visible=False)
        check_json = gr.JSON(visible=False)
        check_btn.click(studio.check_api, [prompt, image, audio, preset, adv_json, face_order, *more_speech], check_json, api_name="check", concurrency_limit=4, concurrency_id="checks")
    demo.queue(default_concurrency_limit=1, max_size=max_queue)
    return demo


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Live Avatar Studio")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="create a public gradio.live link (reaches the network)")
    parser.add_argument("--ckpt_dir", default=None, help=f"folder holding Wan2.2-S2V-14B/ and LiveAvatar/ (default: ${CKPT_ENV} or ./ckpt)")
    parser.add_argument("--preview", action="store_true", help="always use the CPU preview backend")
    parser.add_argument("--device", default=None, help="run the model on this device (default: cuda when available, else the preview)")
    parser.add_argument("--output_dir", default=os.environ.get("LIVEAVATAR_OUTPUT_DIR"), help="where uploads' copies and videos are kept (default: the system temp folder)")
    parser.add_argument("--concurrency", type=int, default=int(os.environ.get("LIVEAVATAR_CONCURRENCY", "1")), help="generations at once (one per GPU)")
    parser.add_argument("--max_queue", type=int, default=int(os.environ.get("LIVEAVATAR_MAX_QUEUE", "64")), help="waiting jobs before new ones are refused")
    parser.add_argument("--max_audio_seconds", type=float, default=_env_float("LIVEAVATAR_MAX_AUDIO_SECONDS", 15 * 60), help="longest speech accepted")
    parser.add_argument("--max_upload_mb", type=float, default=_env_float("LIVEAVATAR_MAX_UPLOAD_MB", 50), help="largest file accepted per upload, in MB (refused before it is stored)")
    parser.add_argument("--keep_hours", type=float, default=_env_float("LIVEAVATAR_KEEP_HOURS", 24), help="how long uploads and results are kept")
    parser.add_argument("--tpp", action="store_true", help="under torchrun: rank 0 serves the app and decodes, the other ranks denoise (pipeline parallel)")
    parser.add_argument("--no_ai_label", action="store_true", help="do not burn the 'AI-generated' mark into videos (self-hosting)")
    parser.add_argument("--vram_gb", type=float, default=None,
                        help="plan for a GPU of this many GB (24, 48, 80 …) instead of the one found: picks the memory path and the presets that fit")
    parser.add_argument("--allow_download", action="store_true",
                        help="offer the model-weights download on the page also on a hosted Space (off there by default)")
    args = parser.parse_args(argv)
    options = ServiceOptions(
        output_dir=Path(args.output_dir or Path(tempfile.gettempdir()) / "liveavatar-studio"),
        keep_hours=args.keep_hours, ai_label=not args.no_ai_label,
        limits=Limits(max_audio_seconds=args.max_audio_seconds), ckpt_dir=args.ckpt_dir, device=args.device,
        max_upload_bytes=int(args.max_upload_mb * 1_000_000),
        allow_download=args.allow_download or not on_hosted_space(),
        vram_gb=args.vram_gb,
    )
    # On ZeroGPU the GPU exists only inside the decorated call, so CUDA is not visible at start-up.
    device = args.device or ("cuda" if on_zero_gpu() else None)
    if args.tpp:  # ranks other than 0 stay inside start_tpp, serving jobs, and exit there
        from liveavatar.backends.tpp import start_tpp, stop_tpp

        choice = start_tpp(args.ckpt_dir, device)
    else:
        choice = choose_backend(args.ckpt_dir, force_preview=args.preview, device=device)
    demo = build_app(choice, options, concurrency=args.concurrency, max_queue=args.max_queue)
    try:
        _launch(demo, args, options)
    finally:
        if args.tpp:
            stop_tpp()


def _launch(demo: gr.Blocks, args: argparse.Namespace, options: ServiceOptions) -> None:
    demo.launch(
        server_name=args.host, server_port=args.port, share=args.share, ssr_mode=False,
        allowed_paths=[str(ROOT / "examples"), str(options.output_dir)], css=CSS, footer_links=["api", "settings"],
        i18n=I18N, js=AUTO_LOCALE_JS, max_file_size=options.max_upload_bytes,
        # Gradio's run history would copy every input into the browser's localStorage: it fills the
        # quota (our visitor id could then not be saved) and keeps private uploads on shared machines.
        run_history=False,
        state_session_capacity=500,  # bounds per-session memory on a busy Space
        prevent_thread_lock=True,
    )
    # Once the server answers: librosa's first import compiles for ~13 s after an install, on a
    # daemon thread here rather than in the first visitor's request (see liveavatar/warmup.py).
    start_warm_up()
    demo.block_thread()


if __name__ == "__main__":
    main()
