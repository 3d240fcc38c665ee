"""The handlers behind the app's widgets. Gradio-specific (errors, progress, sessions); the work
itself is done by :mod:`liveavatar.studio`. One :class:`Studio` per launched app holds its caches,
its running jobs and its output store — no module-level state.
"""

from __future__ import annotations

import hashlib
import html
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import permutations
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.i18n import I18nData

from liveavatar.backends import CKPT_ENV, BackendChoice, choose_backend
from liveavatar.fixes.audio import convert_to_16k_mono, denoise, normalise_loudness
from liveavatar.checks.prompt import prompt_elements
from liveavatar.fixes.image import crop_keeping_size, crop_to_box, draw_face_overlay
from liveavatar.history import HistoryEntry, OutputStore, new_visitor_id
from liveavatar.i18n import pick_language, t, translate_result, translate_text
from liveavatar.pipeline.checkpoint import CheckpointError, DownloadError, download_checkpoint, plan_download
from liveavatar.pipeline.pipeline import PipelineError
from liveavatar.prepare import crop_box_in_source
from liveavatar.presets import PRESETS, SettingsError, resolve_settings
from liveavatar.repro import cli_command
from liveavatar.plan import fit_size
from liveavatar.report import checklist_html, checklist_table_html, fmt_seconds, plan_details, plan_summary, preset_for
from liveavatar.media.audio import describe_duration
from liveavatar.routing import MAX_PEOPLE
from liveavatar.memory import limit_malloc_arenas
from liveavatar.studio import (
    InputCache, InputProblemError, JobUpdate, Limits, check_inputs, generate_stream, plan_for,
)
from liveavatar.tts import MAX_RATE, MIN_RATE, Speaker, SpokenText, TTSTextError, TTSUnavailable, check_tts_text
from liveavatar.ui.errors import UserError, bug_error
from liveavatar.vram import Card, card_for_backend, fit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceOptions:
    """Settings for hosting: set by flags / environment variables in ``app.py``."""

    output_dir: Path
    keep_hours: float = 24.0
    ai_label: bool = True
    limits: Limits = field(default_factory=Limits)
    ckpt_dir: str | None = None
    device: str | None = None
    max_upload_bytes: int = 50_000_000
    """Largest single upload; Gradio refuses a bigger file before storing it (``launch(max_file_size=...)``)."""
    allow_download: bool = True
    """Offer the model-weights download on the page (off on a hosted Space unless ``--allow_download``)."""
    vram_gb: float | None = None
    """Plan for a card of this many GB (``--vram_gb``) instead of the one found (liveavatar/vram.py)."""


def limits_text(options: ServiceOptions, lang: str = "en") -> str:
    """The limits line shown under the inputs; every number is the one enforced."""
    lim = options.limits
    return t("limits", lang, mb=f"{options.max_upload_bytes / 1e6:g}", mp=f"{lim.max_image_pixels / 1e6:g}",
             audio=_duration(lim.max_audio_seconds, lang), chars=f"{lim.max_prompt_chars:,}")


def _duration(seconds: float, lang: str) -> str:
    text = describe_duration(seconds)
    if lang != "zh":
        return text
    return " ".join({"h": "小时", "min": "分", "s": "秒"}.get(w, w) for w in text.split())


def _fmt_eta(seconds: float | None, lang: str = "en") -> str:
    return t("estimating", lang) if seconds is None else fmt_seconds(seconds, lang)


