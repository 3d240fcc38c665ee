import dataclasses

import pytest

from liveavatar.plan import fit_size, make_plan
from liveavatar.presets import PRESETS, SIZES, GenerationSettings
from liveavatar.speed import SpeedOptions


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
    assert plan.gpu_memory_parts["DiT weights"] == pytest.approx(32.6)
    assert plan.gpu_memory_gb > 32.6
    offline = make_plan(GenerationSettings(**{**s.to_dict(), "online_decode": False}), image_size=(1000, 500), audio_seconds=120.0)
    assert offline.gpu_memory_parts["VAE decode"] > plan.gpu_memory_parts["VAE decode"]
    offload = make_plan(GenerationSettings(**{**s.to_dict(), "offload_model": True}), image_size=(1000, 500), audio_seconds=120.0)
    assert offload.gpu_memory_gb < plan.gpu_memory_gb
    assert plan.estimated_seconds > 0


def _with_speed(s: GenerationSettings, **speed) -> GenerationSettings:
    return dataclasses.replace(s, speed=SpeedOptions(**speed))


def test_speed_options_change_the_memory_plan():
    s = PRESETS["standard"].settings
    plan = lambda x: make_plan(x, image_size=(1000, 500), audio_seconds=120.0, backend="liveavatar")  # noqa: E731
    plain = plan(s)
    fp8 = plan(_with_speed(s, fp8=True))
    assert fp8.gpu_memory_parts["DiT weights"] == pytest.approx(18.55, abs=0.05)  # 14.05 B in e4m3 + the rest in bf16
    assert plain.gpu_memory_gb - fp8.gpu_memory_gb == pytest.approx(32.6 - 18.55, abs=0.2)
    static = plan(_with_speed(s, static_kv=True))
    assert static.gpu_memory_parts["KV cache"] > plain.gpu_memory_parts["KV cache"]  # a sink copy per step's cache
    on_cpu = plan(_with_speed(s, text_encoder_on_cpu=True))
    assert on_cpu.gpu_memory_parts["text encoder (while encoding the prompt)"] == 0
    assert plain.gpu_memory_parts["text encoder (while encoding the prompt)"] == pytest.approx(11.36)
    # the text encoder leaves the GPU before the caches are made: the peak is the larger phase, not the sum
    assert plain.gpu_memory_gb < sum(plain.gpu_memory_parts.values())


def test_the_low_memory_path_fits_a_48_gb_card_at_384x256():
    s = dataclasses.replace(PRESETS["quick"].settings, speed=SpeedOptions.low_memory())
    plan = make_plan(s, image_size=(512, 512), audio_seconds=60.0, backend="liveavatar")
    assert plan.gpu_memory_gb < 48, plan.gpu_memory_parts
    assert make_plan(PRESETS["quick"].settings, image_size=(512, 512), audio_seconds=60.0, backend="liveavatar").gpu_memory_gb > 40


def test_options_the_device_cannot_use_are_dropped_with_the_reason():
    s = _with_speed(PRESETS["standard"].settings, cuda_graphs=True, attention="efficient", static_kv=True)
    plan = make_plan(s, image_size=(1000, 500), audio_seconds=30.0, backend="liveavatar", device="cpu")
    assert not plan.settings.speed.cuda_graphs and plan.settings.speed.attention == "auto"
    assert plan.settings.speed.static_kv  # usable on a CPU: kept
    assert any("CUDA graphs are off: they need a CUDA GPU" in n for n in plan.notes)
    assert any("efficient attention kernel is off" in n for n in plan.notes)
    preview = make_plan(s, image_size=(1000, 500), audio_seconds=30.0)
    assert any("the CPU preview ignores them" in n for n in preview.notes)


# ------------------------------------------------------------------ the 24 GB path (issue 12)
STREAM_PARTS = ("DiT blocks (2 of 40 resident, streamed)", "DiT non-block weights (embeddings, audio injector, head)",
                "KV cache (one layer, double-buffered)", "blocks in flight (latents + layer inputs)", "activations",
                "audio encoder + VAE", "VAE decode", "text encoder (while encoding the prompt)")


