"""Faults in generation, without the Gradio server: out of memory, a backend crash mid-job, and the
temporary files a job leaves (none but the kept result), for done, failed and stopped jobs.

The faulty backends are test doubles defined here; the production code has no fault switches.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch

from liveavatar.backends import BackendChoice, PreviewBackend
from liveavatar.backends.base import Clip
from liveavatar.backends.liveavatar import LiveAvatarBackend
from liveavatar.examples import load_examples
from liveavatar.media.video import probe_video
from liveavatar.pipeline.pipeline import OOM_LADDER, PipelineError
from liveavatar.presets import resolve_settings
from liveavatar.studio import GenerationResult, InputCache, JobUpdate, array_bytes, generate_stream
from liveavatar.ui.handlers import ServiceOptions, Studio

ROOT = Path(__file__).resolve().parents[1]
GOOD = next(e for e in load_examples(ROOT / "examples") if e.expect == "ok")
SETTINGS = {"size": "384*256", "num_clip": 4, "sample_steps": 3, "infer_frames": 12, "seed": 7}


class CrashingBackend:
    """The preview, but it raises ``error`` after ``after`` clips (0: before the first one)."""

    name = "crashing"
    label = "test double: crashes mid-job"
    is_preview = True

    def __init__(self, after: int, error: BaseException):
        self.after, self.error = after, error
        self.preview = PreviewBackend()

    def generate(self, plan, inputs, cancel=None, on_step=None):
        for i, clip in enumerate(self.preview.generate(plan, inputs, cancel, on_step)):
            if i == self.after:
                raise self.error
            yield clip
        if self.after >= plan.num_clips:
            return
        raise self.error


class WaitForStopBackend:
    """Makes nothing until stopped (a slow first clip), then ends as a backend must: without error."""

    name = "waits"
    label = "test double: waits for stop"
    is_preview = True

    def generate(self, plan, inputs, cancel=None, on_step=None):
        assert cancel is not None and cancel.wait(timeout=30), "never stopped"
        return
        yield


@dataclass
class _Out:
    index: int
    frames: np.ndarray
    timings: dict


class _OomPipeline:
    """Stands in for LiveAvatarPipeline: ``clips_before_oom`` clips, then CUDA runs out of memory."""

    def __init__(self, clips_before_oom: int):
        self.clips_before_oom = clips_before_oom

    def generate(self, prompt, reference, audio, *, frames_per_clip, num_clips, **_):
        h, w = reference.shape[:2]
        for i in range(self.clips_before_oom):
            yield _Out(i, np.full((frames_per_clip, h, w, 3), 40 * (i + 1), np.uint8), {})
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")


class OomModelBackend(LiveAvatarBackend):
    """The real adapter (its OOM mapping is what is tested); only the pipeline it loads is replaced."""

    def __init__(self, clips_before_oom: int):
        super().__init__(layout=None, device="cpu")  # type: ignore[arg-type]
        self.fake = _OomPipeline(clips_before_oom)

    def pipeline(self, offload_model: bool = False, speed: object = None):
        return self.fake


def _inspection():
    return InputCache().inspect(GOOD.prompt, GOOD.image, GOOD.audio)


def _run(backend, out_dir, **kw):
    items = list(generate_stream(_inspection(), resolve_settings("custom", json.dumps(SETTINGS)),
                                 BackendChoice(backend, "test"), out_dir, **kw))
    updates = [i for i in items if isinstance(i, JobUpdate)]
    results = [i for i in items if isinstance(i, GenerationResult)]
    assert len(results) == 1 and items[-1] is results[0]
    return updates, results[0]


# --- out of memory ------------------------------------------------------------------------------
def test_oom_is_mapped_to_the_guides_ladder_by_the_model_adapter(tmp_path):
    with pytest.raises(PipelineError) as info:
        _run(OomModelBackend(clips_before_oom=0), tmp_path)
    message = str(info.value)
    assert message == OOM_LADDER
    # The guide's order: smaller size, then 36 frames, then online decode, then CPU offload.
    steps = [message.index(s) for s in ("smaller size", "36 frames", "online decode", "CPU offload")]
    assert steps == sorted(steps)
    assert not list(tmp_path.rglob("*")), "a job that made nothing leaves nothing behind"


def test_oom_after_one_clip_keeps_it_and_reports_the_ladder(tmp_path):
    updates, result = _run(OomModelBackend(clips_before_oom=1), tmp_path)
    assert len(updates) == 1 and result.clips_done == 1 and result.frames_written == 12
    assert result.error == OOM_LADDER  # shown as written for users, not as "PipelineError: ..."
    assert probe_video(result.video_path).frame_count == 12


def test_the_app_stays_usable_after_an_oom(tmp_path):
    """Through the app's handler: the OOM is a clear error; the next generation (the preview) works."""
    studio = Studio(BackendChoice(OomModelBackend(clips_before_oom=0), "test"), ServiceOptions(output_dir=tmp_path))
    with pytest.raises(gr.Error) as info:
        list(_generate(studio))
    assert OOM_LADDER in str(info.value.message)
    studio.choice = BackendChoice(PreviewBackend(), "the preview")
    items = list(_generate(studio))
    video, final = items[-1]
    assert final["status"] == "done" and final["backend"] == "preview"
    assert probe_video(video).frame_count == final["plan"]["video_frames"]


