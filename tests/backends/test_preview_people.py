"""The CPU preview with two to four people: each mouth follows its own person's track, never the mix."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from liveavatar.backends.base import PersonInputs, PreparedInputs
from liveavatar.backends.preview import PreviewBackend, label_box, loudness_envelope
from liveavatar.plan import make_plan
from liveavatar.presets import QUICK

SR = 16000
W, H = 384, 256  # the quick preset's size
MEDIA = "examples/media"


def plan_for(seconds: float):
    plan = make_plan(QUICK.settings, image_size=(W, H), audio_seconds=seconds)
    assert (plan.width, plan.height) == (W, H)
    return plan


def fit(audio: np.ndarray, plan) -> np.ndarray:
    """Exactly the planned video's length, as the app prepares every track."""
    from liveavatar.prepare import fit_audio

    return fit_audio(np.asarray(audio, np.float32), plan)


@pytest.fixture(scope="module")
def astronauts():
    """The two-astronaut portrait fitted to the quick size, with each face's boxes, left to right."""
    from liveavatar.faces import detect_faces
    from liveavatar.prepare import fit_reference, map_box

    rgb = np.asarray(Image.open(f"{MEDIA}/two_faces.png").convert("RGB"))
    h, w = rgb.shape[:2]
    faces = sorted(detect_faces(rgb), key=lambda f: f.centre[0])
    assert len(faces) == 2
    boxes = [(map_box(f.box, w, h, W, H), map_box(f.mouth_box, w, h, W, H)) for f in faces]
    assert all(face is not None and mouth is not None for face, mouth in boxes)
    return fit_reference(rgb, W, H), boxes


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    from liveavatar.media.audio import load_audio, to_mono_16k

    return to_mono_16k(load_audio(f"{MEDIA}/speech.wav"))


