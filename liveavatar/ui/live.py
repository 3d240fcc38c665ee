"""The page's live mode: speak into the microphone (or type a text) and watch the avatar follow.

Transport: Gradio's own streaming, not WebRTC. The microphone is a ``gr.Audio(streaming=True)``
whose ``.stream`` event hands the server a chunk every 0.48 s (one block of speech); the video goes
back through a ``gr.Video(streaming=True)``, which plays the per-block MP4 segments as one HLS stream
in the browser. ``fastrtc`` (WebRTC) was the other choice: its newest release (0.0.34) requires
``gradio<6``, so it cannot be installed beside Gradio 6.31, and WebRTC would also need a TURN server
on most networks. Gradio's streaming needs ``ffmpeg`` and ``ffprobe`` on PATH to put the segments
into the stream (``packages.txt`` installs them on a Space); without them the segments are shown one
after another in a plain video player instead.

Flow: pressing record runs :meth:`LiveMode.begin` (consent, then the microphone's chunks are kept),
then :meth:`LiveMode.run_mic`, a generator in the same ``"gpu"`` concurrency slot as ``/generate``
(both use the model), which opens the backend's live session, takes the chunks kept so far, and
yields each block's segment as it is written. Chunks go straight to the run once it is open
(:meth:`LiveMode.push`); stopping the recording ends the speech (:meth:`LiveMode.end`), the run
drains and is saved to the visitor's history. The typed text takes the same path, its sentences
pushed as Piper finishes each (:meth:`LiveMode.run_text`). The work is in :mod:`liveavatar.live`.
"""

from __future__ import annotations

import logging
import random
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr
import numpy as np
from gradio.i18n import I18nData

from liveavatar.history import HistoryEntry
from liveavatar.i18n import t
from liveavatar.live import AUDIO_RATE, LatencyStats, LiveBusyError, LiveResult, LiveRooms, LiveRun
from liveavatar.media.audio import LoadedAudio, describe_duration, to_mono_16k, write_wav
from liveavatar.media.video import provenance_metadata
from liveavatar.prepare import prepare_inputs
from liveavatar.presets import SettingsError, resolve_settings
from liveavatar.studio import plan_for
from liveavatar.ui.errors import UserError, bug_error

if TYPE_CHECKING:
    from liveavatar.ui.handlers import Studio

log = logging.getLogger(__name__)

#: How often the page sends microphone audio: one block of speech (12 frames at 25 fps).
CHUNK_SECONDS = 0.48
#: A microphone run with no new speech for this long ends by itself (a tab closed mid-run).
IDLE_SECONDS = 20.0


def streaming_video_available() -> bool:
    """Gradio's streamed video output runs ``ffmpeg`` and ``ffprobe`` from PATH (not the bundled ffmpeg)."""
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def mic_chunk_16k(chunk: tuple[int, np.ndarray] | None) -> np.ndarray:
    """A microphone chunk as Gradio hands it (rate, int16 [n] or [n, channels]) → 16 kHz mono float32."""
    if chunk is None:
        return np.zeros(0, np.float32)
    rate, data = chunk
    data = np.asarray(data)
    scale = 32768.0 if data.dtype == np.int16 else (2.0**31 if data.dtype == np.int32 else 1.0)
    samples = data.astype(np.float32) / scale
    samples = samples[None, :] if samples.ndim == 1 else samples.T
    return to_mono_16k(LoadedAudio(samples, int(rate), "WAV", "PCM_16", ""))


@dataclass
class _Inbox:
    """Microphone audio that arrived before the run opened (the model may take seconds to start)."""

    armed: bool = False
    chunks: list[np.ndarray] = field(default_factory=list)
    samples: int = 0
    ended: bool = False


def readout(stats: LatencyStats, speech_seconds: float, lang: str) -> str:
    """The latency line: "Mouth follows your voice by 0.9 s; p95 1.1 s …" (see liveavatar/live.py)."""
    if not stats.blocks:
        return t("live_waiting", lang, speech=f"{speech_seconds:.1f}")
    drift = "—" if stats.slope is None else f"{stats.slope * 10:+.2f}"
    return t("live_readout", lang, p50=f"{stats.p50:.2f}", p95=f"{stats.p95:.2f}", blocks=stats.blocks,
             speech=f"{speech_seconds:.1f}", drift=drift)


