"""How long the input checks and the audio fixes take on the largest inputs the app accepts.

The tests check that these inputs go through and give the right result; how fast they do is
measured here instead, because wall-clock limits in tests fail on slow or busy machines.

Prints, for each step, the best and the median of ``--repeats`` timed runs (each step is first run
once on a small input, so one-off costs such as imports and model loading are not counted):

- ``analyse_audio`` on 5 min of 48 kHz stereo speech;
- ``check_prompt`` on a 20,000-word prompt;
- ``detect_faces`` on the 512×512 astronaut portrait and on a 4000×3000 photo of her;
- the three audio fix buttons (convert to 16 kHz mono, normalise loudness, denoise) on 5 min of a
  quiet, noisy 48 kHz stereo take, including writing the new WAV, as a click costs.

    python benchmarks/checks_speed.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.data import astronaut

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from liveavatar.checks.audio import analyse_audio  # noqa: E402
from liveavatar.checks.prompt import PROMPT_TEMPLATES, check_prompt  # noqa: E402
from liveavatar.faces import detect_faces  # noqa: E402
from liveavatar.fixes.audio import convert_to_16k_mono, denoise, normalise_loudness  # noqa: E402
from liveavatar.media.audio import LoadedAudio  # noqa: E402
from liveavatar.testing.synth import as_loaded, speech_like  # noqa: E402

SR = 48_000
MINUTES = 5


def five_minutes_stereo(level_dbfs: float, noise_dbfs: float) -> LoadedAudio:
    """5 min of 48 kHz stereo speech: a 10 s take looped, the right channel 0.9 × the left."""
    piece = speech_like(seconds=10, sr=SR, level_dbfs=level_dbfs, noise_dbfs=noise_dbfs)
    x = np.tile(piece, MINUTES * 6)
    return as_loaded(np.stack([x, 0.9 * x]), sr=SR)


def twenty_thousand_words() -> str:
    return " ".join((PROMPT_TEMPLATES["vlogger"] + " nice happy sad <b>x</b> 🙂") for _ in range(170))


def photo_4000x3000(portrait: np.ndarray) -> np.ndarray:
    """The portrait scaled to 3000×3000 and widened to 4000×3000 with black side bars."""
    big = Image.fromarray(portrait).resize((3000, 3000), Image.BICUBIC).crop((-500, 0, 3500, 3000))
    return np.asarray(big.convert("RGB"))


def timed(fn: Callable[[], object], repeats: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times, result


def report(label: str, times: list[float], note: str = "") -> None:
    best, median = min(times), statistics.median(times)
    print(f"{label:52s} {best * 1000:9.1f} ms {median * 1000:9.1f} ms   {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per step (best and median shown)")
    args = parser.parse_args()
    n = max(1, args.repeats)

    cpu = platform.processor() or platform.machine()
    print(f"Checks and fixes speed; {os.cpu_count()} CPU cores, {cpu}, Python {platform.python_version()}")
    print(f"{'step':52s} {'best':>12s} {'median':>12s}   (of {n} runs)")

    # Warm-up on small inputs: imports (scipy, noisereduce, soxr), the face models, caches.
    small = as_loaded(speech_like(seconds=2, sr=SR, noise_dbfs=-30), sr=SR)
    portrait = astronaut()
    with tempfile.TemporaryDirectory() as tmp:
        analyse_audio(small)
        check_prompt("A young woman speaking to the camera in a bright office.")
        detect_faces(portrait)
        for fix in (convert_to_16k_mono, normalise_loudness, denoise):
            fix(small, tmp)

    audio = five_minutes_stereo(level_dbfs=-16.0, noise_dbfs=-50.0)
    times, stats = timed(lambda: analyse_audio(audio), n)
    report("analyse_audio, 5 min 48 kHz stereo", times, f"duration {stats.duration_s:.0f} s")

    text = twenty_thousand_words()
    times, results = timed(lambda: check_prompt(text), n)
    report(f"check_prompt, {len(text.split()):,} words", times, f"{len(results)} results")

    for label, image in (("512×512", portrait), ("4000×3000", photo_4000x3000(portrait))):
        times, faces = timed(lambda image=image: detect_faces(image), n)
        report(f"detect_faces, {label}", times, f"{len(faces)} face(s)")

    # Quiet (-26 dBFS) and noisy (-32 dBFS floor): every fix has real work to do.
    take = five_minutes_stereo(level_dbfs=-26.0, noise_dbfs=-32.0)
    for label, fix in (
        ("convert_to_16k_mono, 5 min 48 kHz stereo", convert_to_16k_mono),
        ("normalise_loudness, 5 min 48 kHz stereo", normalise_loudness),
        ("denoise, 5 min 48 kHz stereo", denoise),
    ):
        with tempfile.TemporaryDirectory() as tmp:
            times, (_path, message) = timed(lambda fix=fix, tmp=tmp: fix(take, tmp), n)
        report(label, times, message if len(message) <= 90 else message[:87] + "...")


if __name__ == "__main__":
    main()
