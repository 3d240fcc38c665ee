"""Several people in one portrait (issue 14): who is who, and where each person is.

Two to four people in one photo can each speak their own speech track. People are numbered 1..n
from left to right by face centre (as upstream orders its actors); the UI shows these numbers and
track k drives person k unless the user reorders them. :func:`person_masks` says where each
person is on the portrait, so the model's audio routing can keep each voice on its own face.

Where these masks differ from upstream's (insightface faces + SAM2 instance masks), and why that
is fine for routing:

* **Coarser edges.** The people-vs-background split is MediaPipe's selfie segmentation (its
  256 × 256 "general" model, run offline from the wheel), not SAM2: hair strands, fingers and thin
  gaps come out blurred or filled.
* **Split by nearest face, not by instance.** The foreground is divided between people by
  *geodesic* distance to each face box, travelling only through the foreground and divided by that
  face's height: every person's silhouette grows from their own face, touching bodies meet where
  they are about equally far (in face sizes) from both faces, and foreground that no face can
  reach (an object, a person whose face was not found) is left to the background. SAM2 separates
  instances by appearance; we only know where the faces are.
* **No hands or objects tracked, static over time.** The portrait is one still image, so one set of
  masks serves the whole video; upstream can re-run SAM2 on later frames.

None of this matters much to routing: the model only sees the masks on its 1/16 token grid (a
704 × 384 video is 44 × 24 tokens), after a 10 % dilation and the rule that a token owned by two
people belongs to neither. What matters is that each person's mouth lands in tokens that are
theirs alone, so no other voice moves it; the face boxes are therefore always put in their own
person's mask, even where the segmenter missed them, and ``checks/people.py`` (``people.apart``)
says so when two faces are too close for that.

No global state: the MediaPipe graph is created per call in a ``with`` block (~10 ms).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from liveavatar.faces import Box, Face, as_rgb_uint8

__all__ = [
    "FACE_BOX_MARGIN",
    "SEGMENTATION_MODEL",
    "SEGMENTATION_THRESHOLD",
    "SPLIT_MAX_SIDE",
    "faces_left_to_right",
    "person_masks",
]

#: MediaPipe selfie segmentation model: 0 = "general" (256 × 256 input), 1 = "landscape"
#: (144 × 256). Measured on the two astronauts fitted to 704 × 384: the general model covers both
#: bodies whole, the landscape model leaves holes in the suits and cuts the shoulders; both take
#: ~10 ms. The general model also covered more of the face boxes on upstream's example portraits.
SEGMENTATION_MODEL = 0
#: Segmenter confidence from which a pixel counts as a person.
SEGMENTATION_THRESHOLD = 0.5
#: Each face box, enlarged by this fraction of its width/height on every side, always belongs to
#: its own person (the detector's box runs mid-forehead to chin and is narrower than the head).
FACE_BOX_MARGIN = 0.15
#: The geodesic split runs on a copy whose long side is at most this (704 × 384 → 176 × 96: one
#: cell per 4 × 4 px, four times finer than the 16 px token grid), then the labels are scaled back
#: up and cut to the full-size segmentation. Measured on the two astronauts at 704 × 384 (2 cores):
#: the whole call takes ~67 ms at 352, ~42 ms at 256 and ~30 ms at 176, with the same split.
SPLIT_MAX_SIDE = 176


def faces_left_to_right(faces: list[Face]) -> list[Face]:
    """``faces`` ordered by the x of their centre (ties: by y, then by score): person 1 is leftmost."""
    return sorted(faces, key=lambda f: (f.centre[0], f.centre[1], -float(f.score)))


def person_masks(rgb: np.ndarray, face_boxes: Sequence[Box]) -> np.ndarray:
    """Where each person is on ``rgb``: ``[A, H, W]`` float32, one 0/1 mask per face, same order.

    ``rgb`` is the portrait as the model gets it (already fitted to the video size, e.g. 704 × 384)
    and ``face_boxes`` are ``(x0, y0, x1, y1)`` boxes on it. A pixel belongs to at most one person
    (the masks are disjoint); background pixels belong to none. Each face box, enlarged by
    :data:`FACE_BOX_MARGIN`, is always in its own person's mask (where two enlarged boxes overlap,
    the pixel goes to the face whose centre is nearer in face heights). Never raises: when the
    segmenter fails or finds nobody, the masks are the enlarged face boxes; an unusable image
    gives empty masks.
    """
    boxes = [_as_box(b) for b in face_boxes]
    image = as_rgb_uint8(rgb)
    if image is None:
        try:
            arr = np.asarray(rgb)
            height, width = (int(arr.shape[0]), int(arr.shape[1])) if arr.ndim >= 2 else (0, 0)
        except Exception:  # noqa: BLE001 - not array-like at all
            height, width = 0, 0
        return np.zeros((len(boxes), height, width), np.float32)
    height, width = image.shape[:2]
    if not boxes:
        return np.zeros((0, height, width), np.float32)
    try:
        boxes_here = [_clip_box(b, width, height) for b in boxes]
        box_labels = _box_labels(boxes_here, width, height)
    except Exception:  # noqa: BLE001 - degenerate boxes: nobody can be placed
        return np.zeros((len(boxes), height, width), np.float32)
    try:
        foreground = _segment(image)
        labels = _split_foreground(foreground, boxes_here, box_labels)
    except Exception:  # noqa: BLE001 - segmentation failed: the face boxes alone
        labels = box_labels
    labels = np.where(box_labels >= 0, box_labels, labels)
    masks = np.zeros((len(boxes), height, width), np.float32)
    for k in range(len(boxes)):
        masks[k][labels == k] = 1.0
    return masks


# --------------------------------------------------------------------------------------------
# internals


def _as_box(box: object) -> tuple[float, float, float, float] | None:
    try:
        x0, y0, x1, y1 = (float(v) for v in box)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)) or x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def _clip_box(box: tuple[float, float, float, float] | None, width: int, height: int) -> Box | None:
    """Integer box inside the image, or ``None`` when nothing of it is left."""
    if box is None:
        return None
    x0, y0 = max(0, int(math.floor(box[0]))), max(0, int(math.floor(box[1])))
    x1, y1 = min(width, int(math.ceil(box[2]))), min(height, int(math.ceil(box[3])))
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _box_labels(boxes: list[Box | None], width: int, height: int) -> np.ndarray:
    """``[H, W]`` int: the person whose enlarged face box holds the pixel, -1 for none.

    Where enlarged boxes overlap the nearer face centre wins, distances measured in face heights.
    """
    labels = np.full((height, width), -1, np.int32)
    best = np.full((height, width), np.inf, np.float64)
    ys, xs = np.mgrid[0:height, 0:width]
    for k, box in enumerate(boxes):
        if box is None:
            continue
        x0, y0, x1, y1 = box
        mx, my = FACE_BOX_MARGIN * (x1 - x0), FACE_BOX_MARGIN * (y1 - y0)
        ex0, ey0 = max(0, int(math.floor(x0 - mx))), max(0, int(math.floor(y0 - my)))
        ex1, ey1 = min(width, int(math.ceil(x1 + mx))), min(height, int(math.ceil(y1 + my)))
        if ex1 <= ex0 or ey1 <= ey0:
            continue
        cx, cy, size = (x0 + x1) / 2.0, (y0 + y1) / 2.0, float(max(1, y1 - y0))
        sub = (slice(ey0, ey1), slice(ex0, ex1))
        dist = np.hypot(xs[sub] - cx, ys[sub] - cy) / size
        nearer = dist < best[sub]
        best[sub][nearer] = dist[nearer]
        labels[sub][nearer] = k
    return labels


def _segment(image: np.ndarray) -> np.ndarray:
    """``[H, W]`` bool: people (any of them) against the background, by MediaPipe."""
    from mediapipe.python.solutions import selfie_segmentation as mp_selfie

    with mp_selfie.SelfieSegmentation(model_selection=SEGMENTATION_MODEL) as segmenter:
        result = segmenter.process(image)
    mask = getattr(result, "segmentation_mask", None)
    if mask is None:
        return np.zeros(image.shape[:2], bool)
    mask = np.nan_to_num(np.asarray(mask, np.float32), nan=0.0)
    if mask.shape != image.shape[:2]:
        mask = cv2.resize(mask, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    return mask >= SEGMENTATION_THRESHOLD


def _split_foreground(foreground: np.ndarray, boxes: list[Box | None], box_labels: np.ndarray) -> np.ndarray:
    """``[H, W]`` int: for each foreground pixel, the face nearest through the foreground, -1 else.

    "Nearest" is the geodesic distance from the face box, travelling only through the foreground
    (plus the enlarged face boxes, so a face the segmenter missed still grows into its body),
    divided by the face's height: a person's silhouette is reached from their own face first, a
    bigger (nearer) face claims proportionally more, and foreground no face can reach is left out.
    Runs on a copy at most :data:`SPLIT_MAX_SIDE` long, then scaled back up.
    """
    from skimage.graph import MCP_Geometric

    height, width = foreground.shape
    passable = foreground | (box_labels >= 0)
    scale = min(1.0, SPLIT_MAX_SIDE / float(max(height, width)))
    sw, sh = max(1, round(width * scale)), max(1, round(height * scale))
    small = cv2.resize(passable.astype(np.uint8), (sw, sh), interpolation=cv2.INTER_NEAREST).astype(bool)
    costs = np.where(small, 1.0, np.inf)
    best = np.full((sh, sw), np.inf, np.float64)
    small_labels = np.full((sh, sw), -1, np.int32)
    for k, box in enumerate(boxes):
        if box is None:
            continue
        x0, y0, x1, y1 = box
        sx0, sy0 = min(sw - 1, int(x0 * scale)), min(sh - 1, int(y0 * scale))
        sx1, sy1 = max(sx0 + 1, min(sw, int(math.ceil(x1 * scale)))), max(sy0 + 1, min(sh, int(math.ceil(y1 * scale))))
        ys, xs = np.nonzero(small[sy0:sy1, sx0:sx1])
        if ys.size == 0:
            continue
        starts = np.stack([ys + sy0, xs + sx0], axis=1)
        cumulative, _ = MCP_Geometric(costs, fully_connected=True).find_costs(starts)
        dist = np.asarray(cumulative, np.float64) / max(1.0, (y1 - y0) * scale)
        nearer = np.isfinite(dist) & (dist < best)
        best[nearer] = dist[nearer]
        small_labels[nearer] = k
    labels = cv2.resize(small_labels, (width, height), interpolation=cv2.INTER_NEAREST)
    return np.where(foreground, labels, -1).astype(np.int32)