def _preset_plan(key: str, speed: SpeedOptions):
    s = dataclasses.replace(PRESETS[key].settings, speed=speed)
    return make_plan(s, image_size=None, audio_seconds=None, backend="liveavatar")


def test_the_24_gb_path_plans_quick_within_22_gb_part_by_part():
    plan = _preset_plan("quick", SpeedOptions.card_24gb())
    assert plan.memory_path == "24"
    assert set(plan.gpu_memory_parts) == set(STREAM_PARTS)
    assert plan.gpu_memory_gb <= 22, plan.gpu_memory_parts
    assert "DiT weights" not in plan.gpu_memory_parts and "KV cache" not in plan.gpu_memory_parts
    parts = plan.gpu_memory_parts
    assert parts["DiT blocks (2 of 40 resident, streamed)"] == pytest.approx(0.70, abs=0.01)  # 2 × 351.8 MB in FP8
    assert parts["DiT non-block weights (embeddings, audio injector, head)"] == pytest.approx(4.48, abs=0.01)
    assert parts["text encoder (while encoding the prompt)"] == 0
    # the streamed path moves the block weights, the caches and the text encoder to host memory
    assert plan.host_memory_parts == {"DiT blocks (pinned host memory)": pytest.approx(14.07, abs=0.01),
                                      "KV caches (pinned host memory)": pytest.approx(10.79, abs=0.01),
                                      "text encoder (CPU)": pytest.approx(11.36, abs=0.01)}
    # the host's KV is the GPU's KV of the 48 GB path: nothing is dropped, only moved
    assert plan.host_memory_parts["KV caches (pinned host memory)"] == _preset_plan("quick", SpeedOptions.low_memory()).gpu_memory_parts["KV cache"]


def test_each_streamed_part_follows_its_option():
    blocks_only = _preset_plan("quick", dataclasses.replace(SpeedOptions.low_memory(), stream_blocks=True))
    assert "KV cache" in blocks_only.gpu_memory_parts and "DiT blocks (2 of 40 resident, streamed)" in blocks_only.gpu_memory_parts
    kv_only = _preset_plan("quick", dataclasses.replace(SpeedOptions.low_memory(), offload_kv=True))
    assert "DiT weights" in kv_only.gpu_memory_parts and "KV cache (one layer, double-buffered)" in kv_only.gpu_memory_parts
    bf16 = _preset_plan("quick", dataclasses.replace(SpeedOptions.card_24gb(), fp8=False))
    assert bf16.gpu_memory_parts["DiT blocks (2 of 40 resident, streamed)"] == pytest.approx(1.41, abs=0.01)
    assert bf16.host_memory_parts["DiT blocks (pinned host memory)"] == pytest.approx(28.1, abs=0.1)


def test_larger_presets_need_more_than_a_24_gb_card_on_the_faster_paths():
    for key in ("standard", "high-quality"):
        assert _preset_plan(key, SpeedOptions.low_memory()).gpu_memory_gb > 24
        streamed = _preset_plan(key, SpeedOptions.card_24gb())
        assert streamed.gpu_memory_gb <= 22  # the GPU figure fits; host memory is what they need
        assert streamed.host_memory_gb > 60, streamed.host_memory_parts
    assert _preset_plan("quick", SpeedOptions.card_24gb()).host_memory_gb < 40


def test_each_extra_person_adds_the_injector_pass_to_the_model_time():
    s = PRESETS["standard"].settings
    one, two, four = (make_plan(s, image_size=(704, 384), audio_seconds=20.0, backend="liveavatar", people=n)
                      for n in (1, 2, 4))
    dit_one = one.estimated_seconds - 60.0  # the model's arithmetic, without the ~1 min load
    assert two.estimated_seconds - 60.0 == pytest.approx(dit_one * (1 + 1.26 / 38), rel=0.01)
    assert two.estimated_seconds < four.estimated_seconds < one.estimated_seconds * 1.15
    preview = make_plan(s, image_size=(704, 384), audio_seconds=20.0, people=2)
    assert preview.estimated_seconds == make_plan(s, image_size=(704, 384), audio_seconds=20.0).estimated_seconds
