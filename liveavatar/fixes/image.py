"""One-click fixes for the portrait: crop around a face, and show the user what was found.

The crop addresses several checks at once (group photo, off-centre face, face too small): it
keeps one person's head and shoulders, framed the way the model expects. It never resamples, so
it cannot invent detail; a crop that ends up under the resolution rule says so in its message.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from liveavatar.checks.image import MIN_SIDE_PX
from liveavatar.faces import Box, Face, as_rgb_uint8
from liveavatar.media.image import LoadedImage

__all__ = [
    "CROP_HEIGHT_FACTOR",
    "CROP_MIN_WIDTH_FACTOR",
    "DEFAULT_CROP_ASPECT",
    "FACE_Y_IN_CROP",
    "crop_keeping_size",
    "crop_to_box",
    "crop_to_face",
    "draw_face_overlay",
    "plan_face_crop",
]


#: Crop height as a multiple of the face box height. The detector box spans mid-forehead to chin
#: (about 2/3 of the head), so 3× is ~2 head heights: the whole head with hair, neck and shoulders.
#: Tighter crops leave the model no room for head motion; looser ones shrink the mouth.
CROP_HEIGHT_FACTOR = 3.0
#: The crop is at least this many face widths wide, whatever the aspect asked for, so a very
#: narrow aspect still shows both ears.
CROP_MIN_WIDTH_FACTOR = 1.6
#: Where the face centre lands, as a fraction of the crop height from its top. Below 0.5 so the
#: crop extends further down (shoulders) than up, putting the eyes near the upper third.
FACE_Y_IN_CROP = 0.42
#: Width / height when the caller gives no aspect: square keeps the framing neutral and, unlike
#: the source's aspect, cannot reach sideways into a neighbour in a wide group photo.
DEFAULT_CROP_ASPECT = 1.0

#: Overlay colours (RGB).
SINGLE_FACE_COLOUR = (0, 200, 0)
MULTI_FACE_COLOUR = (230, 30, 30)
CROP_COLOUR = (255, 200, 0)


def plan_face_crop(width: int, height: int, face_box: Box, aspect: float | None = None,
                   height_factor: float = CROP_HEIGHT_FACTOR) -> Box:
    """The crop rectangle ``(x0, y0, x1, y1)`` that :func:`crop_to_face` would cut.

    Public so the UI can draw it with :func:`draw_face_overlay` before the user accepts it.
    The rectangle keeps the requested aspect, shrinking (never growing past the image) when the
    photo is too small, and slides rather than shrinks when the face is near an edge.
    """
    width, height = max(1, int(width)), max(1, int(height))
    x0, y0, x1, y1 = (float(v) for v in face_box)
    face_w = max(1.0, x1 - x0)
    face_h = max(1.0, y1 - y0)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    ratio = aspect if aspect is not None and math.isfinite(aspect) and aspect > 0 else DEFAULT_CROP_ASPECT

    crop_h = height_factor * face_h
    crop_h = max(crop_h, CROP_MIN_WIDTH_FACTOR * face_w / ratio)
    crop_w = crop_h * ratio
    fit = min(1.0, width / crop_w, height / crop_h)
    crop_w, crop_h = crop_w * fit, crop_h * fit
    cw = min(width, max(1, round(crop_w)))
    ch = min(height, max(1, round(crop_h)))

    left = round(cx - cw / 2.0)
    top = round(cy - FACE_Y_IN_CROP * ch)
    left = min(max(left, 0), width - cw)
    top = min(max(top, 0), height - ch)
    return (int(left), int(top), int(left + cw), int(top + ch))


def crop_keeping_size(width: int, height: int, face_box: Box, aspect: float,
                      keeps_size: Callable[[int, int], bool]) -> Box | None:
    """The tightest head-and-shoulders crop (at least :data:`CROP_HEIGHT_FACTOR` face heights) for
    which ``keeps_size(crop_w, crop_h)`` holds, e.g. "the planned video is not smaller than now".

    A small photo cropped to the head would otherwise plan a smaller video (the plan never upscales),
    so the crop widens in quarter-face steps until it keeps the size; ``None`` when even the largest
    crop of that aspect would not, so the caller can say why nothing was cropped.
    """
    factor, last = CROP_HEIGHT_FACTOR, None
    while True:
        box = plan_face_crop(width, height, face_box, aspect, height_factor=factor)
        if keeps_size(box[2] - box[0], box[3] - box[1]):
            return box
        if box == last:  # already as large as the photo allows
            return None
        last, factor = box, factor + 0.25


def crop_to_box(image: LoadedImage, box: Box, out_dir: str | Path) -> str:
    """Save ``box`` of the photo as a new PNG and return its path (the original file is left alone,
    so the fix can be undone). The name carries a hash of the pixels: repeating it is idempotent and
    two photos with the same name never overwrite each other in a shared folder."""
    rgb = as_rgb_uint8(image.rgb)
    if rgb is None:
        raise ValueError("The image is empty, so there is nothing to crop.")
    x0, y0, x1, y1 = box
    crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(image.path).stem)[:60].strip("_") or "portrait"
    digest = hashlib.blake2b(crop.tobytes() + repr(crop.shape).encode(), digest_size=6).hexdigest()
    path = out / f"{stem}-face-crop-{digest}.png"
    Image.fromarray(crop, mode="RGB").save(path, format="PNG")
    return str(path)


def crop_to_face(
    image: LoadedImage, face: Face, out_dir: str | Path, aspect: float | None = None
) -> tuple[str, str]:
    """Save a head-and-shoulders crop around ``face`` as a new PNG; return ``(path, message)``.

    ``aspect`` is width / height (e.g. the generation preset's), or ``None`` for a square crop.
    The file name carries a hash of the cropped pixels, so repeating the fix is idempotent and two
    different photos with the same name do not overwrite each other in a shared folder.
    """
    rgb = as_rgb_uint8(image.rgb)
    if rgb is None:
        raise ValueError("The image is empty, so there is nothing to crop.")
    height, width = rgb.shape[:2]
    x0, y0, x1, y1 = plan_face_crop(width, height, face.box, aspect)
    path = crop_to_box(image, (x0, y0, x1, y1), out_dir)

    cw, ch = x1 - x0, y1 - y0
    message = (
        f"Cropped a {cw} × {ch} px head-and-shoulders area around the face out of the "
        f"{width} × {height} px photo and saved it as PNG"
    )
    if cw < MIN_SIDE_PX or ch < MIN_SIDE_PX:
        message += (
            f"; it is smaller than {MIN_SIDE_PX} × {MIN_SIDE_PX} px, so upscale it (e.g. with Real-ESRGAN) "
            "or start from a larger photo."
        )
    else:
        message += "."
    return path, message


def draw_face_overlay(rgb: np.ndarray, faces: list[Face], crop_box: Box | None,
                      tracks: Sequence[int | None] | None = None, track_word: str = "track") -> np.ndarray:
    """A copy of ``rgb`` with the face boxes and the planned crop drawn on it.

    Green box: the single face the model will animate. Red boxes: several faces were found, so
    the user sees which people compete. Dashed yellow: the crop the fix would make.

    With two or more faces (or when ``tracks`` is given) each face carries its NUMBER, 1..n from
    left to right (the numbering the page and ``face_order`` use), in a big badge under its box.
    ``tracks[i]`` is the speech track (1-based) that drives face ``i + 1``, or ``None`` for a face no
    track drives; such driven faces are boxed green and labelled "← track k" (``track_word`` is
    the word in the page's language; a word the bundled font cannot draw falls back to "track").
    """
    base = as_rgb_uint8(rgb)
    if base is None:
        return np.array(rgb, copy=True)
    canvas = base.copy()
    height, width = canvas.shape[:2]
    thickness = max(1, round(max(height, width) / 300))
    numbered = sorted(faces, key=lambda f: ((f.box[0] + f.box[2]) / 2.0, f.box[1]))  # 1..n left to right
    driven = list(tracks) if tracks is not None else []
    driven += [None] * (len(numbered) - len(driven))
    colour = SINGLE_FACE_COLOUR if len(faces) == 1 else MULTI_FACE_COLOUR
    for face, track in zip(numbered, driven):
        x0, y0, x1, y1 = _clamp(face.box, width, height)
        box_colour = SINGLE_FACE_COLOUR if track is not None else colour
        cv2.rectangle(canvas, (x0, y0), (max(x0, x1 - 1), max(y0, y1 - 1)), box_colour, thickness)
    if crop_box is not None:
        _dashed_rectangle(canvas, _clamp(crop_box, width, height), CROP_COLOUR, thickness)
    if numbered and (len(numbered) > 1 or tracks is not None):
        canvas = _number_faces(canvas, numbered, driven, colour, track_word, thickness)
    return canvas


#: Badge text colour, and the dark backing behind the "← track k" label.
LABEL_TEXT_COLOUR = (255, 255, 255)
LABEL_BACK_COLOUR = (20, 20, 20)
#: Fonts that draw Chinese, tried in order when the track word is not plain ASCII.
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)


def _font(size: int, text: str = "0"):
    """Pillow's bundled font (Latin and digits) at ``size``; for other text a CJK font found on the
    machine, or ``None`` when there is none (the caller then writes the English word)."""
    from PIL import ImageFont

    if text.isascii():
        return ImageFont.load_default(size=size)
    for path in CJK_FONTS:
        if Path(path).is_file():
            try:
                return ImageFont.truetype(path, size=size)
            except OSError:
                continue
    return None


def _number_faces(canvas: np.ndarray, faces: list[Face], tracks: list[int | None], colour: tuple[int, int, int],
                  track_word: str, thickness: int) -> np.ndarray:
    """Each face's number in a filled badge just under its box (above it, or inside its top, when
    there is no room), and "← track k" beside it for a face a track drives."""
    from PIL import Image, ImageDraw

    height, width = canvas.shape[:2]
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    for number, (face, track) in enumerate(zip(faces, tracks), start=1):
        x0, y0, x1, y1 = _clamp(face.box, width, height)
        size = int(min(max(18, 0.5 * (y1 - y0)), max(18, height / 6)))
        font = _font(size)
        text = str(number)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        pad = max(3, size // 6)
        bw, bh = right - left + 2 * pad, bottom - top + 2 * pad
        # under the chin (the face stays visible, and the viewer's label bar covers the photo's top edge),
        # else above the box, else inside its top
        below, above = y1 + thickness, y0 - thickness - bh
        by = below if below + bh <= height else above if above >= 0 else y0 + thickness + 1
        bx = min(max(0, x0), max(0, width - bw))
        badge_colour = SINGLE_FACE_COLOUR if track is not None else colour
        draw.rectangle((bx, by, bx + bw - 1, by + bh - 1), fill=badge_colour)
        draw.text((bx + pad - left, by + pad - top), text, font=font, fill=LABEL_TEXT_COLOUR)
        if track is None:
            continue
        word = track_word if _font(size // 2, track_word) is not None else "track"
        label = f"{word} {track}"
        small = _font(max(12, size // 2), label)
        left, top, right, bottom = draw.textbbox((0, 0), label, font=small)
        arrow = max(10, (bottom - top))
        lw, lh = arrow + (right - left) + 3 * pad, max(bh, bottom - top + 2 * pad)
        lx = bx + bw
        if lx + lw > width:  # no room on the right: put it under the badge
            lx, ly = bx, by + bh
        else:
            ly = by
        draw.rectangle((lx, ly, lx + lw - 1, ly + lh - 1), fill=LABEL_BACK_COLOUR)
        mid = ly + lh / 2
        tip, tail = lx + pad, lx + pad + arrow
        head = arrow * 0.45
        draw.polygon([(tip, mid), (tip + head, mid - head), (tip + head, mid + head)], fill=LABEL_TEXT_COLOUR)
        draw.line([(tip + head - 1, mid), (tail, mid)], fill=LABEL_TEXT_COLOUR, width=max(2, arrow // 6))
        draw.text((tail + pad - left, mid - (bottom - top) / 2 - top), label, font=small, fill=LABEL_TEXT_COLOUR)
    return np.asarray(image).copy()


def _clamp(box: Box, width: int, height: int) -> Box:
    x0, y0, x1, y1 = (int(v) for v in box)
    x0, x1 = sorted((min(max(x0, 0), width), min(max(x1, 0), width)))
    y0, y1 = sorted((min(max(y0, 0), height), min(max(y1, 0), height)))
    return (x0, y0, x1, y1)


def _dashed_rectangle(canvas: np.ndarray, box: Box, colour: tuple[int, int, int], thickness: int) -> None:
    """Dashed so the crop reads as a proposal, distinct from the solid face boxes."""
    x0, y0, x1, y1 = box
    x1, y1 = max(x0, x1 - 1), max(y0, y1 - 1)
    dash = max(6, 4 * thickness)
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    for (ax, ay), (bx, by) in zip(corners, corners[1:]):
        length = max(abs(bx - ax), abs(by - ay))
        if length == 0:
            continue
        for start in range(0, length, 2 * dash):
            end = min(start + dash, length)
            p = (round(ax + (bx - ax) * start / length), round(ay + (by - ay) * start / length))
            q = (round(ax + (bx - ax) * end / length), round(ay + (by - ay) * end / length))
            cv2.line(canvas, p, q, colour, thickness)
