"""Fit the checked inputs to a plan, so every backend receives exactly what it renders."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from liveavatar.backends.base import PersonInputs, PreparedInputs
from liveavatar.faces import Box, Face
from liveavatar.media.audio import mix_tracks
from liveavatar.people import person_masks
from liveavatar.plan import GenerationPlan

AUDIO_RATE = 16_000



def cover_transform(src_w: int, src_h: int, dst_w: int, dst_h: int) -> tuple[float, float, float]:
    """Scale and offsets of "resize to cover, then centre-crop".

    Upstream resizes the short side and centre-crops, which pads with black when the aspect
    differs more than the 64-px rounding; covering the target never pads.
    """
    scale = max(dst_w / src_w, dst_h / src_h)
    off_x = (src_w * scale - dst_w) / 2
    off_y = (src_h * scale - dst_h) / 2
    return scale, off_x, off_y


def crop_box_in_source(src_w: int, src_h: int, dst_w: int, dst_h: int) -> Box:
    """The region of the source image that survives the centre crop (shown on the portrait)."""
    scale, off_x, off_y = cover_transform(src_w, src_h, dst_w, dst_h)
    x0, y0 = off_x / scale, off_y / scale
    return int(round(x0)), int(round(y0)), int(round(x0 + dst_w / scale)), int(round(y0 + dst_h / scale))


def fit_reference(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale, off_x, off_y = cover_transform(w, h, width, height)
    new_w, new_h = max(width, round(w * scale)), max(height, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=interp)
    x0 = min(int(round(off_x)), new_w - width)
    y0 = min(int(round(off_y)), new_h - height)
    return np.ascontiguousarray(resized[y0 : y0 + height, x0 : x0 + width])


def map_box(box: Box | None, src_w: int, src_h: int, dst_w: int, dst_h: int) -> Box | None:
    if box is None:
        return None
    scale, off_x, off_y = cover_transform(src_w, src_h, dst_w, dst_h)
    x0, y0, x1, y1 = (box[0] * scale - off_x, box[1] * scale - off_y, box[2] * scale - off_x, box[3] * scale - off_y)
    x0, x1 = max(0, int(x0)), min(dst_w, int(round(x1)))
    y0, y1 = max(0, int(y0)), min(dst_h, int(round(y1)))
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def fit_audio(audio_16k: np.ndarray, plan: GenerationPlan) -> np.ndarray:
    """Exactly the planned video's length: trimmed, or padded with silence for the last clip."""
    n = int(round(plan.video_frames * AUDIO_RATE / plan.fps))
    out = np.zeros(n, dtype=np.float32)
    m = min(n, len(audio_16k))
    out[:m] = audio_16k[:m]
    return out


def prepare_inputs(
    prompt: str, rgb: np.ndarray, face: Face | None, audio_16k: np.ndarray, plan: GenerationPlan, seed: int
) -> PreparedInputs:
    h, w = rgb.shape[:2]
    return PreparedInputs(
        prompt=prompt,
        reference=fit_reference(rgb, plan.width, plan.height),
        audio_16k=fit_audio(audio_16k, plan),
        seed=seed,
        face_box=map_box(face.box if face else None, w, h, plan.width, plan.height),
        mouth_box=map_box(face.mouth_box if face else None, w, h, plan.width, plan.height),
    )


@dataclass
class FittedPeople:
    """Several people on the portrait as the model gets it: ``reference`` fitted to the video size,
    and per face (in the order given) its face and mouth boxes there (``None`` when cropped away)
    and its mask (``masks [A, H, W]``)."""

    reference: np.ndarray
    face_boxes: list[Box | None]
    mouth_boxes: list[Box | None]
    masks: np.ndarray


def fit_people(rgb: np.ndarray, faces: list[Face], width: int, height: int) -> FittedPeople:
    """The one place several people's masks are made: for the run (:func:`prepare_people`) and for the
    check that each mouth is routed to its own track (``checks/people.py``), so both judge the same."""
    h, w = rgb.shape[:2]
    reference = fit_reference(rgb, width, height)
    face_boxes = [map_box(f.box, w, h, width, height) for f in faces]
    mouth_boxes = [map_box(f.mouth_box, w, h, width, height) for f in faces]
    # The centre crop only trims the size's 64-pixel rounding, so a face falls wholly outside it only
    # at the very edge of a photo; it still needs a seed for the masks' split: its box clamped inside.
    seeds = [b if b is not None else _clamped(f.box, w, h, width, height) for b, f in zip(face_boxes, faces)]
    return FittedPeople(reference, face_boxes, mouth_boxes, person_masks(reference, seeds))


def prepare_people(
    prompt: str, rgb: np.ndarray, faces: list[Face], tracks_16k: list[np.ndarray], plan: GenerationPlan, seed: int
) -> PreparedInputs:
    """Several people, ``faces[k]`` speaking ``tracks_16k[k]``: each track fitted to the plan (the plan
    lasts as long as the longest, so a shorter one ends in silence), each person's mask made on the
    fitted portrait (what the model sees), and the video's sound the tracks mixed without clipping."""
    fitted = fit_people(rgb, faces, plan.width, plan.height)
    tracks = [fit_audio(t, plan) for t in tracks_16k]
    people = [PersonInputs(audio_16k=a, mask=m, face_box=fb, mouth_box=mb)
              for a, m, fb, mb in zip(tracks, fitted.masks, fitted.face_boxes, fitted.mouth_boxes)]
    return PreparedInputs(prompt=prompt, reference=fitted.reference, audio_16k=mix_tracks(tracks), seed=seed,
                          people=people)


def _clamped(box: Box, src_w: int, src_h: int, width: int, height: int) -> Box:
    scale, off_x, off_y = cover_transform(src_w, src_h, width, height)
    x0 = int(np.clip(box[0] * scale - off_x, 0, width - 2))
    y0 = int(np.clip(box[1] * scale - off_y, 0, height - 2))
    x1 = int(np.clip(box[2] * scale - off_x, x0 + 1, width))
    y1 = int(np.clip(box[3] * scale - off_y, y0 + 1, height))
    return x0, y0, x1, y1