class Studio:
    def __init__(self, choice: BackendChoice, options: ServiceOptions):
        # Created once per launched app, before Gradio's worker threads run any handler: the one
        # place that is early enough for the arena cap, which only binds arenas made afterwards
        # (see liveavatar.memory: without it RSS stays ~10 % above idle after a burst of checks).
        limit_malloc_arenas()
        self.choice = choice
        self.options = options
        self.cache = InputCache(options.limits)
        self.store = OutputStore(options.output_dir / "jobs", ttl_seconds=options.keep_hours * 3600)
        self._jobs: dict[str, threading.Event] = {}
        self._jobs_lock = threading.Lock()
        self.card = studio_card(choice, options)
        self.speaker = Speaker()  # typed speech; each voice loads on first use

    def fit_to_card(self, settings, insp):
        """On the model backend with a known card: the settings with the fastest memory path that fits it."""
        if self.card is None or self.choice.backend.name == "preview":
            return settings
        return fit(settings, self.card, image_size=insp.image_size,
                   audio_seconds=insp.audio_seconds).settings

    # --- visitors -------------------------------------------------------------------------
    @staticmethod
    def visitor_for(visitor: str | None, request: gr.Request | None) -> str:
        """The browser keeps a random id; API clients without one get one derived from their session."""
        if visitor and len(visitor) == 32 and all(c in "0123456789abcdef" for c in visitor):
            return visitor
        session = getattr(request, "session_hash", None) or new_visitor_id()
        return hashlib.sha256(session.encode()).hexdigest()[:32]

    def init_visitor(self, stored: str | None):
        visitor = self.visitor_for(stored, None) if stored else new_visitor_id()
        self.cleanup()
        return visitor, visitor, self.history_gallery(visitor)

    @staticmethod
    def initial_language(request: gr.Request | None = None) -> str:
        """``?lang=zh|en`` wins; else the browser's first preference (Accept-Language)."""
        if request is not None:
            query = getattr(request, "query_params", None) or {}
            if query.get("lang"):
                return "zh" if str(query["lang"]).startswith("zh") else "en"
            return pick_language(request.headers.get("accept-language"))
        return "en"

    # --- checks and plan ------------------------------------------------------------------
    def _report(self, prompt: str, image: str | None, audio: str | None, preset: str, advanced: str | None,
                more_audio: Sequence[str | None] = (), face_order: str | None = None):
        settings = resolve_settings(preset, advanced)
        insp = self.cache.inspect(prompt, image, audio, more_audio=more_audio, face_order=face_order)
        return insp, check_inputs(insp, self.fit_to_card(settings, insp), self.choice)

    def check_api(self, prompt: str, image: str | None, audio: str | None, preset: str = "standard",
                  advanced: str | None = "", face_order: str | None = "", speech_2: str | None = None,
                  speech_3: str | None = None, speech_4: str | None = None) -> list[dict[str, str]]:
        """The checklist as JSON: a list of {id, name, level, value, threshold, fix}.

        ``advanced`` is the settings JSON, as ``/generate``'s fifth parameter, so a script checks
        exactly the run it will ask for (the plan's size decides e.g. whether faces are far enough apart).
        Several people (2–4) in the portrait: ``speech_2``..``speech_4`` are persons 2..4's speech
        tracks (``audio`` is person 1's), and ``face_order`` says which face each track drives: faces
        are numbered 1..n from left to right, and "2,1" means track 1 drives face 2, track 2 face 1;
        empty for track k → face k. All come after ``preset``, so existing positional callers keep working.
        """
        try:
            _, report = self._report(prompt, image, audio, preset, advanced, (speech_2, speech_3, speech_4), face_order)
        except SettingsError as exc:
            raise UserError(str(exc)) from None
        return report.to_list()

    def refresh(self, prompt: str, image: str | None, audio: str | None, preset: str, advanced: str | None,
                lang: str = "en", speech_2: str | None = None, speech_3: str | None = None,
                speech_4: str | None = None, face_order: str | None = ""):
        """For the page (not the public API): the checklist's first layer, the annotated portrait (faces
        numbered from the left, and the track that drives each), the plan's first layer, then the two
        engineers' layers (every check with its rule; the plan's arithmetic)."""
        try:
            insp, report = self._report(prompt, image, audio, preset, advanced, (speech_2, speech_3, speech_4), face_order)
        except SettingsError as exc:
            return (f"<p class='la-verdict la-problem'><b>{html.escape(t('plan_settings', lang))}:</b> "
                    f"{html.escape(str(exc))}</p>", None, "", "", f"`{exc}`")
        except Exception as exc:  # a bug in a check must not leave the page without an answer
            log.exception("the checks failed")
            msg = html.escape(t("checks_failed", lang))
            return f"<p class='la-verdict la-problem'>{msg}</p>", None, "", f"<code>{html.escape(type(exc).__name__)}: {html.escape(str(exc))}</code>", ""
        overlay = None
        if insp.image is not None:
            crop = crop_box_in_source(insp.image.width, insp.image.height, report.plan.width, report.plan.height)
            overlay = draw_face_overlay(insp.image.rgb, insp.faces, crop, tracks=face_tracks(insp),
                                        track_word=t("overlay_track", lang))
        return (checklist_html(report.results, lang), overlay, plan_summary(report.plan, lang, self.card),
                checklist_table_html(report.results, lang),
                plan_details(report.plan, self.choice.reason, preset_for(preset), lang, card=self.card))

    @staticmethod
    def people_inputs(speech_2: str | None, speech_3: str | None, speech_4: str | None,
                      face_order: str | None, lang: str = "en"):
        """For the page: the main Speech box's label ("Speech (person 1)" once another track is given),
        and the face-order choices for the number of tracks given (the current order kept when it still fits)."""
        tracks = 1 + sum(1 for p in (speech_2, speech_3, speech_4) if p)
        label = gr.update(label=I18nData("audio_label_person1" if tracks > 1 else "audio_label"))
        choices = face_order_choices(tracks, lang)
        values = [value for _, value in choices]
        keep = face_order if face_order in values else (_canonical_order(face_order, tracks) or "")
        return label, gr.update(choices=choices, value=keep, interactive=tracks > 1)

    def people_open(self, image: str | None):
        """Open the several-people accordion when the new portrait shows two faces or more."""
        if not image:
            return gr.update()
        try:
            faces = self.cache.inspect("", image, None).faces
        except Exception:  # noqa: BLE001 - the checklist says what is wrong with the file
            return gr.update()
        return gr.update(open=True) if len(faces) >= 2 else gr.update()

    # --- generation -------------------------------------------------------------------------
    def generate_api(
        self,
        prompt: str,
        image: str | None,
        audio: str | None,
        preset: str = "standard",
        advanced: str | None = "",
        visitor: str | None = "",
        lang: str = "en",
        text: str | None = None,
        tts_rate: float | None = 1.0,
        face_order: str | None = "",
        speech_2: str | None = None,
        speech_3: str | None = None,
        speech_4: str | None = None,
        request: gr.Request | None = None,
        progress: gr.Progress = gr.Progress(),
    ):
        """Yields (clip video, status) as each clip finishes, then (full video, {seed, plan, timings, cli…}).

        ``text`` (with ``tts_rate``) stands in for ``audio``: when no audio is given it is spoken
        offline into the job's ``input-audio.wav``, which then goes through the same checks, plan
        and history entry as an upload. When both are given the audio wins and the run details
        say the text was not spoken. They come last so existing positional callers keep working.

        Several people (2–4) in the portrait, each speaking their own track: ``audio`` (or ``text``)
        is person 1's speech, ``speech_2``..``speech_4`` persons 2..4's (empty ones are skipped), and
        ``face_order`` says which face each track drives: faces are numbered 1..n from left to right,
        and "2,1" means track 1 drives face 2 and track 2 face 1; empty for track k → face k. The
        video's sound is the tracks mixed; the run details' ``people`` say who drove which face.
        These come after ``tts_rate`` (``face_order`` first, as in ``/check``), so existing positional
        callers keep working.
        Problems come back as a clear error, never a traceback.
        """
        session = getattr(request, "session_hash", None) or new_visitor_id()
        cancel = threading.Event()
        with self._jobs_lock:
            self._jobs[session] = cancel
        job_dir: Path | None = None
        kept = False
        stream = None
        try:
            settings = resolve_settings(preset, advanced)
            owner = self.visitor_for(visitor, request)
            spoken: SpokenText | None = None
            if not audio and text:  # the typed text becomes the speech, kept in the job like an upload's copy
                self.cleanup()
                job_dir = self.store.new_job(owner)
                progress(0, desc=t("tts_speaking", lang))
                spoken = self.speak(text, tts_rate, job_dir / "input-audio.wav", lang)
                audio = spoken.path
            more_audio = [p for p in (speech_2, speech_3, speech_4) if p]
            insp = self.cache.inspect(prompt, image, audio, more_audio=more_audio, face_order=face_order)
            settings = self.fit_to_card(settings, insp)
            plan = plan_for(insp, settings, self.choice)
            if job_dir is None:
                self.cleanup()
                job_dir = self.store.new_job(owner)
            blocks = max(1, plan.frames_per_clip // 12)
            started = time.perf_counter()
            progress(0, desc=t("preparing", lang))

            def on_step(clip: int, block: int, step: int, steps: int) -> None:
                done = (clip + (block + step / steps) / blocks) / plan.num_clips
                elapsed = time.perf_counter() - started
                progress(done, desc=t("progress_step", lang, clip=clip + 1, clips=plan.num_clips, block=block + 1,
                                      blocks=blocks, step=step, steps=steps,
                                      eta=_fmt_eta(elapsed / done * (1 - done) if done else None, lang)))

            result = None
            stream = generate_stream(insp, settings, self.choice, job_dir, cancel=cancel, on_step=on_step,
                                     ai_label=self.options.ai_label)
            for item in stream:
                if isinstance(item, JobUpdate):
                    progress((item.clips_done, item.clips_total), unit=t("unit_clips", lang),
                             desc=t("progress_clip", lang, done=item.clips_done, total=item.clips_total,
                                    eta=_fmt_eta(item.eta, lang)))
                    yield item.clip_video, {
                        "status": "running", "clips_done": item.clips_done, "clips_total": item.clips_total,
                        "elapsed_seconds": round(item.elapsed, 2), "eta_seconds": None if item.eta is None else round(item.eta, 1),
                    }
                else:
                    result = item
            assert result is not None
            info = result.to_dict()
            info["status"] = "stopped" if cancel.is_set() else ("failed after partial output" if result.error else "done")
            info["cli"] = cli_command(prompt or "", image or "portrait.png", audio or "speech.wav",
                                      _with_seed(settings, result.seed), more_audio=more_audio,
                                      face_order=(face_order or "").strip() or None)
            info["people"] = people_info(insp)
            if spoken is not None:
                info["tts"] = spoken.to_dict()
            elif text:
                info["tts"] = {"source": "audio", "text_ignored": True}
            entry = self.store.record(HistoryEntry.from_result(
                result, visitor=owner, id=job_dir.name, prompt=prompt or "", image=image or None, audio=audio or None,
                preset=preset, settings=_with_seed(settings, result.seed).to_dict(), cli=info["cli"],
                more_audio=more_audio, face_order=(face_order or "").strip(),
            ))
            info["history_id"] = entry.id
            kept = True
            yield entry.video, info
        except InputProblemError as exc:  # each problem with its fix, in the page's language
            raise UserError(problems_text(exc.problems, lang), duration=None) from None
        except (SettingsError, CheckpointError, PipelineError) as exc:
            raise UserError(str(exc), duration=None) from None
        except MemoryError:
            raise UserError(t("out_of_memory", lang), duration=None) from None
        except gr.Error:
            raise
        except Exception as exc:  # the UI must never show a traceback
            raise bug_error(exc, f"Generation failed: {type(exc).__name__}: {exc}") from None
        finally:
            # However the job ended (done, failed, stopped, or the client went away mid-stream), its
            # temporaries go now: closing the stream aborts an unfinished video and removes the
            # per-clip files; a job that kept nothing leaves no folder behind.
            if stream is not None:
                stream.close()
            if job_dir is not None and not kept:
                shutil.rmtree(job_dir, ignore_errors=True)
            with self._jobs_lock:
                if self._jobs.get(session) is cancel:
                    del self._jobs[session]

    def stop(self, request: gr.Request | None = None, lang: str = "en") -> str:
        """Ends this visitor's running job within one block; what was finished is saved and returned."""
        session = getattr(request, "session_hash", None)
        with self._jobs_lock:
            event = self._jobs.get(session) if session else None
        if event is None:
            return t("nothing_running", lang)
        event.set()
        return t("stopping", lang)

    # --- history ------------------------------------------------------------------------------
    def history_gallery(self, visitor: str | None, lang: str = "en") -> list[tuple[str, str]]:
        if not visitor:
            return []
        items = []
        for e in self.store.entries(visitor):
            when = time.strftime("%H:%M", time.localtime(e.created))
            stopped = f" · {t('history_stopped', lang)}" if e.cancelled else ""
            items.append((e.video, f"{when} · {_preset_name(e.preset, lang)} · {t('history_seed', lang, seed=e.seed)}{stopped}"))
        return items

    def history_select(self, visitor: str, lang: str, evt: gr.SelectData):
        entries = self.store.entries(visitor) if visitor else []
        if not entries or evt.index is None or evt.index >= len(entries):
            return "", "", ""
        e = entries[evt.index]
        text = (f"**{_preset_name(e.preset, lang)}** · " + t("history_made", lang, seed=e.seed, seconds=f"{e.seconds:.1f}")
                + (" " + t("history_first_clip", lang, seconds=f"{e.first_clip_seconds:.1f}") if e.first_clip_seconds else "")
                + (" " + t("history_stopped_early", lang) if e.cancelled else ""))
        return e.id, text, f"```bash\n{e.cli}\n```"

    def history_load(self, visitor: str, entry_id: str, lang: str = "en"):
        """Put a past result's inputs back (custom preset, same seed) so one change can be re-run."""
        e = self.store.get(visitor, entry_id) if visitor and entry_id else None
        if e is None:
            raise UserError(t("pick_history_first", lang))
        s = dict(e.settings)
        speed = dict(s.get("speed") or {})
        more = [*e.more_audio, None, None, None][:3]  # older entries have none: the slots are emptied
        return (e.prompt, e.image or None, e.audio or None, "custom", s.get("size"), s.get("num_clip") or 0,
                s.get("sample_steps"), s.get("infer_frames"), s.get("seed", -1), s.get("online_decode"),
                s.get("offload_model"), speed.pop("attention", "auto"), [name for name, on in speed.items() if on is True],
                *more, e.face_order or "")

    def delete_my_files(self, visitor: str, lang: str = "en") -> tuple[list, str]:
        removed = self.store.delete_visitor(visitor) if visitor else 0
        return [], t("deleted_files", lang, n=removed)

    # --- one-click fixes ----------------------------------------------------------------------
    def fix_crop(self, image: str | None, preset: str, advanced: str | None, prompt: str = "",
                 undo: list | None = None, lang: str = "en"):
        """Crop around the face, never to a smaller video than the photo gives now (the crop grows
        until the plan keeps its size, or nothing is cropped and the message says why). Undoable."""
        if not image:
            raise UserError(t("need_portrait", lang))
        insp, report = self._report(prompt or "", image, None, preset, advanced)
        if insp.image is None or insp.face is None:
            raise UserError(t("need_one_face", lang))
        target = _area(tuple(int(v) for v in report.plan.settings.size.split("*")))
        now = report.plan.width * report.plan.height
        box = crop_keeping_size(insp.image.width, insp.image.height, insp.face.box, report.plan.width / report.plan.height,
                                lambda w, h: _area(fit_size(w, h, target)) >= now)
        if box is None or (box[2] - box[0], box[3] - box[1]) == (insp.image.width, insp.image.height):
            # only the whole photo keeps the planned size: there is nothing to cut away
            message = t("crop_would_shrink", lang, w=report.plan.width, h=report.plan.height)
            return gr.update(), message, undo or []
        path = crop_to_box(insp.image, box, self._fix_dir())
        cw, ch = box[2] - box[0], box[3] - box[1]
        message = t("crop_done", lang, cw=cw, ch=ch, w=insp.image.width, h=insp.image.height,
                    pw=report.plan.width, ph=report.plan.height)
        surroundings = prompt_elements(prompt or "").get("environment") or []
        if surroundings:  # said now, with the dashed crop already drawn on the portrait before the click
            message += " " + t("crop_prompt_warning", lang, words=", ".join(surroundings[:4]))
        message += " " + t("fix_undo_hint", lang)
        return path, message, push_undo(undo, "image", image)

    # --- typed speech --------------------------------------------------------------------------
    def speak(self, text: str | None, rate: float | None, path: Path, lang: str = "en") -> SpokenText:
        """Check ``text`` and speak it into the WAV ``path``. Every refusal is a :class:`UserError`
        in ``lang``: the text check's own message (empty, too long, markup or emoji only), a rate
        out of range, or the voices missing on this server."""
        rate = 1.0 if rate is None else float(rate)
        if not MIN_RATE <= rate <= MAX_RATE:
            raise UserError(t("tts_bad_rate", lang, low=MIN_RATE, high=MAX_RATE, rate=f"{rate:g}"))
        bad = [r for r in check_tts_text(text) if r.level == "problem"]
        if bad:
            raise UserError(tts_problem_text(bad[0], lang))
        try:
            return self.speaker.speak_to_file(text or "", path, rate)
        except TTSTextError as exc:  # not reached: the check above refuses the same texts
            raise UserError(str(exc)) from None
        except TTSUnavailable as exc:
            raise UserError(t("tts_missing", lang, reason=str(exc))) from None

    def speak_text(self, text: str | None, rate: float | None, audio: str | None, undo: list | None = None,
                   lang: str = "en", progress: gr.Progress = gr.Progress()):
        """The "Speak this text" button: the text spoken into a WAV that replaces the speech input
        (undoable like a fix), so it gets the audio checks, plan, fixes and history of an upload.

        Returns (speech path, message, undo stack)."""
        progress(0, desc=t("tts_speaking", lang))
        path, message = self._spoken_into(text, rate, "typed-speech.wav", audio, lang)
        return path, message, push_undo(undo, "audio", audio)  # Undo puts back the upload, or none

    def speak_for_person(self, text: str | None, rate: float | None, person: int | str | None, speech_2: str | None,
                         speech_3: str | None, speech_4: str | None, undo: list | None = None, lang: str = "en",
                         progress: gr.Progress = gr.Progress()):
        """Several people's "Speak this text": the text spoken into person 2, 3 or 4's speech box (the
        Speech box above is person 1's, with its own button), undoable like a fix.

        Returns (speech 2, speech 3, speech 4, message, undo stack); only the chosen box changes."""
        try:
            n = int(person or 2)
        except (TypeError, ValueError):
            n = 0
        if not 2 <= n <= MAX_PEOPLE:
            n = 2
        slots = [speech_2, speech_3, speech_4]
        progress(0, desc=t("tts_speaking", lang))
        path, message = self._spoken_into(text, rate, f"typed-speech-{n}.wav", slots[n - 2], lang)
        out: list = [gr.update()] * len(slots)
        out[n - 2] = path
        return (*out, message, push_undo(undo, f"audio{n}", slots[n - 2]))

    def _spoken_into(self, text: str | None, rate: float | None, name: str, replaced: str | None,
                     lang: str) -> tuple[str, str]:
        """The text spoken into a new WAV, and the message saying what was made (and that Undo puts
        back what it replaced)."""
        spoken = self.speak(text, rate, self._fix_dir() / name, lang)
        unit = t("tts_unit_characters" if spoken.language == "zh" else "tts_unit_words", lang)
        message = t("tts_done", lang, words=f"{spoken.words:,}", unit=unit, voice=t(f"tts_voice_{spoken.language}", lang),
                    rate=f"{spoken.rate:g}", seconds=f"{spoken.seconds:.1f}", made=f"{spoken.synthesis_seconds:.1f}")
        for note in spoken.notes:
            zh = translate_result(note, lang)
            message += " " + t("tts_note", lang, name=zh.name, fix=zh.fix)
        if replaced:
            message += " " + t("fix_undo_hint", lang)
        return spoken.path, message

    def fix_audio(self, which: str, audio: str | None, undo: list | None = None, lang: str = "en"):
        if not audio:
            raise UserError(t("need_audio", lang))
        insp = self.cache.inspect("", None, audio)
        if insp.audio is None:
            raise UserError(insp.file_results[-1].fix if insp.file_results else t("audio_unreadable", lang))
        fn = {"denoise": denoise, "loudness": normalise_loudness, "convert": convert_to_16k_mono}[which]
        path, message = fn(insp.audio, self._fix_dir())
        message = translate_text(message, lang) + " " + t("fix_undo_hint", lang)
        return path, message, push_undo(undo, "audio", audio)

    @staticmethod
    def undo_fix(undo: list | None, lang: str = "en"):
        """Put back the input as it was before the last one-click fix or typed speech.

        Returns (image, audio, speech 2, speech 3, speech 4, message, undo stack); only the input the
        last change replaced changes."""
        out: list = [gr.update()] * len(UNDO_KINDS)
        stack = list(undo or [])
        if not stack:
            return (*out, t("nothing_to_undo", lang), [])
        kind, path = stack.pop()
        out[UNDO_KINDS.index(kind) if kind in UNDO_KINDS else 1] = path
        return (*out, t("undone", lang), stack)

    def cleanup(self, now: float | None = None) -> None:
        """Expire old results and the one-click fixes' folders (kept as long as uploads' copies)."""
        self.store.cleanup(now)
        root = self.options.output_dir / "fixes"
        cutoff = (time.time() if now is None else now) - self.options.keep_hours * 3600
        try:
            folders = [d for d in root.iterdir() if d.name.startswith("fix-") and not d.is_symlink() and d.is_dir()]
        except OSError:
            return
        for folder in folders:
            try:
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                continue

    def _fix_dir(self) -> Path:
        root = self.options.output_dir / "fixes"
        root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="fix-", dir=root))

    # --- model weights ----------------------------------------------------------------------
    # Two steps, neither in the public API: the first asks the Hub for the sizes (nothing is
    # fetched) and shows a confirm button labelled with the size; only that button downloads.
    def weights_target(self) -> Path:
        return Path(self.options.ckpt_dir or os.environ.get(CKPT_ENV, "ckpt"))

    def download_offer(self, lang: str = "en"):
        """Step one: what would be downloaded, how big, where, and the space free there.

        Returns (message, confirm button update). Offline it answers within ``DOWNLOAD_ASK_SECONDS``.
        """
        if not self.options.allow_download:
            raise UserError(t("download_off", lang))
        target = self.weights_target()
        try:
            plan = plan_download_within(DOWNLOAD_ASK_SECONDS)
        except DownloadError as exc:
            return download_failure(exc, lang), gr.update(visible=False)
        free = free_bytes(target)
        parts = "; ".join(f"{repo}: {fmt_gb(size)}" for repo, size in _bytes_per_repo(plan.files).items())
        if free is not None and plan.total_bytes > free:
            return (t("download_no_space", lang, need=fmt_gb(plan.total_bytes), target=target, free=fmt_gb(free)),
                    gr.update(visible=False))
        button = t("download_confirm", lang, size=fmt_gb(plan.total_bytes))
        text = t("download_offer", lang, files=len(plan.files), total=fmt_gb(plan.total_bytes), parts=parts,
                 target=target, free=fmt_gb(free) if free is not None else "?", button=button)
        return text, gr.update(value=button, visible=True)

    def download_weights(self, lang: str = "en", progress: gr.Progress = gr.Progress()):
        """Step two (the confirm button): download, verify, and switch this app to the model.

        Returns (banner, message, confirm button update).
        """
        if not self.options.allow_download:
            raise UserError(t("download_off", lang))
        target = self.weights_target()

        def report(message: str, done: int, total: int) -> None:
            progress((done, total) if total else None,
                     desc=t("download_progress", lang, done=fmt_gb(done), total=fmt_gb(total)) if total else message)

        try:
            download_checkpoint(target, report, timeout=DOWNLOAD_ASK_SECONDS)
        except DownloadError as exc:
            return gr.update(), download_failure(exc, lang), gr.update(visible=False)
        except CheckpointError as exc:
            return gr.update(), t("download_failed", lang, reason=exc), gr.update(visible=False)
        self.choice = choose_backend(target, device=self.options.device)
        done = f"{t('downloaded_to', lang)} `{target}`."
        return (f"{done} **{t('now_running', lang)}** {self.choice.backend.label}.", done, gr.update(visible=False))


