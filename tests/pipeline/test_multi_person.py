"""Several people in one portrait, each driven by their own speech track (upstream's multi-actor path).

The routing must put each track's audio injection exactly on its person's tokens. Self-attention mixes
tokens, so equality with a one-track run holds for the injection itself (tested on ``AudioInjector``);
for whole forwards we test properties that break under wrong routing: with the audio injected only
after the last layer, changing one track changes the output only on that track's gate; identical
tracks with complementary gates equal the one-track run; the cached and the recomputed path agree.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from liveavatar.pipeline.config import S2VConfig
from liveavatar.pipeline.transformer import CausalS2VTransformer, KVCache
from liveavatar.routing import routing_masks

H = W = 16  # latent 16x16 -> 8x8 tokens per frame
GRID = (H // 2, W // 2)
TOL = 1e-5


def _model(seed: int = 0, inject: tuple[int, ...] | None = None) -> CausalS2VTransformer:
    cfg = S2VConfig.tiny()
    if inject is not None:
        cfg.audio_inject_layers = inject
    torch.manual_seed(seed)
    return CausalS2VTransformer(cfg).eval()


def _inputs(cfg: S2VConfig, seed: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    f = cfg.num_frames_per_block
    return dict(
        latents=torch.randn(1, cfg.in_dim, f, H, W, generator=g),
        ref=torch.randn(1, cfg.in_dim, 1, H, W, generator=g),
        motion=torch.randn(1, cfg.in_dim, cfg.lat_motion_frames, H, W, generator=g),
        context=torch.randn(1, 5, cfg.text_dim, generator=g),
        a=torch.randn(1, cfg.num_audio_layers, cfg.audio_dim, 4 * f, generator=g),
        b=torch.randn(1, cfg.num_audio_layers, cfg.audio_dim, 4 * f, generator=g),
    )


def _left_right_gates() -> torch.Tensor:
    """Two people (left / right third of a 128x128 portrait) through the real routing: each keeps its
    own columns, the middle (background) hears both, a dilation ring between hears one or both."""
    masks = np.zeros((2, 128, 128), np.float32)
    masks[0, 16:112, 0:40] = 1
    masks[1, 16:112, 88:128] = 1
    gates = routing_masks(masks, GRID)
    assert gates[0, 4, 1] == 1 and gates[1, 4, 1] == 0 and gates[1, 4, 6] == 1 and gates[0, 4, 6] == 0
    assert gates[0, 0, 4] == 1 and gates[1, 0, 4] == 1  # background: both
    return torch.from_numpy(gates.reshape(2, -1))


def _block(model: CausalS2VTransformer, inp: dict, audio: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    cfg = model.config
    cache = KVCache.allocate(cfg, 1, cfg.num_frames_per_block, H, W)
    model.prefill_sink(inp["ref"], inp["motion"], inp["context"], cache)
    return model.forward_block(inp["latents"], 500.0, inp["context"], audio, cache, block_index=0, audio_mask=mask)


def _token_change(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``[F, h, w]`` bool: where two ``[1, C, F, H, W]`` outputs differ, per 2x2 patch (= per token)."""
    diff = (a - b).abs().amax(dim=1)[0]  # F, H, W
    return diff.reshape(diff.shape[0], GRID[0], 2, GRID[1], 2).amax(dim=(2, 4)) > TOL


# ----------------------------------------------------------------------------- the injector itself
def test_injector_gives_each_token_its_own_tracks_residual():
    model = _model()
    cfg = model.config
    inp = _inputs(cfg)
    f = cfg.num_frames_per_block
    tok_a, glob_a = model.encode_audio(inp["a"])
    tok_b, glob_b = model.encode_audio(inp["b"])
    x = torch.randn(1, f * GRID[0] * GRID[1], cfg.dim, generator=torch.Generator().manual_seed(3))
    gates = _left_right_gates()
    inj = model.audio_injector
    for layer in cfg.audio_inject_layers:
        both = inj(layer, x, torch.cat([tok_a, tok_b]), torch.cat([glob_a, glob_b]), gates) - x
        res_a = inj(layer, x, tok_a, glob_a) - x  # the one-track run's injection
        res_b = inj(layer, x, tok_b, glob_b) - x
        ga = gates[0].repeat(f)[None, :, None]  # the same gate in every frame
        gb = gates[1].repeat(f)[None, :, None]
        torch.testing.assert_close(both, ga * res_a + gb * res_b, atol=TOL, rtol=TOL)
        only_a = ((ga == 1) & (gb == 0)).expand_as(both)
        torch.testing.assert_close(both[only_a], res_a[only_a], atol=TOL, rtol=TOL)
        nobody = ((ga == 0) & (gb == 0)).expand_as(both)
        assert not nobody.any() or both[nobody].abs().max() < TOL


