"""detect_faces / estimate_yaw on the public-domain astronaut portrait and synthetic geometry."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from skimage import data

from liveavatar.faces import (
    CHEEK_IMAGE_LEFT,
    CHEEK_IMAGE_RIGHT,
    MESH_POINTS,
    NOSE_DEPTH_RATIO,
    NOSE_TIP,
    Face,
    detect_faces,
    estimate_yaw,
    mouth_box_from_landmarks,
)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope="module")
def astronaut_faces(astronaut: np.ndarray) -> list[Face]:
    return detect_faces(astronaut)


def _inside(point: tuple[float, float], box: tuple[int, int, int, int]) -> bool:
    return box[0] <= point[0] < box[2] and box[1] <= point[1] < box[3]


def test_astronaut_has_one_frontal_face(astronaut_faces: list[Face]) -> None:
    assert len(astronaut_faces) == 1
    face = astronaut_faces[0]
    x0, y0, x1, y1 = face.box
    assert all(isinstance(v, int) for v in face.box)
    # Her eyes are near (200, 100) and (250, 105), her mouth near (225, 145) in the 512² image.
    for point in ((200, 100), (250, 105), (225, 145)):
        assert _inside(point, face.box)
    assert 70 < y1 - y0 < 140 and 70 < x1 - x0 < 140
    assert 0.5 < face.score <= 1.0
    assert face.landmarks is not None and face.landmarks.shape == (MESH_POINTS, 2)
    assert _inside(tuple(face.landmarks[NOSE_TIP]), face.box)
    assert face.yaw_deg is not None and abs(face.yaw_deg) < 15
    assert face.mouth_box is not None
    mx0, my0, mx1, my1 = face.mouth_box
    assert x0 <= mx0 < mx1 <= x1 and (y0 + y1) / 2 < my0 < my1 <= y1 + 5
    assert _inside((225, 145), face.mouth_box)


def test_two_astronauts_side_by_side_are_two_faces_with_landmarks(astronaut: np.ndarray) -> None:
    faces = detect_faces(np.concatenate([astronaut, astronaut], axis=1))
    assert len(faces) == 2
    centres = sorted(f.centre[0] for f in faces)
    assert centres[0] < 512 < centres[1]
    assert faces[0].area >= faces[1].area
    # The whole-image mesh misses these; the per-box fallback must still give each its landmarks.
    for face in faces:
        assert face.landmarks is not None
        assert _inside(tuple(face.landmarks[NOSE_TIP]), face.box)
        assert face.yaw_deg is not None and abs(face.yaw_deg) < 15


def test_faces_are_sorted_by_area(astronaut: np.ndarray) -> None:
    canvas = np.full((700, 1100, 3), 255, np.uint8)
    canvas[100:356, 20:276] = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    canvas[:512, 560:1072] = astronaut
    faces = detect_faces(canvas)
    assert len(faces) == 2
    assert faces[0].area > faces[1].area
    assert faces[0].centre[0] > 560  # the full-size astronaut comes first
    # The small one (a ~50 px face in a 1100 px image) is only found by the tile pass.
    assert faces[1].landmarks is not None


@pytest.mark.parametrize("kind", ["cat", "grey", "noise_free_gradient", "galaxies", "colour_wheel"])
def test_no_face(kind: str) -> None:
    if kind == "cat":
        img = data.chelsea()
    elif kind == "colour_wheel":
        # The full-range detector scores this 0.58 and the mesh finds nothing: not a face.
        img = np.ascontiguousarray(data.colorwheel()[:, :, :3])
    elif kind == "galaxies":
        # The tile pass once reported four "faces" here: tile-only detections need mesh landmarks.
        img = data.hubble_deep_field()
    elif kind == "grey":
        img = np.full((300, 400, 3), 128, np.uint8)
    else:
        img = np.repeat(np.linspace(0, 255, 256, dtype=np.uint8)[None, :, None], 3, axis=2).repeat(200, axis=0)
    assert detect_faces(img) == []


def test_heavily_blurred_face_is_found_without_landmarks(astronaut: np.ndarray) -> None:
    """The mesh gives up under heavy blur but the detector does not: report blur, not "no face"."""
    faces = detect_faces(cv2.GaussianBlur(astronaut, (0, 0), 6))
    assert len(faces) == 1
    assert faces[0].landmarks is None and faces[0].yaw_deg is None and faces[0].mouth_box is None
    assert _inside((225, 130), faces[0].box)


def test_large_image_coordinates_map_back(astronaut: np.ndarray, astronaut_faces: list[Face]) -> None:
    big = cv2.resize(astronaut, (2048, 2048), interpolation=cv2.INTER_CUBIC)  # > 1280: downscaled inside
    faces = detect_faces(big)
    assert len(faces) == 1
    small = astronaut_faces[0]
    for a, b in zip(faces[0].box, small.box):
        assert abs(a - 4 * b) < 4 * 12
    assert faces[0].landmarks is not None
    assert np.abs(faces[0].landmarks - 4 * small.landmarks).mean() < 4 * 3


def test_odd_inputs_are_coerced(astronaut: np.ndarray) -> None:
    grey = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    assert len(detect_faces(grey)) == 1
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    assert len(detect_faces(rgba)) == 1
    assert len(detect_faces(astronaut.astype(np.float32) / 255.0)) == 1
    assert detect_faces(np.zeros((0, 0, 3), np.uint8)) == []
    assert detect_faces(np.zeros((1, 1, 3), np.uint8)) == []
    assert detect_faces(np.zeros((5, 5, 7), np.uint8)) == []


# ------------------------------------------------------------------------------------------
# yaw from synthetic geometry: place the three landmarks the estimate uses on a 3-D head,
# turn it, project it, and check the estimate recovers the angle.


def _head_landmarks(yaw_deg: float, roll_deg: float = 0.0, depth_ratio: float = NOSE_DEPTH_RATIO) -> np.ndarray:
    """(468, 2) landmarks of an orthographically projected head turned by ``yaw_deg``.

    Positive yaw turns the nose towards +x (the image's right), the documented convention.
    Unused points sit at the head centre.
    """
    half_width = 60.0
    points = np.zeros((MESH_POINTS, 3))
    points[CHEEK_IMAGE_LEFT] = (-half_width, 0.0, 0.0)
    points[CHEEK_IMAGE_RIGHT] = (half_width, 0.0, 0.0)
    points[NOSE_TIP] = (0.0, 25.0, depth_ratio * half_width)  # also a little below the cheek line
    t = math.radians(yaw_deg)
    # rotation about the vertical (y) axis; z points towards the camera
    rot_y = np.array([[math.cos(t), 0, math.sin(t)], [0, 1, 0], [-math.sin(t), 0, math.cos(t)]])
    turned = points @ rot_y.T
    r = math.radians(roll_deg)
    rot_z = np.array([[math.cos(r), -math.sin(r)], [math.sin(r), math.cos(r)]])
    return turned[:, :2] @ rot_z.T + (300.0, 200.0)


@pytest.mark.parametrize("yaw", [-70, -45, -30, -10, 0, 10, 29, 31, 45, 70])
def test_yaw_recovers_synthetic_turn(yaw: float) -> None:
    estimate = estimate_yaw(_head_landmarks(yaw))
    assert estimate is not None
    assert estimate == pytest.approx(yaw, abs=0.01)


@pytest.mark.parametrize("roll", [-30, 15, 90])
def test_yaw_ignores_head_tilt(roll: float) -> None:
    assert estimate_yaw(_head_landmarks(20, roll_deg=roll)) == pytest.approx(20, abs=0.01)


def test_yaw_is_approximate_when_the_head_is_shaped_differently() -> None:
    """A head whose nose sticks out 20% less than the model assumes still reads the right side of 30°."""
    assert abs(estimate_yaw(_head_landmarks(0, depth_ratio=1.1))) < 0.01
    assert estimate_yaw(_head_landmarks(20, depth_ratio=1.1)) < 20
    assert estimate_yaw(_head_landmarks(45, depth_ratio=1.1)) > 30


def test_yaw_degenerate_inputs() -> None:
    assert estimate_yaw(None) is None
    assert estimate_yaw(np.zeros((10, 2))) is None
    assert estimate_yaw(np.zeros((MESH_POINTS, 2))) is None  # both cheeks at one point
    nan = _head_landmarks(0)
    nan[NOSE_TIP] = np.nan
    assert estimate_yaw(nan) is None


def test_mouth_box_is_clamped() -> None:
    points = np.full((MESH_POINTS, 2), -50.0)
    box = mouth_box_from_landmarks(points, 100, 100)
    assert box is None  # entirely outside the image
    assert mouth_box_from_landmarks(None, 10, 10) is None
