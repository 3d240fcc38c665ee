import json

import pytest

from liveavatar.pipeline.config import S2VConfig


def test_full_matches_the_14b_config():
    cfg = S2VConfig.full()
    assert cfg.patch_size == (1, 2, 2)
    assert (cfg.dim, cfg.ffn_dim, cfg.freq_dim, cfg.num_heads, cfg.num_layers) == (5120, 13824, 256, 40, 40)
    assert (cfg.in_dim, cfg.out_dim, cfg.text_dim, cfg.text_len) == (16, 16, 4096, 512)
    assert cfg.qk_norm and cfg.cross_attn_norm and cfg.eps == 1e-6 and cfg.window_size == (-1, -1)
    assert (cfg.audio_dim, cfg.num_audio_token, cfg.cond_dim) == (1024, 4, 16)
    assert cfg.audio_inject_layers == (0, 4, 8, 12, 16, 20, 24, 27, 30, 33, 36, 39)
    assert cfg.enable_adain and cfg.adain_mode == "attn_norm" and cfg.zero_timestep
    assert not cfg.enable_motioner and cfg.enable_framepack and cfg.framepack_drop_mode == "padd"
    assert cfg.add_last_motion and cfg.motion_frames == 73 and cfg.lat_motion_frames == 19
    assert cfg.num_frames_per_block == 3 and cfg.head_dim == 128


def test_tiny_is_small_and_valid():
    cfg = S2VConfig.tiny()
    assert cfg.dim == 64 and cfg.num_heads == 4 and 2 <= cfg.num_layers <= 4
    assert all(0 <= i < cfg.num_layers for i in cfg.audio_inject_layers)
    assert S2VConfig.tiny(num_layers=2).audio_inject_layers == (0,)


def test_from_json_reads_real_field_names_and_keeps_extra_keys(tmp_path):
    real = {
        "_class_name": "WanModel_S2V",
        "_diffusers_version": "0.33.1",
        "model_type": "s2v",
        "zero_init": True,
        "enable_tsm": False,
        "patch_size": [1, 2, 2],
        "dim": 5120,
        "ffn_dim": 13824,
        "num_heads": 40,
        "num_layers": 40,
        "window_size": [-1, -1],
        "audio_inject_layers": [0, 4, 8, 12, 16, 20, 24, 27, 30, 33, 36, 39],
        "framepack_drop_mode": "padd",
        "motion_frames": 73,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(real))
    cfg = S2VConfig.from_json(path)
    assert cfg == S2VConfig.full()
    assert cfg.patch_size == (1, 2, 2) and cfg.window_size == (-1, -1)
    assert cfg.extra == {
        "_class_name": "WanModel_S2V",
        "_diffusers_version": "0.33.1",
        "model_type": "s2v",
        "zero_init": True,
        "enable_tsm": False,
    }
    out = tmp_path / "out.json"
    cfg.to_json(out)
    written = json.loads(out.read_text())
    assert written["_class_name"] == "WanModel_S2V" and written["dim"] == 5120
    assert written["audio_inject_layers"] == real["audio_inject_layers"]
    again = S2VConfig.from_json(out)
    assert again == cfg and again.extra == cfg.extra


def test_tiny_round_trip(tmp_path):
    cfg = S2VConfig.tiny()
    cfg.to_json(tmp_path / "c.json")
    assert S2VConfig.from_json(tmp_path / "c.json") == cfg


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"num_layers": 2, "audio_inject_layers": (0, 5)}, "audio_inject_layers"),
        ({"dim": 65, "num_heads": 4}, "divisible"),
        ({"enable_motioner": True}, "motioner"),
        ({"framepack_drop_mode": "keep"}, "framepack_drop_mode"),
    ],
)
def test_invalid_configs_are_rejected(kwargs, words):
    with pytest.raises(ValueError, match=words):
        S2VConfig(**kwargs)


def test_from_json_rejects_non_object(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("[1, 2]")
    with pytest.raises(ValueError):
        S2VConfig.from_json(path)
