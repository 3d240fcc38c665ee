"""Block-streamed weights, the amortised (timestep-forcing) schedule and host-memory KV caches, on the CPU.

Equivalence (2 clips x 24 frames = 2 blocks per clip, 4 steps: the 4-deep pipeline spans both clips,
fills in the first ticks and drains in the last; the per-step caches wrap in the second clip): every
path runs the plain path's arithmetic in the same order, one block after another within a layer (no
batching), with the same noise and RoPE-shift draws, so the frames must be **bit-identical**
(tolerance 0); the 24 GB option set (FP8) is compared with the FP8 plain path, also bit-identical.

Residency: a pre-forward hook on every block and streamed injector records the bytes of layer weights on
the compute device at each call (installed in the modules, counted from the modules themselves, plus the
copy in flight that the streamer holds); the plan is 2 layers (the one computing + the next). A variant
that never releases a layer after use must break the plan, and the check must say so.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from liveavatar.pipeline.pipeline import LiveAvatarPipeline
from liveavatar.pipeline.streaming import PLANNED_RESIDENT_UNITS, BlockStreamer, unit_bytes
from liveavatar.speed import SpeedOptions

ROOT = Path(__file__).resolve().parents[2]
S = SpeedOptions


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Module scope, so it is set before the module's cached videos are made: every video of the module
    # runs on one thread (torch's CPU kernels split sums by thread count, which changes float rounding;
    # and the tiny VAE spin-waits with more threads on a busy 2-core machine).
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(0)
    return (rng.random((64, 64, 3)) * 255).astype(np.uint8), (rng.standard_normal(16000 * 3) * 0.1).astype(np.float32)


def _load(ckpt, speed: SpeedOptions = S()) -> LiveAvatarPipeline:
    return LiveAvatarPipeline.from_checkpoint(ckpt, device="cpu", speed=speed)[0]


def _video(pipe, inputs, speed: SpeedOptions, steps_seen: list | None = None, **kw) -> np.ndarray:
    reference, audio = inputs
    args = dict(frames_per_clip=24, num_clips=2, steps=4, seed=5)
    args.update(kw)
    on_step = None if steps_seen is None else (lambda r, b, i, n: steps_seen.append((r, b, i)))
    clips = list(pipe.generate("a woman talking", reference, audio, speed=speed, on_step=on_step, **args))
    assert [c.index for c in clips] == list(range(args["num_clips"]))
    return np.concatenate([c.frames for c in clips])


def _max_diff(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(int) - b.astype(int)).max())


@pytest.fixture(scope="module")
def plain_pipe(ckpt):
    return _load(ckpt)


@pytest.fixture(scope="module")
def streamed_pipe(ckpt):
    return _load(ckpt, S(stream_blocks=True))


@pytest.fixture(scope="module")
def plain(plain_pipe, inputs):
    return _video(plain_pipe, inputs, S())


def test_streamed_weights_keep_the_state_dict_keys_and_hold_nothing_in_the_modules(plain_pipe, streamed_pipe):
    tr = streamed_pipe.transformer
    assert set(tr.state_dict()) == set(plain_pipe.transformer.state_dict())
    streamer = tr.block_streamer
    assert len(streamer) == len(tr.blocks)
    assert all(p.numel() == 0 for p in tr.blocks.parameters())  # placeholders between uses
    assert all(p.numel() == 0 for p in tr.audio_injector.parameters())  # injectors stream with their layer
    assert streamer.host_bytes() == sum(p.numel() * p.element_size() for name, p in
                                        plain_pipe.transformer.named_parameters()
                                        if name.startswith(("blocks.", "audio_injector.")))


def test_streamed_and_amortised_paths_make_the_plain_frames_bit_for_bit(plain_pipe, streamed_pipe, inputs, plain):
    diffs = {}
    # the amortised schedule alone (weights resident), and with the caches in host memory
    diffs["amortised, resident weights"] = _max_diff(_video(plain_pipe, inputs, S(stream_blocks=True)), plain)
    diffs["amortised + offload_kv, resident weights"] = _max_diff(_video(plain_pipe, inputs, S(offload_kv=True)), plain)
    # streamed weights, per-step loop (one copy of every layer per step) and amortised schedule
    diffs["streamed weights, plain loop"] = _max_diff(_video(streamed_pipe, inputs, S()), plain)
    seen: list = []
    diffs["stream_blocks"] = _max_diff(_video(streamed_pipe, inputs, S(stream_blocks=True), seen), plain)
    diffs["stream_blocks + offload_kv"] = _max_diff(
        _video(streamed_pipe, inputs, S(stream_blocks=True, offload_kv=True)), plain)
    print("max |diff| vs plain:", diffs)
    assert all(d == 0 for d in diffs.values()), diffs
    # progress: every block of every clip reports steps 1..4 in order, the pipeline interleaving blocks
    for r in range(2):
        for b in range(2):
            assert [i for (rr, bb, i) in seen if (rr, bb) == (r, b)] == [1, 2, 3, 4]
    assert seen[:3] == [(0, 0, 1), (0, 0, 2), (0, 1, 1)]  # tick 2 runs block 0 at step 2 and block 1 at step 1


def test_the_24gb_option_set_makes_the_fp8_plain_frames(ckpt, inputs):
    fp8_plain = _video(_load(ckpt, S(fp8=True)), inputs, S(fp8=True))
    card = S.card_24gb()
    usable, why = card.usable_on("cpu")
    assert usable.stream_blocks and usable.offload_kv and usable.fp8, why
    pipe = _load(ckpt, usable)
    assert pipe.transformer.block_streamer._host[0][0].dtype in (torch.float8_e4m3fn, torch.float32)
    assert any(t.dtype == torch.float8_e4m3fn for t in pipe.transformer.block_streamer._host[0])
    out = _video(pipe, inputs, usable)
    print("max |diff| 24 GB set vs FP8 plain:", _max_diff(out, fp8_plain))
    assert np.array_equal(out, fp8_plain)


# ----------------------------------------------------------------------------- residency
def _record_residency(pipe) -> tuple[list[tuple[int, int, int]], int]:
    """Hooks on every streamed module; returns [(layer, bytes on the device, layers on the device)] per call
    and the plan in bytes (the two largest adjacent layers)."""
    tr = pipe.transformer
    streamer: BlockStreamer = tr.block_streamer
    units = streamer.units
    device = streamer.device
    records: list[tuple[int, int, int]] = []

    def hook(layer):
        def pre(module, args):
            installed = [unit_bytes(u, device) for u in units]  # counted from the modules themselves
            staged = streamer.staged_bytes()
            layers = sum(1 for v in installed if v) + len(streamer._staged)
            records.append((layer, sum(installed) + staged, layers))
        return pre

    handles = [m.register_forward_pre_hook(hook(i)) for i, unit in enumerate(units) for m in unit]
    sizes = [streamer.host_bytes(i) for i in range(len(units))]
    plan = max(sizes[i] + sizes[(i + 1) % len(sizes)] for i in range(len(sizes)))
    return records, plan, handles


def _over_plan(records, plan) -> list:
    return [r for r in records if r[1] > plan or r[2] > PLANNED_RESIDENT_UNITS]


def test_at_most_two_layers_of_weights_are_on_the_device_at_every_layer_call(ckpt, inputs):
    pipe = _load(ckpt, S(stream_blocks=True))
    records, plan, handles = _record_residency(pipe)
    try:
        _video(pipe, inputs, S(stream_blocks=True, offload_kv=True), num_clips=2, frames_per_clip=12, steps=3)
    finally:
        for h in handles:
            h.remove()
    n_layers = len(pipe.transformer.blocks)
    assert len(records) >= n_layers * 3 * 2  # every layer, every step, every block (plus the sink pass)
    peak = max(r[1] for r in records)
    print(f"layer calls {len(records)}; bytes on the device per call: min {min(r[1] for r in records)}, "
          f"max {peak}; plan {plan} B ({PLANNED_RESIDENT_UNITS} layers); all layers "
          f"{pipe.transformer.block_streamer.host_bytes()} B")
    assert not _over_plan(records, plan)
    assert peak > 0 and all(r[2] >= 1 for r in records)  # the layer in use is there


def test_the_residency_check_fails_when_layers_are_not_released(ckpt, inputs):
    pipe = _load(ckpt, S(stream_blocks=True))
    pipe.transformer.block_streamer.release_after_use = False  # the broken variant: keep every layer
    records, plan, handles = _record_residency(pipe)
    try:
        _video(pipe, inputs, S(stream_blocks=True), num_clips=1, frames_per_clip=12, steps=3)
    finally:
        for h in handles:
            h.remove()
    over = _over_plan(records, plan)
    print(f"without release: max {max(r[1] for r in records)} B on the device, plan {plan} B; "
          f"{len(over)} of {len(records)} calls over the plan")
    assert over  # the check catches it
    assert max(r[2] for r in records) == len(pipe.transformer.blocks)


# ----------------------------------------------------------------------------- cancel, CLI
def test_cancel_in_the_amortised_schedule_keeps_the_finished_clips(streamed_pipe, inputs):
    reference, audio = inputs
    cancel = threading.Event()
    got = []
    for clip in streamed_pipe.generate("x", reference, audio, frames_per_clip=12, num_clips=4, steps=3, seed=1,
                                       cancel=cancel, speed=S(stream_blocks=True, offload_kv=True)):
        got.append(clip.index)
        assert clip.frames.shape[0] == 12
        cancel.set()
    assert got == [0]  # the blocks in flight belonged to clips 1 and 2, not finished: dropped
    with_overlap = []
    cancel.clear()
    for clip in streamed_pipe.generate("x", reference, audio, frames_per_clip=12, num_clips=4, steps=3, seed=1,
                                       cancel=cancel, speed=S(stream_blocks=True, overlap_decode=True)):
        with_overlap.append(clip.index)
        cancel.set()
    assert with_overlap == list(range(len(with_overlap))) and 1 <= len(with_overlap) <= 4


def test_cli_vram_24gb_makes_a_video(ckpt, tmp_path):
    from PIL import Image

    from liveavatar.media.video import probe_video

    media = ROOT / "examples" / "media"
    image = tmp_path / "portrait64.png"
    Image.open(media / "portrait.png").resize((64, 64), Image.LANCZOS).save(image)
    out = tmp_path / "card24.mp4"
    r = subprocess.run([sys.executable, "-m", "liveavatar.generate", "--ckpt_dir", str(ckpt), "--load_lora",
                        "--prompt", "A woman speaking calmly in a studio.", "--image", str(image),
                        "--audio", str(media / "speech.wav"), "--size", "384*256", "--num_clip", "2",
                        "--infer_frames", "12", "--sample_steps", "3", "--enable_online_decode",
                        "--save_file", str(out), "--device", "cpu", "--vram_24gb"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "fp8" in r.stderr and "stream_blocks" in r.stderr and "offload_kv" in r.stderr, r.stderr
    v = probe_video(out)
    assert v.frame_count == 24 and (v.width, v.height) == (64, 64)


@pytest.mark.parametrize("vram_gb", [24, 32])
def test_cli_vram_gb_takes_the_fastest_path_that_fits_the_card(ckpt, tmp_path, vram_gb):
    """``--vram_gb`` plans for that card and the run uses the path the plan picks (which also depends on this
    machine's RAM, so the expectation comes from the same :func:`liveavatar.vram.fit` on this machine)."""
    from PIL import Image

    from liveavatar.media.audio import load_audio
    from liveavatar.presets import GenerationSettings
    from liveavatar.vram import card_for, fit

    media = ROOT / "examples" / "media"
    image = tmp_path / "portrait64.png"
    Image.open(media / "portrait.png").resize((64, 64), Image.LANCZOS).save(image)
    speech = media / "speech_short_sentence.wav"
    out = tmp_path / f"card{vram_gb}.mp4"
    r = subprocess.run([sys.executable, "-m", "liveavatar.generate", "--ckpt_dir", str(ckpt), "--load_lora",
                        "--prompt", "A woman speaking calmly in a studio.", "--image", str(image),
                        "--audio", str(speech), "--size", "384*256", "--num_clip", "1",
                        "--infer_frames", "12", "--sample_steps", "3", "--save_file", str(out), "--device", "cpu",
                        "--vram_gb", str(vram_gb)],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    settings = GenerationSettings(size="384*256", num_clip=1, sample_steps=3, infer_frames=12, seed=420)
    audio = load_audio(speech)
    expected = fit(settings, card_for(vram_gb), image_size=(64, 64), audio_seconds=audio.samples.shape[-1] / audio.sample_rate)
    if expected.fits:
        assert f"the {expected.path.key} GB memory path" in r.stderr, r.stderr
        for name in ("stream_blocks", "offload_kv", "fp8"):
            assert (name in r.stderr) == getattr(expected.settings.speed, name), (name, r.stderr)
    else:
        assert f"does not fit --vram_gb {vram_gb}" in r.stderr, r.stderr
    assert out.exists()