class LiveMode:
    """Live mode's handlers for one app: which visitor is live, their runs, the speaker for typed text."""

    def __init__(self, studio: Studio, speaker_factory: Callable[[], Any] | None = None) -> None:
        self.studio = studio
        self.rooms = LiveRooms()
        self.max_seconds = studio.options.limits.max_audio_seconds
        self._lock = threading.Lock()
        self._inbox: dict[str, _Inbox] = {}
        self._runs: dict[str, LiveRun] = {}
        self._speaker_factory = speaker_factory
        self._speaker: Any = None

    # --- microphone ---------------------------------------------------------------------------------
    @staticmethod
    def _session(request: gr.Request | None) -> str:
        return getattr(request, "session_hash", None) or "no-session"

    def begin(self, consent: bool, lang: str = "en", request: gr.Request | None = None) -> None:
        """Recording started: check consent, then keep the microphone's audio for the run about to open."""
        from liveavatar.ui.handlers import consent_gate

        session = self._session(request)
        with self._lock:
            self._inbox[session] = _Inbox()
        consent_gate(consent, lang)
        with self._lock:
            self._inbox[session].armed = True

    def push(self, chunk: tuple[int, np.ndarray] | None, request: gr.Request | None = None) -> None:
        """One microphone chunk: to the open run, or kept until it opens (at most the live limit)."""
        session = self._session(request)
        audio = mic_chunk_16k(chunk)
        with self._lock:
            run = self._runs.get(session)
            if run is not None:
                run.push(audio)
                return
            inbox = self._inbox.get(session)
            if inbox is not None and inbox.armed and not inbox.ended and inbox.samples < self.max_seconds * AUDIO_RATE:
                inbox.chunks.append(audio)
                inbox.samples += len(audio)

    def end(self, request: gr.Request | None = None) -> None:
        """Recording stopped: the speech has ended; the run drains the rest and finishes."""
        session = self._session(request)
        with self._lock:
            run = self._runs.get(session)
            inbox = self._inbox.get(session)
            if inbox is not None:
                inbox.ended = True
        if run is not None:
            run.end_audio()

    def stop(self, lang: str = "en", request: gr.Request | None = None) -> str:
        """The Stop live button: end now, keep what was made."""
        session = self._session(request)
        with self._lock:
            run = self._runs.get(session)
            inbox = self._inbox.pop(session, None)
        if run is None:
            return t("live_nothing", lang) if inbox is None else t("live_stopping", lang)
        run.stop()
        return t("live_stopping", lang)

    def run_mic(self, prompt: str, image: str | None, preset: str, advanced: str | None, visitor: str | None,
                lang: str = "en", request: gr.Request | None = None) -> Iterator[tuple[Any, str]]:
        """The microphone run (a generator in the ``gpu`` slot): yields (segment, latency text)."""
        yield from self._run("mic", prompt, image, preset, advanced, None, visitor, lang, request)

    def run_text(self, prompt: str, image: str | None, preset: str, advanced: str | None, text: str,
                 visitor: str | None, lang: str = "en", request: gr.Request | None = None) -> Iterator[tuple[Any, str]]:
        """The typed-text run: the text is checked and spoken sentence by sentence into the run."""
        yield from self._run("text", prompt, image, preset, advanced, text, visitor, lang, request)

    # --- the run ------------------------------------------------------------------------------------
    def _sentences(self, text: str | None, lang: str) -> Iterator[np.ndarray]:
        """The text's speech, one array per sentence; refusals (bad text, no Piper) before any work."""
        from liveavatar.tts import Speaker, TTSTextError, TTSUnavailable

        try:
            if self._speaker is None:
                self._speaker = (self._speaker_factory or Speaker)()
            return self._speaker.synthesize_sentences(text or "")
        except TTSTextError as exc:
            raise UserError(t("live_text_problem", lang, reason=str(exc))) from None
        except TTSUnavailable as exc:
            raise UserError(t("live_tts_missing", lang, reason=str(exc))) from None

    def _open(self, prompt: str, image: str | None, preset: str, advanced: str | None, owner: str, lang: str):
        """Check the portrait and settings, and open the backend's live session (refusals as UserError)."""
        studio = self.studio
        try:
            settings = resolve_settings(preset, advanced)
        except SettingsError as exc:
            raise UserError(str(exc)) from None
        if not image:
            raise UserError(t("live_no_portrait", lang))
        insp = studio.cache.inspect(prompt, image, None)
        if insp.image is None:
            reason = next((r.fix for r in insp.file_results if r.id == "image.file"), "")
            raise UserError(t("live_bad_portrait", lang, reason=reason))
        if len(insp.faces) > 1:  # one voice drives one face; which one the model would move is anyone's guess
            raise UserError(t("live_several_faces", lang, faces=len(insp.faces)))
        settings = studio.fit_to_card(settings, insp)
        plan = plan_for(insp, settings, studio.choice)
        seed = settings.seed if settings.seed >= 0 else random.randrange(0, 2**31)
        inputs = prepare_inputs(insp.prompt, insp.image.rgb, insp.face, np.zeros(0, np.float32), plan, seed)
        inputs = replace(inputs, audio_16k=np.zeros(0, np.float32))
        backend = studio.choice.backend
        start_live = getattr(backend, "start_live", None)
        if start_live is None:
            raise UserError(t("live_unavailable", lang, reason=backend.label))
        try:
            session = start_live(plan, inputs)
        except NotImplementedError as exc:
            raise UserError(t("live_unavailable", lang, reason=str(exc) or backend.label)) from None
        except Exception as exc:
            if type(exc).__name__ == "PipelineError":  # e.g. the model is busy: written for users
                raise UserError(str(exc)) from None
            raise
        return settings, plan, seed, session

    def _run(self, mode: str, prompt: str, image: str | None, preset: str, advanced: str | None, text: str | None,
             visitor: str | None, lang: str, request: gr.Request | None) -> Iterator[tuple[Any, str]]:
        studio = self.studio
        session_key = self._session(request)
        owner = studio.visitor_for(visitor, request)
        sentences = self._sentences(text, lang) if mode == "text" else None
        try:
            self.rooms.claim(owner, session_key)
        except LiveBusyError:
            raise UserError(t("live_busy", lang)) from None
        run: LiveRun | None = None
        job_dir: Path | None = None
        feeder: threading.Thread | None = None
        try:
            settings, plan, seed, session = self._open(prompt, image, preset, advanced, owner, lang)
            studio.cleanup()
            job_dir = studio.store.new_job(owner)
            backend = studio.choice.backend
            run = LiveRun(session, job_dir, width=plan.width, height=plan.height, fps=plan.fps,
                          max_seconds=self.max_seconds, ai_label=studio.options.ai_label,
                          metadata=provenance_metadata(backend.name, backend.label, backend.is_preview),
                          file_name=f"liveavatar-live-{time.strftime('%Y%m%d-%H%M%S')}-seed{seed}.mp4")
            self.rooms.attach(owner, run)
            if mode == "mic":
                self._attach_mic(session_key, run)
            else:
                feeder = threading.Thread(target=_feed, args=(run, sentences), name="live-tts", daemon=True)
                feeder.start()
            yield from self._stream(run, lang)
            result = run.finish()
            yield None, self._saved(result, run, job_dir, owner, prompt, image, preset, settings.to_dict(), seed, lang)
        except gr.Error:
            raise
        except MemoryError:
            raise UserError(t("out_of_memory", lang), duration=None) from None
        except Exception as exc:  # the page never shows a traceback
            raise bug_error(exc, f"Live mode failed: {type(exc).__name__}: {exc}") from None
        finally:
            if run is not None:
                run.stop()
                run.finish()
            if feeder is not None:
                feeder.join(timeout=5)
            with self._lock:
                # run is None when the refusal came before the run existed: there is nothing of ours to drop
                # (and a None from get() must not read as "ours", or the KeyError would hide the refusal)
                if run is not None and self._runs.get(session_key) is run:
                    del self._runs[session_key]
                if mode == "mic":
                    self._inbox.pop(session_key, None)
            self.rooms.release(owner, session_key)
            if job_dir is not None and not (job_dir / "entry.json").exists():
                shutil.rmtree(job_dir, ignore_errors=True)

    def _attach_mic(self, session_key: str, run: LiveRun) -> None:
        with self._lock:
            inbox = self._inbox.get(session_key) or _Inbox()
            for chunk in inbox.chunks:
                run.push(chunk)
            inbox.chunks, inbox.samples = [], 0
            self._runs[session_key] = run
            if inbox.ended:
                run.end_audio()

    def _stream(self, run: LiveRun, lang: str) -> Iterator[tuple[Any, str]]:
        """Yield each block's segment as it is written, with the latency line, until the run ends."""
        seen = 0
        heard, last_heard = 0.0, time.monotonic()
        while True:
            new = run.wait_for_blocks(seen, timeout=0.5)
            seen += len(new)
            text = readout(run.stats(), run.speech_seconds, lang)
            for record in new:
                if record.segment:
                    yield record.segment, text
            if not new:
                yield None, text
            if not run.running:
                return
            if run.speech_seconds > heard:
                heard, last_heard = run.speech_seconds, time.monotonic()
            elif not run.audio_ended and time.monotonic() - last_heard > IDLE_SECONDS:
                run.end_audio()

    def _saved(self, result: LiveResult, run: LiveRun, job_dir: Path, owner: str, prompt: str, image: str | None,
               preset: str, settings: dict[str, Any], seed: int, lang: str) -> str:
        """Record the run in the visitor's history; the closing text for the page."""
        if result.video is None:
            return t("live_nothing_made", lang) + (f" {result.error}" if result.error else "")
        speech = write_wav(job_dir / "input-audio.wav", run.speech(), AUDIO_RATE)
        first = result.records[0].handed_out - run.started if result.records else None
        self.studio.store.record(HistoryEntry(
            id=job_dir.name, visitor=owner, video=result.video, prompt=prompt or "", image=image or None,
            audio=speech, preset=preset, settings={**settings, "seed": seed, "live": True}, seed=seed,
            seconds=result.seconds, first_clip_seconds=first, cancelled=result.stopped or result.error is not None,
        ))
        frames = sum(r.frames for r in result.records)
        lines = [readout(result.stats, result.speech_seconds, lang), t("live_done", lang, video=f"{frames / run.fps:.1f}")]
        if result.limit_reached:
            lines.append(t("live_limit", lang, limit=describe_duration(self.max_seconds)))
        if result.error:
            lines.append(t("live_failed", lang, reason=result.error))
        elif result.stopped:
            lines.append(t("live_stopped", lang))
        return "\n\n".join(lines)


