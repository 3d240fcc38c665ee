"""The app's use cases, without Gradio: inspect inputs, check them, plan, generate.

Data flows one way: inputs → :func:`inspect_inputs` (decode once) → :func:`check_inputs`
(checklist + plan) → :func:`generate` (backend clips → MP4). The app wires these to widgets.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from liveavatar.backends import BackendChoice
from liveavatar.checks.audio import AudioStats, analyse_audio, check_audio
from liveavatar.checks.consistency import check_consistency
from liveavatar.checks.image import check_image, check_image_source
from liveavatar.checks.people import check_people
from liveavatar.checks.prompt import check_hidden_characters, check_prompt
from liveavatar.checks.result import CheckResult, problem
from liveavatar.faces import Face, detect_faces
from liveavatar.media.audio import AudioLoadError, LoadedAudio, load_audio, to_mono_16k
from liveavatar.media.image import ImageLoadError, LoadedImage, load_image
from liveavatar.media.label import stamp_label
from liveavatar.media.video import VideoWriter, provenance_metadata, write_mp4
from liveavatar.memory import release_free_memory
from liveavatar.plan import GenerationPlan, make_plan
from liveavatar.people import faces_left_to_right
from liveavatar.prepare import AUDIO_RATE, prepare_inputs, prepare_people
from liveavatar.presets import GenerationSettings, SettingsError


@dataclass(frozen=True)
class Limits:
    """Stated and enforced before any work starts."""

    max_image_pixels: int = 50_000_000
    max_audio_seconds: float = 15 * 60
    max_prompt_chars: int = 20_000


@dataclass
class Inspection:
    """Everything decoded and measured from the inputs, computed once per change.

    With several people, ``audio`` is track 1 and ``more_audio`` tracks 2..4 (in the order given);
    ``face_order[k]`` is the face (0-based, numbered left to right) that track k drives.
    """

    prompt: str
    image: LoadedImage | None = None
    faces: list[Face] = field(default_factory=list)
    audio: LoadedAudio | None = None
    audio_stats: AudioStats | None = None
    file_results: list[CheckResult] = field(default_factory=list)
    more_audio: list[LoadedAudio | None] = field(default_factory=list)
    more_stats: list[AudioStats | None] = field(default_factory=list)
    face_order: list[int] | None = None

    @property
    def face(self) -> Face | None:
        return self.faces[0] if len(self.faces) == 1 else None

    @property
    def track_count(self) -> int:
        return 1 + len(self.more_audio)

    @property
    def several_people(self) -> bool:
        return self.track_count >= 2

    @property
    def track_stats(self) -> list[AudioStats | None]:
        return [self.audio_stats, *self.more_stats]

    @property
    def audio_seconds(self) -> float | None:
        """What the video must last: the longest track (the others are silent after they end)."""
        durations = [s.duration_s for s in self.track_stats if s is not None]
        return max(durations) if durations else None

    @property
    def faces_numbered(self) -> list[Face]:
        """The faces as the page numbers them, 1..n from left to right."""
        return faces_left_to_right(self.faces)

    @property
    def people_faces(self) -> list[Face] | None:
        """The face each track drives, in track order; ``None`` when faces and tracks don't pair up."""
        numbered = self.faces_numbered
        if len(numbered) != self.track_count:
            return None
        order = self.face_order or list(range(self.track_count))
        return [numbered[i] for i in order]

    @property
    def image_size(self) -> tuple[int, int] | None:
        return (self.image.width, self.image.height) if self.image else None


@dataclass
class CheckReport:
    results: list[CheckResult]
    plan: GenerationPlan

    @property
    def problems(self) -> list[CheckResult]:
        return [r for r in self.results if r.level == "problem"]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if r.level == "warning"]

    def to_list(self) -> list[dict[str, str]]:
        return [r.to_dict() for r in self.results]


class InputProblemError(ValueError):
    """Generation refused: the message lists each problem and its fix."""

    def __init__(self, problems: list[CheckResult]):
        self.problems = problems
        lines = [f"{p.name}: {p.value}. {p.fix}".strip() for p in problems]
        super().__init__("Please fix before generating — " + " | ".join(lines))


@dataclass
class GenerationResult:
    video_path: str
    seed: int
    plan: GenerationPlan
    backend: str
    clips_done: int
    frames_written: int
    cancelled: bool
    seconds: float
    first_clip_seconds: float | None
    warnings: list[str]
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "backend": self.backend,
            "clips_done": self.clips_done,
            "frames_written": self.frames_written,
            "cancelled": self.cancelled,
            "seconds": round(self.seconds, 3),
            "first_clip_seconds": None if self.first_clip_seconds is None else round(self.first_clip_seconds, 3),
            "video_seconds": round(self.frames_written / self.plan.fps, 3),
            "warnings": self.warnings,
            "error": self.error,
            "plan": self.plan.to_dict(),
        }


