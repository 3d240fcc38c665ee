import json

import pytest

from liveavatar.presets import (
    FRAMES_MULTIPLE,
    PRESETS,
    GenerationSettings,
    SettingsError,
    nearest_valid_frames,
    resolve_settings,
)


def test_presets_follow_the_guide():
    q, s, h = PRESETS["quick"].settings, PRESETS["standard"].settings, PRESETS["high-quality"].settings
    assert (q.size, q.num_clip, q.sample_steps, q.online_decode) == ("384*256", 10, 3, False)
    assert (s.size, s.num_clip, s.sample_steps, s.infer_frames, s.online_decode) == ("688*368", 100, 4, 48, True)
    assert (h.size, h.num_clip, h.sample_steps, h.infer_frames, h.online_decode) == ("704*384", 1000, 5, 48, True)
    # the guide's 32 frames is not a multiple of 12: the nearest valid value is used and explained
    assert q.infer_frames == nearest_valid_frames(32) == 36
    assert "36" in PRESETS["quick"].note and "32" in PRESETS["quick"].note
    for p in PRESETS.values():
        assert p.settings.infer_frames % FRAMES_MULTIPLE == 0


@pytest.mark.parametrize("frames,expected", [(1, 12), (12, 12), (17, 12), (18, 24), (32, 36), (48, 48), (50, 48)])
def test_nearest_valid_frames(frames, expected):
    assert nearest_valid_frames(frames) == expected


def test_named_preset_takes_seed_and_memory_switches_only():
    s = resolve_settings("quick", json.dumps({"seed": 42, "offload_model": "true"}))
    assert s.seed == 42 and s.offload_model and s.size == "384*256"
    with pytest.raises(SettingsError, match="custom"):
        resolve_settings("quick", {"size": "704*384"})


def test_custom_settings_are_validated_with_specific_messages():
    s = resolve_settings("custom", {"size": "704x384", "num_clip": "whole", "sample_steps": 5, "infer_frames": 24})
    assert (s.size, s.num_clip, s.sample_steps, s.infer_frames) == ("704*384", None, 5, 24)
    with pytest.raises(SettingsError, match="multiple of 12.*nearest valid value is 36"):
        resolve_settings("custom", {"infer_frames": 32})
    with pytest.raises(SettingsError, match="Steps must be one of"):
        resolve_settings("custom", {"sample_steps": 2})
    with pytest.raises(SettingsError, match="not one of the model's sizes"):
        resolve_settings("custom", {"size": "100*100"})
    with pytest.raises(SettingsError, match="not valid JSON"):
        resolve_settings("custom", "{seed: 1")
    with pytest.raises(SettingsError, match="invalid value"):
        resolve_settings("custom", {"seed": "abc"})
    with pytest.raises(SettingsError, match="Unknown preset"):
        resolve_settings("turbo")


def test_speed_options_are_set_flat_or_nested_with_any_preset():
    s = resolve_settings("standard", '{"fp8": "yes", "static_kv": true, "attention": "Flash"}')
    assert s.speed.fp8 and s.speed.static_kv and s.speed.attention == "flash"
    assert s.size == PRESETS["standard"].settings.size  # the preset's own values stay
    nested = resolve_settings("custom", {"speed": {"overlap_decode": True}, "seed": 3})
    assert nested.speed.overlap_decode and nested.seed == 3
    low = resolve_settings("quick", {"low_memory": True})
    assert low.speed.fp8 and low.speed.text_encoder_on_cpu
    # stored settings (history JSON) come back as the same options
    assert GenerationSettings(**json.loads(json.dumps(s.to_dict()))) == s


@pytest.mark.parametrize("advanced, message", [
    ('{"attention": "fastest"}', "Attention kernel must be one of auto, flash, efficient, cudnn, math"),
    ('{"fp8": "maybe"}', "Setting fp8 must be true or false"),
    ('{"speed": {"warp": true}}', "Unknown speed option(s) warp"),
    ('{"speed": 3}', '"speed" must be an object'),
])
def test_bad_speed_options_say_what_is_allowed(advanced, message):
    with pytest.raises(SettingsError) as err:
        resolve_settings("standard", advanced)
    assert message in str(err.value)