# --- a backend crash mid-job ----------------------------------------------------------------------
def test_a_crash_after_two_clips_keeps_them_with_their_audio(tmp_path):
    updates, result = _run(CrashingBackend(after=2, error=RuntimeError("worker died")), tmp_path)
    assert [u.clips_done for u in updates] == [1, 2]
    assert result.clips_done == 2 and result.frames_written == 24 and result.error == "RuntimeError: worker died"
    assert result.cancelled  # fewer frames than planned
    v = probe_video(result.video_path)
    assert v.frame_count == 24 and v.has_audio
    assert abs(v.audio_duration_s - v.duration_s) < 0.07  # AAC frames at 16 kHz are 64 ms
    # The per-clip files were only for streaming: the kept video is all that is left.
    assert sorted(p.name for p in tmp_path.iterdir()) == [Path(result.video_path).name]


def test_the_app_says_the_job_failed_after_partial_output(tmp_path):
    studio = Studio(BackendChoice(CrashingBackend(2, RuntimeError("worker died")), "test"),
                    ServiceOptions(output_dir=tmp_path))
    video, info = list(_generate(studio))[-1]
    assert info["status"] == "failed after partial output" and info["clips_done"] == 2
    assert "worker died" in info["error"]
    assert probe_video(video).frame_count == 24


# --- temporary files ------------------------------------------------------------------------------
class _Request:
    def __init__(self, session: str):
        self.session_hash = session
        self.headers: dict = {}


def _generate(studio: Studio, request=None, settings=SETTINGS):
    return studio.generate_api(GOOD.prompt, GOOD.image, GOOD.audio, "custom", json.dumps(settings), "",
                               request=request or _Request(os.urandom(8).hex()), progress=lambda *a, **k: None)


def _files(*roots: Path) -> set[Path]:
    return {p for root in roots for p in root.rglob("*") if not p.is_dir()}


def _dirs(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_dir()}


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """The app's output folder and a private system temp folder, so nothing else's files are counted."""
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(systmp))
    out = tmp_path / "out"
    studio = Studio(BackendChoice(PreviewBackend(), "test"), ServiceOptions(output_dir=out))
    return studio, out, systmp


def _job_files_kept(video: str) -> set[Path]:
    job = Path(video).parent
    names = sorted(p.name for p in job.iterdir())
    assert names == sorted(["entry.json", Path(video).name, "input-image" + Path(GOOD.image).suffix.lower(),
                            "input-audio" + Path(GOOD.audio).suffix.lower()]), names
    return set(job.iterdir())


def test_temporary_files_are_removed_after_done_failed_and_stopped_jobs(sandbox):
    studio, out, systmp = sandbox
    before, dirs_before = _files(out, systmp), _dirs(out)
    kept: set[Path] = set()

    # done
    video, info = list(_generate(studio))[-1]
    assert info["status"] == "done"
    kept |= _job_files_kept(video)

    # failed before the first clip: nothing is kept, not even an empty job folder
    studio.choice = BackendChoice(CrashingBackend(0, RuntimeError("boom")), "test")
    with pytest.raises(gr.Error, match="boom"):
        list(_generate(studio))

    # failed after two clips: the partial video is kept (it is the result)
    studio.choice = BackendChoice(CrashingBackend(2, RuntimeError("boom")), "test")
    video, info = list(_generate(studio))[-1]
    assert info["status"] == "failed after partial output"
    kept |= _job_files_kept(video)

    # stopped after the first clip: what was finished is kept
    studio.choice = BackendChoice(PreviewBackend(), "test")
    request = _Request("stopper")
    job = _generate(studio, request)
    first = next(job)
    assert first[1]["status"] == "running"
    assert Path(first[0]).exists()  # the streamed clip exists while the job runs...
    studio.stop(request)
    video, info = list(job)[-1]
    assert info["status"] == "stopped"
    kept |= _job_files_kept(video)
    assert not Path(first[0]).exists()  # ...and not after

    # stopped before the first clip: nothing is kept
    request = _Request("early")
    studio.choice = BackendChoice(WaitForStopBackend(), "test")
    job = _generate(studio, request)
    t = threading.Timer(0.3, studio.stop, args=(request,))
    t.start()
    with pytest.raises(gr.Error, match="stopped before the first clip"):
        list(job)
    t.join()
    studio.choice = BackendChoice(PreviewBackend(), "test")

    # the client went away mid-stream (Gradio closes the generator): nothing is kept
    job = _generate(studio)
    next(job)
    job.close()

    after = _files(out, systmp)
    leaked = sorted(str(p) for p in after - before - kept)
    assert not leaked, f"temporary files left behind: {leaked}"
    assert not [p for p in after if ".part" in p.name or p.name.startswith("clip-")]
    # Folders: one per kept job (plus the visitor folder and the store's root); no empty job folders.
    job_dirs = {p for p in _dirs(out) - dirs_before if p.parent.parent == out / "jobs"}
    assert job_dirs == {p.parent for p in kept}
    assert len(kept) == 3 * 4