def half_masks(n: int) -> list[np.ndarray]:
    """Simple masks: the image cut into ``n`` vertical strips, left to right."""
    masks = []
    for i in range(n):
        m = np.zeros((H, W), np.float32)
        m[:, i * W // n : (i + 1) * W // n] = 1.0
        masks.append(m)
    return masks


def people_inputs(reference, boxes, tracks, plan, seed: int = 5) -> PreparedInputs:
    tracks = [fit(t, plan) for t in tracks]
    mix = np.clip(sum(tracks), -1.0, 1.0).astype(np.float32)
    people = [
        PersonInputs(audio_16k=track, mask=mask, face_box=face, mouth_box=mouth)
        for track, mask, (face, mouth) in zip(tracks, half_masks(len(tracks)), boxes)
    ]
    return PreparedInputs(prompt="two people talking", reference=reference, audio_16k=mix, seed=seed, people=people)


def render(plan, inputs) -> np.ndarray:
    return np.concatenate([c.frames for c in PreviewBackend().generate(plan, inputs)])


def mouth_motion(frames: np.ndarray, reference: np.ndarray, mouth_box) -> np.ndarray:
    """Per frame: mean absolute change around the mouth (lips and the jaw below them)."""
    x0, y0, x1, y1 = mouth_box
    below = int(0.6 * (x1 - x0))
    region = (slice(max(0, y0 - 3), min(H, y1 + below)), slice(x0, x1))
    diff = np.abs(frames[:, region[0], region[1]].astype(np.float32) - reference[region].astype(np.float32))
    return diff.mean(axis=(1, 2, 3))


def test_only_the_speaking_persons_mouth_moves_and_swapping_tracks_swaps_them(astronauts, speech):
    reference, boxes = astronauts
    plan = plan_for(2.0)
    silence = np.zeros(len(speech), np.float32)
    (_, mouth1), (_, mouth2) = boxes

    first = render(plan, people_inputs(reference, boxes, [speech, silence], plan))
    moves1, moves2 = mouth_motion(first, reference, mouth1), mouth_motion(first, reference, mouth2)
    assert moves1.mean() > 3.0 and moves1.max() > 8.0  # person 1 speaks
    assert moves2.max() < 0.5  # person 2 is silent: their mouth stays as in the portrait

    swapped = render(plan, people_inputs(reference, boxes, [silence, speech], plan))
    moves1, moves2 = mouth_motion(swapped, reference, mouth1), mouth_motion(swapped, reference, mouth2)
    assert moves2.mean() > 3.0 and moves2.max() > 8.0  # now person 2 speaks
    assert moves1.max() < 0.5
    # Both runs have the same mix (speech + silence): only the people's own tracks tell them apart.
    assert not np.array_equal(first, swapped)


def alternating(seconds: float, period: float, phase: int, seed: int) -> np.ndarray:
    """Syllable-like noise bursts during every other ``period`` (``phase`` 0: the first one)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    turn = (np.floor(t / period).astype(int) % 2) == phase
    syllables = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5
    return (0.25 * turn * syllables * rng.standard_normal(n)).astype(np.float32)


def test_each_mouth_follows_its_own_tracks_loudness_not_the_mix(astronauts):
    reference, boxes = astronauts
    seconds = 4.0
    plan = plan_for(seconds)
    n = plan.video_frames
    tracks = [alternating(seconds, 0.5, 0, seed=1), alternating(seconds, 0.5, 1, seed=2)]
    inputs = people_inputs(reference, boxes, tracks, plan)
    frames = render(plan, inputs)
    envelopes = [loudness_envelope(p.audio_16k, plan.fps, n) for p in inputs.people]
    mix_envelope = loudness_envelope(inputs.audio_16k, plan.fps, n)
    motions = [mouth_motion(frames, reference, mouth) for _, mouth in boxes]

    def corr(a, b) -> float:
        return float(np.corrcoef(a, b)[0, 1])

    for me, other in ((0, 1), (1, 0)):
        assert corr(motions[me], envelopes[me]) > 0.8
        assert corr(motions[me], envelopes[other]) < -0.3
        # Open while this track is loud and the other quiet; shut in the reverse.
        mine = (envelopes[me] > 0.5) & (envelopes[other] < 0.05)
        theirs = (envelopes[other] > 0.5) & (envelopes[me] < 0.05)
        assert mine.sum() > 10 and theirs.sum() > 10
        assert motions[me][mine].mean() > 10 * max(motions[me][theirs].mean(), 0.1)
    # The mix is loud in every turn, so a mouth driven by it would follow it, not its own track.
    assert corr(motions[0], mix_envelope) < corr(motions[0], envelopes[0]) - 0.3
    assert corr(motions[0], motions[1]) < 0


def test_frames_are_as_planned_with_several_people(astronauts, speech):
    reference, boxes = astronauts
    plan = plan_for(3.3)
    assert plan.num_clips == 3 and plan.last_clip_frames == 10  # 82 frames = 36 + 36 + 10
    clips = list(PreviewBackend().generate(plan, people_inputs(reference, boxes, [speech, speech[::-1]], plan)))
    assert [c.index for c in clips] == [0, 1, 2]
    assert [c.frames.shape for c in clips] == [(36, H, W, 3), (36, H, W, 3), (10, H, W, 3)]
    assert all(c.frames.dtype == np.uint8 for c in clips)
    assert sum(len(c.frames) for c in clips) == plan.video_frames


def test_same_seed_same_frames(astronauts, speech):
    reference, boxes = astronauts
    plan = plan_for(1.0)
    tracks = [speech, np.roll(speech, SR)]
    a = render(plan, people_inputs(reference, boxes, tracks, plan, seed=3))
    b = render(plan, people_inputs(reference, boxes, tracks, plan, seed=3))
    assert np.array_equal(a, b)


def test_silent_people_blink_on_their_own_and_the_frame_does_not_sway(astronauts):
    reference, boxes = astronauts
    plan = plan_for(8.0)
    silence = np.zeros(8 * SR, np.float32)
    frames = render(plan, people_inputs(reference, boxes, [silence, silence], plan))
    blinking = []
    for face, _ in boxes:
        x0, y0, x1, y1 = face
        upper = (slice(y0, (y0 + y1) // 2), slice(x0, x1))  # eyes, not the mouth
        change = np.abs(frames[:, upper[0], upper[1]].astype(np.int16) - reference[upper]).max(axis=(1, 2, 3))
        blinking.append(set(np.flatnonzero(change > 20).tolist()))
    assert blinking[0] and blinking[1]  # each blinks at least once in 8 s ...
    assert blinking[0] != blinking[1]  # ... on their own schedule
    # No whole-frame sway or nod: away from the eyes and the label, every frame is the portrait.
    lx0, ly0, lx1, ly1 = label_box(W, H)
    keep = np.ones((H, W), bool)
    keep[ly0:ly1, lx0:lx1] = False
    for face, _ in boxes:
        x0, y0, x1, y1 = face
        keep[max(0, y0 - 10) : (y0 + y1) // 2, x0:x1] = False
    assert (frames[:, keep] == reference[keep]).all()


def textured_reference() -> np.ndarray:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    base = 128 + 40 * np.sin(x / 7.0) * np.cos(y / 5.0)
    img = np.stack([base, base * 0.8 + 20, base * 0.6 + 40], axis=-1) + rng.normal(0, 6, (H, W, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("count", [3, 4])
def test_three_or_four_people_only_the_speaker_moves(count):
    """Faces side by side on a textured stand-in; each in turn is the only one given speech."""
    reference = textured_reference()
    step = W // count
    boxes = [
        ((i * step + 8, 80, (i + 1) * step - 8, 80 + step - 16),
         (i * step + step // 2 - 15, 80 + int(0.7 * (step - 16)), i * step + step // 2 + 15, 80 + int(0.78 * (step - 16))))
        for i in range(count)
    ]
    plan = plan_for(1.0)
    talk = alternating(1.0, 10.0, 0, seed=4)  # bursts throughout
    for speaker in range(count):
        tracks = [talk if i == speaker else np.zeros_like(talk) for i in range(count)]
        frames = render(plan, people_inputs(reference, boxes, tracks, plan))
        motion = [mouth_motion(frames, reference, mouth).mean() for _, mouth in boxes]
        assert motion[speaker] > 3.0
        assert all(m < 0.3 for i, m in enumerate(motion) if i != speaker)


def test_overlapping_regions_do_not_erase_each_others_mouth():
    """Two mouths close enough that one's warp region covers part of the other's: both still move."""
    reference = textured_reference()
    plan = plan_for(1.0)
    talk = alternating(1.0, 10.0, 0, seed=4)
    mouths = [(150, 150, 190, 160), (186, 150, 226, 160)]  # 4 px of overlap, regions overlap more
    boxes = [(None, mouth) for mouth in mouths]
    together = render(plan, people_inputs(reference, boxes, [talk, talk], plan))
    alone = render(plan, people_inputs(reference, boxes, [talk, np.zeros_like(talk)], plan))
    # Person 1's lip centre moves the same whether or not person 2 (drawn after) is speaking too.
    centre = (slice(148, 175), slice(160, 182))  # person 2 can move nothing left of x = 182
    assert np.abs(together[:, centre[0], centre[1]].astype(int) - reference[centre]).mean() > 3.0
    assert np.array_equal(together[:, centre[0], centre[1]], alone[:, centre[0], centre[1]])


def test_a_person_without_boxes_is_not_drawn_over_someone_else():
    """A face outside the fitted frame has no boxes: its track moves nothing (no guessed centre face)."""
    reference = textured_reference()
    plan = plan_for(1.0)
    talk = alternating(1.0, 10.0, 0, seed=4)
    boxes = [((20, 80, 120, 180), (55, 150, 85, 158)), (None, None)]
    frames = render(plan, people_inputs(reference, boxes, [np.zeros_like(talk), talk], plan))
    lx0, ly0, lx1, ly1 = label_box(W, H)
    keep = np.ones((H, W), bool)
    keep[ly0:ly1, lx0:lx1] = False
    keep[70:130, 20:120] = False  # person 1's eyes may blink
    assert (frames[:, keep] == reference[keep]).all()


def test_live_mode_takes_one_speaker(astronauts):
    reference, boxes = astronauts
    plan = plan_for(2.0)
    empty = np.zeros(0, np.float32)
    inputs = people_inputs(reference, boxes, [empty, empty], plan)
    with pytest.raises(ValueError, match="Live mode takes one speaker"):
        PreviewBackend().start_live(plan, inputs)
