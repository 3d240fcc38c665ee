"""A CPU stand-in for the model, so the whole app (plan, streaming, cancel, muxing) works without a GPU.

It animates the reference portrait instead of generating video: the jaw opens with the speech's
loudness, the head sways a little and the eyes blink now and then. It is honest about what it is:
every frame carries a "PREVIEW — not the Live Avatar model" label, and ``is_preview`` is True.

Everything expensive is decided once per run (geometry, envelope, sway, blink schedule, label),
so each frame costs one small remap around the mouth and eyes plus one whole-frame affine warp.
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

from liveavatar.backends.base import Clip, PreparedInputs

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


def loudness_envelope(audio_16k: np.ndarray, fps: float, n_frames: int) -> np.ndarray:
    """Mouth openness in [0, 1] per video frame, from the RMS of the audio under each frame.

    Levels are judged against the clip's own loud parts (its 95th percentile), so quiet but clean
    speech still moves the mouth, while an absolute gate keeps silence and hiss closed.
    """
    audio = np.asarray(audio_16k, dtype=np.float32).reshape(-1)
    edges = np.round(np.arange(n_frames + 1) * (AUDIO_RATE / fps)).astype(np.int64)
    need = int(edges[-1])
    if len(audio) < need:
        audio = np.concatenate([audio, np.zeros(need - len(audio), np.float32)])
    sq = np.concatenate([[0.0], np.cumsum(audio[:need].astype(np.float64) ** 2)])
    counts = np.maximum(np.diff(edges), 1)
    rms = np.sqrt(np.maximum(sq[edges[1:]] - sq[edges[:-1]], 0.0) / counts)
    db = 20.0 * np.log10(rms + 1e-9)
    voiced = db > -55.0
    if not voiced.any():
        return np.zeros(n_frames, np.float32)
    ref = max(float(np.percentile(db[voiced], 95)), -40.0)
    floor, top = ref - 28.0, ref - 3.0
    open_ = np.clip((db - floor) / (top - floor), 0.0, 1.0)
    open_[~voiced] = 0.0
    kernel = np.exp(-0.5 * (np.arange(-3, 4) / 1.0) ** 2)
    kernel /= kernel.sum()
    smooth = np.convolve(np.pad(open_, 3, mode="edge"), kernel, mode="valid")
    return np.clip(smooth, 0.0, 1.0).astype(np.float32)


def _blink_curve(n_frames: int, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Lid closure per frame: a ~0.2 s blink every 2.5–5 s, at seeded times."""
    curve = np.zeros(n_frames, np.float32)
    shape = np.array([0.35, 0.85, 1.0, 0.7, 0.3], np.float32)
    t = rng.uniform(0.8, 2.5)
    while True:
        start = int(t * fps)
        if start >= n_frames:
            break
        end = min(start + len(shape), n_frames)
        curve[start:end] = shape[: end - start]
        t += rng.uniform(2.5, 5.0)
    return curve


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

    def apply(self, reference: np.ndarray, out: np.ndarray, openness: float) -> None:
        if not self.valid or openness <= 1e-3:
            out[self.roi] = reference[self.roi]
            return
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
        out[self.roi] = (warped * (1.0 - alpha) + self.cavity * alpha + 0.5).astype(np.uint8)


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

    def apply(self, reference: np.ndarray, out: np.ndarray, closure: float) -> None:
        if not self.valid or closure <= 1e-3:
            return
        ys, a, t, b = self.ys, self.lid_top, self.top, self.bottom
        c = (closure * self.max_c) * self.bump
        edge = t + c  # where the lash line has come down to, per column
        stretched = a + (ys - a) * (t - a) / (edge - a)
        squeezed = t + (ys - edge) * (b - t) / (b - edge)
        src = np.where(ys < a, ys, np.where(ys < edge, stretched, np.where(ys < b, squeezed, ys)))
        map_y = (src - self.y0).astype(np.float32)
        out[self.roi] = cv2.remap(
            reference[self.roi], self.map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )


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