UNDO_DEPTH = 10
#: What an undo entry can put back, in the order of undo_fix's outputs: the portrait, person 1's
#: speech (kind "audio", as before several people), then persons 2..4's.
UNDO_KINDS = ("image", "audio", *(f"audio{n}" for n in range(2, MAX_PEOPLE + 1)))


def face_tracks(insp) -> list[int | None] | None:
    """For the overlay: the track (1-based) that drives each face numbered left to right, ``None``
    for a face no track drives; ``None`` with a single track, or when faces and tracks don't pair up."""
    if insp.track_count < 2:
        return None
    people = insp.people_faces
    if people is None:
        return None
    return [next((k + 1 for k, p in enumerate(people) if p is face), None) for face in insp.faces_numbered]


def people_info(insp) -> dict[str, Any]:
    """The run details' ``people``: how many spoke, and which face (numbered from the left) each track drove."""
    if insp.track_count < 2:
        return {"count": 1, "tracks": [{"track": 1, "face": 1}]}
    numbered = insp.faces_numbered
    people = insp.people_faces or []
    tracks = [{"track": k + 1, "face": next((i + 1 for i, f in enumerate(numbered) if f is face), None)}
              for k, face in enumerate(people)]
    return {"count": insp.track_count, "tracks": tracks}


def people_text(info: dict[str, Any] | None, lang: str = "en") -> str:
    """"2 people speak: track 1 → face 2, track 2 → face 1." for the result's summary; "" for one person."""
    people = (info or {}).get("people") or {}
    if int(people.get("count") or 1) < 2:
        return ""
    pairs = ", ".join(t("face_order_pair", lang, track=p["track"], face=p["face"]) for p in people.get("tracks", []))
    return t("result_people", lang, n=people["count"], pairs=pairs)


