"""The CPU preview backend: renders the plan exactly, moves the mouth with the audio, says what it is."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from liveavatar.backends.base import Backend, Clip, PreparedInputs
from liveavatar.backends.preview import LABEL, PreviewBackend, label_box, loudness_envelope
from liveavatar.media.video import probe_video, write_mp4
from liveavatar.plan import make_plan
from liveavatar.presets import QUICK

SR = 16000
W, H = 384, 256
MOUTH = (162, 150, 222, 170)
FACE = (132, 60, 252, 190)


def reference_image() -> np.ndarray:
    """A textured stand-in face (so a warp shows), mid-grey in the label's corner."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    base = 128 + 40 * np.sin(x / 7.0) * np.cos(y / 5.0)
    img = np.stack([base, base * 0.8 + 20, base * 0.6 + 40], axis=-1)
    img += rng.normal(0, 6, img.shape)
    img[:40, :] = 128
    return np.clip(img, 0, 255).astype(np.uint8)


def speech_like(seconds: float, seed: int = 1) -> np.ndarray:
    """Noise bursts at syllable rate (~4 Hz) around -16 dBFS: loud, with gaps, like speech."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5
    return (0.25 * envelope * rng.standard_normal(n)).astype(np.float32)


def plan_for(seconds: float):
    return make_plan(QUICK.settings, image_size=(W, H), audio_seconds=seconds)


def inputs_for(plan, audio: np.ndarray, seed: int = 7, **boxes) -> PreparedInputs:
    n = plan.video_frames * SR // plan.fps
    audio = np.pad(audio, (0, max(0, n - len(audio))))[:n]
    boxes.setdefault("mouth_box", MOUTH)
    boxes.setdefault("face_box", FACE)
    return PreparedInputs(prompt="p", reference=reference_image(), audio_16k=audio, seed=seed, **boxes)


def render(plan, inputs, cancel=None) -> list:
    return list(PreviewBackend().generate(plan, inputs, cancel))


def test_it_is_a_backend_and_says_it_is_a_preview():
    backend: Backend = PreviewBackend()
    assert backend.name == "preview" and backend.is_preview
    assert "not the model" in backend.label
    assert "PREVIEW" in LABEL and "not the Live Avatar model" in LABEL


def test_clips_follow_the_plan_including_the_trimmed_last_clip():
    plan = plan_for(3.3)
    assert (plan.width, plan.height) == (W, H)
    assert plan.num_clips == 3 and plan.last_clip_frames == 10  # 82 frames = 36 + 36 + 10
    clips = render(plan, inputs_for(plan, speech_like(3.3)))
    assert [c.index for c in clips] == [0, 1, 2]
    assert [c.frames.shape for c in clips] == [(36, H, W, 3), (36, H, W, 3), (10, H, W, 3)]
    assert all(c.frames.dtype == np.uint8 for c in clips)
    assert sum(len(c.frames) for c in clips) == plan.video_frames
    assert all(c.timings["render_s"] >= 0 for c in clips)


def mouth_change(clips, reference: np.ndarray) -> float:
    x0, y0, x1, y1 = MOUTH
    frames = np.concatenate([c.frames for c in clips])[:, y0 - 5 : y1 + 15, x0:x1].astype(np.float32)
    return float(np.abs(frames - reference[y0 - 5 : y1 + 15, x0:x1]).mean())


def test_mouth_moves_with_loud_audio_and_not_with_silence():
    plan = plan_for(2.0)
    loud = render(plan, inputs_for(plan, speech_like(2.0)))
    quiet = render(plan, inputs_for(plan, np.zeros(2 * SR, np.float32)))
    ref = reference_image()
    assert mouth_change(loud, ref) > 3 * mouth_change(quiet, ref)
    assert mouth_change(loud, ref) > 8.0


def test_without_boxes_it_still_animates_the_lower_centre():
    plan = plan_for(1.0)
    clips = render(plan, inputs_for(plan, speech_like(1.0), face_box=None, mouth_box=None))
    assert sum(len(c.frames) for c in clips) == plan.video_frames


def test_same_seed_same_frames_other_seed_other_sway():
    plan = plan_for(1.5)
    audio = speech_like(1.5)
    a = np.concatenate([c.frames for c in render(plan, inputs_for(plan, audio, seed=3))])
    b = np.concatenate([c.frames for c in render(plan, inputs_for(plan, audio, seed=3))])
    c = np.concatenate([c.frames for c in render(plan, inputs_for(plan, audio, seed=4))])
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_cancel_between_clips_stops_early():
    plan = plan_for(3.3)
    cancel = threading.Event()
    got = []
    for clip in PreviewBackend().generate(plan, inputs_for(plan, speech_like(3.3)), cancel):
        got.append(clip)
        cancel.set()
    assert len(got) == 1


def test_cancel_mid_clip_drops_the_partial_clip():
    class CancelAfter(threading.Event):
        """Becomes set after a number of checks, i.e. in the middle of the first clip."""

        def __init__(self, checks: int) -> None:
            super().__init__()
            self.left = checks

        def is_set(self) -> bool:
            self.left -= 1
            return self.left < 0

    plan = plan_for(3.3)
    assert render(plan, inputs_for(plan, speech_like(3.3)), CancelAfter(10)) == []
    already = threading.Event()
    already.set()
    assert render(plan, inputs_for(plan, speech_like(3.3)), already) == []


def test_label_is_burned_into_every_frame():
    plan = plan_for(1.0)
    clips = render(plan, inputs_for(plan, np.zeros(SR, np.float32)))
    x0, y0, x1, y1 = label_box(W, H)
    assert 0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H // 4
    assert x1 - x0 > W // 3  # readable, but not the whole frame
    for frame in np.concatenate([c.frames for c in clips]):
        region = frame[y0:y1, x0:x1].astype(int)
        assert (region.min(axis=-1) > 200).mean() > 0.03   # white text
        assert (region.max(axis=-1) < 90).mean() > 0.3     # on a dark box (the corner is mid-grey)


def test_wrong_reference_size_is_refused():
    plan = plan_for(1.0)
    inputs = inputs_for(plan, speech_like(1.0))
    inputs.reference = inputs.reference[:, :-64]
    with pytest.raises(ValueError, match="plan"):
        render(plan, inputs)


def test_envelope_follows_the_audio_frame_by_frame():
    audio = np.zeros(SR, np.float32)
    audio[10 * 640 : 11 * 640] = 0.3  # frame 10 at 25 fps
    env = loudness_envelope(audio, 25, 25)
    assert env.shape == (25,)
    assert int(np.argmax(env)) == 10
    assert env[0] == 0 and env[-1] == 0
    assert not loudness_envelope(np.zeros(SR, np.float32), 25, 25).any()


def test_preview_clips_write_a_playable_video(tmp_path):
    plan = plan_for(2.2)
    inputs = inputs_for(plan, speech_like(2.2))
    clips = render(plan, inputs)
    path = write_mp4(tmp_path / "preview.mp4", clips, plan.width, plan.height, plan.fps, inputs.audio_16k)
    info = probe_video(path)
    assert (info.width, info.height, info.frame_count) == (W, H, plan.video_frames)
    assert info.audio_duration_s == pytest.approx(plan.video_seconds, abs=1 / plan.fps)


@pytest.mark.parametrize(
    "face_box, mouth_box",
    [
        ((100, -200, 220, -80), None),
        (None, (-50, 300, 10, 320)),
        ((370, 240, 500, 400), (380, 250, 420, 260)),
        ((5, 5, 7, 7), None),
    ],
    ids=["face-above-frame", "mouth-off-frame", "boxes-past-corner", "tiny-face"],
)
def test_boxes_outside_or_tiny_do_not_break_rendering(face_box, mouth_box):
    plan = plan_for(0.5)
    clips = render(plan, inputs_for(plan, speech_like(0.5), face_box=face_box, mouth_box=mouth_box))
    assert sum(len(c.frames) for c in clips) == plan.video_frames


# --- live mode ---------------------------------------------------------------------------------

BLOCK = 12 * 640  # samples in one 12-frame block at 25 fps (0.48 s)


def live_session(plan, seed: int = 7):
    inputs = inputs_for(plan, np.zeros(0, np.float32), seed=seed)
    return PreviewBackend().start_live(plan, inputs)


def test_a_block_comes_out_only_once_its_audio_and_lookahead_are_in():
    plan = plan_for(3.0)
    session = live_session(plan)
    assert session.block_frames == 12 and session.lookahead_samples == 3 * 640
    audio = speech_like(3.0)
    assert session.next_block() is None  # nothing heard yet
    session.push_audio(audio[: BLOCK + session.lookahead_samples - 1])  # one sample short
    assert session.next_block() is None
    session.push_audio(audio[BLOCK + session.lookahead_samples - 1 : BLOCK + session.lookahead_samples])
    block = session.next_block()
    assert block is not None and block.index == 0 and block.frames.shape == (12, H, W, 3)
    assert block.audio_end == BLOCK and np.array_equal(block.audio_16k, audio[:BLOCK])
    assert session.next_block() is None and not session.finished
    session.close()


def test_live_blocks_pushed_in_048_s_chunks_equal_generate_bit_for_bit():
    seconds = 3.3  # 82 frames: six whole blocks and a partial one of 10 frames
    plan = plan_for(seconds)
    audio = inputs_for(plan, speech_like(seconds)).audio_16k
    offline = np.concatenate([c.frames for c in render(plan, inputs_for(plan, audio))])
    session = live_session(plan)
    blocks = []
    for i in range(0, len(audio), BLOCK):
        session.push_audio(audio[i : i + BLOCK])
        while (block := session.next_block()) is not None:
            blocks.append(block)
    assert len(blocks) == 6  # the 7th block waits for its lookahead, which never comes ...
    session.end_audio()
    while (block := session.next_block()) is not None:  # ... until the end drains it
        blocks.append(block)
    assert session.finished
    assert [b.index for b in blocks] == list(range(7))
    assert [len(b.frames) for b in blocks] == [12] * 6 + [10]
    assert blocks[-1].audio_end == len(audio)
    live = np.concatenate([b.frames for b in blocks])
    assert live.shape == offline.shape
    assert np.array_equal(live, offline)  # bit-identical: each block only looks at audio it has
    assert np.array_equal(np.concatenate([b.audio_16k for b in blocks]), audio)


def test_uneven_pieces_and_a_partial_last_frame_are_drained_padded_with_silence():
    session = live_session(plan_for(2.0))
    audio = speech_like(1.0)[:15_000]  # 23.4 frames of audio
    for piece in np.array_split(audio, 7):
        session.push_audio(piece)
    got = []
    while (block := session.next_block()) is not None:
        got.append(block)
    assert [len(b.frames) for b in got] == [12]  # frames 12..23 wait for frames 24..26
    session.end_audio()
    while (block := session.next_block()) is not None:
        got.append(block)
    assert [len(b.frames) for b in got] == [12, 12]  # 24 frames cover 15,000 samples
    assert len(got[-1].audio_16k) == 12 * 640 and got[-1].audio_end == 15_000
    assert not got[-1].audio_16k[15_000 - BLOCK :].any()  # the part past the speech is silence
    assert session.finished and session.next_block() is None


def test_live_mouth_moves_with_speech_and_close_stops_it():
    session = live_session(plan_for(2.0))
    session.push_audio(speech_like(2.0))
    frames = np.concatenate([b.frames for b in iter(session.next_block, None)])
    quiet = live_session(plan_for(2.0))
    quiet.push_audio(np.zeros(2 * SR, np.float32))
    silent = np.concatenate([b.frames for b in iter(quiet.next_block, None)])
    ref = reference_image()
    assert mouth_change([Clip(0, frames)], ref) > 3 * mouth_change([Clip(0, silent)], ref)
    session.close()
    session.push_audio(speech_like(1.0))
    assert session.next_block() is None
