"""The CLI, run as a user runs it, on the tiny checkpoint (real pipeline on the CPU) and on the preview."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from liveavatar.media.video import probe_video
from liveavatar.testing.tiny_checkpoint import write_tiny_checkpoint

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT / "examples" / "media"
PROMPT = "A woman with short brown hair in an orange flight suit, speaking calmly in a studio, documentary style."


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


@pytest.fixture(scope="module")
def small_portrait(tmp_path_factory):
    """64×64 keeps the VAE fast on a CPU; the plan then makes a 64×64 video (warnings, no problems)."""
    path = tmp_path_factory.mktemp("img") / "portrait64.png"
    Image.open(MEDIA / "portrait.png").resize((64, 64), Image.LANCZOS).save(path)
    return path


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "liveavatar.generate", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_cli_runs_the_real_pipeline_on_the_tiny_checkpoint(ckpt, small_portrait, tmp_path):
    out = tmp_path / "out.mp4"
    r = _cli("--ckpt_dir", str(ckpt), "--load_lora", "--lora_path_dmd", "Quark-Vision/Live-Avatar",
             "--prompt", PROMPT, "--image", str(small_portrait), "--audio", str(MEDIA / "speech.wav"),
             "--size", "384*256", "--num_clip", "2", "--sample_steps", "4", "--infer_frames", "12",
             "--enable_online_decode", "--offload_model", "False", "--base_seed", "420",
             "--save_file", str(out), "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert "Live Avatar model" in r.stderr
    v = probe_video(out)
    assert (v.width, v.height) == (64, 64)
    assert v.fps == pytest.approx(25, abs=0.01)
    assert v.frame_count == 24 and v.has_audio
    assert abs(v.audio_duration_s - 24 / 25) < 0.07


def test_cli_speed_options_run_and_say_what_the_device_cannot_use(ckpt, small_portrait, tmp_path):
    out = tmp_path / "fast.mp4"
    r = _cli("--ckpt_dir", str(ckpt), "--load_lora", "--prompt", PROMPT, "--image", str(small_portrait),
             "--audio", str(MEDIA / "speech.wav"), "--size", "384*256", "--num_clip", "2", "--infer_frames", "24",
             "--enable_online_decode", "--save_file", str(out), "--device", "cpu",
             "--fp8", "--static_kv", "--overlap_decode", "--cuda_graphs", "--attention", "efficient")
    assert r.returncode == 0, r.stderr
    assert "speed options: fp8, static_kv, overlap_decode;" in r.stderr
    assert "note: CUDA graphs are off: they need a CUDA GPU." in r.stderr
    assert "efficient attention kernel is off" in r.stderr
    assert probe_video(out).frame_count == 48


def test_cli_preview_and_problems(small_portrait, tmp_path):
    out = tmp_path / "p.mp4"
    r = _cli("--preview", "--prompt", PROMPT, "--image", str(MEDIA / "portrait.png"), "--audio", str(MEDIA / "speech.wav"),
             "--size", "384*256", "--num_clip", "1", "--infer_frames", "24", "--save_file", str(out))
    assert r.returncode == 0, r.stderr
    assert probe_video(out).frame_count == 24
    # a group photo blocks; no face is only a warning since issue 11 (cartoons are fine)
    bad = _cli("--preview", "--prompt", PROMPT, "--image", str(MEDIA / "two_faces.png"), "--audio", str(MEDIA / "speech.wav"),
               "--save_file", str(tmp_path / "x.mp4"))
    assert bad.returncode == 2 and "Faces" in bad.stderr and "Traceback" not in bad.stderr


def test_cli_without_weights_says_where_it_looked(tmp_path):
    r = _cli("--ckpt_dir", str(tmp_path / "nothing"), "--prompt", PROMPT, "--image", str(MEDIA / "portrait.png"),
             "--audio", str(MEDIA / "speech.wav"), "--device", "cpu")
    assert r.returncode == 2
    assert "nothing" in r.stderr and "Traceback" not in r.stderr
    assert "--infer_frames 32" not in r.stderr
    bad = _cli("--preview", "--prompt", PROMPT, "--image", str(MEDIA / "portrait.png"), "--audio", str(MEDIA / "speech.wav"),
               "--infer_frames", "32")
    assert bad.returncode == 2 and "nearest valid value is 36" in bad.stderr


def test_cli_speaks_typed_text_with_the_offline_voice(tmp_path):
    """Upstream's --enable_tts --tts_text: the text is spoken offline and drives the video; bad text and a
    missing speech input get their own messages."""
    pytest.importorskip("piper")
    out = tmp_path / "tts.mp4"
    r = _cli("--preview", "--prompt", PROMPT, "--image", str(MEDIA / "portrait.png"), "--enable_tts",
             "--tts_text", "Hello, and welcome to the studio. Today I will show you how this works.",
             "--size", "384*256", "--save_file", str(out))
    assert r.returncode == 0, r.stderr
    v = probe_video(out)
    speech = tmp_path / "tts-speech.wav"
    assert v.has_audio and speech.exists()
    assert 2.0 < v.duration_s < 8.0, v.duration_s  # 15 words at ~3 words/s
    emoji = _cli("--preview", "--prompt", PROMPT, "--image", str(MEDIA / "portrait.png"), "--enable_tts",
                 "--tts_text", "🙂🙂🙂", "--save_file", str(tmp_path / "e.mp4"))
    assert emoji.returncode == 2 and "emoji" in emoji.stderr and "Traceback" not in emoji.stderr
    nothing = _cli("--preview", "--prompt", PROMPT, "--image", str(MEDIA / "portrait.png"), "--save_file", str(tmp_path / "n.mp4"))
    assert nothing.returncode == 2 and "--enable_tts" in nothing.stderr


def test_cli_makes_two_people_speak_with_upstreams_plus_joined_tracks(tmp_path):
    """``--audio a.wav+b.wav`` as upstream: one track per face from the left; the video lasts as long as
    the longest track (upstream cuts to the shortest); a face order that is not a permutation is refused."""
    out = tmp_path / "two.mp4"
    tracks = f"{MEDIA / 'speech_short_sentence.wav'}+{MEDIA / 'speech.wav'}"
    r = _cli("--preview", "--prompt", PROMPT, "--image", str(MEDIA / "two_faces.png"), "--audio", tracks,
             "--face_order", "2,1", "--size", "384*256", "--infer_frames", "24", "--save_file", str(out))
    assert r.returncode == 0, r.stderr
    v = probe_video(out)
    assert v.has_audio and v.duration_s > 8.0
    bad = _cli("--preview", "--prompt", PROMPT, "--image", str(MEDIA / "two_faces.png"), "--audio", tracks,
               "--face_order", "1,1", "--save_file", str(tmp_path / "x.mp4"))
    assert bad.returncode == 2 and "each face number 1–2 once" in bad.stderr and "Traceback" not in bad.stderr
    one_face = _cli("--preview", "--prompt", PROMPT, "--image", str(MEDIA / "portrait.png"), "--audio", tracks,
                    "--save_file", str(tmp_path / "y.mp4"))
    assert one_face.returncode == 2 and "1 face" in one_face.stderr and "Traceback" not in one_face.stderr