def _canonical_order(text: str | None, tracks: int) -> str | None:
    """``text`` as the dropdown writes it ("2, 1" → "2,1"; the identity order → ""), or None when it
    is not an order of ``tracks`` faces."""
    try:
        numbers = [int(part) for part in str(text or "").replace(" ", "").split(",") if part]
    except ValueError:
        return None
    if sorted(numbers) != list(range(1, tracks + 1)):
        return None
    return "" if numbers == sorted(numbers) else ",".join(map(str, numbers))


def face_order_choices(tracks: int, lang: str = "en") -> list[tuple[str, str]]:
    """The face-order dropdown's (label, value) pairs for ``tracks`` speech tracks: "" (in order)
    first, then every other order as "2,1" with its meaning spelt out."""
    if tracks < 2:
        return [(t("face_order_one_track", lang), "")]

    def pairs(order: tuple[int, ...]) -> str:
        return ", ".join(t("face_order_pair", lang, track=k + 1, face=f) for k, f in enumerate(order))

    identity = tuple(range(1, tracks + 1))
    choices = [(t("face_order_in_order", lang, pairs=pairs(identity)), "")]
    choices += [(f"{','.join(map(str, order))}: {pairs(order)}", ",".join(map(str, order)))
                for order in permutations(identity) if order != identity]
    return choices


