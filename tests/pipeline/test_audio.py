import json
import math

import numpy as np
import pytest
import torch

from liveavatar.pipeline.audio import (
    AudioEncoder, clip_count, frame_indices, interpolate_features, to_video_frames, write_tiny_wav2vec2,
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_tiny_wav2vec2(tmp_path_factory.mktemp("ckpt") / "wav2vec2-large-xlsr-53-english",
                               hidden_size=32, num_layers=2)


@pytest.fixture(scope="module")
def encoder(folder):
    return AudioEncoder.from_checkpoint(folder, "cpu", torch.float32)


def test_tiny_folder_layout(folder):
    for name in ("config.json", "model.safetensors", "preprocessor_config.json", "vocab.json"):
        assert (folder / name).is_file(), name
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["architectures"] == ["Wav2Vec2ForCTC"]
    assert cfg["vocab_size"] == len(json.loads((folder / "vocab.json").read_text()))
    assert json.loads((folder / "preprocessor_config.json").read_text())["sampling_rate"] == 16000


def test_loads_from_parent_folder(folder):
    enc = AudioEncoder.from_checkpoint(folder.parent)
    assert enc.num_states == 3


def test_missing_folder_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="wav2vec2"):
        AudioEncoder.from_checkpoint(tmp_path / "nope")


def test_extract_shape_all_layers_50hz(encoder):
    audio = np.random.default_rng(0).standard_normal(16000 * 2).astype(np.float32) * 0.1
    feats = encoder.extract(audio)
    assert feats.shape == (3, 99, 32)  # layers+1, ~50 Hz (320-sample hop, 400-sample field), hidden
    assert feats.dtype == torch.float32 and torch.isfinite(feats).all()
    with pytest.raises(ValueError):
        encoder.extract(np.zeros((2, 16000), dtype=np.float32))


def test_interpolation_to_30hz():
    f = torch.arange(100, dtype=torch.float32).view(1, 100, 1).repeat(2, 1, 3)
    g = interpolate_features(f)
    assert g.shape == (2, 60, 3)
    assert g[0, 0, 0] == 0 and g[0, -1, 0] == 99  # align_corners keeps both ends
    assert torch.all(g[0, 1:, 0] > g[0, :-1, 0])


def test_frame_indices_at_25fps():
    idx = frame_indices(10, 25)
    assert idx.tolist() == [round(k * 30 / 25) for k in range(10)] == [0, 1, 2, 4, 5, 6, 7, 8, 10, 11]


@pytest.mark.parametrize("num_frames", [1, 48, 96])
def test_bucket_count_equals_num_frames(encoder, num_frames):
    audio = np.random.default_rng(1).standard_normal(16000 * 2).astype(np.float32) * 0.1
    feats = encoder.extract(audio)
    per_frame = encoder.to_video_frames(feats, fps=25, num_frames=num_frames)
    assert per_frame.shape == (3, num_frames, 32)


def test_buckets_pick_30hz_features_and_zero_past_the_end():
    feats = torch.randn(3, 100, 8)  # 2 s at 50 Hz -> 60 at 30 Hz -> 50 frames at 25 fps
    f30 = interpolate_features(feats)
    out = to_video_frames(feats, fps=25, num_frames=60)
    for k in (0, 3, 17, 49):
        torch.testing.assert_close(out[:, k], f30[:, round(k * 30 / 25)])
    assert out[:, 50:].abs().max() == 0
    assert to_video_frames(feats, fps=25).shape[1] == math.ceil(60 * 25 / 30) == 50
    assert to_video_frames(feats, fps=25, num_frames=4, m=1).shape == (3, 4, 24)


def test_clip_count_matches_upstream_rule():
    feats = torch.zeros(1, 50 * 5, 4)  # 5 s -> 150 at 30 Hz; 48 frames at 25 fps = 57.6 features
    assert clip_count(feats, fps=25, infer_frames=48) == int(150 / 57.6) + 1 == 3


# ---------------------------------------------------------------- live mode: features as the speech arrives
from liveavatar.pipeline.audio import HOP, RECEPTIVE_FIELD, AudioWindow, IncrementalAudioFeatures  # noqa: E402


def _speech(seconds: float, seed: int = 0) -> np.ndarray:
    from liveavatar.testing.synth import speech_like

    return speech_like(seconds, seed=seed)


