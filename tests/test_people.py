"""person_masks / faces_left_to_right (issue 14) on the two astronauts and synthetic images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from liveavatar.faces import Face, detect_faces
from liveavatar.people import FACE_BOX_MARGIN, faces_left_to_right, person_masks
from liveavatar.prepare import fit_reference, map_box

TWO_FACES = Path(__file__).resolve().parents[1] / "examples" / "media" / "two_faces.png"


@pytest.fixture(scope="module")
def two_fitted() -> tuple[np.ndarray, list[Face], list, list]:
    """The two astronauts fitted to 704 × 384, their faces left to right, face and mouth boxes on it."""
    rgb = np.array(Image.open(TWO_FACES).convert("RGB"))
    h, w = rgb.shape[:2]
    faces = faces_left_to_right(detect_faces(rgb))
    fitted = fit_reference(rgb, 704, 384)
    boxes = [map_box(f.box, w, h, 704, 384) for f in faces]
    mouths = [map_box(f.mouth_box, w, h, 704, 384) for f in faces]
    return fitted, faces, boxes, mouths


def _centre(box) -> tuple[int, int]:
    return (box[0] + box[2]) // 2, (box[1] + box[3]) // 2


def test_two_astronauts_get_two_disjoint_masks_each_on_its_own_face(two_fitted) -> None:
    fitted, faces, boxes, mouths = two_fitted
    assert len(faces) == 2 and all(b is not None for b in boxes) and all(m is not None for m in mouths)
    masks = person_masks(fitted, boxes)
    assert masks.shape == (2, 384, 704) and masks.dtype == np.float32
    assert float(masks.min()) >= 0.0 and float(masks.max()) <= 1.0
    assert not np.any((masks > 0).sum(axis=0) > 1), "masks overlap"
    for k in range(2):
        other = 1 - k
        cx, cy = _centre(boxes[k])
        assert masks[k, cy, cx] == 1 and masks[other, cy, cx] == 0
        x0, y0, x1, y1 = mouths[k]
        assert masks[k, y0:y1, x0:x1].min() == 1, "the whole mouth is in its own mask"
        assert masks[other, y0:y1, x0:x1].max() == 0
    # each mask is a body, not just a face box: hair, neck and suit (well below the face)
    for k in range(2):
        x0, y0, x1, y1 = boxes[k]
        assert masks[k].sum() > 4 * (x1 - x0) * (y1 - y0)
        assert masks[k, 300:, x0:x1].mean() > 0.8  # the suit under the face
    # the split runs between them: person 1 left of the middle, person 2 right of it
    cols = np.arange(704)
    assert (masks[0].sum(0) * cols).sum() / masks[0].sum() < 352 < (masks[1].sum(0) * cols).sum() / masks[1].sum()


def test_flat_image_falls_back_to_enlarged_face_boxes() -> None:
    rgb = np.full((384, 704, 3), 128, np.uint8)  # nothing the segmenter can call a person
    boxes = [(100, 100, 200, 220), (180, 120, 280, 240)]  # overlapping enlarged boxes
    masks = person_masks(rgb, boxes)
    assert masks.shape == (2, 384, 704)
    assert not np.any(masks.sum(axis=0) > 1)
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        cx, cy = _centre(boxes[k])
        assert masks[k, cy, cx] == 1
        # enlarged by the margin, nothing far outside
        mx = int(FACE_BOX_MARGIN * (x1 - x0))
        assert masks[k, :, x1 + mx + 2 :].sum() == 0
        assert masks[k, y1 + int(FACE_BOX_MARGIN * (y1 - y0)) + 2 :, :].sum() == 0
    assert masks[0, 160, 100 - int(FACE_BOX_MARGIN * 100) + 1] == 1  # the enlarged margin is in
    # the pixel between the two centres goes to the nearer face
    assert masks[0, 160, 150] == 1 and masks[1, 180, 240] == 1


@pytest.mark.parametrize(
    "rgb",
    [np.zeros((0, 0, 3), np.uint8), np.zeros((10,), np.uint8), np.full((50, 40), np.nan), "not an image", None],
)
def test_odd_images_never_raise(rgb) -> None:
    masks = person_masks(rgb, [(0, 0, 10, 10), (5, 5, 30, 30)])
    assert masks.ndim == 3 and masks.shape[0] == 2 and masks.dtype == np.float32


def test_odd_boxes_never_raise() -> None:
    rgb = np.full((64, 96, 3), 200, np.uint8)
    masks = person_masks(rgb, [(10, 10, 30, 30), (50, 50, 40, 40), (-100, -100, -50, -50), (0, 0, float("nan"), 5)])
    assert masks.shape == (4, 64, 96)
    assert masks[0].sum() > 0 and masks[1:].sum() == 0
    assert person_masks(rgb, []).shape == (0, 64, 96)


def test_faces_left_to_right() -> None:
    a = Face(box=(400, 10, 500, 110), score=0.9)  # largest, right
    b = Face(box=(10, 50, 60, 100), score=0.8)  # left
    c = Face(box=(200, 30, 280, 110), score=0.7)  # middle
    assert faces_left_to_right([a, b, c]) == [b, c, a]
    assert faces_left_to_right([]) == []


def test_detected_astronauts_are_numbered_left_to_right(two_fitted) -> None:
    _, faces, _, _ = two_fitted
    assert faces[0].centre[0] < faces[1].centre[0]