def studio_card(choice: BackendChoice, options: ServiceOptions) -> Card | None:
    """The card this app plans for (``--vram_gb``, or the one its model backend runs on)."""
    return card_for_backend(choice.backend, options.vram_gb)


def push_undo(undo: list | None, kind: str, previous: str | None) -> list:
    """The undo stack with ``previous`` (the input before a fix) on top; the oldest fall off."""
    return [*(undo or []), [kind, previous]][-UNDO_DEPTH:]


def tts_problem_text(result, lang: str = "en") -> str:
    """Why a text cannot be spoken: what was found and what to do, in the page's language."""
    shown = translate_result(result, lang)
    return t("tts_text_problem", lang, value=shown.value, fix=shown.fix)


def problems_text(problems: list, lang: str = "en") -> str:
    """Why generation was refused: each problem's name, what was measured and its fix, translated."""
    items = [translate_result(p, lang) for p in problems]
    return t("fix_before_generating", lang) + " | ".join(f"{p.name}: {p.value}. {p.fix}".strip() for p in items)


def _area(size: tuple[int, int]) -> int:
    return size[0] * size[1]


def _preset_name(key: str, lang: str) -> str:
    preset = PRESETS.get(key)
    return t(f"preset_{key.replace('-', '_')}", lang) if preset or key == "custom" else key


