"""The random-weight pipeline builder and the speed benchmark built on it, on the CPU.

The full size is checked on the meta device only (16 B parameters don't fit a CPU test); the tiny
scale runs the real loop. Torch runs on one thread here: on a busy 2-core machine its OpenMP threads
make the tiny VAE many times slower (spin-waiting), and the VAE is most of a tiny run.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from liveavatar.pipeline.fp8 import Fp8Linear
from liveavatar.plan import DIT_PARAMS, T5_PARAMS, VAE_PARAMS, WAV2VEC_PARAMS
from liveavatar.speed import SpeedOptions
from liveavatar.testing.random_pipeline import (
    RandomSizes,
    build_random_pipeline,
    meta_models,
    parameter_count,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def bench():
    """``benchmarks/pipeline_speed.py``, loaded by path."""
    name = "liveavatar_pipeline_speed_bench"
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "pipeline_speed.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


def test_full_size_parts_have_the_real_sizes_on_the_meta_device():
    meta = meta_models(RandomSizes.full(), torch.bfloat16, SpeedOptions(fp8=True))
    assert parameter_count(meta.transformer) == 16_295_755_609
    assert parameter_count(meta.transformer) == pytest.approx(DIT_PARAMS, rel=1e-3)
    # FP8 applied through prepare_transformer before any storage exists: 10 linears in each of 40 blocks
    fp8 = [m for m in meta.transformer.modules() if isinstance(m, Fp8Linear)]
    assert len(fp8) == 400 and all(m.weight.dtype == torch.float8_e4m3fn for m in fp8)
    assert sum(p.numel() for p in meta.text_model.parameters()) == pytest.approx(T5_PARAMS, rel=1e-2)
    assert sum(p.numel() for p in meta.vae_model.parameters()) == pytest.approx(VAE_PARAMS, rel=1e-2)
    assert sum(p.numel() for p in meta.audio_model.parameters()) == pytest.approx(WAV2VEC_PARAMS, rel=1e-2)
    assert meta.audio_model.config.num_hidden_layers + 1 == RandomSizes.full().dit.num_audio_layers


def test_sizes_must_agree_between_the_parts():
    full = RandomSizes.full()
    with pytest.raises(ValueError, match="audio_dim"):
        RandomSizes(dit=full.dit, t5=full.t5, wav2vec={**full.wav2vec, "hidden_size": 768})


def test_tiny_random_pipeline_generates_clips_of_the_right_shape():
    pipe = build_random_pipeline("tiny", "cpu", seed=3)
    assert not any(p.device.type == "meta" for p in pipe.transformer.parameters())
    assert pipe.text_encoder.dim == pipe.config.text_dim
    assert pipe.audio_encoder.num_states == pipe.config.num_audio_layers
    rng = np.random.default_rng(0)
    reference = (rng.random((64, 128, 3)) * 255).astype(np.uint8)
    audio = (rng.standard_normal(16000) * 0.1).astype(np.float32)
    clips = list(pipe.generate("a woman talks to the camera", reference, audio, frames_per_clip=12, num_clips=1,
                               steps=3))
    assert [c.index for c in clips] == [0]
    frames = clips[0].frames
    assert frames.shape == (12, 64, 128, 3) and frames.dtype == np.uint8
    assert frames.std() > 1  # random weights give noise, not a constant


def test_fp8_weights_are_quantised_random_values():
    pipe = build_random_pipeline("tiny", "cpu", speed=SpeedOptions(fp8=True))
    layer = pipe.transformer.blocks[0].ffn[0]
    assert isinstance(layer, Fp8Linear) and layer.weight.dtype == torch.float8_e4m3fn
    assert torch.isfinite(layer.weight_scale).all() and (layer.weight_scale > 0).all()
    assert layer.weight.float().abs().amax().item() == pytest.approx(448.0)  # each row uses the e4m3 range


def _table(out: str) -> list[list[str]]:
    """The final table's data rows (the lines after the last header)."""
    lines = out.splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("| preset | options |"))
    data = [line for line in lines[start + 2:] if line.startswith("| ")]
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in data]


