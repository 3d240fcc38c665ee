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
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from liveavatar.backends.base import PersonInputs, PreparedInputs  # noqa: E402
from liveavatar.backends.preview import PreviewBackend  # noqa: E402
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


def load_inputs(width: int, height: int, seconds: float) -> PreparedInputs:
    """The example portrait and speech fitted to the size, as the app would prepare them."""
    import soundfile as sf
    from PIL import Image

    media = ROOT / "examples" / "media"
    portrait = np.asarray(Image.open(media / "portrait.png").convert("RGB"))
    speech, sr = sf.read(media / "speech.wav", dtype="float32")
    assert sr == SR
    n = int(round(seconds * SR))
    audio = np.resize(speech, n).astype(np.float32)  # loop the 8 s of speech to the length asked

    ph, pw = portrait.shape[:2]
    scale = max(width / pw, height / ph)
    resized = cv2.resize(portrait, (round(pw * scale), round(ph * scale)), interpolation=cv2.INTER_AREA)
    x0, y0, x1, y1 = (round(v * scale) for v in ASTRONAUT_FACE)
    # Crop around the face (as the app's face-crop fix does), not the centre, so the face stays in.
    oy = int(np.clip((y0 + y1) / 2 - 0.45 * height, 0, resized.shape[0] - height))
    ox = int(np.clip((x0 + x1) / 2 - 0.5 * width, 0, resized.shape[1] - width))
    reference = np.ascontiguousarray(resized[oy : oy + height, ox : ox + width])
    face = (x0 - ox, y0 - oy, x1 - ox, y1 - oy)
    return PreparedInputs(prompt="benchmark", reference=reference, audio_16k=audio, seed=1, face_box=face)


def load_two_people(width: int, height: int, seconds: float) -> PreparedInputs:
    """The two-astronaut portrait fitted to the size, both talking (the speech, and the speech 4 s on)."""
    import soundfile as sf
    from PIL import Image

    media = ROOT / "examples" / "media"
    portrait = np.asarray(Image.open(media / "two_faces.png").convert("RGB"))
    speech, sr = sf.read(media / "speech.wav", dtype="float32")
    assert sr == SR
    n = int(round(seconds * SR))
    tracks = [np.resize(speech, n).astype(np.float32), np.resize(np.roll(speech, 4 * SR), n).astype(np.float32)]

    ph, pw = portrait.shape[:2]
    scale = max(width / pw, height / ph)
    resized = cv2.resize(portrait, (round(pw * scale), round(ph * scale)), interpolation=cv2.INTER_AREA)
    # Crop around both faces (their vertical middle at 45 % of the height), as for one face.
    y_mid = np.mean([(f[1] + f[3]) / 2 for f, _ in TWO_ASTRONAUTS]) * scale
    oy = int(np.clip(y_mid - 0.45 * height, 0, resized.shape[0] - height))
    ox = (resized.shape[1] - width) // 2
    reference = np.ascontiguousarray(resized[oy : oy + height, ox : ox + width])

    def fitted(box):
        x0, y0, x1, y1 = (round(v * scale) for v in box)
        return x0 - ox, y0 - oy, x1 - ox, y1 - oy

    people = []
    for track, (face, mouth) in zip(tracks, TWO_ASTRONAUTS):
        mask = np.zeros((height, width), np.float32)  # the preview ignores masks
        people.append(PersonInputs(audio_16k=track, mask=mask, face_box=fitted(face), mouth_box=fitted(mouth)))
    mix = np.clip(tracks[0] + tracks[1], -1.0, 1.0)
    return PreparedInputs(prompt="benchmark", reference=reference, audio_16k=mix, seed=1, people=people)


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