def _file_key(path: str) -> tuple[str, int, int]:
    st = Path(path).stat()
    return (str(path), st.st_size, st.st_mtime_ns)


#: Default byte budget of :class:`InputCache`: about ten full-HD portraits (6 MB each decoded).
#: Sixteen 4000×3000 photos would be 16 × 36 MB = 576 MB held for nothing but a faster recheck.
INPUT_CACHE_BYTES = 64 * 1024 * 1024


def array_bytes(value: Any, _depth: int = 0) -> int:
    """Bytes of the numpy arrays inside ``value`` (tuples, lists, dicts and dataclasses, looked
    into a few levels deep): what a cached decode result holds. Other objects count as 0; they
    are small next to the pixels and samples."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if _depth >= 4:
        return 0
    if isinstance(value, (tuple, list)):
        return sum(array_bytes(v, _depth + 1) for v in value)
    if isinstance(value, dict):
        return sum(array_bytes(v, _depth + 1) for v in value.values())
    if is_dataclass(value) and not isinstance(value, type):
        return sum(array_bytes(getattr(value, f.name, None), _depth + 1) for f in fields(value))
    return 0


class InputCache:
    """Decode-and-measure results per file, so typing in the prompt doesn't re-run face detection.

    Owned by one app instance (not module state); keyed by path, size and mtime. An LRU bounded
    twice: at most ``size`` entries and at most ``max_bytes`` of arrays (decoded pixels and
    samples), least recently used out first. A count alone would let a few large photos pin
    hundreds of MB. The latest image and the latest audio are kept even over the byte budget:
    they are the inputs being worked on, the page re-checks them on every keystroke in the prompt,
    and decoding a large pair again each time would cost seconds (evicting one for the other
    would decode both every time). So the cache holds at most ``max_bytes`` plus those two.
    ``size=0`` keeps nothing.
    """

    def __init__(self, limits: Limits = Limits(), size: int = 16, max_bytes: int = INPUT_CACHE_BYTES):
        self.limits = limits
        self._size = size
        self._max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, tuple[str, int, int]], tuple[Any, int]] = OrderedDict()
        self._bytes = 0  # sum of the entries' array bytes
        self._latest: dict[str, tuple[str, tuple[str, int, int]]] = {}  # kind -> its latest key
        self._lock = threading.Lock()
        self._computing = 0  # decodes in progress; memory is given back when the last one ends

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    @property
    def nbytes(self) -> int:
        """Array bytes held by the cached entries."""
        with self._lock:
            return self._bytes

    def _compute(self, compute: Callable[[], Any]) -> Any:
        with self._lock:
            self._computing += 1
        try:
            return compute()
        finally:
            with self._lock:
                self._computing -= 1
                idle = self._computing == 0
            if idle:
                release_free_memory()

    def _cached(self, kind: str, path: str, compute: Callable[[], Any]) -> Any:
        try:
            key = (kind, _file_key(path))
        except OSError:
            return self._compute(compute)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self._latest[kind] = key
                return self._items[key][0]
        value = self._compute(compute)
        self._put(kind, key, value)
        return value

    def _put(self, kind: str, key: tuple[str, tuple[str, int, int]], value: Any) -> None:
        if self._size <= 0:
            return
        nbytes = array_bytes(value)
        with self._lock:
            old = self._items.pop(key, None)  # two requests decoded the same file at once
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (value, nbytes)
            self._bytes += nbytes
            self._latest[kind] = key
            while len(self._items) > self._size:
                self._evict(next(iter(self._items)))
            if self._bytes > self._max_bytes:
                latest = set(self._latest.values())
                for old_key in [k for k in self._items if k not in latest]:  # least recently used first
                    if self._bytes <= self._max_bytes:
                        break
                    self._evict(old_key)

    def _evict(self, key: tuple[str, tuple[str, int, int]]) -> None:
        """Drop one entry; the caller holds the lock."""
        _, nbytes = self._items.pop(key)
        self._bytes -= nbytes
        if self._latest.get(key[0]) == key:
            del self._latest[key[0]]

    def inspect(self, prompt: str | None, image_path: str | None, audio_path: str | None,
                more_audio: Sequence[str | None] = (), face_order: str | None = None) -> Inspection:
        """Decode and measure the inputs. ``more_audio``: tracks 2..4 for several people (empty
        entries are skipped); ``face_order``: which face each track drives, see :func:`parse_face_order`
        (raises ``SettingsError`` when it can't be read)."""
        limits = self.limits
        insp = Inspection(prompt=(prompt or "")[: limits.max_prompt_chars])
        extra = [p for p in more_audio if p]
        insp.face_order = parse_face_order(face_order, 1 + len(extra))
        if prompt and len(prompt) > limits.max_prompt_chars:
            insp.file_results.append(
                problem(
                    "prompt.too_long", "Prompt size", f"{len(prompt):,} characters", f"≤ {limits.max_prompt_chars:,} characters",
                    "Shorten the prompt to 100–200 words; the model ignores most of a long prompt anyway.",
                )
            )
        if not image_path:
            insp.file_results.append(
                problem("image.file", "Portrait", "no image", "one portrait photo",
                        "Upload, paste or take a photo of one person facing the camera.")
            )
        else:
            image, faces, error = self._cached("image", image_path, lambda: _inspect_image(image_path, limits))
            insp.image, insp.faces = image, list(faces)
            if error:
                insp.file_results.append(problem("image.file", "Portrait", "unreadable", "a JPG or PNG photo", error))
        if not audio_path:
            insp.file_results.append(
                problem("audio.file", "Speech audio", "no audio", "a speech recording",
                        "Upload a WAV or MP3 of the speech, record one with the microphone, or type "
                        "the words to be spoken (\"Speak this text\", or /generate's text parameter).")
            )
        else:
            audio, stats, error = self._cached("audio", audio_path, lambda: _inspect_audio(audio_path, limits))
            insp.audio, insp.audio_stats = audio, stats
            if error:
                insp.file_results.append(problem("audio.file", "Speech audio", "unreadable", "a WAV or MP3 recording", error))
        for number, path in enumerate(extra, start=2):
            audio, stats, error = self._cached("audio", path, lambda path=path: _inspect_audio(path, limits))
            insp.more_audio.append(audio)
            insp.more_stats.append(stats)
            if error:
                insp.file_results.append(problem("audio.file", "Speech audio", f"track {number} unreadable",
                                                 "a WAV or MP3 recording", error))
        return insp


def parse_face_order(text: str | None, tracks: int) -> list[int] | None:
    """``"2,1"`` (track 1 drives face 2, track 2 drives face 1; faces numbered 1..n from the left)
    → ``[1, 0]``; empty → ``None`` (track k drives face k). Anything else is refused with what to type."""
    if text is None or not str(text).strip():
        return None
    example = ",".join(str(i) for i in range(tracks, 0, -1))
    try:
        numbers = [int(part) for part in str(text).replace(" ", "").split(",")]
    except ValueError:
        numbers = []
    if sorted(numbers) != list(range(1, tracks + 1)):
        raise SettingsError(
            f"Face order {str(text)[:40]!r} must list each face number 1–{tracks} once, one per speech track, "
            f"separated by commas (e.g. {example!r}: track 1 drives face {tracks}); leave it empty for "
            "track 1 → face 1, track 2 → face 2, …")
    return [n - 1 for n in numbers]


def _inspect_image(path: str, limits: Limits) -> tuple[LoadedImage | None, list[Face], str | None]:
    try:
        image = load_image(path, max_pixels=limits.max_image_pixels)
    except ImageLoadError as exc:
        return None, [], str(exc)
    return image, detect_faces(image.rgb), None


def _inspect_audio(path: str, limits: Limits) -> tuple[LoadedAudio | None, AudioStats | None, str | None]:
    try:
        audio = load_audio(path, max_seconds=limits.max_audio_seconds)
    except AudioLoadError as exc:
        return None, None, str(exc)
    return audio, analyse_audio(audio), None


def inspect_inputs(prompt: str | None, image_path: str | None, audio_path: str | None, limits: Limits = Limits(),
                   more_audio: Sequence[str | None] = (), face_order: str | None = None) -> Inspection:
    """One-off inspection without a cache (CLI, tests)."""
    return InputCache(limits, size=0).inspect(prompt, image_path, audio_path, more_audio, face_order)


def plan_for(insp: Inspection, settings: GenerationSettings, choice: BackendChoice) -> GenerationPlan:
    plan = _plan(insp, settings, choice)
    durations = [s.duration_s for s in insp.track_stats if s is not None]
    if insp.several_people and len(durations) == insp.track_count and max(durations) - min(durations) >= 0.05:
        # Upstream cuts every track to the shortest; we keep every word, so say what that means.
        plan.notes.append(f"{insp.track_count} people speak: the video lasts as long as the longest track "
                          f"({max(durations):.1f} s); each shorter track is followed by silence for its person.")
    return plan


def _plan(insp: Inspection, settings: GenerationSettings, choice: BackendChoice) -> GenerationPlan:
    return make_plan(
        settings,
        image_size=insp.image_size,
        audio_seconds=insp.audio_seconds,
        backend=choice.backend.name,
        backend_label=choice.backend.label,
        device=getattr(choice.backend, "device", None),
        people=insp.track_count,
    )


def input_notes(insp: Inspection) -> list[CheckResult]:
    """What decoding the inputs had to decide (first frame of an animation, CMYK → RGB) and any
    invisible control characters in the prompt: said in the checklist, only when there is something."""
    notes = check_hidden_characters(insp.prompt)
    if insp.image is not None:
        notes += check_image_source(insp.image)
    return notes


def check_inputs(insp: Inspection, settings: GenerationSettings, choice: BackendChoice) -> CheckReport:
    plan = plan_for(insp, settings, choice)
    results = [*insp.file_results, *input_notes(insp)]
    if insp.image is not None:
        results += check_image(insp.image, insp.faces, people=insp.track_count)
        if insp.several_people:
            results += check_people(insp.image, insp.faces, insp.track_stats, insp.face_order,
                                    video_size=(plan.width, plan.height))
    planned = None if plan.covers_whole_audio else plan.video_seconds
    if insp.several_people:
        results += track_checks(insp.track_stats, plan.clip_seconds, planned)
    elif insp.audio_stats is not None:
        results += check_audio(insp.audio_stats, clip_seconds=plan.clip_seconds, planned_seconds=planned)
    results += check_prompt(insp.prompt)
    results += check_consistency(
        insp.prompt,
        face_count=len(insp.faces) if insp.image is not None else None,
        audio=insp.audio_stats,
        speakers=insp.track_count,
    )
    return CheckReport(results=results, plan=plan)


def track_checks(tracks: list[AudioStats | None], clip_seconds: float, planned_seconds: float | None) -> list[CheckResult]:
    """The audio checklist for several people's tracks: each track's recording checks (format, rate,
    loudness, noise, clipping …), their values starting "track k: "; the length check once, on the
    longest track (what the video lasts); silence and lengths are ``people.silent`` / ``people.lengths``."""
    checked = [(k, s, check_audio(s, clip_seconds=clip_seconds, planned_seconds=planned_seconds))
               for k, s in enumerate(tracks, start=1) if s is not None]
    if not checked:
        return []
    longest = max(checked, key=lambda item: item[1].duration_s)[2]
    results = [r for r in longest if r.id == "audio.duration"]
    for k, _, lines in checked:
        results += [replace(r, value=f"track {k}: {r.value}") for r in lines if r.id not in ("audio.duration", "audio.silence")]
    return results


StepCallback = Callable[[int, int, int, int], None]


@dataclass
class JobUpdate:
    """A clip just finished: ``clip_video`` is a playable MP4 of it (with its audio) for the page."""

    clips_done: int
    clips_total: int
    clip_video: str | None
    elapsed: float
    eta: float | None


def _eta(elapsed: float, done: float, total: float) -> float | None:
    return None if done <= 0 else elapsed / done * max(0.0, total - done)


def generate_stream(
    insp: Inspection,
    settings: GenerationSettings,
    choice: BackendChoice,
    out_dir: str | Path,
    *,
    cancel: threading.Event | None = None,
    on_step: StepCallback | None = None,
    clip_videos: bool = True,
    ai_label: bool = True,
    file_name: str | None = None,
) -> Iterator[JobUpdate | GenerationResult]:
    """Check, plan, run the backend clip by clip; yield a :class:`JobUpdate` per clip, then the result.

    The full MP4 (with the audio cut to the frames made) is written as clips arrive. A stop, or a
    backend failure after the first clip, still finishes the file with what was made: nothing
    finished is lost.
    """
    report = check_inputs(insp, settings, choice)
    if report.problems:
        raise InputProblemError(report.problems)
    assert insp.image is not None and insp.audio is not None  # guaranteed: no problems above
    plan = report.plan
    seed = settings.seed if settings.seed >= 0 else random.randrange(0, 2**31)
    if insp.several_people:
        faces = insp.people_faces
        assert faces is not None and all(a is not None for a in insp.more_audio)  # people.count / audio.file
        tracks = [to_mono_16k(a) for a in (insp.audio, *insp.more_audio) if a is not None]
        inputs = prepare_people(insp.prompt, insp.image.rgb, faces, tracks, plan, seed)
    else:
        inputs = prepare_inputs(insp.prompt, insp.image.rgb, insp.face, to_mono_16k(insp.audio), plan, seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / (file_name or f"liveavatar-{time.strftime('%Y%m%d-%H%M%S')}-seed{seed}.mp4")
    samples_per_frame = AUDIO_RATE / plan.fps
    started = time.perf_counter()
    first_clip: float | None = None
    frames = clips = 0
    error: str | None = None
    # Per-clip MP4s exist only to be streamed to the page while the job runs (the consumer has
    # taken each one before asking for the next item); they go when the job ends, however it ends.
    clip_paths: list[Path] = []
    writer = VideoWriter(str(path), plan.width, plan.height, plan.fps)
    # Names the backend that made it, on the full video and each clip; kept even without the visible mark.
    backend = choice.backend
    metadata = provenance_metadata(backend.name, backend.label, backend.is_preview)
    try:
        try:
            for clip in choice.backend.generate(plan, inputs, cancel, on_step=on_step):
                pixels = stamp_label(clip.frames) if ai_label else clip.frames
                writer.append(pixels)
                start = frames
                frames += len(pixels)
                clips += 1
                elapsed = time.perf_counter() - started
                first_clip = elapsed if first_clip is None else first_clip
                clip_path = None
                if clip_videos:
                    audio = inputs.audio_16k[int(round(start * samples_per_frame)) : int(round(frames * samples_per_frame))]
                    clip_path = str(out / f"clip-{clips:04d}.mp4")
                    clip_paths.append(Path(clip_path))
                    write_mp4(clip_path, [pixels], plan.width, plan.height, plan.fps, audio_16k=audio, metadata=metadata)
                yield JobUpdate(clips, plan.num_clips, clip_path, elapsed, _eta(elapsed, clips, plan.num_clips))
        except Exception as exc:  # keep what was finished; report the failure with the result
            if frames == 0:
                raise
            # A message meant for the user (e.g. the out-of-memory ladder) is shown as it is.
            error = failure_message(exc)
        if frames == 0:
            raise RuntimeError("Generation was stopped before the first clip finished; nothing to save.")
        audio = inputs.audio_16k[: int(round(frames * samples_per_frame))]
        writer.close(audio_16k=audio, sample_rate=AUDIO_RATE, metadata=metadata)
    except BaseException:  # failed, stopped before the first clip, or closed by the consumer
        writer.abort()
        raise
    finally:
        _remove_files(clip_paths)
        release_free_memory()  # the clips' frames were freed in this worker thread's arena
    yield GenerationResult(
        video_path=str(path),
        seed=seed,
        plan=plan,
        backend=choice.backend.name,
        clips_done=clips,
        frames_written=frames,
        cancelled=frames < plan.video_frames,
        seconds=time.perf_counter() - started,
        first_clip_seconds=first_clip,
        warnings=[f"{w.name}: {w.value}" for w in report.warnings],
        error=error,
    )


def failure_message(exc: BaseException) -> str:
    """A backend failure as the user sees it: a ``PipelineError`` (written for users, e.g. the
    out-of-memory ladder) as it is, anything else with its type. The pipeline module (torch) is
    not imported here for this: an exception of its type implies it is already loaded."""
    pipeline = sys.modules.get("liveavatar.pipeline.pipeline")
    if pipeline is not None and isinstance(exc, pipeline.PipelineError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _remove_files(paths: list[Path]) -> None:
    for p in paths:
        try:
            p.unlink(missing_ok=True)
        except OSError:  # pragma: no cover - e.g. a read-only folder; nothing better to do
            pass


def generate(
    insp: Inspection,
    settings: GenerationSettings,
    choice: BackendChoice,
    out_dir: str | Path,
    *,
    on_clip: Callable[[int, int, float], None] | None = None,
    cancel: threading.Event | None = None,
    file_name: str | None = None,
    ai_label: bool = True,
) -> GenerationResult:
    """The blocking form of :func:`generate_stream` (CLI, scripts): returns the result."""
    result: GenerationResult | None = None
    for item in generate_stream(insp, settings, choice, out_dir, cancel=cancel, clip_videos=False,
                                ai_label=ai_label, file_name=file_name):
        if isinstance(item, JobUpdate):
            if on_clip:
                on_clip(item.clips_done, item.clips_total, item.elapsed)
        else:
            result = item
    assert result is not None
    return result
