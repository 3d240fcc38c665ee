"""Finding and verifying the checkpoint on tiny fake layouts built in tmp_path (no network)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from liveavatar.pipeline.checkpoint import (
    DIT_INDEX,
    ENV_VAR,
    CheckpointError,
    CheckpointLayout,
    find_checkpoint,
    read_safetensors_header,
    verify_checkpoint,
)


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def build_layout(root: Path) -> CheckpointLayout:
    """A complete tiny checkpoint in the standard layout."""
    g = torch.Generator().manual_seed(0)
    wan = root / "Wan2.2-S2V-14B"
    wan.mkdir(parents=True)
    _write_json(wan / "config.json", {"_class_name": "WanModel_S2V", "model_type": "s2v", "dim": 8})

    shard1 = {"patch_embedding.weight": torch.randn(8, 4, generator=g),
              "blocks.0.self_attn.q.weight": torch.randn(8, 8, generator=g).bfloat16()}
    shard2 = {"blocks.0.ffn.0.weight": torch.randn(16, 8, generator=g),
              "head.head.bias": torch.randn(4, generator=g)}
    names = ["diffusion_pytorch_model-00001-of-00002.safetensors", "diffusion_pytorch_model-00002-of-00002.safetensors"]
    save_file(shard1, str(wan / names[0]))
    save_file(shard2, str(wan / names[1]))
    total = sum(t.numel() * t.element_size() for t in (*shard1.values(), *shard2.values()))
    weight_map = {k: names[0] for k in shard1} | {k: names[1] for k in shard2}
    _write_json(wan / DIT_INDEX, {"metadata": {"total_size": total}, "weight_map": weight_map})

    torch.save({"token_embedding.weight": torch.randn(10, 4), "blocks.0.attn.q.weight": torch.randn(4, 4),
                "norm.weight": torch.ones(4)}, wan / "models_t5_umt5-xxl-enc-bf16.pth")
    tok = wan / "google" / "umt5-xxl"
    tok.mkdir(parents=True)
    (tok / "spiece.model").write_bytes(b"\x0a\x05dummy-sentencepiece")
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        _write_json(tok / name, {"dummy": True})
    torch.save({"encoder.conv1.weight": torch.randn(2, 3), "decoder.conv1.weight": torch.randn(2, 3),
                "conv1.weight": torch.randn(2), "conv2.weight": torch.randn(2)}, wan / "Wan2.1_VAE.pth")
    w2v = wan / "wav2vec2-large-xlsr-53-english"
    for name in ("config.json", "preprocessor_config.json", "vocab.json"):
        _write_json(w2v / name, {"dummy": True})
    save_file({"wav2vec2.feature_projection.projection.weight": torch.randn(4, 4)}, str(w2v / "model.safetensors"))

    lora = root / "LiveAvatar"
    lora.mkdir()
    save_file({"blocks.0.self_attn.q.lora_A.default.weight": torch.randn(2, 8),
               "blocks.0.self_attn.q.lora_B.default.weight": torch.randn(8, 2)}, str(lora / "liveavatar.safetensors"))
    return CheckpointLayout.from_root(root)


@pytest.fixture
def ckpt(tmp_path: Path) -> CheckpointLayout:
    return build_layout(tmp_path / "ckpt")


def _problems(report) -> str:
    return "\n".join(str(p) for p in report.problems)


def test_complete_layout_verifies(ckpt):
    report = verify_checkpoint(ckpt.root)
    assert report.ok, report.message()
    assert report.files_checked == len(ckpt.expected_files())
    report.raise_if_broken()
    assert "OK" in report.summary()
    assert len(ckpt.dit_shards()) == 2


def test_missing_file_is_named(ckpt):
    ckpt.vae.unlink()
    report = verify_checkpoint(ckpt.root)
    assert not report.ok
    assert [p.file for p in report.problems] == [ckpt.vae]
    assert "missing" in report.problems[0].problem
    with pytest.raises(CheckpointError, match="Wan2.1_VAE.pth: missing.*liveavatar.download"):
        report.raise_if_broken()


def test_missing_shard_and_lora(ckpt):
    shard = ckpt.dit_shards()[1]
    shard.unlink()
    ckpt.lora_file.unlink()
    report = verify_checkpoint(ckpt.root)
    files = {p.file.name for p in report.problems}
    assert files == {shard.name, "liveavatar.safetensors"}


def test_wav2vec_accepts_pytorch_model_bin(ckpt):
    w2v = ckpt.wav2vec_dir
    (w2v / "model.safetensors").unlink()
    assert not verify_checkpoint(ckpt.root).ok
    torch.save({"wav2vec2.encoder.layers.0.weight": torch.randn(2, 2)}, w2v / "pytorch_model.bin")
    report = verify_checkpoint(ckpt.root)
    assert report.ok, report.message()


def test_truncated_shard_is_detected(ckpt):
    shard = ckpt.dit_shards()[0]
    data = shard.read_bytes()
    shard.write_bytes(data[:-10])
    report = verify_checkpoint(ckpt.root)
    assert [p.file for p in report.problems] == [shard]
    assert "truncated" in report.problems[0].problem
    with pytest.raises(CheckpointError, match="00001-of-00002.safetensors.*truncated"):
        report.raise_if_broken()


def test_truncated_inside_header(ckpt):
    shard = ckpt.dit_shards()[0]
    shard.write_bytes(shard.read_bytes()[:20])
    report = verify_checkpoint(ckpt.root)
    assert [p.file for p in report.problems] == [shard]
    assert "truncated" in report.problems[0].problem


def test_garbage_safetensors(ckpt):
    ckpt.lora_file.write_bytes(b"<html>404 not found</html>")
    report = verify_checkpoint(ckpt.root)
    assert [p.file for p in report.problems] == [ckpt.lora_file]


def test_header_parser_matches_safetensors(ckpt):
    header = read_safetensors_header(ckpt.dit_shards()[0])
    assert header["blocks.0.self_attn.q.weight"]["dtype"] == "BF16"
    assert header["blocks.0.self_attn.q.weight"]["shape"] == [8, 8]


def test_index_key_missing_from_shard(ckpt):
    index = json.loads(ckpt.dit_index.read_text())
    index["weight_map"]["blocks.0.self_attn.k.weight"] = ckpt.dit_shards()[0].name
    ckpt.dit_index.write_text(json.dumps(index))
    report = verify_checkpoint(ckpt.root)
    assert [p.file for p in report.problems] == [ckpt.dit_shards()[0]]
    assert "blocks.0.self_attn.k.weight" in report.problems[0].problem


def test_total_size_mismatch(ckpt):
    index = json.loads(ckpt.dit_index.read_text())
    index["metadata"]["total_size"] += 2
    ckpt.dit_index.write_text(json.dumps(index))
    report = verify_checkpoint(ckpt.root)
    assert [p.file for p in report.problems] == [ckpt.dit_index]
    assert "total_size" in report.problems[0].problem


@pytest.mark.parametrize("which", ["t5", "vae"])
def test_corrupt_pth(ckpt, which):
    path = getattr(ckpt, which)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    report = verify_checkpoint(ckpt.root)
    assert [p.file for p in report.problems] == [path]
    assert "torch.load" in report.problems[0].problem


def test_pth_with_wrong_keys(ckpt):
    torch.save({"something.else": torch.zeros(1)}, ckpt.vae)
    report = verify_checkpoint(ckpt.root)
    assert [p.file for p in report.problems] == [ckpt.vae]
    assert "encoder." in report.problems[0].problem


def test_bad_json(ckpt):
    (ckpt.tokenizer_dir / "tokenizer.json").write_text("{not json")
    report = verify_checkpoint(ckpt.root)
    assert [p.file.name for p in report.problems] == ["tokenizer.json"]


def test_every_expected_file_missing_is_reported(ckpt, tmp_path):
    for path in ckpt.expected_files():
        backup = tmp_path / "backup"
        shutil.copy(path, backup)
        path.unlink()
        report = verify_checkpoint(ckpt.root)
        assert path in [p.file for p in report.problems], path
        shutil.move(backup, path)
    assert verify_checkpoint(ckpt.root).ok


# ---------------------------------------------------------------------------------- finding


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """cwd without ./ckpt, no env var, an empty HF cache."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv(ENV_VAR, raising=False)
    empty = tmp_path / "empty_cache"
    empty.mkdir()
    return empty