def _fed(encoder, audio, window=AudioWindow(), total=None, chunk=7680, frames=None):
    """Features of every whole 12-frame block, each taken as soon as its audio is in (0.48 s chunks)."""
    inc = IncrementalAudioFeatures(encoder, window=window, total_samples=total)
    frames = frames or len(audio) // 640 // 12 * 12
    out, f = [], 0
    for i in range(0, len(audio), chunk):
        inc.push(audio[i : i + chunk])
        while inc.frames_ready(f + 12) and f < frames:
            out.append(inc.frames(f, f + 12))
            f += 12
    inc.end()
    while f < frames:
        out.append(inc.frames(f, f + 12))
        f += 12
    return torch.cat(out, dim=1)


def test_incremental_features_with_the_whole_speech_in_view_are_the_offline_ones(encoder):
    audio = _speech(5.0)
    offline = to_video_frames(encoder.extract(audio), fps=25, num_frames=132)
    live = _fed(encoder, audio, AudioWindow(left=10_000, right=10_000), total=len(audio), frames=132)
    assert live.shape == offline.shape
    # the same model on the same normalised samples; only float summation order differs
    assert torch.allclose(live, offline, atol=1e-4, rtol=1e-4)
    # frames past the speech (5 s = 125 frames) are zeros, as offline
    assert float(live[:, 126:].abs().max()) == 0.0


def test_the_window_changes_the_features_little(encoder):
    """The default window (3 s back, 0.32 s ahead, statistics of what has been heard) against the whole
    speech, on the same time grid. Measured on the tiny encoder: 2.4 % relative; 0.15 % of it is the
    window's context, the rest the normalisation statistics, which live mode cannot take from speech
    not yet spoken (they converge as it goes on)."""
    audio = _speech(8.0, seed=1)
    whole = _fed(encoder, audio, AudioWindow(left=10_000, right=10_000), total=len(audio))
    windowed = _fed(encoder, audio, total=len(audio))
    n = min(whole.shape[1], windowed.shape[1])
    rel = float((windowed[:, :n] - whole[:, :n]).norm() / whole[:, :n].norm())
    assert rel < 0.05, rel


def test_live_time_grid_is_within_a_video_frame_of_the_offline_one(encoder):
    """Without a known length, frame k's features come from its true time; the offline run's
    align_corners grid is stretched over the utterance. The two stay less than a video frame (2 × 20 ms
    features) apart for any length from 1 s to 15 minutes."""
    live = IncrementalAudioFeatures(encoder)
    for seconds in (1, 2.5, 7.3, 60, 900):
        n = int(seconds * 16000)
        offline = IncrementalAudioFeatures(encoder, total_samples=n)
        frames = int(seconds * 25)
        worst = max(abs(live._position(k) - offline._position(k)) for k in range(0, frames, max(1, frames // 500)))
        assert worst < 2.0, (seconds, worst)


def test_a_block_waits_for_its_audio_plus_the_lookahead(encoder):
    inc = IncrementalAudioFeatures(encoder)
    need = inc.samples_needed(12)
    # Frame 11 sits at 30 Hz index 13 = 50 Hz position 21.7; interpolation needs feature 22, the window
    # 16 more (0.32 s): feature 38, whose 400 samples end at 38 × 320 + 400. The block's audio ends at 7680.
    assert need == 38 * HOP + RECEPTIVE_FIELD == 12560
    inc.push(np.zeros(need - 1, np.float32))
    assert not inc.frames_ready(12)
    with pytest.raises(ValueError, match="need"):
        inc.frames(0, 12)
    inc.push(np.zeros(1, np.float32))
    assert inc.frames_ready(12)
    assert inc.lookahead_samples >= need - 7680


def test_silence_after_speech_is_not_blown_up_to_full_scale(encoder):
    """The running statistics keep a quiet stretch quiet (a window of silence normalised on its own
    would be amplified to unit variance: noise the model would read as speech)."""
    audio = np.concatenate([_speech(3.0), np.random.default_rng(0).standard_normal(16000 * 4).astype(np.float32) * 1e-4])
    inc = IncrementalAudioFeatures(encoder)
    inc.push(audio)
    inc.end()
    f = 150  # 6 s: deep in the quiet stretch, whose 3 s window holds no speech
    values = inc._normalised(audio, f * 640 - 48000, f * 640)
    assert float(values.std()) < 0.01