def test_benchmark_prints_a_row_per_preset_and_option_set(bench, capsys):
    argv = ["--scale", "tiny", "--device", "cpu", "--clips", "1", "--presets", "quick", "--size", "64x64",
            "--frames", "12", "--options", "plain,static_kv+fp8,compile+static_kv+cuda_graphs", "--peak_tflops", "1"]
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    assert "TFLOP/frame steady" in out  # the per-preset FLOP table
    rows = _table(out)
    assert [r[:3] for r in rows] == [["quick", "plain", "64x64"], ["quick", "static_kv+fp8", "64x64"],
                                     ["quick", "compile+static_kv+cuda_graphs", "64x64"]]
    for row in rows[:2]:
        assert len(row) == len(bench.COLUMNS)
        step, fps, steady_fps, first, peak, tflops, fraction = row[3:10]
        assert step.endswith("*")  # one clip: the steady state comes from clip 0
        for value in (step.rstrip("*"), fps, first, tflops, fraction):
            assert math.isfinite(float(value)) and float(value) > 0, row
        assert steady_fps == "n/a"  # needs a second clip
        assert math.isfinite(float(peak))
    assert "CUDA graphs" in rows[2][3]  # the device can't: usable_on's reason instead of a row


def test_benchmark_has_streamed_rows_with_their_ceilings(bench, capsys):
    argv = ["--scale", "tiny", "--device", "cpu", "--clips", "2", "--presets", "quick", "--size", "64x64",
            "--frames", "12", "--options", "plain,stream_blocks,vram_24gb", "--pcie_gbps", "25"]
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    assert "Streamed-weights ceilings (full 14B model" in out and "PCIe fps amortised" in out
    rows = _table(out)
    assert [r[1] for r in rows] == ["plain", "stream_blocks", "vram_24gb"]
    for row in rows:
        assert math.isfinite(float(row[4])) and float(row[4]) > 0, row  # fps
    for row in rows[1:]:
        assert "ceilings: PCIe" in row[-1] and "FLOP" in row[-1], row


def test_streaming_ceilings_at_full_size(bench):
    """The issue's arithmetic: FP8 layers over 25 GB/s, copied once per finished block vs once per step."""
    from liveavatar.pipeline.config import S2VConfig

    config = S2VConfig.full()
    case = bench.Case("standard", 640, 384, 4, 48)
    c = bench.ceilings(config, case, torch.bfloat16, True, 25.0, (989.0, 1979.0))
    assert 14 < c.weights_gb < 19  # 14 GB of FP8 block linears + the bf16 rest of the layers and injectors
    assert c.pcie_amortised == pytest.approx(4 * c.pcie_per_step)  # S = 4 steps share one copy
    assert c.pcie_amortised_kv < c.pcie_amortised
    assert 12 < c.pcie_amortised < 25 and math.isfinite(c.flops)
    assert bench.parse_option_set("vram_24gb") == SpeedOptions.card_24gb()
    assert bench.parse_option_set("stream_blocks+offload_kv") == SpeedOptions(stream_blocks=True, offload_kv=True)


def test_streamed_random_pipeline_keeps_layers_on_the_host():
    pipe = build_random_pipeline("tiny", "cpu", speed=SpeedOptions(stream_blocks=True, fp8=True), seed=3)
    streamer = pipe.transformer.block_streamer
    assert all(p.numel() == 0 for p in pipe.transformer.blocks.parameters())
    assert streamer.host_bytes() > 0 and streamer.device_bytes() == 0
    assert any(t.dtype == torch.float8_e4m3fn for t in streamer._host[0])


def test_option_sets_parse(bench):
    S = SpeedOptions
    parse = bench.parse_option_set
    assert parse("plain") == S()
    assert parse("compile+static_kv+cuda_graphs") == S(torch_compile=True, static_kv=True, cuda_graphs=True)
    assert parse("attention=flash") == S(attention="flash")
    assert parse("low_memory") == S.low_memory()
    assert parse("all").fp8 and not parse("all").text_encoder_on_cpu
    with pytest.raises(ValueError, match="unknown option"):
        parse("turbo")
    with pytest.raises(ValueError, match="attention kernel"):
        parse("attention=fast")


def test_peak_flops_come_from_the_gpu_name(bench, monkeypatch):
    cuda = torch.device("cuda", 0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 80GB HBM3")
    assert bench.peak_tflops(cuda, None, None)[:2] == (989.0, 1979.0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 PCIe")
    assert bench.peak_tflops(cuda, None, None)[:2] == (756.0, 1513.0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H200")
    assert bench.peak_tflops(cuda, None, None)[:2] == (989.0, 1979.0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Some Future GPU")
    assert bench.peak_tflops(cuda, None, None)[:2] == (None, None)
    assert bench.peak_tflops(torch.device("cpu"), 2.0, None)[:2] == (2.0, 4.0)  # given: fp8 assumed twice bf16
