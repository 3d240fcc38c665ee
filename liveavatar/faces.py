"""Offline face analysis of the reference portrait, with MediaPipe.

Live Avatar animates exactly one face, so the app must know how many faces a photo holds, where
they are, and roughly how the head is turned. MediaPipe's face detector and face mesh ship their
TFLite models inside the wheel, so this works with no network and no downloads.

Counting and boxes come from the *detector*: the full-range model (small / distant faces) and the
short-range model (close-ups) on the whole image, plus the full-range model on overlapping tiles
of larger images, where a background person's face is too small for the whole-image pass; all
merged so each face counts once. Landmarks come from the *face mesh* and are attached to the
detector's boxes. The mesh has its own internal short-range detector that misses faces the
full-range model finds (e.g. two people side by side), so a detection the whole-image mesh did not
cover gets a second mesh pass on a crop around it. The mesh also serves as a second opinion: a
tile detection, or a weak whole-image one, that it cannot put landmarks on is dropped, because a
phantom second face (a textured background) would wrongly block the user.

Limits: faces under roughly 4 % of the image's long side can still be missed; a face seen from
behind or in full profile is often not detected at all (and then reported as "no face").

No global mutable state: the MediaPipe graphs are created per call in ``with`` blocks. Creating
them is cheap (measured ~1-7 ms each on a 2-core CPU, against ~20 ms to process one 512² image),
so a cache would save little and would need locking under Gradio's threaded request handling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from mediapipe.python.solutions import face_detection as mp_face_detection
from mediapipe.python.solutions import face_mesh as mp_face_mesh

__all__ = [
    "DETECTION_MAX_SIDE",
    "Face",
    "as_rgb_uint8",
    "NOSE_DEPTH_RATIO",
    "detect_faces",
    "estimate_yaw",
    "mouth_box_from_landmarks",
]

Box = tuple[int, int, int, int]

#: Detection runs on a copy whose long side is at most this many pixels. Both detectors work on
#: 128-192 px inputs internally, so more pixels only cost time; coordinates are mapped back.
DETECTION_MAX_SIDE = 1280
#: Detector confidence below which a candidate is ignored (MediaPipe's own default).
MIN_DETECTION_CONFIDENCE = 0.5
#: Two detections overlapping at least this much (intersection over union) are the same face.
DEDUPE_IOU = 0.3
#: ... or when this much of the smaller box lies inside the larger one (a partial detection of a
#: face, e.g. from a tile, has a small IoU with the whole face but lies almost entirely within it).
DEDUPE_OVERLAP = 0.5
#: Smallest tile side for the small-face pass; images under twice this long side get no tiling.
TILE_MIN_SIDE = 320
#: Tiles see faces out of context, where false positives are likelier: ask for more confidence.
#: Tile-only detections must also be confirmed by the face mesh (see ``detect_faces``).
TILE_MIN_DETECTION_CONFIDENCE = 0.6
#: A whole-image detection the face mesh could not confirm still counts from this score up.
#: The mesh fails on heavily blurred faces that the detector still finds (the astronaut under a
#: 6 px Gaussian blur: 0.70), and a blurred face should be reported as blurred, not as missing;
#: the one whole-image false positive seen in testing (a colour wheel) scored 0.58.
UNCONFIRMED_MIN_SCORE = 0.65
#: Number of landmarks of the face mesh without iris refinement.
MESH_POINTS = 468

# Face-mesh landmark indices (canonical MediaPipe topology).
NOSE_TIP = 1
#: Face-contour points at cheekbone level, on the image-left and image-right of a frontal face
#: (the subject's right and left cheek).
CHEEK_IMAGE_LEFT = 234
CHEEK_IMAGE_RIGHT = 454
LIP_POINTS: tuple[int, ...] = tuple(sorted({i for edge in mp_face_mesh.FACEMESH_LIPS for i in edge}))

#: Depth of the nose tip in front of the two cheek contour points, divided by half the distance
#: between those points. Calibrated from the face mesh's own 3-D output (x, y, z in the same pixel
#: scale) on the frontal ``skimage.data.astronaut()`` portrait, which gives 1.42; adult heads
#: measure similarly (nose tip ~10 cm in front of the cheek line, cheeks ~7 cm either side).
NOSE_DEPTH_RATIO = 1.4


@dataclass
class Face:
    """One face found in the portrait, in pixel coordinates of the image passed to ``detect_faces``.

    ``box`` is ``(x0, y0, x1, y1)`` with ``x1``/``y1`` exclusive, clamped to the image. It is the
    detector's box: roughly mid-forehead to chin (about two thirds of the head's height),
    narrower than the whole head.
    ``landmarks`` is the ``(468, 2)`` face-mesh ``(x, y)`` points, or ``None`` when the mesh found
    nothing for this face (then ``yaw_deg`` and ``mouth_box`` are ``None`` too).
    ``yaw_deg`` is the head's left-right turn, see :func:`estimate_yaw` for the sign convention.
    """

    box: Box
    score: float
    landmarks: np.ndarray | None = None
    yaw_deg: float | None = None
    mouth_box: Box | None = None

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> int:
        return max(0, self.width) * max(0, self.height)

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2.0, (self.box[1] + self.box[3]) / 2.0)


def detect_faces(rgb: np.ndarray) -> list[Face]:
    """Find the faces in an ``(H, W, 3)`` RGB image, largest first.

    Never raises on odd input: greyscale, RGBA, non-``uint8`` or tiny arrays are coerced or yield
    ``[]`` - the caller turns "no face" into a user-facing problem, a crash would help nobody.
    """
    image = as_rgb_uint8(rgb)
    if image is None:
        return []
    height, width = image.shape[:2]
    scale = 1.0
    work = image
    if max(height, width) > DETECTION_MAX_SIDE:
        scale = DETECTION_MAX_SIDE / float(max(height, width))
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        work = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    work = np.ascontiguousarray(work)

    detections = _detect_boxes(work)
    if not detections:
        return []
    meshes = _mesh_for_boxes(work, [box for box, _, _ in detections])

    faces: list[Face] = []
    for (box, score, from_tile), mesh in zip(detections, meshes):
        if mesh is None and (from_tile or score < UNCONFIRMED_MIN_SCORE):
            # Not confirmed by the mesh and not a confident whole-image detection: in testing these
            # were textures (galaxies, a colour wheel); a phantom second face would block the user.
            continue
        full_box = _scale_box(box, 1.0 / scale, width, height)
        landmarks = None
        if mesh is not None:
            landmarks = (mesh / scale).astype(np.float64)
        faces.append(
            Face(
                box=full_box,
                score=float(score),
                landmarks=landmarks,
                yaw_deg=estimate_yaw(landmarks) if landmarks is not None else None,
                mouth_box=mouth_box_from_landmarks(landmarks, width, height) if landmarks is not None else None,
            )
        )
    faces.sort(key=lambda f: f.area, reverse=True)
    return faces


def estimate_yaw(landmarks: np.ndarray | None) -> float | None:
    """Head yaw in degrees from 2-D face-mesh landmarks; 0 is frontal.

    Sign: **positive when the nose points towards the image's right** (the subject turns towards
    their own left), negative towards the image's left.

    Model: seen from above, the two cheek contour points sit at ``(±W, 0)`` and the nose tip at
    ``(0, D)`` in front of them. Turning the head by ``θ`` and projecting orthographically, the nose
    tip's position along the cheek-to-cheek segment, rescaled to ``r ∈ [-1, 1]`` at the cheeks,
    is ``r = (D / W) · tan θ``, hence ``θ = atan(r / NOSE_DEPTH_RATIO)``. Measuring along the
    cheek-to-cheek axis (not image x) keeps a tilted (rolled) head from reading as turned. Past
    ~35° the nose crosses the far cheek's contour and the mesh has to guess the hidden side, so
    large angles are approximate - enough to tell "frontal / slightly turned" from "profile".
    """
    if landmarks is None:
        return None
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] <= max(NOSE_TIP, CHEEK_IMAGE_LEFT, CHEEK_IMAGE_RIGHT) or pts.shape[1] < 2:
        return None
    left = pts[CHEEK_IMAGE_LEFT, :2]
    right = pts[CHEEK_IMAGE_RIGHT, :2]
    nose = pts[NOSE_TIP, :2]
    axis = right - left
    length_sq = float(axis @ axis)
    if not np.all(np.isfinite(pts[[NOSE_TIP, CHEEK_IMAGE_LEFT, CHEEK_IMAGE_RIGHT], :2])) or length_sq < 1e-12:
        return None
    t = float((nose - left) @ axis) / length_sq  # 0 at the image-left cheek, 1 at the image-right one
    r = 2.0 * t - 1.0
    return math.degrees(math.atan(r / NOSE_DEPTH_RATIO))


def mouth_box_from_landmarks(landmarks: np.ndarray | None, width: int, height: int) -> Box | None:
    """Bounding box of the lip landmarks, clamped to the image: where the model will animate."""
    if landmarks is None:
        return None
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] < MESH_POINTS or pts.shape[1] < 2:
        return None
    lips = pts[list(LIP_POINTS), :2]
    if not np.all(np.isfinite(lips)):
        return None
    x0, y0 = np.floor(lips.min(axis=0))
    x1, y1 = np.ceil(lips.max(axis=0)) + 1
    box = _clamp_box((int(x0), int(y0), int(x1), int(y1)), width, height)
    return box if box[2] > box[0] and box[3] > box[1] else None


def as_rgb_uint8(rgb: np.ndarray) -> np.ndarray | None:
    """Coerce to contiguous ``(H, W, 3) uint8``; ``None`` when there is nothing to look at.

    Shared with the image checks and overlays so every consumer tolerates the same odd inputs
    (greyscale, RGBA, float 0..1, wider integer types) instead of each failing differently.
    """
    try:
        arr = np.asarray(rgb)
    except Exception:  # noqa: BLE001 - not array-like at all
        return None
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[0] < 2 or arr.shape[1] < 2 or arr.shape[2] not in (1, 3, 4):
        return None
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if arr.dtype != np.uint8:
        if arr.dtype == bool:
            arr = arr.astype(np.uint8) * 255
        elif np.issubdtype(arr.dtype, np.floating):
            f = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=255.0, neginf=0.0)
            if f.size and float(f.max()) <= 1.0:
                f = f * 255.0
            arr = np.clip(np.rint(f), 0, 255).astype(np.uint8)
        elif np.issubdtype(arr.dtype, np.integer):
            arr = np.clip(arr, 0, 255).astype(np.uint8)
        else:
            return None
    return np.ascontiguousarray(arr)


# --------------------------------------------------------------------------------------------
# internals


def _detect_boxes(image: np.ndarray) -> list[tuple[Box, float, bool]]:
    """``(box, score, from_tile)`` for every face on ``image``, each once, highest score first.

    Candidates are ranked by source before score: the full-range model on the whole image, then
    the short-range model, then the tiles. The first box of a cluster is kept (with the cluster's
    best score), so a face seen by both models always gets the full-range box and its reported
    size does not jump between the two models' slightly different box conventions.
    """
    ranked: list[tuple[int, float, Box]] = []
    # 1 = full-range (faces up to ~5 m, small in frame), 0 = short-range (close-ups, within ~2 m).
    for rank, model_selection in enumerate((1, 0)):
        with mp_face_detection.FaceDetection(
            model_selection=model_selection, min_detection_confidence=MIN_DETECTION_CONFIDENCE
        ) as detector:
            for box, score in _run_detector(detector, image, 0, 0):
                ranked.append((rank, score, box))
    for box, score in _detect_in_tiles(image):
        ranked.append((2, score, box))
    ranked.sort(key=lambda c: (c[0], -c[1]))
    kept: list[list] = []  # [box, best score, found only in tiles]
    for rank, score, box in ranked:
        for entry in kept:
            if _iou(box, entry[0]) >= DEDUPE_IOU or _overlap_of_smaller(box, entry[0]) >= DEDUPE_OVERLAP:
                entry[1] = max(entry[1], score)
                break
        else:
            kept.append([box, score, rank == 2])
    kept.sort(key=lambda e: e[1], reverse=True)
    return [(tuple(box), float(score), bool(from_tile)) for box, score, from_tile in kept]


def _detect_in_tiles(image: np.ndarray) -> list[tuple[Box, float]]:
    """Full-range detections on overlapping square tiles, for faces too small for the whole-image pass.

    The detector squeezes the whole image into a 192 px input, so in a 1280 px photo a face under
    ~60 px (e.g. a second person in the background, or each face of a group photo) falls below
    what it can see; a tile half the image wide doubles every face's size. Tiles overlap by half,
    so any face smaller than half a tile lies wholly inside one; detections touching an inner
    tile edge are dropped, because there the face is cut and the same face is whole in a neighbour.
    Only runs when the image is at least two tiles long, so an ordinary 512 px portrait costs nothing.
    """
    height, width = image.shape[:2]
    side = max(TILE_MIN_SIDE, int(math.ceil(max(height, width) / 2)))
    if max(height, width) < 2 * TILE_MIN_SIDE:
        return []
    tile_w, tile_h = min(side, width), min(side, height)
    found: list[tuple[Box, float]] = []
    with mp_face_detection.FaceDetection(
        model_selection=1, min_detection_confidence=TILE_MIN_DETECTION_CONFIDENCE
    ) as detector:
        for ty in _tile_starts(height, tile_h):
            for tx in _tile_starts(width, tile_w):
                tile = np.ascontiguousarray(image[ty : ty + tile_h, tx : tx + tile_w])
                for box, score in _run_detector(detector, tile, tx, ty):
                    margin = max(2, round(0.05 * max(box[2] - box[0], box[3] - box[1])))
                    cut = (
                        (tx > 0 and box[0] - tx < margin)
                        or (ty > 0 and box[1] - ty < margin)
                        or (tx + tile_w < width and tx + tile_w - box[2] < margin)
                        or (ty + tile_h < height and ty + tile_h - box[3] < margin)
                    )
                    if not cut:
                        found.append((box, score))
    return found


def _tile_starts(length: int, tile: int) -> list[int]:
    """Tile origins along one axis, stepping half a tile and ending flush with the far edge."""
    if tile >= length:
        return [0]
    step = max(1, tile // 2)
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


def _run_detector(
    detector: mp_face_detection.FaceDetection, image: np.ndarray, off_x: int, off_y: int
) -> list[tuple[Box, float]]:
    """Detector boxes in pixels of the full working image (``image`` may be a tile at an offset)."""
    height, width = image.shape[:2]
    result = detector.process(image)
    out: list[tuple[Box, float]] = []
    for det in result.detections or []:
        rel = det.location_data.relative_bounding_box
        x0 = rel.xmin * width
        y0 = rel.ymin * height
        box = _clamp_box(
            (
                int(math.floor(x0)),
                int(math.floor(y0)),
                int(math.ceil(x0 + rel.width * width)),
                int(math.ceil(y0 + rel.height * height)),
            ),
            width,
            height,
        )
        if box[2] - box[0] < 2 or box[3] - box[1] < 2:
            continue
        score = float(det.score[0]) if len(det.score) else 0.0
        out.append(((box[0] + off_x, box[1] + off_y, box[2] + off_x, box[3] + off_y), score))
    return out


def _mesh_for_boxes(image: np.ndarray, boxes: list[Box]) -> list[np.ndarray | None]:
    """Face-mesh landmarks ``(468, 2)`` in ``image`` pixels for each detector box, or ``None``.

    A mesh belongs to a box when its nose tip lies inside the box; among several, the one whose
    landmark extent overlaps the box most wins. Boxes left without a mesh get a second chance on a
    crop around them, where the mesh's own detector sees the face large and alone.
    """
    height, width = image.shape[:2]
    assigned: list[np.ndarray | None] = [None] * len(boxes)
    with mp_face_mesh.FaceMesh(
        static_image_mode=True,
        max_num_faces=5,
        refine_landmarks=False,
        min_detection_confidence=MIN_DETECTION_CONFIDENCE,
    ) as mesh:
        whole = _run_mesh(mesh, image, 0, 0)
        used: set[int] = set()
        for i, box in enumerate(boxes):
            best = _best_mesh_for_box(box, whole, used)
            if best is not None:
                used.add(best)
                assigned[i] = whole[best]
        for i, box in enumerate(boxes):
            if assigned[i] is not None:
                continue
            x0, y0, x1, y1 = box
            side = 2.0 * max(x1 - x0, y1 - y0)
            cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
            crop = _clamp_box(
                (int(cx - side / 2), int(cy - side / 2), int(math.ceil(cx + side / 2)), int(math.ceil(cy + side / 2))),
                width,
                height,
            )
            if crop[2] - crop[0] < 8 or crop[3] - crop[1] < 8:
                continue
            patch = np.ascontiguousarray(image[crop[1] : crop[3], crop[0] : crop[2]])
            local = _run_mesh(mesh, patch, crop[0], crop[1])
            best = _best_mesh_for_box(box, local, set())
            if best is not None:
                assigned[i] = local[best]
    return assigned


def _run_mesh(mesh: mp_face_mesh.FaceMesh, image: np.ndarray, off_x: int, off_y: int) -> list[np.ndarray]:
    height, width = image.shape[:2]
    result = mesh.process(image)
    out: list[np.ndarray] = []
    for face_landmarks in result.multi_face_landmarks or []:
        pts = np.array([(p.x * width + off_x, p.y * height + off_y) for p in face_landmarks.landmark], dtype=np.float64)
        if pts.shape == (MESH_POINTS, 2) and np.all(np.isfinite(pts)):
            out.append(pts)
    return out


def _best_mesh_for_box(box: Box, meshes: list[np.ndarray], used: set[int]) -> int | None:
    best, best_iou = None, -1.0
    x0, y0, x1, y1 = box
    for j, pts in enumerate(meshes):
        if j in used:
            continue
        nx, ny = pts[NOSE_TIP]
        if not (x0 <= nx < x1 and y0 <= ny < y1):
            continue
        extent = (
            int(math.floor(pts[:, 0].min())),
            int(math.floor(pts[:, 1].min())),
            int(math.ceil(pts[:, 0].max())),
            int(math.ceil(pts[:, 1].max())),
        )
        overlap = _iou(box, extent)
        if overlap > best_iou:
            best, best_iou = j, overlap
    return best


def _iou(a: Box, b: Box) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _overlap_of_smaller(a: Box, b: Box) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / smaller if smaller > 0 else 0.0


def _clamp_box(box: Box, width: int, height: int) -> Box:
    x0, y0, x1, y1 = box
    x0 = min(max(x0, 0), width)
    x1 = min(max(x1, 0), width)
    y0 = min(max(y0, 0), height)
    y1 = min(max(y1, 0), height)
    return (x0, y0, max(x0, x1), max(y0, y1))


def _scale_box(box: Box, factor: float, width: int, height: int) -> Box:
    if factor == 1.0:
        return _clamp_box(box, width, height)
    x0, y0, x1, y1 = box
    return _clamp_box(
        (int(math.floor(x0 * factor)), int(math.floor(y0 * factor)), int(math.ceil(x1 * factor)), int(math.ceil(y1 * factor))),
        width,
        height,
    )
