"""merge_lora: exact maths, every key form upstream's PEFT path accepts, errors, and PEFT agreement."""

from __future__ import annotations

import copy

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from liveavatar.pipeline.lora import LoraError, LoraReport, load_lora_file, merge_lora

TARGETS = ("q", "k", "v", "o", "ffn.0", "ffn.2")
DIM, FFN = 8, 16


class Attn(nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k, self.v, self.o = (nn.Linear(DIM, DIM) for _ in range(4))
        self.norm_q = nn.LayerNorm(DIM)  # must NOT be targeted by "q"


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.self_attn = Attn()
        self.cross_attn = Attn()
        self.norm3 = nn.LayerNorm(DIM)
        self.ffn = nn.Sequential(nn.Linear(DIM, FFN), nn.GELU(approximate="tanh"), nn.Linear(FFN, DIM))
        self.modulation = nn.Parameter(torch.randn(1, 6, DIM))


class TinyDiT(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch_embedding = nn.Linear(4, DIM)
        self.blocks = nn.ModuleList(Block() for _ in range(2))
        self.head = nn.Linear(DIM, 4)
        self.register_buffer("freqs", torch.randn(3), persistent=False)


def make_model(dtype=torch.float32) -> TinyDiT:
    torch.manual_seed(0)
    return TinyDiT().to(dtype)


def lora_pair(module: nn.Linear, r: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    out_f, in_f = module.weight.shape
    return torch.randn(r, in_f, generator=g), torch.randn(out_f, r, generator=g)


def test_exact_merge_formula():
    model = make_model()
    before = model.blocks[0].self_attn.q.weight.detach().clone()
    a, b = lora_pair(model.blocks[0].self_attn.q, r=4, seed=1)
    report = merge_lora(model, {"blocks.0.self_attn.q.lora_A.weight": a, "blocks.0.self_attn.q.lora_B.weight": b},
                        rank=4, alpha=2)
    expected = before + (2 / 4) * (b @ a)
    torch.testing.assert_close(model.blocks[0].self_attn.q.weight, expected, rtol=0, atol=1e-6)
    assert (report.merged, report.replaced, len(report.ignored)) == (1, 0, 0)
    assert report.rank == 4 and report.scale == 0.5
    assert report.summary() == ("LoRA: merged 1 modules (rank 4, alpha 2, scale 0.5), "
                                "replaced 0 full tensors, ignored 0 keys")


@pytest.mark.parametrize("prefix", ["", "base_model.model."])
@pytest.mark.parametrize("adapter", ["", ".default"])
def test_key_forms(prefix, adapter):
    ref, model = make_model(), make_model()
    a, b = lora_pair(ref.blocks[1].ffn[2], r=3, seed=2)
    merge_lora(ref, {"blocks.1.ffn.2.lora_A.weight": a, "blocks.1.ffn.2.lora_B.weight": b}, rank=3, alpha=6)
    state = {f"{prefix}blocks.1.ffn.2.lora_A{adapter}.weight": a, f"{prefix}blocks.1.ffn.2.lora_B{adapter}.weight": b}
    report = merge_lora(model, state, rank=3, alpha=6)
    assert report.merged == 1
    assert report.adapter == (adapter.strip(".") or None)
    for (n, p), (_, q) in zip(ref.state_dict().items(), model.state_dict().items()):
        assert torch.equal(p, q), n


def test_full_tensors_replace_then_merge():
    """Non-LoRA tensors replace base weights first (load_state_dict), then the LoRA adds on top."""
    model = make_model()
    new_q = torch.randn(DIM, DIM)
    new_bias = torch.randn(DIM)
    new_norm = torch.randn(DIM)
    new_mod = torch.randn(1, 6, DIM)
    a, b = lora_pair(model.blocks[0].self_attn.q, r=2, seed=3)
    state = {
        "base_model.model.blocks.0.self_attn.q.base_layer.weight": new_q,
        "blocks.0.self_attn.q.base_layer.bias": new_bias,
        "blocks.0.norm3.weight": new_norm,
        "base_model.model.blocks.1.modulation": new_mod,
        "blocks.0.self_attn.q.lora_A.default.weight": a,
        "blocks.0.self_attn.q.lora_B.default.weight": b,
    }
    report = merge_lora(model, state, rank=2, alpha=4)
    assert (report.merged, report.replaced) == (1, 4)
    torch.testing.assert_close(model.blocks[0].self_attn.q.weight, new_q + 2.0 * (b @ a), rtol=0, atol=1e-6)
    assert torch.equal(model.blocks[0].self_attn.q.bias, new_bias)
    assert torch.equal(model.blocks[0].norm3.weight, new_norm)
    assert torch.equal(model.blocks[1].modulation, new_mod)


def test_bf16_weights_merge_in_float32():
    model = make_model(torch.bfloat16)
    w0 = model.blocks[0].ffn[0].weight.detach().clone()
    a, b = lora_pair(model.blocks[0].ffn[0], r=4, seed=4)
    merge_lora(model, {"blocks.0.ffn.0.lora_A.weight": a.bfloat16(), "blocks.0.ffn.0.lora_B.weight": b.bfloat16()},
               rank=4, alpha=64)
    w = model.blocks[0].ffn[0].weight
    assert w.dtype == torch.bfloat16
    expected = (w0.float() + 16.0 * (b.bfloat16().float() @ a.bfloat16().float())).bfloat16()
    assert torch.equal(w, expected)


def test_non_target_module_is_ignored():
    model = make_model()
    before = copy.deepcopy(model.state_dict())
    a, b = lora_pair(model.head, r=2, seed=5)
    report = merge_lora(model, {"head.lora_A.weight": a, "head.lora_B.weight": b}, rank=2)
    assert report.merged == 0 and len(report.ignored) == 2
    assert "not a LoRA target" in report.ignored[0][1]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_unknown_key_errors():
    model = make_model()
    with pytest.raises(LoraError, match="blocks.7.self_attn.q"):
        merge_lora(model, {"blocks.7.self_attn.q.lora_A.weight": torch.zeros(2, DIM),
                           "blocks.7.self_attn.q.lora_B.weight": torch.zeros(DIM, 2)}, rank=2)
    with pytest.raises(LoraError, match="'blocks.0.not_there.weight' matches no parameter"):
        merge_lora(model, {"blocks.0.not_there.weight": torch.zeros(2)})


def test_wrong_shape_errors_name_key_and_shapes():
    model = make_model()
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(LoraError, match=r"lora_A.weight'.*\(4, 7\).*expected \(r, 8\)"):
        merge_lora(model, {"blocks.0.self_attn.k.lora_A.weight": torch.zeros(4, 7),
                           "blocks.0.self_attn.k.lora_B.weight": torch.zeros(DIM, 4)}, rank=4)
    with pytest.raises(LoraError, match=r"lora_B.weight'.*\(8, 3\).*expected \(8, 4\)"):
        merge_lora(model, {"blocks.0.self_attn.k.lora_A.weight": torch.zeros(4, DIM),
                           "blocks.0.self_attn.k.lora_B.weight": torch.zeros(DIM, 3)}, rank=4)
    with pytest.raises(LoraError, match=r"'blocks.0.norm3.weight'.*\(5,\).*expected \(8,\)"):
        merge_lora(model, {"blocks.0.norm3.weight": torch.zeros(5)})
    with pytest.raises(LoraError, match="rank 4, expected rank 128"):
        merge_lora(model, {"blocks.0.self_attn.k.lora_A.weight": torch.zeros(4, DIM),
                           "blocks.0.self_attn.k.lora_B.weight": torch.zeros(DIM, 4)})
    with pytest.raises(LoraError, match="no matching lora_B"):
        merge_lora(model, {"blocks.0.self_attn.k.lora_A.weight": torch.zeros(4, DIM)}, rank=4)
    # A failed merge leaves the model untouched, even when valid tensors came before the bad one.
    with pytest.raises(LoraError):
        merge_lora(model, {"blocks.0.norm3.weight": torch.ones(DIM), "blocks.0.norm3.bias": torch.zeros(3)})
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_rank_none_reads_rank_from_shape():
    model = make_model()
    a, b = lora_pair(model.blocks[0].cross_attn.o, r=5, seed=6)
    report = merge_lora(model, {"blocks.0.cross_attn.o.lora_A.weight": a, "blocks.0.cross_attn.o.lora_B.weight": b},
                        rank=None, alpha=10)
    assert report.rank == 5 and report.scale == 2.0


def test_load_lora_file_roundtrip(tmp_path):
    tensors = {"blocks.0.self_attn.q.lora_A.default.weight": torch.randn(2, DIM)}
    save_file(tensors, str(tmp_path / "l.safetensors"))
    loaded = load_lora_file(tmp_path / "l.safetensors")
    assert torch.equal(loaded["blocks.0.self_attn.q.lora_A.default.weight"],
                       tensors["blocks.0.self_attn.q.lora_A.default.weight"])


# ----------------------------------------------------------------------------- PEFT agreement


def _peft_merged(dtype, r, alpha, full_state: bool):
    peft = pytest.importorskip("peft")
    model = make_model(dtype)
    base = copy.deepcopy(model)
    wrapped = peft.get_peft_model(model, peft.LoraConfig(r=r, lora_alpha=alpha, target_modules=list(TARGETS)))
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, p in wrapped.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn(p.shape, generator=g).to(dtype))
    state = {k: v.detach().clone() for k, v in wrapped.state_dict().items() if full_state or "lora_" in k}
    merged = wrapped.merge_and_unload()
    return base, state, merged


@pytest.mark.parametrize("full_state", [False, True], ids=["lora-only", "full-peft-state-dict"])
def test_agrees_with_peft_float32(full_state):
    base, state, merged = _peft_merged(torch.float32, r=4, alpha=8, full_state=full_state)
    assert any(".lora_A.default.weight" in k and k.startswith("base_model.model.") for k in state)
    assert not full_state or any(".base_layer.weight" in k for k in state)
    report = merge_lora(base, state, rank=4, alpha=8, targets=TARGETS)
    n_targets = 2 * (4 + 4 + 2)  # 2 blocks x (self q,k,v,o + cross q,k,v,o + ffn.0, ffn.2)
    assert report.merged == n_targets
    assert "norm_q" not in " ".join(report.merged_modules)
    expected = merged.state_dict()
    got = base.state_dict()
    assert expected.keys() == got.keys()
    for k in expected:
        torch.testing.assert_close(got[k], expected[k], rtol=1e-6, atol=1e-6, msg=k)


def test_agrees_with_peft_bf16_within_one_rounding():
    base, state, merged = _peft_merged(torch.bfloat16, r=4, alpha=2, full_state=False)
    merge_lora(base, state, rank=4, alpha=2)
    expected, got = merged.state_dict(), base.state_dict()
    for k in expected:
        assert got[k].dtype == expected[k].dtype == torch.bfloat16
        # PEFT rounds the delta to bf16 before adding; we round once: at most ~1-2 bf16 ulps apart.
        torch.testing.assert_close(got[k].float(), expected[k].float(), rtol=2 ** -7, atol=2 ** -7, msg=k)


def test_report_type():
    assert isinstance(merge_lora(make_model(), {}), LoraReport)
