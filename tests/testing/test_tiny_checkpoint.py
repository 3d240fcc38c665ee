"""The tiny random checkpoint (liveavatar.testing.tiny_checkpoint): real layout, verifies, every part
loads through the real loaders, sizes agree across parts, and the LoRA merges."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from liveavatar.pipeline.audio import AudioEncoder
from liveavatar.pipeline.checkpoint import DIT_INDEX, CheckpointLayout, find_checkpoint, verify_checkpoint
from liveavatar.pipeline.config import S2VConfig
from liveavatar.pipeline.lora import load_lora_file, merge_lora
from liveavatar.pipeline.text import TextEncoder
from liveavatar.pipeline.transformer import CausalS2VTransformer, load_dit_state_dict
from liveavatar.pipeline.vae import VideoVAE
from liveavatar.testing.tiny_checkpoint import FULL_TENSOR_KEY, TINY, tiny_dit_config, write_tiny_checkpoint

WRITE_BUDGET_S = 60  # "seconds": about 5 s here; generous for slow CI machines


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess, float]:
    out = tmp_path_factory.mktemp("tiny") / "ckpt"
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "liveavatar.testing.tiny_checkpoint", str(out)],
                          capture_output=True, text=True, timeout=300)
    return out, proc, time.perf_counter() - start


@pytest.fixture(scope="module")
def root(written) -> Path:
    out, proc, _ = written
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


@pytest.fixture(scope="module")
def layout(root) -> CheckpointLayout:
    return CheckpointLayout.from_root(root)


@pytest.fixture(scope="module")
def config(layout) -> S2VConfig:
    return S2VConfig.from_json(layout.config)


def _load_dit(layout: CheckpointLayout, config: S2VConfig) -> CausalS2VTransformer:
    state: dict[str, torch.Tensor] = {}
    for shard in layout.dit_shards():
        with safe_open(str(shard), "pt") as f:
            state.update({k: f.get_tensor(k) for k in f.keys()})
    model = CausalS2VTransformer(config).eval()
    load_dit_state_dict(model, state)
    return model


@pytest.fixture(scope="module")
def dit(layout, config) -> CausalS2VTransformer:
    return _load_dit(layout, config)


# ----------------------------------------------------------------------------- CLI and layout
def test_cli_exits_zero_quickly_and_prints_a_summary(written):
    out, proc, seconds = written
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "bytes in total" in proc.stdout
    assert "liveavatar.safetensors" in proc.stdout
    assert seconds < WRITE_BUDGET_S, f"writing took {seconds:.1f} s"


def test_layout_verifies_clean(layout):
    report = verify_checkpoint(layout)
    assert report.ok, report.message()
    assert report.warnings == []
    assert report.files_checked == len(layout.expected_files())
    found = find_checkpoint(layout.root)
    assert found.wan_dir == layout.wan_dir and found.lora_file == layout.lora_file


def test_config_json_is_the_tiny_consistent_config(layout, config):
    data = json.loads(layout.config.read_text())
    assert data["_class_name"] == "WanModel_S2V" and data["model_type"] == "s2v"
    assert config == tiny_dit_config(3)
    assert config.num_layers == 3
    assert config.in_dim == config.out_dim == config.cond_dim == TINY.vae_z_dim == 16
    assert config.text_dim == TINY.t5_d_model
    assert config.audio_dim == TINY.wav2vec_hidden
    assert config.num_audio_layers == TINY.wav2vec_num_layers + 1


def test_dit_is_sharded_bf16_with_a_consistent_index(layout, dit):
    index = json.loads((layout.wan_dir / DIT_INDEX).read_text())
    shards = layout.dit_shards()
    assert len(shards) == TINY.dit_shards >= 2
    assert [p.name for p in shards] == [f"diffusion_pytorch_model-{i:05d}-of-{len(shards):05d}.safetensors"
                                        for i in range(1, len(shards) + 1)]
    assert set(index["weight_map"]) == set(dit.state_dict())
    total = 0
    for shard in shards:
        with safe_open(str(shard), "pt") as f:
            keys = list(f.keys())
            assert keys, f"{shard.name} is empty"
            for k in keys:
                assert index["weight_map"][k] == shard.name
                t = f.get_tensor(k)
                assert t.dtype == torch.bfloat16, k
                total += t.numel() * t.element_size()
    assert index["metadata"]["total_size"] == total


def test_dit_loads_strictly_with_non_zero_weights(dit):
    assert sum(p.numel() for p in dit.parameters()) > 0
    assert not any(torch.count_nonzero(p) == 0 for n, p in dit.named_parameters() if n.endswith("weight"))


# ----------------------------------------------------------------------------- the other parts
@pytest.fixture(scope="module")
def text_encoder(layout, config) -> TextEncoder:
    return TextEncoder.from_checkpoint(layout.wan_dir, dtype=torch.float32, text_len=config.text_len)


@pytest.fixture(scope="module")
def vae(layout) -> VideoVAE:
    return VideoVAE.from_checkpoint(layout.wan_dir)


@pytest.fixture(scope="module")
def audio_encoder(layout) -> AudioEncoder:
    return AudioEncoder.from_checkpoint(layout.wan_dir)


def test_text_encoder_matches_the_dit(text_encoder, config):
    ctx = text_encoder.encode(["a woman speaks to the camera", "the man smiles"])
    assert ctx.shape == (2, config.text_len, config.text_dim)
    assert text_encoder.dim == config.text_dim
    assert torch.isfinite(ctx).all() and ctx.abs().sum() > 0


def test_vae_matches_the_dit(vae, config):
    assert vae.z_dim == config.in_dim == config.out_dim
    video = torch.rand(1, 3, 5, 16, 16) * 2 - 1
    z = vae.encode(video)
    assert z.shape == (1, config.in_dim, 2, 2, 2)
    assert vae.decode(z).shape == video.shape


def test_audio_encoder_matches_the_dit(audio_encoder, config):
    assert audio_encoder.num_states == config.num_audio_layers
    assert audio_encoder.dim == config.audio_dim
    feats = audio_encoder.extract(np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1)
    assert feats.shape[0] == config.num_audio_layers and feats.shape[2] == config.audio_dim
    per_frame = audio_encoder.to_video_frames(feats, fps=25)
    assert per_frame.shape[0] == config.num_audio_layers and per_frame.shape[2] == config.audio_dim


def test_all_parts_feed_one_dit_forward(dit, config, text_encoder, vae, audio_encoder):
    """T5 context, VAE latents and wav2vec2 features go straight into a DiT block."""
    f = config.num_frames_per_block
    context = text_encoder.encode(["a person talks"])
    seq = int(text_encoder.seq_lens(["a person talks"])[0])
    ref = vae.encode(torch.rand(1, 3, 1, 64, 64) * 2 - 1)  # FramePack's 4x kernel needs >= 8x8 latents
    latents = torch.randn(1, config.in_dim, f, *ref.shape[-2:])
    motion = torch.randn(1, config.in_dim, config.lat_motion_frames, *latents.shape[-2:])
    feats = audio_encoder.extract(np.random.default_rng(1).standard_normal(16000).astype(np.float32) * 0.1)
    audio = audio_encoder.to_video_frames(feats, fps=25, num_frames=4 * f).permute(0, 2, 1).unsqueeze(0)
    assert audio.shape == (1, config.num_audio_layers, config.audio_dim, 4 * f)
    with torch.no_grad():
        out = dit.forward_full(latents, 500.0, [context[0, :seq]], audio, ref, motion)
    assert out.shape == latents.shape
    assert torch.isfinite(out).all()


# ----------------------------------------------------------------------------- LoRA
def test_lora_is_peft_form_and_merges(layout, config):
    state = load_lora_file(layout.lora_file)
    assert state and all(k.startswith("base_model.model.") and ".lora_" in k and k.endswith(".default.weight")
                         for k in state)
    model = _load_dit(layout, config)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    report = merge_lora(model, state, rank=TINY.lora_rank, alpha=TINY.lora_alpha)
    assert report.ignored == [] and report.replaced == 0
    assert report.rank == TINY.lora_rank and report.adapter == "default"
    per_block = {f"blocks.{i}.{m}" for i in range(config.num_layers)
                 for m in ("self_attn.q", "self_attn.k", "self_attn.v", "self_attn.o",
                           "cross_attn.q", "cross_attn.k", "cross_attn.v", "cross_attn.o", "ffn.0", "ffn.2")}
    assert per_block <= set(report.merged_modules)
    assert report.merged == len(state) // 2 > 0
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {m + ".weight" for m in report.merged_modules}


def test_lora_full_tensor_variant(tmp_path):
    out = write_tiny_checkpoint(tmp_path / "ck", seed=3, num_layers=2, lora_full_tensors=True)
    layout = CheckpointLayout.from_root(out)
    assert verify_checkpoint(layout).ok
    config = S2VConfig.from_json(layout.config)
    assert config.num_layers == 2
    model = _load_dit(layout, config)
    state = load_lora_file(layout.lora_file)
    report = merge_lora(model, state, rank=TINY.lora_rank, alpha=TINY.lora_alpha)
    assert report.replaced == 1 and report.replaced_names == [FULL_TENSOR_KEY]
    assert report.merged > 0 and report.ignored == []
    assert torch.equal(model.state_dict()[FULL_TENSOR_KEY], state["base_model.model." + FULL_TENSOR_KEY].float())


def test_no_lora_variant_and_determinism(tmp_path, layout):
    out = write_tiny_checkpoint(tmp_path / "ck", lora=False)
    lay = CheckpointLayout.from_root(out)
    assert not lay.lora_file.exists()
    report = verify_checkpoint(lay)
    assert [p.file for p in report.problems] == [lay.lora_file]
    # same seed -> same DiT bytes as the CLI's (seed 0) checkpoint
    for a, b in zip(lay.dit_shards(), layout.dit_shards()):
        assert a.read_bytes() == b.read_bytes()
