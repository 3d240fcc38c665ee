"""How fast the CPU preview renders, per preset size: the figure behind the plan's preview estimate.

Prints, for a 10 s input at each preset's own size, video seconds made per wall second and output
pixels per second, for rendering alone and for rendering plus H.264/AAC encoding (what a run
costs). ``liveavatar.plan.PREVIEW_PIXELS_PER_SECOND`` should track the render+encode figure.
Each preset is measured with one speaker (the astronaut portrait) and with two people (the
two-astronaut portrait, both talking: each mouth driven by its own track).

    python benchmarks/preview_speed.py [--seconds 10] [--repeats 3] [--people 1,2]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from liveavatar.backends.base import PersonInputs, PreparedInputs  # noqa: E402
from liveavatar.backends.preview import PreviewBackend  # noqa: E402
from liveavatar.faces import Box  # noqa: E402
from liveavatar.media.audio import mix_tracks  # noqa: E402
from liveavatar.media.video import VideoWriter  # noqa: E402
from liveavatar.plan import make_plan  # noqa: E402
from liveavatar.presets import PRESETS  # noqa: E402

SR = 16_000
# The astronaut's face box in the 512×512 portrait, as MediaPipe face detection finds it, so the
# mouth and eye warps have their usual size.
ASTRONAUT_FACE = (174, 68, 278, 172)
# The two astronauts in the 640×512 two_faces.png, left to right: (face box, mouth box) as MediaPipe
# finds them.
TWO_ASTRONAUTS = (
    ((109, 70, 214, 175), (137, 138, 184, 156)),
    ((425, 68, 533, 176), (458, 139, 504, 156)),
)


def _speech(seconds: float, shift_s: float = 0.0) -> np.ndarray:
    """The example speech, started ``shift_s`` in and looped to ``seconds``."""
    import soundfile as sf

    speech, sr = sf.read(ROOT / "examples" / "media" / "speech.wav", dtype="float32")
    assert sr == SR
    return np.resize(np.roll(speech, -int(shift_s * SR)), int(round(seconds * SR))).astype(np.float32)


def _fitted(name: str, width: int, height: int, faces: list[Box]) -> tuple[np.ndarray, Callable[[Box], Box]]:
    """The portrait ``name`` resized to cover ``width`` x ``height`` and cropped around ``faces`` (their
    middle at 45 % of the height, as the app's face-crop fix does), and the map of its boxes into it."""
    from PIL import Image

    portrait = np.asarray(Image.open(ROOT / "examples" / "media" / name).convert("RGB"))
    ph, pw = portrait.shape[:2]
    scale = max(width / pw, height / ph)
    resized = cv2.resize(portrait, (round(pw * scale), round(ph * scale)), interpolation=cv2.INTER_AREA)
    cx = np.mean([(f[0] + f[2]) / 2 for f in faces]) * scale
    cy = np.mean([(f[1] + f[3]) / 2 for f in faces]) * scale
    oy = int(np.clip(cy - 0.45 * height, 0, resized.shape[0] - height))
    ox = int(np.clip(cx - 0.5 * width, 0, resized.shape[1] - width))

    def fit(box: Box) -> Box:
        x0, y0, x1, y1 = (round(v * scale) for v in box)
        return x0 - ox, y0 - oy, x1 - ox, y1 - oy

    return np.ascontiguousarray(resized[oy : oy + height, ox : ox + width]), fit


def load_inputs(width: int, height: int, seconds: float) -> PreparedInputs:
    """The example portrait and speech fitted to the size, as the app would prepare them."""
    reference, fit = _fitted("portrait.png", width, height, [ASTRONAUT_FACE])
    return PreparedInputs(prompt="benchmark", reference=reference, audio_16k=_speech(seconds), seed=1,
                          face_box=fit(ASTRONAUT_FACE))


def load_two_people(width: int, height: int, seconds: float) -> PreparedInputs:
    """The two-astronaut portrait fitted to the size, both talking (the speech, and the speech 4 s on)."""
    reference, fit = _fitted("two_faces.png", width, height, [face for face, _ in TWO_ASTRONAUTS])
    tracks = [_speech(seconds), _speech(seconds, shift_s=-4.0)]
    people = [PersonInputs(audio_16k=track, mask=np.zeros((height, width), np.float32),  # the preview ignores masks
                           face_box=fit(face), mouth_box=fit(mouth))
              for track, (face, mouth) in zip(tracks, TWO_ASTRONAUTS)]
    return PreparedInputs(prompt="benchmark", reference=reference, audio_16k=mix_tracks(tracks), seed=1, people=people)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3, help="render-only runs; the best is reported")
    parser.add_argument("--people", default="1,2", help="speakers per run to measure: 1, 2 or both (1,2)")
    args = parser.parse_args()
    counts = sorted({int(c) for c in args.people.split(",")})
    if not set(counts) <= {1, 2}:
        parser.error("--people takes 1, 2 or 1,2")

    cpu = platform.processor() or platform.machine()
    print(f"CPU preview speed, {args.seconds:g} s input; {os.cpu_count()} CPU cores, {cpu}")
    print(f"{'preset':14s} {'people':>6s} {'size':>9s} {'frames':>6s} | {'render only':>24s} | {'render + encode':>24s}")
    print(f"{'':14s} {'':>6s} {'':>9s} {'':>6s} | {'video s/s':>10s} {'Mpx/s':>13s} | {'video s/s':>10s} {'Mpx/s':>13s}")
    backend = PreviewBackend()
    for preset, people in ((p, c) for p in PRESETS.values() for c in counts):
        plan = make_plan(preset.settings, image_size=None, audio_seconds=args.seconds)
        load = load_inputs if people == 1 else load_two_people
        inputs = load(plan.width, plan.height, plan.video_seconds)
        pixels = plan.video_frames * plan.width * plan.height

        render_s = float("inf")
        for _ in range(max(1, args.repeats)):
            t0 = time.perf_counter()
            for _clip in backend.generate(plan, inputs):
                pass
            render_s = min(render_s, time.perf_counter() - t0)

        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            with VideoWriter(Path(tmp) / "bench.mp4", plan.width, plan.height, plan.fps) as writer:
                for clip in backend.generate(plan, inputs):
                    writer.append(clip.frames)
                writer.close(inputs.audio_16k)
            total_s = time.perf_counter() - t0

        print(
            f"{preset.key:14s} {people:>6d} {plan.width:>4d}×{plan.height:<4d} {plan.video_frames:>6d} | "
            f"{plan.video_seconds / render_s:>9.1f}× {pixels / render_s / 1e6:>13.1f} | "
            f"{plan.video_seconds / total_s:>9.1f}× {pixels / total_s / 1e6:>13.1f}"
        )


if __name__ == "__main__":
    main()
