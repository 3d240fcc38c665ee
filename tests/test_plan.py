import pytest

from liveavatar.plan import fit_size, make_plan
from liveavatar.presets import PRESETS, GenerationSettings, SIZES


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("image", [(512, 512), (4000, 3000), (3000, 4000), (1920, 1080), (300, 900)])
def test_fit_size_stays_inside_the_area_in_multiples_of_64(size, image):
    w, h = (int(v) for v in size.split("*"))
    ow, oh = fit_size(*image, w * h)
    assert ow % 64 == 0 and oh % 64 == 0
    assert ow * oh <= w * h


def test_fit_size_keeps_the_aspect_and_matches_upstream_examples():
    assert fit_size(1000, 500, 704 * 384) == (704, 384)  # wide photo fills the wide area
    assert fit_size(512, 512, 704 * 384) == (512, 512)   # a square photo stays square
    w, h = fit_size(3000, 4000, 688 * 368)
    assert h > w                                           # portrait stays portrait


def test_plan_covers_the_whole_audio_and_trims_the_last_clip():
    s = GenerationSettings(size="384*256", num_clip=None, infer_frames=48)
    plan = make_plan(s, image_size=(512, 512), audio_seconds=5.0)
    assert plan.fps == 25 and plan.num_clips == 3 and plan.covers_whole_audio
    assert plan.video_frames == 125 and plan.last_clip_frames == 125 - 96


def test_plan_capped_by_clips_when_audio_is_longer():
    s = PRESETS["quick"].settings  # 10 clips × 36 frames
    plan = make_plan(s, image_size=(512, 512), audio_seconds=60.0)
    assert plan.num_clips == 10 and not plan.covers_whole_audio
    assert plan.video_frames == 360 and plan.video_seconds == pytest.approx(14.4)
    assert any("only the first 14.4 s" in n for n in plan.notes)


def test_plan_capped_by_audio_when_clips_exceed_it():
    plan = make_plan(PRESETS["high-quality"].settings, image_size=(1000, 500), audio_seconds=4.0)
    assert plan.num_clips == 3 and plan.covers_whole_audio and plan.video_frames == 100
    assert (plan.width, plan.height) == (704, 384)


def test_memory_estimate_reflects_the_model_and_options():
    s = PRESETS["standard"].settings
    plan = make_plan(s, image_size=(1000, 500), audio_seconds=120.0, backend="liveavatar")
    assert plan.gpu_memory_parts["DiT weights (bf16)"] == pytest.approx(32.6)
    assert plan.gpu_memory_gb > 32.6
    offline = make_plan(GenerationSettings(**{**s.to_dict(), "online_decode": False}), image_size=(1000, 500), audio_seconds=120.0)
    assert offline.gpu_memory_parts["VAE decode"] > plan.gpu_memory_parts["VAE decode"]
    offload = make_plan(GenerationSettings(**{**s.to_dict(), "offload_model": True}), image_size=(1000, 500), audio_seconds=120.0)
    assert offload.gpu_memory_gb < plan.gpu_memory_gb
    assert plan.estimated_seconds > 0