class PreviewBackend:
    """The CPU preview: an animated portrait with a visible label, never mistaken for the model."""

    name = "preview"
    label = "CPU preview (not the model)"
    is_preview = True

    def generate(
        self,
        plan: GenerationPlan,
        inputs: PreparedInputs,
        cancel: threading.Event | None = None,
        on_step: Callable[[int, int, int, int], None] | None = None,
    ) -> Iterator[Clip]:
        """Yield the plan's clips; a cancel mid-clip drops that clip rather than yield a short one.

        The preview has no denoising steps, so ``on_step`` is not called.
        """
        t_setup = time.perf_counter()
        width, height, fps = plan.width, plan.height, float(plan.fps)
        reference = np.asarray(inputs.reference)
        if reference.ndim != 3 or reference.shape[2] < 3:
            raise ValueError(f"Reference must be an RGB image [H, W, 3]; got shape {reference.shape}.")
        reference = np.ascontiguousarray(reference[..., :3], dtype=np.uint8)
        if reference.shape[:2] != (height, width):
            raise ValueError(
                f"Reference is {reference.shape[1]}×{reference.shape[0]}; the plan needs {width}×{height} "
                "(inputs must be prepared to the plan's size)."
            )
        n_total = plan.video_frames
        rng = np.random.default_rng(int(inputs.seed) % (2**63))
        face = _face_geometry(width, height, inputs.face_box, inputs.mouth_box)
        mouth = _MouthWarp(face, width, height)
        eyes = [_EyeWarp(e, width, height) for e in face.eyes]
        openness = loudness_envelope(inputs.audio_16k, fps, n_total)
        blink = _blink_curve(n_total, fps, rng)

        # Sway: two slow sines per axis with seeded phases, plus a nod that follows the speech.
        t = np.arange(n_total) / fps
        phase = rng.uniform(0, 2 * math.pi, size=4)
        k = height / 384.0
        angle = SWAY_DEGREES * (
            0.7 * np.sin(2 * math.pi * 0.21 * t + phase[0]) + 0.3 * np.sin(2 * math.pi * 0.53 * t + phase[1])
        )
        dx = SWAY_PIXELS * k * np.sin(2 * math.pi * 0.17 * t + phase[2])
        dy = SWAY_PIXELS * k * 0.6 * np.sin(2 * math.pi * 0.29 * t + phase[3])
        nod_kernel = np.hanning(9)
        nod_kernel /= nod_kernel.sum()
        dy = dy + NOD_PIXELS * k * np.convolve(np.pad(openness, 4, mode="edge"), nod_kernel, mode="valid")
        centre = (float(face.centre[0]), float(face.centre[1]))

        label_rgb, label_alpha = _label_patch(width, height)
        lx0, ly0, lx1, ly1 = label_box(width, height)
        label_rgb, label_alpha = label_rgb[: ly1 - ly0, : lx1 - lx0], label_alpha[: ly1 - ly0, : lx1 - lx0]

        work = reference.copy()
        setup_s = time.perf_counter() - t_setup
        start = 0
        for index in range(plan.num_clips):
            if cancel is not None and cancel.is_set():
                return
            t0 = time.perf_counter()
            n = plan.last_clip_frames if index == plan.num_clips - 1 else plan.frames_per_clip
            frames = np.empty((n, height, width, 3), np.uint8)
            for j in range(n):
                if cancel is not None and cancel.is_set():
                    return
                i = start + j
                mouth.apply(reference, work, float(openness[i]))
                for eye in eyes:
                    eye.apply(reference, work, float(blink[i]))
                matrix = cv2.getRotationMatrix2D(centre, float(angle[i]), 1.0)
                matrix[0, 2] += dx[i]
                matrix[1, 2] += dy[i]
                cv2.warpAffine(
                    work, matrix, (width, height), dst=frames[j],
                    flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101,
                )
                if blink[i] > 1e-3:  # the eye ROIs were changed: put the open eyes back for the next frame
                    for eye in eyes:
                        if eye.valid:
                            work[eye.roi] = reference[eye.roi]
            region = frames[:, ly0:ly1, lx0:lx1]
            region[...] = (region * (1.0 - label_alpha) + label_rgb + 0.5).astype(np.uint8)
            start += n
            timings = {"render_s": time.perf_counter() - t0}
            if index == 0:
                timings["setup_s"] = setup_s
            yield Clip(index=index, frames=frames, timings=timings)
