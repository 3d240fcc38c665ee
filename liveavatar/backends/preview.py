"""A CPU stand-in for the model, so the whole app (plan, streaming, cancel, muxing) works without a GPU.

It animates the reference portrait instead of generating video: the jaw opens with the speech's
loudness, the head sways a little and the eyes blink now and then. It is honest about what it is:
every frame carries a "PREVIEW — not the Live Avatar model" label, and ``is_preview`` is True.
With several people in the portrait (``PreparedInputs.people``) each one's mouth follows their own
track and their eyes blink on their own schedule; the head sway is then left out (see ``_Renderer``).

Everything expensive is decided once per run (geometry, sway, blink schedule, label), so each
frame costs one small remap around the mouth and eyes plus one whole-frame affine warp. The loudness
envelope is made block by block from the audio heard so far (with 3 frames of lookahead for its
smoothing), so live mode (:class:`PreviewLiveSession`) and ``generate`` share one renderer and make
the same frames from the same speech.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from liveavatar.backends.base import Clip, LiveBlock, PreparedInputs

if TYPE_CHECKING:
    from liveavatar.plan import GenerationPlan

AUDIO_RATE = 16_000
LABEL = "PREVIEW — not the Live Avatar model"

Box = tuple[int, int, int, int]

# Face proportions measured with MediaPipe on the astronaut portrait, relative to MediaPipe's face
# detection box (which runs from mid-forehead to the chin): they place the mouth and eyes when only
# a face box is known.
MOUTH_X, MOUTH_Y, MOUTH_W = 0.50, 0.75, 0.42
EYE_Y, EYE_DX, EYE_W, EYE_H = 0.33, 0.21, 0.19, 0.065

# Motion sizes, relative to the mouth width (mouth) or to a 384-pixel-high frame (sway).
JAW_DROP = 0.18        # lower lip / jaw travel at full loudness
LIP_RAISE = 0.05       # upper lip travel at full loudness
CHIN_BELOW_LIP = 0.70  # lip line to chin
SWAY_DEGREES = 0.45
SWAY_PIXELS = 1.3
NOD_PIXELS = 1.2       # the head dips slightly on loud syllables


@dataclass(frozen=True)
class _Face:
    """Where the mouth and eyes are, in reference pixels (floats: sizes are estimates)."""

    mouth_cx: float
    lip_y: float
    mouth_w: float
    eyes: tuple[tuple[float, float, float, float], ...]  # (cx, cy, width, opening height)
    centre: tuple[float, float]


def _face_geometry(width: int, height: int, face_box: Box | None, mouth_box: Box | None) -> _Face:
    """Mouth/eye placement from whatever the checks found, falling back to a centred face.

    ``mouth_box`` is taken as the lips' bounding box (its vertical centre is where they part); it
    wins over the mouth position estimated from ``face_box``, which still places the eyes.
    """
    if face_box is None and mouth_box is not None:
        # Eyes and head centre from the mouth alone (frontal-face proportions of the same portrait).
        mx0, my0, mx1, my1 = mouth_box
        mw = float(max(mx1 - mx0, 2))
        cx, ly = (mx0 + mx1) / 2, (my0 + my1) / 2
        eyes = tuple((cx + side * 0.5 * mw, ly - 1.0 * mw, 0.43 * mw, 0.15 * mw) for side in (-1, 1))
        return _Face(mouth_cx=cx, lip_y=ly, mouth_w=mw, eyes=eyes, centre=(cx, ly - 0.6 * mw))
    if face_box is None:
        side = 0.45 * min(width, height)
        face_box = (
            round(width / 2 - side / 2), round(height * 0.42 - side / 2),
            round(width / 2 + side / 2), round(height * 0.42 + side / 2),
        )
    fx0, fy0, fx1, fy1 = face_box
    fw, fh = max(fx1 - fx0, 1), max(fy1 - fy0, 1)
    eyes = tuple((fx0 + (0.5 + side * EYE_DX) * fw, fy0 + EYE_Y * fh, EYE_W * fw, EYE_H * fh) for side in (-1, 1))
    if mouth_box is not None:
        mx0, my0, mx1, my1 = mouth_box
        cx, ly, mw = (mx0 + mx1) / 2, (my0 + my1) / 2, float(max(mx1 - mx0, 2))
    else:
        cx, ly, mw = fx0 + MOUTH_X * fw, fy0 + MOUTH_Y * fh, MOUTH_W * fw
    return _Face(mouth_cx=cx, lip_y=ly, mouth_w=mw, eyes=eyes, centre=(fx0 + 0.5 * fw, fy0 + 0.5 * fh))


#: Frames of audio after a frame that its mouth openness looks at (the smoothing's right half): the
#: live session's ``lookahead_samples`` is this many frames of audio.
LOOKAHEAD_FRAMES = 3
#: Frames per block, as in the model's streaming (12 frames = 0.48 s at 25 fps).
BLOCK_FRAMES = 12
#: The loudness reference looks this far back (frames; 30 s at 25 fps), so a long session adapts to
#: the speaker's level as it changes and the work per block stays bounded.
REFERENCE_WINDOW_FRAMES = 750
_SMOOTH = np.exp(-0.5 * (np.arange(-LOOKAHEAD_FRAMES, LOOKAHEAD_FRAMES + 1) / 1.0) ** 2)
_SMOOTH /= _SMOOTH.sum()
# The nod looks back only (a trailing half window), so it needs no lookahead; it lags the speech a
# little, which reads as natural.
_NOD = np.hanning(19)[9:]
_NOD /= _NOD.sum()


class _Envelope:
    """Mouth openness in [0, 1] per video frame, from the RMS of the audio under each frame, made
    block by block from the audio heard so far: the same numbers whether the audio came all at once
    (``generate``) or in pieces (live mode), because block ``b`` only ever looks at frames before
    ``12 (b + 1) + LOOKAHEAD_FRAMES``.

    Levels are judged against the speaker's own loud parts (the 95th percentile of the voiced frames
    heard so far, within the last 30 s), so quiet but clean speech still moves the mouth, while an
    absolute gate keeps silence and hiss closed.
    """

    def __init__(self, fps: float) -> None:
        self.fps = float(fps)
        self._samples = 0
        self._db = np.zeros(0, np.float64)       # per complete frame
        self._pending = np.zeros(0, np.float32)  # samples after the last complete frame
        self.total_frames: int | None = None     # known once the audio has ended
        self.openness = np.zeros(0, np.float32)  # per frame, grown block by block

    @property
    def samples(self) -> int:
        return self._samples

    def _edge(self, frame: int) -> int:
        return int(round(frame * AUDIO_RATE / self.fps))

    def push(self, samples: np.ndarray) -> None:
        if self.total_frames is not None:
            raise RuntimeError("Audio was pushed after the end of the audio.")
        audio = np.asarray(samples, dtype=np.float32).reshape(-1)
        self._samples += len(audio)
        self._pending = np.concatenate([self._pending, audio])
        self._measure(final=False)

    def end(self, total_frames: int | None = None) -> None:
        """No more audio: the frames are those the audio covers (or ``total_frames``), the last padded with silence."""
        if self.total_frames is None:
            covered = int(math.ceil(self._samples * self.fps / AUDIO_RATE - 1e-9))
            self.total_frames = covered if total_frames is None else int(total_frames)
            self._measure(final=True)

    def _measure(self, final: bool) -> None:
        """dB per frame for every frame whose audio is all in (at the end: the rest, padded with silence)."""
        done = len(self._db)
        first = self._edge(done)
        target = self.total_frames if final else done
        if not final:
            while self._edge(target + 1) <= self._samples:
                target += 1
        if target <= done:
            return
        edges = np.array([self._edge(i) for i in range(done, target + 1)], np.int64) - first
        audio = self._pending
        if len(audio) < edges[-1]:
            audio = np.concatenate([audio, np.zeros(edges[-1] - len(audio), np.float32)])
        # Each frame summed on its own (not as differences of one running sum), so a frame's level
        # does not depend on where the audio was cut into pieces.
        sq = audio[: edges[-1]].astype(np.float64) ** 2
        counts = np.diff(edges)
        sums = np.add.reduceat(sq, edges[:-1]) if len(sq) else np.zeros(len(counts))
        sums[counts == 0] = 0.0
        rms = np.sqrt(sums / np.maximum(counts, 1))
        self._db = np.concatenate([self._db, 20.0 * np.log10(rms + 1e-9)])
        self._pending = self._pending[edges[-1]:]

    def ready(self) -> int:
        """Frames whose openness can be made now: whole blocks with their lookahead heard, or all at the end."""
        if self.total_frames is not None:
            return self.total_frames
        heard = len(self._db) - LOOKAHEAD_FRAMES
        return max(0, heard // BLOCK_FRAMES * BLOCK_FRAMES)

    def fill(self, upto: int) -> np.ndarray:
        """Openness for frames ``[0, upto)`` (``upto`` ≤ :meth:`ready`), made block by block."""
        made = len(self.openness)
        pieces = [self.openness]
        while made < upto:
            stop = min(made + BLOCK_FRAMES, self.total_frames if self.total_frames is not None else made + BLOCK_FRAMES)
            pieces.append(self._block(made, stop))
            made = stop
        self.openness = np.concatenate(pieces) if len(pieces) > 1 else self.openness
        return self.openness

    def _block(self, start: int, stop: int) -> np.ndarray:
        k = LOOKAHEAD_FRAMES
        end = stop + k if self.total_frames is None else min(stop + k, self.total_frames)
        db = self._db[:end]
        recent = db[max(0, end - REFERENCE_WINDOW_FRAMES):]
        lo = max(0, start - k)
        voiced = db[lo:end] > -55.0
        loud = recent[recent > -55.0]
        if not len(loud):
            return np.zeros(stop - start, np.float32)
        ref = max(float(np.percentile(loud, 95)), -40.0)
        floor, top = ref - 28.0, ref - 3.0
        raw = np.clip((db[lo:end] - floor) / (top - floor), 0.0, 1.0)
        raw[~voiced] = 0.0
        # Edge-padded to the frames the kernel reaches: before frame 0, and after the last frame.
        padded = np.concatenate([np.full(lo - (start - k), raw[0]), raw, np.full(stop + k - end, raw[-1])])
        smooth = np.convolve(padded, _SMOOTH, mode="valid")
        return np.clip(smooth, 0.0, 1.0).astype(np.float32)

    def nod(self, frame: int) -> float:
        """Head dip at ``frame``: the openness of the frames up to it, trailing-weighted (no lookahead)."""
        lo = frame - len(_NOD) + 1
        past = self.openness[max(0, lo): frame + 1]
        if lo < 0:
            past = np.concatenate([np.full(-lo, self.openness[0], np.float32), past])
        return float(np.dot(_NOD[::-1], past))


def loudness_envelope(audio_16k: np.ndarray, fps: float, n_frames: int) -> np.ndarray:
    """Mouth openness in [0, 1] for ``n_frames`` video frames of ``audio_16k`` (see :class:`_Envelope`)."""
    env = _Envelope(fps)
    env.push(np.asarray(audio_16k, dtype=np.float32).reshape(-1)[: int(round(n_frames * AUDIO_RATE / fps))])
    env.end(n_frames)
    return env.fill(n_frames).copy()


class _Blinks:
    """Lid closure per frame: a ~0.2 s blink every 2.5–5 s at seeded times, scheduled as far as asked."""

    SHAPE = (0.35, 0.85, 1.0, 0.7, 0.3)

    def __init__(self, fps: float, rng: np.random.Generator) -> None:
        self.fps, self.rng = fps, rng
        self.starts: list[int] = []
        self._next_t = rng.uniform(0.8, 2.5)

    def closure(self, frame: int) -> float:
        while int(self._next_t * self.fps) <= frame:
            self.starts.append(int(self._next_t * self.fps))
            self._next_t += self.rng.uniform(2.5, 5.0)
        for start in reversed(self.starts[-2:]):
            if 0 <= frame - start < len(self.SHAPE):
                return self.SHAPE[frame - start]
        return 0.0


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


class _MouthWarp:
    """The jaw-drop remap for the region around the mouth, rebuilt per frame from precomputed grids."""

    def __init__(self, face: _Face, width: int, height: int) -> None:
        mw, cx, ly = face.mouth_w, face.mouth_cx, face.lip_y
        self.max_low, self.max_up = JAW_DROP * mw, LIP_RAISE * mw
        chin, fall = ly + CHIN_BELOW_LIP * mw, 0.6 * mw
        nose_keep, nose = ly - 0.15 * mw, ly - 0.55 * mw
        x0 = int(max(0, math.floor(cx - 0.6 * mw - 2)))
        x1 = int(min(width, math.ceil(cx + 0.6 * mw + 2)))
        y0 = int(max(0, math.floor(nose - 2)))
        y1 = int(min(height, math.ceil(chin + fall + 2)))
        self.valid = x1 - x0 >= 4 and y1 - y0 >= 4 and mw >= 4
        self.roi = (slice(y0, y1), slice(x0, x1))
        if not self.valid:  # mouth off-frame or too small to animate (e.g. a box from a bad crop)
            return
        xs = np.arange(x0, x1, dtype=np.float32)
        ys = np.arange(y0, y1, dtype=np.float32)
        # Opening profile across the mouth: full at the centre, nearly closed at the corners (0.5 mw)
        # and zero a little beyond, with a flat tangent there so the cheeks do not crease.
        u = (xs - cx) / (0.6 * mw)
        self.wx = (np.clip(1.0 - u * u, 0.0, 1.0) ** 1.5)[None, :]
        self.rel = (ys - ly)[:, None]
        self.taper_low = (1.0 - _smoothstep((ys - chin) / fall))[:, None]
        self.taper_up = _smoothstep((ys - nose) / (nose_keep - nose))[:, None]
        self.map_x = np.broadcast_to(xs[None, :], (len(ys), len(xs))).astype(np.float32) - x0
        self.base_y = np.broadcast_to(ys[:, None], (len(ys), len(xs))).astype(np.float32) - y0
        self.pos_rel = np.maximum(self.rel, 0.0)
        self.neg_rel = np.maximum(-self.rel, 0.0)
        self.cavity = np.array([62, 24, 28], np.float32)
        # The pixels this warp can ever change (elsewhere in the ROI it reproduces the reference
        # exactly): with several people, only these are written, so a neighbour's overlapping ROI
        # is not wiped back to the reference.
        self.support = (
            (self.wx > 0) & (((self.rel >= 0) & (self.taper_low > 0)) | ((self.rel <= 0) & (self.taper_up > 0)))
        )[..., None]

    def apply(self, reference: np.ndarray, out: np.ndarray, openness: float) -> None:
        if not self.valid or openness <= 1e-3:
            out[self.roi] = reference[self.roi]
            return
        out[self.roi] = self._warped(reference, openness)

    def paint(self, reference: np.ndarray, out: np.ndarray, openness: float) -> None:
        """Like :meth:`apply` on an ``out`` that already holds the reference: writes only the support."""
        if self.valid and openness > 1e-3:
            np.copyto(out[self.roi], self._warped(reference, openness), where=self.support)

    def _warped(self, reference: np.ndarray, openness: float) -> np.ndarray:
        gap_low = (openness * self.max_low) * self.wx
        gap_up = (openness * self.max_up) * self.wx
        d_low = np.minimum(self.pos_rel, gap_low) * self.taper_low
        d_up = np.minimum(self.neg_rel, gap_up) * self.taper_up
        map_y = (self.base_y - d_low + d_up).astype(np.float32)
        src = reference[self.roi]
        warped = cv2.remap(src, self.map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        # Paint the opening between the parted lips, feathered by ~1.5 px so it has no hard edge.
        inside = np.minimum(self.rel + gap_up, gap_low - self.rel)
        alpha = (np.clip(inside / 1.5, 0.0, 1.0) * min(1.0, openness * 3.0) * 0.85)[..., None]
        return (warped * (1.0 - alpha) + self.cavity * alpha + 0.5).astype(np.uint8)


class _EyeWarp:
    """Closes one eye by stretching the upper-lid skin down over it while squashing the eye shut.

    The vertical map is piecewise linear and monotonic, so nothing folds or tears: the lid band
    [top - lid, top] is stretched to reach ``top + c`` and the eye [top, bottom] is squeezed into
    what remains, ``c`` growing with closure and tapering to zero at the eye corners.
    """

    def __init__(self, eye: tuple[float, float, float, float], width: int, height: int) -> None:
        ex, ey, ew, eh = eye
        eh = max(eh, 1.0)
        self.top, self.bottom = ey - 0.5 * eh, ey + 0.5 * eh
        self.lid_top = self.top - 0.8 * eh
        self.max_c = 0.9 * eh  # never squeeze the eye band to zero height
        x0 = int(max(0, math.floor(ex - 0.6 * ew)))
        x1 = int(min(width, math.ceil(ex + 0.6 * ew)))
        y0 = int(max(0, math.floor(self.lid_top - 1)))
        y1 = int(min(height, math.ceil(self.bottom + 1)))
        self.valid = x1 - x0 >= 3 and y1 - y0 >= 3 and ew >= 3
        self.roi = (slice(y0, y1), slice(x0, x1))
        if not self.valid:
            return
        xs = np.arange(x0, x1, dtype=np.float32)
        self.ys = np.arange(y0, y1, dtype=np.float32)[:, None]
        self.y0 = y0
        self.bump = (np.cos(np.clip((xs - ex) / (0.55 * ew), -1, 1) * math.pi / 2) ** 2)[None, :]
        self.map_x = np.broadcast_to(xs[None, :], (y1 - y0, x1 - x0)).astype(np.float32) - x0
        # The pixels a blink can change (see _MouthWarp.support).
        self.support = ((self.bump > 0) & (self.ys >= self.lid_top) & (self.ys < self.bottom))[..., None]

    def apply(self, reference: np.ndarray, out: np.ndarray, closure: float) -> None:
        if self.valid and closure > 1e-3:
            out[self.roi] = self._warped(reference, closure)

    def paint(self, reference: np.ndarray, out: np.ndarray, closure: float) -> None:
        """Like :meth:`apply` on an ``out`` that already holds the reference: writes only the support."""
        if self.valid and closure > 1e-3:
            np.copyto(out[self.roi], self._warped(reference, closure), where=self.support)

    def _warped(self, reference: np.ndarray, closure: float) -> np.ndarray:
        ys, a, t, b = self.ys, self.lid_top, self.top, self.bottom
        c = (closure * self.max_c) * self.bump
        edge = t + c  # where the lash line has come down to, per column
        stretched = a + (ys - a) * (t - a) / (edge - a)
        squeezed = t + (ys - edge) * (b - t) / (b - edge)
        src = np.where(ys < a, ys, np.where(ys < edge, stretched, np.where(ys < b, squeezed, ys)))
        map_y = (src - self.y0).astype(np.float32)
        return cv2.remap(reference[self.roi], self.map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@functools.lru_cache(maxsize=8)
def _label_patch(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """The label as premultiplied RGB + alpha, sized to the frame; rendered once per run.

    Pillow's built-in font has no em dash, so the dash is drawn as a line: the label then looks the
    same on every machine without depending on system fonts.
    """
    from PIL import Image, ImageDraw, ImageFont

    size = max(9, round(height * 0.04))
    before, after = LABEL.split(" — ")
    while True:
        font = ImageFont.load_default(size=size)
        space = font.getlength(" ")
        dash = 0.9 * size
        text_w = font.getlength(before) + font.getlength(after) + 2 * space + dash
        if text_w <= 0.92 * width - 8 or size <= 7:
            break
        size -= 1
    pad = max(3, size // 3)
    ascent, descent = font.getmetrics()
    w = int(math.ceil(text_w)) + 2 * pad
    h = ascent + descent + 2 * pad
    alpha_img = Image.new("L", (w, h), 0)
    colour_img = Image.new("RGB", (w, h), (0, 0, 0))
    ImageDraw.Draw(alpha_img).rounded_rectangle((0, 0, w - 1, h - 1), radius=pad, fill=170)
    for img, fill in ((alpha_img, 255), (colour_img, (255, 255, 255))):
        draw = ImageDraw.Draw(img)
        x = float(pad)
        draw.text((x, pad), before, font=font, fill=fill)
        x += font.getlength(before) + space
        mid = pad + ascent * 0.62
        draw.line((x, mid, x + dash, mid), fill=fill, width=max(1, size // 10))
        x += dash + space
        draw.text((x, pad), after, font=font, fill=fill)
    alpha = np.asarray(alpha_img, np.float32)[..., None] / 255.0
    colour = np.asarray(colour_img, np.float32) * alpha
    return colour, alpha


def label_box(width: int, height: int) -> Box:
    """Where the preview label is burned in (x0, y0, x1, y1): the top-left corner."""
    colour, _ = _label_patch(width, height)
    margin = max(4, round(height * 0.02))
    h, w = colour.shape[:2]
    return margin, margin, min(width, margin + w), min(height, margin + h)


@dataclass
class _Person:
    """One speaker of a several-people portrait: their mouth, their eyes and their own blinks."""

    mouth: _MouthWarp | None  # None: no box for this face (it is outside the frame), nothing to move
    eyes: list[_EyeWarp]
    blinks: _Blinks


class _Renderer:
    """Draws frame ``i`` of a run: the one place the preview's look is made, for ``generate`` and live mode.

    Everything per run is fixed here (geometry, warps, label, sway phases, blink schedule); each
    frame then needs only its openness and nod from :class:`_Envelope`. The work buffer carries the
    portrait between frames, so frames must be drawn in order.

    With several people (``inputs.several_people``) each one gets their own mouth warp, eyes and
    blink schedule (:attr:`people`) and frames are drawn by :meth:`draw_people` from one openness per
    person. There is no whole-frame sway or nod then: one affine warp of the whole frame moves every
    head together, so one person's speech would nod the other's head, and a shared sway would read
    as camera shake rather than as people. Heads stay still; mouths and eyes move on their own.
    """

    def __init__(self, plan: GenerationPlan, inputs: PreparedInputs) -> None:
        width, height = plan.width, plan.height
        self.width, self.height, self.fps = width, height, float(plan.fps)
        reference = np.asarray(inputs.reference)
        if reference.ndim != 3 or reference.shape[2] < 3:
            raise ValueError(f"Reference must be an RGB image [H, W, 3]; got shape {reference.shape}.")
        reference = np.ascontiguousarray(reference[..., :3], dtype=np.uint8)
        if reference.shape[:2] != (height, width):
            raise ValueError(
                f"Reference is {reference.shape[1]}×{reference.shape[0]}; the plan needs {width}×{height} "
                "(inputs must be prepared to the plan's size)."
            )
        self.reference = reference
        seed = int(inputs.seed) % (2**63)
        # Several people: one mouth, pair of eyes and blink stream each (seeded apart, so they do
        # not blink together). A person with neither box is not drawn: unlike one speaker, whose
        # face is guessed at the centre, that guess would land on someone else's face.
        self.people: list[_Person] = []
        for n, person in enumerate(inputs.people if inputs.several_people else []):
            blinks = _Blinks(self.fps, np.random.default_rng([seed, 1, n + 1]))
            if person.face_box is None and person.mouth_box is None:
                self.people.append(_Person(mouth=None, eyes=[], blinks=blinks))
                continue
            geometry = _face_geometry(width, height, person.face_box, person.mouth_box)
            self.people.append(_Person(
                mouth=_MouthWarp(geometry, width, height),
                eyes=[_EyeWarp(e, width, height) for e in geometry.eyes],
                blinks=blinks,
            ))
        face = _face_geometry(width, height, inputs.face_box, inputs.mouth_box)
        self.mouth = _MouthWarp(face, width, height)
        self.eyes = [_EyeWarp(e, width, height) for e in face.eyes]
        # Separate seeded streams, so the sway does not depend on how many blinks a run has.
        self.blinks = _Blinks(self.fps, np.random.default_rng([seed, 1]))
        self.phase = [float(p) for p in np.random.default_rng([seed, 2]).uniform(0, 2 * math.pi, size=4)]
        self.k = height / 384.0
        self.centre = (float(face.centre[0]), float(face.centre[1]))
        label_rgb, label_alpha = _label_patch(width, height)
        self.label = label_box(width, height)
        lx0, ly0, lx1, ly1 = self.label
        self.label_rgb, self.label_alpha = label_rgb[: ly1 - ly0, : lx1 - lx0], label_alpha[: ly1 - ly0, : lx1 - lx0]
        self.work = reference.copy()

    def draw(self, i: int, openness: float, nod: float, out: np.ndarray) -> None:
        """Frame ``i`` into ``out`` ([H, W, 3] uint8): mouth, blink, sway and nod, then the label."""
        t, ph, k = i / self.fps, self.phase, self.k
        blink = self.blinks.closure(i)
        # Sway: two slow sines per axis with seeded phases, plus a nod that follows the speech.
        angle = SWAY_DEGREES * (0.7 * math.sin(2 * math.pi * 0.21 * t + ph[0]) + 0.3 * math.sin(2 * math.pi * 0.53 * t + ph[1]))
        dx = SWAY_PIXELS * k * math.sin(2 * math.pi * 0.17 * t + ph[2])
        dy = SWAY_PIXELS * k * 0.6 * math.sin(2 * math.pi * 0.29 * t + ph[3]) + NOD_PIXELS * k * nod
        self.mouth.apply(self.reference, self.work, openness)
        for eye in self.eyes:
            eye.apply(self.reference, self.work, blink)
        matrix = cv2.getRotationMatrix2D(self.centre, angle, 1.0)
        matrix[0, 2] += dx
        matrix[1, 2] += dy
        cv2.warpAffine(self.work, matrix, (self.width, self.height), dst=out,
                       flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        if blink > 1e-3:  # the eye ROIs were changed: put the open eyes back for the next frame
            for eye in self.eyes:
                if eye.valid:
                    self.work[eye.roi] = self.reference[eye.roi]
        self._burn_label(out)

    def draw_people(self, i: int, openness: np.ndarray, out: np.ndarray) -> None:
        """Frame ``i`` of a several-people run: person ``p``'s mouth opens by ``openness[p]``.

        Each frame starts from the reference (no sway, so nothing carries over between frames);
        warps write only the pixels they move, so where two people's regions overlap, the later
        person's motion is drawn over the earlier's rather than erasing it.
        """
        np.copyto(out, self.reference)
        for person, amount in zip(self.people, openness):
            if person.mouth is not None:
                person.mouth.paint(self.reference, out, float(amount))
        for person in self.people:
            blink = person.blinks.closure(i)
            for eye in person.eyes:
                eye.paint(self.reference, out, blink)
        self._burn_label(out)

    def _burn_label(self, out: np.ndarray) -> None:
        lx0, ly0, lx1, ly1 = self.label
        region = out[ly0:ly1, lx0:lx1]
        region[...] = (region * (1.0 - self.label_alpha) + self.label_rgb + 0.5).astype(np.uint8)


class PreviewLiveSession:
    """Live mode for the preview: frames made block by block as the speech arrives (see ``LiveSession``).

    A block of 12 frames is made once its audio and ``LOOKAHEAD_FRAMES`` more frames of audio are in
    (the openness smoothing looks that far ahead). After :meth:`end_audio` the rest is drained: the
    last block has just the frames the audio covers (not padded to 12), like ``generate``'s last clip.
    Pushing a whole speech in pieces gives exactly ``generate``'s frames for it.
    """

    block_frames = BLOCK_FRAMES

    def __init__(self, plan: GenerationPlan, inputs: PreparedInputs) -> None:
        if inputs.several_people:
            raise ValueError(
                f"Live mode takes one speaker, but this portrait has {len(inputs.people)} people, each with "
                "their own track. Choose one person for live mode, or make a video to have several people speak."
            )
        self._renderer = _Renderer(plan, inputs)
        self._env = _Envelope(plan.fps)
        self.samples_per_frame = AUDIO_RATE / float(plan.fps)
        self.lookahead_samples = int(math.ceil(LOOKAHEAD_FRAMES * self.samples_per_frame))
        self._audio: list[np.ndarray] = []
        self._lock = threading.Lock()  # push_audio and next_block may run on different threads
        self._made = 0
        self._index = 0
        self._closed = False

    def push_audio(self, samples_16k: np.ndarray) -> None:
        audio = np.asarray(samples_16k, dtype=np.float32).reshape(-1)
        with self._lock:
            if self._closed:
                return
            self._env.push(audio)
            self._audio.append(audio)

    def end_audio(self) -> None:
        with self._lock:
            self._env.end()

    @property
    def finished(self) -> bool:
        with self._lock:
            return self._env.total_frames is not None and self._made >= self._env.total_frames

    def next_block(self) -> LiveBlock | None:
        t0 = time.perf_counter()
        with self._lock:
            if self._closed:
                return None
            ready = self._env.ready()
            if ready <= self._made:
                return None
            start = self._made
            stop = min(start + BLOCK_FRAMES, ready)
            openness = self._env.fill(stop)
            nods = [self._env.nod(i) for i in range(start, stop)]
            heard = self._env.samples
            audio = np.concatenate(self._audio) if len(self._audio) > 1 else (self._audio[0] if self._audio else np.zeros(0, np.float32))
            self._audio = [audio]
        frames = np.empty((stop - start, self._renderer.height, self._renderer.width, 3), np.uint8)
        for j, i in enumerate(range(start, stop)):
            self._renderer.draw(i, float(openness[i]), nods[j], frames[j])
        a0, a1 = int(round(start * self.samples_per_frame)), int(round(stop * self.samples_per_frame))
        block_audio = np.zeros(a1 - a0, np.float32)
        piece = audio[a0:a1]
        block_audio[: len(piece)] = piece
        block = LiveBlock(index=self._index, frames=frames, audio_16k=block_audio, audio_end=min(a1, heard),
                          timings={"render_s": time.perf_counter() - t0})
        self._made, self._index = stop, self._index + 1
        return block

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._audio = []


class PreviewBackend:
    """The CPU preview: an animated portrait with a visible label, never mistaken for the model."""

    name = "preview"
    label = "CPU preview (not the model)"
    is_preview = True

    def start_live(self, plan: GenerationPlan, inputs: PreparedInputs) -> PreviewLiveSession:
        """A live session at the plan's size and fps (the plan's clips and ``inputs.audio_16k`` are not used).

        Live mode takes one speaker: inputs with several people raise ``ValueError``.
        """
        return PreviewLiveSession(plan, inputs)

    def generate(
        self,
        plan: GenerationPlan,
        inputs: PreparedInputs,
        cancel: threading.Event | None = None,
        on_step: Callable[[int, int, int, int], None] | None = None,
    ) -> Iterator[Clip]:
        """Yield the plan's clips; a cancel mid-clip drops that clip rather than yield a short one.

        With several people (``inputs.several_people``) each mouth moves with that person's own
        track (``people[p].audio_16k``), never with the mix in ``inputs.audio_16k``.
        The preview has no denoising steps, so ``on_step`` is not called.
        """
        t_setup = time.perf_counter()
        renderer = _Renderer(plan, inputs)
        n_total = plan.video_frames
        if renderer.people:
            # Each mouth follows its own person's track; ``inputs.audio_16k`` (the mix) drives none.
            openness = np.stack([loudness_envelope(p.audio_16k, plan.fps, n_total) for p in inputs.people])

            def draw(i: int, out: np.ndarray) -> None:
                renderer.draw_people(i, openness[:, i], out)
        else:
            env = _Envelope(plan.fps)
            env.push(np.asarray(inputs.audio_16k, dtype=np.float32).reshape(-1)[: int(round(n_total * AUDIO_RATE / plan.fps))])
            env.end(n_total)
            single = env.fill(n_total)

            def draw(i: int, out: np.ndarray) -> None:
                renderer.draw(i, float(single[i]), env.nod(i), out)
        setup_s = time.perf_counter() - t_setup
        start = 0
        for index in range(plan.num_clips):
            if cancel is not None and cancel.is_set():
                return
            t0 = time.perf_counter()
            n = plan.last_clip_frames if index == plan.num_clips - 1 else plan.frames_per_clip
            frames = np.empty((n, plan.height, plan.width, 3), np.uint8)
            for j in range(n):
                if cancel is not None and cancel.is_set():
                    return
                draw(start + j, frames[j])
            start += n
            timings = {"render_s": time.perf_counter() - t0}
            if index == 0:
                timings["setup_s"] = setup_s
            yield Clip(index=index, frames=frames, timings=timings)
