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
