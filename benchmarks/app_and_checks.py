"""Prints: app start-up time, idle memory, and time from upload to checklist for big inputs.

Run: ``python benchmarks/app_and_checks.py``. Uses the launched app through gradio_client, as a
user's script would, plus the library call alone (no HTTP) for comparison.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_inputs(folder: Path) -> tuple[Path, Path]:
    from skimage.data import astronaut

    photo = folder / "photo_4000x3000.jpg"
    Image.fromarray(astronaut()).resize((3000, 3000), Image.BICUBIC).crop((-500, 0, 3500, 3000)).save(photo, quality=92)
    speech, sr = sf.read(ROOT / "examples" / "media" / "speech.wav", dtype="float32")
    n = 5 * 60 * sr
    tiled = np.tile(speech, n // len(speech) + 1)[:n]
    audio = folder / "speech_5min_44k_stereo.wav"
    import librosa

    up = librosa.resample(tiled, orig_sr=sr, target_sr=44100)
    sf.write(audio, np.stack([up, up * 0.9], axis=1), 44100, subtype="PCM_16")
    return photo, audio


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    photo, audio = make_inputs(tmp)
    prompt = (ROOT / "examples" / "examples.json").read_text()[:0] or "A woman speaking in an office."

    from liveavatar.presets import PRESETS
    from liveavatar.backends import choose_backend
    from liveavatar.studio import InputCache, check_inputs

    choice = choose_backend(force_preview=True)
    t = time.perf_counter()
    insp = InputCache().inspect(prompt, str(photo), str(audio))
    report = check_inputs(insp, PRESETS["standard"].settings, choice)
    lib_s = time.perf_counter() - t
    print(f"library: inspect + checklist, 4000x3000 JPEG + 5 min 44.1 kHz stereo WAV: {lib_s:.2f} s ({len(report.results)} checks)")

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--preview", "--output_dir", str(tmp / "out")],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    url = f"http://127.0.0.1:{port}/"
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None or time.perf_counter() - t > 120:
                raise SystemExit("app did not start")
            time.sleep(0.1)
    print(f"app start-up (process start to first page served): {time.perf_counter() - t:.2f} s")
    time.sleep(2)
    print(f"app idle memory (RSS): {rss_mb(proc.pid):.0f} MB")
    try:
        from gradio_client import Client, handle_file

        client = Client(url, verbose=False)
        for label in ("first", "second (same files, uploaded again)"):
            t = time.perf_counter()
            checks = client.predict(prompt, handle_file(str(photo)), handle_file(str(audio)), "standard", api_name="/check")
            print(f"app /check, upload to checklist, {label}: {time.perf_counter() - t:.2f} s ({len(checks)} checks)")
        print(f"app memory after checks (RSS): {rss_mb(proc.pid):.0f} MB")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


if __name__ == "__main__":
    main()