def _feed(run: LiveRun, sentences: Iterator[np.ndarray] | None) -> None:
    """Push each sentence into the run as soon as Piper has made it; then the speech ends."""
    try:
        for audio in sentences or ():
            if not run.running or run.push(audio) < len(audio):
                break
    except Exception:  # a sentence that fails ends the speech; what was said is made into video
        log.exception("text to speech failed during a live run")
    finally:
        run.end_audio()


def _label(key: str) -> I18nData:
    """A text the page shows in the visitor's language (``key`` in ``liveavatar/i18n``'s UI table)."""
    return I18nData(key)


@dataclass
class LiveSection:
    """The live section's components, for the app to wire into its own events (history refresh)."""

    mic: gr.Audio
    text: gr.Textbox
    speak: gr.Button
    stop: gr.Button
    video: gr.Video
    latency: gr.Markdown
    message: gr.Markdown
    done: list[Any]


def build_live_section(studio: Studio, *, prompt: gr.Textbox, image: gr.Image, preset: gr.Dropdown,
                       advanced: gr.Textbox, consent: gr.Checkbox, visitor: gr.State, lang: gr.State,
                       history: gr.Gallery | None = None, concurrency: int = 1) -> LiveSection:
    """The "Live" accordion and its events; call inside the app's ``gr.Blocks``. It takes the main page's
    portrait, prompt, preset (and advanced JSON), consent box, visitor and language."""
    from liveavatar.ui.handlers import consent_gate

    live = LiveMode(studio)
    streaming = streaming_video_available()
    with gr.Accordion(_label("live_accordion"), open=False, elem_id="live-mode"):
        gr.Markdown(_label("live_intro"))
        with gr.Row():
            with gr.Column(scale=4):
                mic = gr.Audio(sources=["microphone"], streaming=True, type="numpy", label=_label("live_mic"),
                               elem_id="live-mic")
                text = gr.Textbox(label=_label("live_text"), lines=3, placeholder=_label("live_text_placeholder"),
                                  elem_id="live-text")
                with gr.Row():
                    speak = gr.Button(_label("live_speak_button"), variant="primary", elem_id="live-speak")
                    stop = gr.Button(_label("live_stop_button"), variant="stop", elem_id="live-stop")
                message = gr.Markdown(elem_id="live-message")
            with gr.Column(scale=5):
                video = gr.Video(label=_label("live_video"), streaming=streaming, autoplay=True, interactive=False,
                                 height=360, elem_id="live-video")
                latency = gr.Markdown(elem_id="live-latency")
    run_inputs = [prompt, image, preset, advanced, visitor, lang]
    gpu = {"concurrency_limit": concurrency, "concurrency_id": "gpu", "show_progress": "hidden"}
    control = {"concurrency_limit": None, "concurrency_id": "control", "api_visibility": "private"}
    mic_run = mic.start_recording(live.begin, [consent, lang], None, **control).success(
        live.run_mic, run_inputs, [video, latency], api_visibility="private", **gpu)
    mic.stream(live.push, mic, None, stream_every=CHUNK_SECONDS, time_limit=int(live.max_seconds) + 30,
               concurrency_limit=None, concurrency_id="live_audio", api_visibility="private", show_progress="hidden")
    mic.stop_recording(live.end, None, None, **control)
    text_run = speak.click(consent_gate, [consent, lang], None, **control).success(
        live.run_text, [prompt, image, preset, advanced, text, visitor, lang], [video, latency],
        api_name="live_text", **gpu)
    stop.click(live.stop, lang, message, api_name="live_stop", **control)  # named: "stop" is /generate's Stop
    done = [mic_run, text_run]
    if history is not None:
        for event in done:
            event.then(studio.history_gallery, [visitor, lang], history, api_visibility="private", queue=False)
    return LiveSection(mic=mic, text=text, speak=speak, stop=stop, video=video, latency=latency, message=message,
                       done=done)
