"""Checks for several people speaking in one portrait, one speech track each (issue 14).

Run when two or more speech tracks are given (one track: :func:`liveavatar.checks.image.check_image`
alone). People are numbered 1..n left to right by face centre (:func:`liveavatar.people.faces_left_to_right`);
track k drives person ``face_order[k] + 1`` (by default person k + 1). Lines:

* ``people.count``: one face per track, 2 to :data:`~liveavatar.checks.image.MAX_PEOPLE` tracks.
* ``people.order``: only when ``face_order`` does not give every track its own person.
* ``people.face_size`` / ``people.pose`` / ``people.exposure``: per person, the single-face checks of
  ``checks/image.py`` (one implementation), each value saying "person 2 (track 1): ...".
* ``people.apart``: each person's mouth must have a token of the model's 1/16 grid that only their
  own track moves, judged on the masks (:func:`liveavatar.people.person_masks`) and routing gates
  (:func:`liveavatar.routing.routing_masks`) the generation will use.
* ``people.silent``: a silent track is a problem (nobody would speak there).
* ``people.lengths``: tracks of different lengths: the video lasts as long as the longest (upstream
  cuts all tracks to the shortest; we pad the shorter ones with silence), said as ``info``.

Never raises: a measurement that fails becomes a warning saying so.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from liveavatar.checks.audio import DURATION_TOLERANCE_S, SILENCE_GATE_DBFS, AudioStats, _fmt_db, _is_silent, _num
from liveavatar.checks.image import _as_rgb, _check_exposure, _check_pose, _check_size, _face_region
from liveavatar.checks.result import CheckResult, info, ok, problem, warning
from liveavatar.faces import Box, Face
from liveavatar.media.audio import describe_duration
from liveavatar.people import faces_left_to_right
from liveavatar.prepare import fit_people
from liveavatar.routing import MAX_PEOPLE, routing_masks, token_grid
from liveavatar.media.image import LoadedImage

__all__ = ["MIN_PEOPLE", "check_people"]

#: Fewer tracks than this is the single-speaker path (``check_image`` alone).
MIN_PEOPLE = 2

_NAMES = {
    "people.count": "People",
    "people.order": "Who speaks which track",
    "people.apart": "Faces apart",
    "people.silent": "Silent track",
    "people.lengths": "Track lengths",
}


def check_people(
    image: LoadedImage,
    faces: list[Face],
    tracks: list[AudioStats | None],
    face_order: list[int] | None = None,
    video_size: tuple[int, int] | None = None,
) -> list[CheckResult]:
    """The several-people checklist lines (see the module docstring), in the order shown.

    ``faces`` as :func:`liveavatar.faces.detect_faces` found them on ``image.rgb`` (any order: they
    are numbered left to right here); ``tracks`` the speech tracks' stats in the order given (``None``
    for one not measured); ``face_order[k]`` the 0-based index, in left-to-right numbering, of the
    face track k drives (``None``: track k drives face k); ``video_size`` the planned video's
    ``(width, height)`` (``None``: 704 × 384, or 384 × 704 for a portrait-format photo).
    With fewer than two tracks there is nothing to say here and the list is empty.
    """

    tracks = list(tracks or [])
    if len(tracks) < MIN_PEOPLE:
        return []
    try:
        people = faces_left_to_right(list(faces or []))
    except Exception:  # noqa: BLE001 - odd face objects: count them, place nobody
        people = []
    n_tracks, n_faces = len(tracks), len(people)
    order, order_ok = _order(face_order, n_tracks, n_faces)
    counts_ok = n_faces == n_tracks and n_tracks <= MAX_PEOPLE

    steps: list[tuple[str, str, Callable[[], CheckResult]]] = [
        ("people.count", _NAMES["people.count"], lambda: _check_count(n_faces, n_tracks)),
    ]
    if not order_ok:
        steps.append(("people.order", _NAMES["people.order"], lambda: _check_order(face_order, n_tracks, n_faces)))
    rgb_holder: dict[str, np.ndarray] = {}

    def rgb() -> np.ndarray:
        if "rgb" not in rgb_holder:
            rgb_holder["rgb"] = _as_rgb(image.rgb)
        return rgb_holder["rgb"]

    track_of = {face: k for k, face in enumerate(order)} if order_ok else {}
    for index, face in enumerate(people[:MAX_PEOPLE]):
        who = _who(index, track_of.get(index))
        steps += [
            ("people.face_size", "Face size", lambda f=face, w=who: _check_size(f, rgb().shape[0], who=w)),
            ("people.pose", "Head turn", lambda f=face, w=who: _check_pose(f, who=w)),
            ("people.exposure", "Exposure",
             lambda f=face, w=who: _check_exposure(*_face_region(rgb(), f), who=w)),
        ]
    if counts_ok and order_ok:
        steps.append(("people.apart", _NAMES["people.apart"],
                      lambda: _check_apart(rgb(), people, order, video_size)))
    steps += [
        ("people.silent", _NAMES["people.silent"], lambda: _check_silent(tracks)),
        ("people.lengths", _NAMES["people.lengths"], lambda: _check_lengths(tracks, order if order_ok else None)),
    ]
    results = []
    for check_id, name, run in steps:
        try:
            results.append(run())
        except Exception as exc:  # noqa: BLE001 - one odd measurement must not hide the others
            results.append(warning(
                check_id, name, f"not measured (error: {type(exc).__name__})", "-",
                "This could not be checked automatically; look at the photo and the tracks yourself.",
            ))
    return results


# --------------------------------------------------------------------------------------------
# individual checks


def _who(face_index: int, track: int | None) -> str:
    return f"person {face_index + 1}" + (f" (track {track + 1})" if track is not None else "")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _order(face_order: list[int] | None, n_tracks: int, n_faces: int) -> tuple[list[int], bool]:
    """``(order, valid)``: track k drives face ``order[k]``; valid when every track has its own face."""
    if face_order is None:
        order = list(range(n_tracks))
        return order, n_faces >= n_tracks
    try:
        order = [int(i) for i in face_order]
    except (TypeError, ValueError):
        return list(range(n_tracks)), False
    valid = len(order) == n_tracks and len(set(order)) == n_tracks and all(0 <= i < n_faces for i in order)
    return order, valid


def _check_count(n_faces: int, n_tracks: int) -> CheckResult:
    cid, name = "people.count", _NAMES["people.count"]
    value = f"{_plural(n_faces, 'face')} found, {_plural(n_tracks, 'speech track')}"
    threshold = f"one face per speech track, {MIN_PEOPLE} to {MAX_PEOPLE} people"
    if n_tracks > MAX_PEOPLE:
        return problem(
            cid, name, value, threshold,
            f"{_plural(n_tracks, 'speech track')} given, but at most {MAX_PEOPLE} people can speak in one "
            f"video: remove {_plural(n_tracks - MAX_PEOPLE, 'track')}.",
        )
    if n_faces == n_tracks:
        return ok(cid, name, value, threshold)
    found = f"{_plural(n_faces, 'face')} found but {_plural(n_tracks, 'speech track')}"
    if n_faces < n_tracks:
        extra = n_tracks - n_faces
        fix = (
            f"{found}: each track needs its own person. Remove {_plural(extra, 'track')}, or use a photo "
            f"with {n_tracks} people whose faces are clearly visible."
        )
    else:
        fix = (
            f"{found}: the other people would stay still. Add a speech track for each person "
            f"(up to {MAX_PEOPLE}), or crop the photo to the {n_tracks} people who speak."
        )
    return problem(cid, name, value, threshold, fix)


def _check_order(face_order: object, n_tracks: int, n_faces: int) -> CheckResult:
    cid, name = "people.order", _NAMES["people.order"]
    try:
        value = f"tracks 1–{n_tracks} drive people " + ", ".join(str(int(i) + 1) for i in face_order)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        value = "track order unreadable"
    return problem(
        cid, name, value,
        f"each track drives a different person, numbered 1–{n_faces} from the left",
        "Choose a different person for each speech track.",
    )


def _mouth_box(mouth: Box | None, face: Box | None) -> Box | None:
    """The mouth on the video, else the lower third of the face box; ``None`` when both were cropped away."""
    if mouth is not None or face is None:
        return mouth
    x0, y0, x1, y1 = face
    return x0, y0 + 2 * (y1 - y0) // 3, x1, y1


def _check_apart(rgb: np.ndarray, people: list[Face], order: list[int], video_size: tuple[int, int] | None) -> CheckResult:
    """Does each mouth own a token cell (its gate 1, every other person's 0) on the routing grid?"""

    cid, name = "people.apart", _NAMES["people.apart"]
    src_h, src_w = rgb.shape[:2]
    width, height = video_size if video_size else _default_video_size(src_w, src_h)
    width, height = int(width), int(height)
    grid_h, grid_w = token_grid(width, height)
    threshold = (
        f"each person's mouth covers at least one token ({width // max(1, grid_w)} × {height // max(1, grid_h)} px "
        f"of the {width} × {height} video) that only their own track moves"
    )
    fitted = fit_people(rgb, [people[i] for i in order], width, height)  # in track order, as the run makes them
    gates = routing_masks(fitted.masks, (grid_h, grid_w))
    parts, crowded, outside = [], [], []
    for track, face_index in enumerate(order):
        who = _who(face_index, track)
        mouth = _mouth_box(fitted.mouth_boxes[track], fitted.face_boxes[track])
        if mouth is None:
            parts.append(f"{who}: mouth outside the video frame")
            outside.append(f"person {face_index + 1}")
            continue
        x0, y0, x1, y1 = mouth
        cx0, cy0 = int(x0 * grid_w / width), int(y0 * grid_h / height)
        cx1 = max(cx0 + 1, math.ceil(x1 * grid_w / width))
        cy1 = max(cy0 + 1, math.ceil(y1 * grid_h / height))
        own = gates[track, cy0:cy1, cx0:cx1] > 0.5
        others = np.delete(gates, track, axis=0)[:, cy0:cy1, cx0:cx1] > 0.5
        alone = own & ~others.any(axis=0)
        total, mine = int(own.size), int(alone.sum())
        parts.append(f"{who}: {mine} of {_plural(total, 'mouth token')} theirs alone")
        if mine == 0:
            crowded.append(f"person {face_index + 1}")
    value = "; ".join(parts)
    if outside:
        return problem(
            cid, name, value, threshold,
            f"The mouth of {' and '.join(outside)} falls outside the {width} × {height} video after the crop "
            "to its shape. Use a photo where every speaking face is well inside the frame.",
        )
    if crowded:
        return problem(
            cid, name, value, threshold,
            f"The faces are too close to tell apart: every token on the mouth of {' and '.join(crowded)} is "
            "shared with another person, so another voice would move that mouth too (or none would). Use a photo where "
            "the faces are further apart or larger.",
        )
    return ok(cid, name, value, threshold)


def _default_video_size(src_w: int, src_h: int) -> tuple[int, int]:
    """The largest preset size in the photo's orientation, when the caller gives none."""
    return (384, 704) if src_h > src_w else (704, 384)


def _check_silent(tracks: list[AudioStats | None]) -> CheckResult:
    cid, name = "people.silent", _NAMES["people.silent"]
    threshold = f"some speech above {SILENCE_GATE_DBFS:.0f} dBFS in every track"
    silent = [k for k, t in enumerate(tracks) if t is not None and _is_silent(t)]
    measured = [t for t in tracks if t is not None]
    if not measured:
        return ok(cid, name, "not measured (no track measured)", threshold)
    if not silent:
        return ok(cid, name, "no silent track", threshold)
    value = "; ".join(f"track {k + 1} silent (loudest moment {_fmt_db(tracks[k].loudest_frame_dbfs)})" for k in silent)
    which = " and ".join(f"track {k + 1}" for k in silent)
    several = len(silent) > 1
    return problem(
        cid, name, value, threshold,
        f"{which[0].upper()}{which[1:]} {'are' if several else 'is'} silent, so nothing moves "
        f"{'those people' if several else 'that person'}'s mouth. Check the file or the microphone and "
        f"record or upload {'their' if several else 'that person'}'s speech again.",
    )


def _check_lengths(tracks: list[AudioStats | None], order: list[int] | None) -> CheckResult:
    cid, name = "people.lengths", _NAMES["people.lengths"]
    threshold = "tracks of the same length (the video lasts as long as the longest)"
    durations = {k: _num(t.duration_s) for k, t in enumerate(tracks) if t is not None}
    durations = {k: d for k, d in durations.items() if math.isfinite(d) and d >= 0}
    if len(durations) < 2:
        return ok(cid, name, "not measured (fewer than two tracks measured)", threshold)
    longest_k = max(durations, key=lambda k: durations[k])
    longest = durations[longest_k]
    shorter = [(k, longest - d) for k, d in durations.items() if longest - d > DURATION_TOLERANCE_S]
    value = ", ".join(f"track {k + 1}: {describe_duration(d)}" for k, d in sorted(durations.items()))
    if not shorter:
        return ok(cid, name, value, threshold)

    def person(k: int) -> str:
        return f"person {order[k] + 1}" if order is not None and k < len(order) else f"track {k + 1}"

    ends = "; ".join(
        f"{person(k)}'s track ends {describe_duration(gap)} earlier: they are silent after" for k, gap in shorter
    )
    return info(
        cid, name, value, threshold,
        f"The video lasts as long as the longest track ({describe_duration(longest)}); {ends}. Nothing to do "
        "unless you want them to end together: then trim the longer track.",
    )