# ----------------------------------------------------------------------------- whole forwards
def test_changing_one_track_changes_only_its_gate_when_injected_last():
    model = _model(inject=(2,))  # the last of 3 layers: after it, only the per-token head
    inp = _inputs(model.config)
    gates = _left_right_gates()
    other = inp["b"] * -1.5 + 0.3
    base = _block(model, inp, torch.cat([inp["a"], inp["b"]]), gates)
    changed = _token_change(base, _block(model, inp, torch.cat([inp["a"], other]), gates))
    gate_b = gates[1].reshape(GRID).bool()
    assert changed.any()
    assert torch.equal(changed, gate_b.expand_as(changed))  # exactly where track 1 is heard
    swapped = _block(model, inp, torch.cat([inp["b"], inp["a"]]), gates)
    swap_changed = _token_change(base, swapped)
    exclusive = (gates[0] != gates[1]).reshape(GRID)
    assert torch.equal(swap_changed, exclusive.expand_as(swap_changed))  # background hears both either way


def test_swapping_tracks_and_gates_together_is_the_same_video():
    model = _model()
    inp = _inputs(model.config)
    gates = _left_right_gates()
    ab = _block(model, inp, torch.cat([inp["a"], inp["b"]]), gates)
    ba = _block(model, inp, torch.cat([inp["b"], inp["a"]]), gates.flip(0))
    torch.testing.assert_close(ab, ba, atol=TOL, rtol=TOL)
    assert (ab - _block(model, inp, torch.cat([inp["b"], inp["a"]]), gates)).abs().max() > 1e-3