DOWNLOAD_ASK_SECONDS = 8.0
"""The longest the first step waits for the Hub before saying it cannot be reached."""


def plan_download_within(seconds: float):
    """``plan_download`` that answers within ``seconds`` whatever the network does (a DNS lookup
    that hangs included): the query runs on a daemon thread, and a late answer is dropped."""
    box: dict[str, Any] = {}

    def ask() -> None:
        try:
            box["plan"] = plan_download(timeout=seconds)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    worker = threading.Thread(target=ask, name="liveavatar-download-plan", daemon=True)
    worker.start()
    worker.join(seconds + 1)
    if "plan" in box:
        return box["plan"]
    error = box.get("error")
    if isinstance(error, DownloadError):
        raise error
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    reason = "no answer" if error is None else f"{type(error).__name__}: {error}"
    raise DownloadError(f"Download failed: cannot reach the Hugging Face Hub at {endpoint} ({reason} "
                        f"within {seconds:g} s).")


def download_failure(exc: DownloadError, lang: str) -> str:
    """A download error in the visitor's language (the usual two have their own sentences)."""
    text = str(exc)
    if "HF_HUB_OFFLINE" in text:
        return t("download_hub_offline", lang)
    if "cannot reach the Hugging Face Hub" in text:
        return t("download_offline", lang, endpoint=os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    return t("download_failed", lang, reason=text)


def free_bytes(target: Path) -> int | None:
    """Free space where ``target`` is (or would be created); None if it cannot be told."""
    for folder in (target, *target.absolute().parents):
        if folder.exists():
            try:
                return shutil.disk_usage(folder).free
            except OSError:
                return None
    return None


def fmt_gb(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e8 else f"{size / 1e6:.0f} MB"


def _bytes_per_repo(files: list[tuple[str, str, int]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for repo, _, size in files:
        totals[repo] = totals.get(repo, 0) + size
    return totals


def _with_seed(settings, seed: int):
    return replace(settings, seed=seed)


def consent_gate(consent: bool, lang: str = "en") -> None:
    if not consent:
        raise UserError(t("consent_needed", lang))


def result_summary(info: dict[str, Any] | None, lang: str = "en") -> str:
    """The result in plain words: how much video, how long it took, the seed to repeat it, and why it
    may differ from what was asked (stopped, failed part-way, made despite warnings)."""
    if not info or info.get("status") == "running":
        if info:
            return t("clip_ready", lang, done=info["clips_done"], total=info["clips_total"])
        return ""
    plan = info["plan"]
    first = info.get("first_clip_seconds")
    text = t("result_done", lang, video=f"{info['video_seconds']:.1f}", w=plan["width"], h=plan["height"],
             seconds=f"{info['seconds']:.1f}", backend=translate_text(BACKEND_NAMES.get(info["backend"], info["backend"]), lang))
    if first is not None:
        text += " " + t("result_first_clip", lang, seconds=f"{first:.1f}")
    people = people_text(info, lang)
    if people:
        text += " " + people
    text += "\n\n" + t("result_seed", lang, seed=info["seed"])
    if info.get("status") == "stopped":
        text += "\n\n" + t("result_stopped", lang)
    if info.get("error"):
        text += "\n\n" + t("result_failed_part", lang)
    if info["warnings"]:
        text += "\n\n" + t("result_warnings", lang, n=len(info["warnings"]))
    return text


def result_details(info: dict[str, Any] | None, lang: str = "en") -> str:
    """For engineers: the equivalent command line, the failure's text and the warnings as measured."""
    if not info or info.get("status") == "running":
        return ""
    lines = [f"**{t('result_cli', lang)}**", f"```bash\n{info['cli']}\n```"]
    tts = info.get("tts") or {}
    if tts.get("text_ignored"):
        lines.append(t("tts_ignored", lang))
    elif tts.get("source") == "text":
        unit = t("tts_unit_characters" if tts["language"] == "zh" else "tts_unit_words", lang)
        lines.append(t("tts_used", lang, words=f"{tts['words']:,}", unit=unit, voice=t(f"tts_voice_{tts['language']}", lang),
                       rate=f"{tts['rate']:g}", seconds=f"{tts['speech_seconds']:.1f}"))
    if info.get("error"):
        lines.append(f"`{info['error']}`")
    lines += [f"- {w}" for w in info["warnings"]]
    return "\n".join(lines)


#: The backend's short name (as in the result's info) → its label, translated for the summary.
BACKEND_NAMES = {"preview": "CPU preview (not the model)", "liveavatar": "Live Avatar model (Wan2.2-S2V-14B + Live Avatar LoRA)"}
