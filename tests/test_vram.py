import dataclasses

from liveavatar.plan import make_plan
from liveavatar.presets import PRESETS
from liveavatar.report import plan_details, plan_summary
from liveavatar.speed import SpeedOptions
from liveavatar.vram import Card, card_for, fit, offered_presets, preset_fits, read_card, with_path, PATH_BY_KEY


def test_a_24_gb_card_gets_quick_on_the_streamed_path_and_larger_presets_say_what_they_need():
    card = card_for(24, host_gb=64)
    assert card.budget_gb == 22.0 and card.path.key == "24"
    fits = preset_fits(card)
    assert fits["quick"].fits and fits["quick"].path.key == "24"
    # the KV caches fit beside the streamed blocks at quick (~21 GB), so they stay on the card
    assert fits["quick"].settings.speed == dataclasses.replace(SpeedOptions.card_24gb(), offload_kv=False)
    assert fits["quick"].figures["24"][0] <= 22.0
    for key in ("standard", "high-quality"):
        f = fits[key]
        assert not f.fits
        gpu, path, host = f.need()
        assert gpu > 24 and path in ("48", "80")
    assert list(offered_presets(card)) == ["quick"]


def test_bigger_cards_take_faster_paths():
    h100 = Card(total_gb=85.0, free_gb=84.5, name="H100", host_gb=256)
    assert h100.path.key == "80"
    fits = preset_fits(h100)
    assert fits["quick"].path.key == "80" and fits["standard"].path.key == "80"
    assert fits["high-quality"].path.key == "48"  # bf16 plans 91 GB: FP8 + text encoder on the CPU
    a6000 = card_for(48, host_gb=128)
    assert a6000.path.key == "48"
    f = preset_fits(a6000)
    assert f["quick"].path.key == "48"
    assert f["standard"].path.key == "24"  # 63.9 GB on the 48 GB path; streamed, with 128 GB of RAM
    assert list(offered_presets(card_for(80, host_gb=256))) == list(PRESETS)


def test_host_memory_decides_when_the_card_is_small():
    assert not fit(PRESETS["quick"].settings, card_for(24, host_gb=32)).fits  # 36 GB pinned > 85 % of 32
    assert fit(PRESETS["standard"].settings, card_for(24, host_gb=128)).path.key == "24"
    assert offered_presets(card_for(12, host_gb=16)) == {"quick": PRESETS["quick"]}  # nothing fits: quick, saying why
    assert offered_presets(None) == PRESETS


def test_the_users_own_options_are_kept():
    s = dataclasses.replace(PRESETS["quick"].settings, speed=SpeedOptions(torch_compile=True, static_kv=True))
    assert with_path(s.speed, PATH_BY_KEY["24"]) == dataclasses.replace(SpeedOptions.card_24gb(), torch_compile=True, static_kv=True)
    assert fit(s, card_for(24, host_gb=64)).settings.speed.torch_compile


def test_no_card_without_cuda():
    assert read_card("cpu") is None and read_card(None) is None


def test_the_plan_names_the_path_and_the_card_in_both_languages():
    card = card_for(24, host_gb=64)
    f = fit(PRESETS["quick"].settings, card)
    plan = make_plan(f.settings, image_size=None, audio_seconds=None, backend="liveavatar")
    en = plan_details(plan, "", PRESETS["quick"], "en", card=card)
    assert "24 GB path: FP8 blocks streamed from host memory, KV caches on the GPU (they fit)" in en
    assert "this run takes the 24 GB path: 20.7 GB on the GPU" in en
    assert "Standard (everyday): needs a 66 GB card (48 GB path)" in en
    zh = plan_details(plan, "", PRESETS["quick"], "zh", card=card)
    assert "24 GB 方案" in zh and "本显卡" in zh and "path" not in zh and "needs" not in zh and "streamed" not in zh
    big = make_plan(PRESETS["standard"].settings, image_size=None, audio_seconds=None, backend="liveavatar")
    assert "does not fit this card" in plan_summary(big, "en", card)
    assert "超出本显卡" in plan_summary(big, "zh", card)
    preview = make_plan(PRESETS["standard"].settings, image_size=None, audio_seconds=None)
    assert "does not fit" not in plan_summary(preview, "en", card)  # the preview runs anyway
    assert "Presets on this card" in plan_details(preview, "", None, "en", card=card)  # figures still shown


def test_kv_caches_move_to_the_host_only_where_they_do_not_fit():
    roomy, tight = fit(PRESETS["quick"].settings, card_for(24, host_gb=64)), fit(PRESETS["quick"].settings, card_for(20, host_gb=64))
    assert roomy.path.key == tight.path.key == "24"
    assert not roomy.settings.speed.offload_kv and tight.settings.speed.offload_kv
    assert tight.figures["24"][0] <= card_for(20).budget_gb < roomy.figures["24"][0]
    assert "KV caches on the GPU" in plan_details(make_plan(roomy.settings, image_size=None, audio_seconds=8.0,
                                                            backend="liveavatar"), "", None, "en")