def test_identical_tracks_with_complementary_gates_equal_the_one_track_run():
    model = _model()
    inp = _inputs(model.config)
    left = torch.zeros(GRID)
    left[:, : GRID[1] // 2] = 1
    gates = torch.stack([left.flatten(), 1 - left.flatten()])
    one = _block(model, inp, inp["a"], None)
    two = _block(model, inp, torch.cat([inp["a"], inp["a"]]), gates)
    torch.testing.assert_close(two, one, atol=TOL, rtol=TOL)
    assert (one - _block(model, inp, torch.cat([inp["a"], inp["b"]]), gates)).abs().max() > 1e-3


def test_cached_and_recomputed_paths_agree_with_several_tracks():
    model = _model()
    cfg = model.config
    f = cfg.num_frames_per_block
    g = torch.Generator().manual_seed(7)
    lat = torch.randn(1, cfg.in_dim, 2 * f, H, W, generator=g)
    ref = torch.randn(1, cfg.in_dim, 1, H, W, generator=g)
    motion = torch.randn(1, cfg.in_dim, cfg.lat_motion_frames, H, W, generator=g)
    ctx = torch.randn(1, 5, cfg.text_dim, generator=g)
    audio = torch.randn(2, cfg.num_audio_layers, cfg.audio_dim, 4 * 2 * f, generator=g)
    gates = _left_right_gates()
    full = model.forward_full(lat, 500.0, ctx, audio, ref, motion, audio_mask=gates)
    cache = KVCache.allocate(cfg, 1, 2 * f, H, W)
    model.prefill_sink(ref, motion, ctx, cache)
    blocks = [model.forward_block(lat[:, :, j * f : (j + 1) * f], 500.0, ctx, audio[..., 4 * f * j : 4 * f * (j + 1)],
                                  cache, block_index=j, audio_mask=gates) for j in range(2)]
    torch.testing.assert_close(torch.cat(blocks, dim=2), full, atol=2e-3, rtol=2e-3)


def test_several_tracks_without_gates_are_refused():
    model = _model()
    inp = _inputs(model.config)
    with pytest.raises(ValueError, match="audio_mask"):
        _block(model, inp, torch.cat([inp["a"], inp["b"]]), None)
    with pytest.raises(ValueError, match="audio_mask"):
        _block(model, inp, torch.cat([inp["a"], inp["b"]]), torch.ones(3, GRID[0] * GRID[1]))
    with pytest.raises(ValueError, match="audio_mask"):
        _block(model, inp, torch.cat([inp["a"], inp["b"]]), torch.ones(2, 7))


# ----------------------------------------------------------------------------- pipeline and backend
def _people(seconds: float = 1.0, size: int = 64):
    rng = np.random.default_rng(0)
    reference = (rng.random((size, size, 3)) * 255).astype(np.uint8)
    n = int(16000 * seconds)
    tracks = [(rng.standard_normal(n) * 0.1).astype(np.float32) for _ in range(2)]
    tracks[0][n // 2 :] = 0  # one speaks first, the other after
    tracks[1][: n // 2] = 0
    masks = np.zeros((2, size, size), np.float32)
    masks[0, 8:56, 2:24] = 1
    masks[1, 8:56, 40:62] = 1
    return reference, tracks[0] + tracks[1], tracks, masks


def test_pipeline_makes_the_planned_frames_with_two_people(pipe):
    from liveavatar.speed import SpeedOptions

    reference, mix, tracks, masks = _people()
    args = dict(frames_per_clip=12, num_clips=2, steps=3, seed=3, tracks_16k=tracks, person_masks=masks)
    clips = [c.frames for c in pipe.generate("two people talking", reference, mix, **args)]
    assert [c.shape for c in clips] == [(12, 64, 64, 3)] * 2
    single = [c.frames for c in pipe.generate("two people talking", reference, mix, frames_per_clip=12,
                                              num_clips=2, steps=3, seed=3)]
    assert not np.array_equal(np.concatenate(clips), np.concatenate(single))
    # The amortised (timestep-forcing) schedule routes the same way: the plain loop's frames.
    amortised = [c.frames for c in pipe.generate("two people talking", reference, mix,
                                                 speed=SpeedOptions(offload_kv=True), **args)]
    assert np.array_equal(np.concatenate(amortised), np.concatenate(clips))


def test_each_track_is_encoded_as_a_one_person_run_encodes_it(pipe):
    reference, mix, tracks, _ = _people()
    both = pipe.encode_tracks(mix, tracks, 25, 25)
    assert both.shape[0] == 2
    for n, track in enumerate(tracks):
        assert torch.equal(both[n : n + 1], pipe.encode_audio(track, 25, 25))


def test_pipeline_checks_several_people_inputs(pipe):
    from liveavatar.pipeline.pipeline import PipelineError

    reference, mix, tracks, masks = _people(0.5)

    def check(**kw):
        args = dict(tracks_16k=tracks, person_masks=masks)
        args.update(kw)
        pipe.check_inputs(reference, mix, 12, 3, **args)

    check()
    with pytest.raises(PipelineError, match="2 to 4"):
        check(tracks_16k=tracks[:1], person_masks=masks[:1])
    with pytest.raises(PipelineError, match="2 to 4"):
        check(tracks_16k=tracks * 3, person_masks=np.concatenate([masks] * 3))
    with pytest.raises(PipelineError, match="track 2"):
        check(tracks_16k=[tracks[0], tracks[1][:100]])
    with pytest.raises(PipelineError, match="masks"):
        check(person_masks=masks[:, :32])
    with pytest.raises(PipelineError, match="both"):
        check(person_masks=None)
    with pytest.raises(PipelineError, match="between 0 and 1"):
        check(person_masks=masks * 255)


def _backend_inputs():
    from liveavatar.backends.base import PersonInputs, PreparedInputs
    from liveavatar.plan import make_plan
    from liveavatar.presets import GenerationSettings

    plan = make_plan(GenerationSettings(size="64*64", sample_steps=3, infer_frames=12), image_size=(64, 64),
                     audio_seconds=0.5, backend="liveavatar", device="cpu")
    reference, mix, tracks, masks = _people(0.5)
    people = [PersonInputs(t[: len(mix)], m) for t, m in zip(tracks, masks)]
    return plan, PreparedInputs("two people talking", reference, mix, seed=5, people=people)


def test_backend_runs_several_people_and_live_mode_refuses_them(ckpt):
    from liveavatar.backends import choose_backend
    from liveavatar.pipeline.pipeline import PipelineError

    backend = choose_backend(ckpt, device="cpu").backend
    plan, inputs = _backend_inputs()
    assert inputs.several_people
    clips = list(backend.generate(plan, inputs))
    assert len(clips) == plan.num_clips
    assert sum(len(c.frames) for c in clips) == plan.num_clips * plan.frames_per_clip - (
        plan.frames_per_clip - plan.last_clip_frames)
    with pytest.raises(PipelineError, match="one microphone"):
        backend.start_live(plan, inputs)


# ----------------------------------------------------------------------------- TPP (torch.distributed)
TPP_WORKER = """
import datetime, sys
import numpy as np, torch, torch.distributed as dist
torch.set_num_threads(1)
from liveavatar.pipeline.distributed import run_tpp
from liveavatar.pipeline.pipeline import LiveAvatarPipeline
ckpt, inputs, out = sys.argv[1:4]
dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=90))
d = np.load(inputs)
pipe, _ = LiveAvatarPipeline.from_checkpoint(ckpt, device="cpu")
clips = run_tpp(pipe, "two people talking", d["reference"], d["mix"], frames_per_clip=12, num_clips=1, steps=3,
                seed=3, tracks_16k=list(d["tracks"]), person_masks=d["masks"])
if clips:
    np.save(out, np.stack([c.frames for c in clips]))
dist.barrier()
dist.destroy_process_group()
"""


def test_tpp_routes_several_people_like_one_process(ckpt, pipe, tmp_path):
    from liveavatar.testing.tpp import run_ranks

    reference, mix, tracks, masks = _people(0.5)
    inputs = tmp_path / "inputs.npz"
    np.savez(inputs, reference=reference, mix=mix, tracks=np.stack(tracks), masks=masks)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the workers' thread count: CPU kernels may sum in another order otherwise
    try:
        single = np.stack([c.frames for c in pipe.generate(
            "two people talking", reference, mix, frames_per_clip=12, num_clips=1, steps=3, seed=3,
            tracks_16k=tracks, person_masks=masks)])
    finally:
        torch.set_num_threads(threads)
    out = tmp_path / "tpp.npy"
    run_ranks(2, TPP_WORKER, [ckpt, inputs, out])
    assert np.array_equal(np.load(out), single)