def test_find_explicit(ckpt, nowhere):
    layout = find_checkpoint(ckpt.root, hf_cache_dir=nowhere)
    assert layout.wan_dir == ckpt.wan_dir and layout.lora_file == ckpt.lora_file
    assert Path(layout) == ckpt.root
    assert "ckpt_dir argument" in layout.sources["Wan2.2-S2V-14B"]
    assert verify_checkpoint(layout).ok


def test_find_explicit_wan_dir_itself(ckpt, nowhere):
    layout = find_checkpoint(ckpt.wan_dir, hf_cache_dir=nowhere)
    assert layout.wan_dir == ckpt.wan_dir and layout.lora_file == ckpt.lora_file


def test_find_env(ckpt, nowhere, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(ckpt.root))
    layout = find_checkpoint(hf_cache_dir=nowhere)
    assert layout.root == ckpt.root
    assert ENV_VAR in layout.sources["LiveAvatar LoRA"]


def test_explicit_is_authoritative(ckpt, nowhere, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(ckpt.root))
    with pytest.raises(CheckpointError, match="missing the Wan2.2-S2V-14B folder.*liveavatar.download"):
        find_checkpoint(tmp_path / "nothing_here", hf_cache_dir=nowhere)


def test_find_cwd_ckpt(tmp_path, nowhere):
    build_layout(Path.cwd() / "ckpt")
    layout = find_checkpoint(hf_cache_dir=nowhere)
    assert layout.root == Path.cwd() / "ckpt"
    assert "./ckpt" in layout.sources["Wan2.2-S2V-14B"]