# --- the input cache's bounds -------------------------------------------------------------------
def _portraits(folder: Path, sides: list[int]) -> list[str]:
    """PNG files of the good example's portrait resized to each side (RGB: side² × 3 bytes decoded)."""
    from PIL import Image

    source = Image.open(GOOD.image).convert("RGB")
    paths = []
    for i, side in enumerate(sides):
        path = folder / f"portrait-{i}-{side}.png"
        source.resize((side, side)).save(path)
        paths.append(str(path))
    return paths


def test_the_input_cache_is_bounded_by_bytes_least_recently_used_out_first(tmp_path):
    a, b, c, big = _portraits(tmp_path, [128, 128, 128, 400])
    probe = InputCache()
    probe.inspect("", a, None)
    one = probe.nbytes  # one small entry: its pixels and its face's landmarks
    assert one >= 128 * 128 * 3
    cache = InputCache(size=16, max_bytes=2 * one + one // 2)
    first = {p: cache.inspect("", p, None).image for p in (a, b)}
    assert len(cache) == 2 and cache.nbytes == 2 * one
    assert cache.inspect("", a, None).image is first[a]  # a hit (and now the most recently used)
    cache.inspect("", c, None)  # over the budget: b, the least recently used, goes
    assert len(cache) == 2 and cache.nbytes == 2 * one
    assert cache.inspect("", a, None).image is first[a]
    assert cache.inspect("", b, None).image is not first[b]  # decoded again
    # An image larger than the whole budget evicts every older one and is kept: it is the photo
    # being worked on. So is the latest audio beside it, even though the pair is over the budget:
    # the page re-checks both on every keystroke in the prompt.
    big_image = cache.inspect("", big, None).image
    assert big_image.rgb.nbytes == 400 * 400 * 3 > 2 * one + one // 2
    assert len(cache) == 1 and cache.nbytes >= big_image.rgb.nbytes
    insp = cache.inspect("", big, GOOD.audio)
    assert insp.image is big_image and insp.audio.samples.nbytes > 2 * one + one // 2
    assert len(cache) == 2
    again = cache.inspect("", big, GOOD.audio)
    assert again.image is big_image and again.audio is insp.audio  # both hits: no thrashing
    # A small image replaces the big one as the latest image: the big one goes, the audio stays.
    assert cache.inspect("", a, None).image is not first[a]
    assert len(cache) == 2 and cache.nbytes == one + insp.audio.samples.nbytes
    assert cache.inspect("", None, GOOD.audio).audio is insp.audio


def test_the_input_cache_keeps_its_count_bound_and_size_zero_keeps_nothing(tmp_path):
    paths = _portraits(tmp_path, [64, 64, 64])
    cache = InputCache(size=2)
    for p in paths:
        cache.inspect("", p, None)
    assert len(cache) == 2
    none = InputCache(size=0)
    image = none.inspect("", paths[0], None).image
    assert len(none) == 0 and none.nbytes == 0 and none.inspect("", paths[0], None).image is not image


def test_array_bytes_counts_the_arrays_inside_decode_results():
    insp = _inspection()
    assert array_bytes(insp.image) == insp.image.rgb.nbytes
    assert array_bytes(insp.audio) == insp.audio.samples.nbytes
    assert array_bytes((insp.image, insp.faces, None)) == insp.image.rgb.nbytes + sum(
        f.landmarks.nbytes for f in insp.faces if f.landmarks is not None)
    assert array_bytes({"x": np.zeros(10, np.float32), "y": "text"}) == 40
    assert array_bytes(None) == 0 and array_bytes(PreviewBackend) == 0