def _fake_hf_cache(cache: Path, repo: str, files: dict[str, Path]) -> Path:
    repo_dir = cache / ("models--" + repo.replace("/", "--"))
    snap = repo_dir / "snapshots" / "0123456789abcdef"
    for name, src in files.items():
        dst = snap / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy(src, dst)
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / "main").write_text("0123456789abcdef")
    return snap


def test_find_hf_cache(ckpt, nowhere):
    snap = _fake_hf_cache(nowhere, "Wan-AI/Wan2.2-S2V-14B", {".": ckpt.wan_dir})
    _fake_hf_cache(nowhere, "Quark-Vision/Live-Avatar", {"liveavatar.safetensors": ckpt.lora_file})
    layout = find_checkpoint(hf_cache_dir=nowhere)
    assert layout.wan_dir == snap
    assert layout.lora_file.name == "liveavatar.safetensors"
    assert "Hugging Face cache" in layout.describe()
    assert verify_checkpoint(layout).ok


def test_find_mixed_cwd_and_hf_cache(ckpt, nowhere):
    local = build_layout(Path.cwd() / "ckpt")
    local.lora_file.unlink()
    _fake_hf_cache(nowhere, "Quark-Vision/Live-Avatar", {"liveavatar.safetensors": ckpt.lora_file})
    layout = find_checkpoint(hf_cache_dir=nowhere)
    assert layout.wan_dir == local.wan_dir
    assert "Hugging Face cache" in layout.sources["LiveAvatar LoRA"]


def test_upstream_lora_cache_location(ckpt, nowhere):
    """Upstream downloads the LoRA with hf_hub_download(cache_dir='ckpt/LiveAvatar')."""
    src = ckpt.root / "lora_backup.safetensors"
    shutil.move(ckpt.lora_file, src)
    _fake_hf_cache(ckpt.root / "LiveAvatar", "Quark-Vision/Live-Avatar", {"liveavatar.safetensors": src})
    layout = find_checkpoint(ckpt.root, hf_cache_dir=nowhere)
    assert "models--Quark-Vision--Live-Avatar" in str(layout.lora_file)
    assert verify_checkpoint(layout).ok


def test_nothing_found(nowhere):
    with pytest.raises(CheckpointError) as err:
        find_checkpoint(hf_cache_dir=nowhere)
    msg = str(err.value)
    assert "Wan-AI/Wan2.2-S2V-14B" in msg and "Quark-Vision/Live-Avatar" in msg
    assert "download button" in msg and "python -m liveavatar.download" in msg
    assert isinstance(err.value, ValueError)
