import json

import pytest
import torch

from liveavatar.pipeline.text import (
    T5_CHECKPOINT, T5_TOKENIZER, TEXT_LEN, CheckpointKeyError, TextEncoder, hf_key_to_t5,
    infer_t5_shape, t5_key_to_hf, umt5_config, write_tiny_t5,
)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return write_tiny_t5(tmp_path_factory.mktemp("ckpt"), d_model=32, num_layers=2, num_heads=4, d_kv=8, d_ff=48)


@pytest.fixture(scope="module")
def encoder(tiny_dir):
    return TextEncoder.from_checkpoint(tiny_dir, "cpu", torch.float32)


def test_tiny_files_are_in_wan_layout(tiny_dir):
    sd = torch.load(tiny_dir / T5_CHECKPOINT, weights_only=True)
    for key in ("token_embedding.weight", "norm.weight", "blocks.0.attn.q.weight", "blocks.1.attn.o.weight",
                "blocks.0.pos_embedding.embedding.weight", "blocks.0.ffn.gate.0.weight",
                "blocks.0.ffn.fc1.weight", "blocks.0.ffn.fc2.weight", "blocks.0.norm1.weight",
                "blocks.0.norm2.weight"):
        assert key in sd, key
    assert all(v.dtype == torch.bfloat16 for v in sd.values())
    assert len(sd) == 2 + 2 * 10
    tok = tiny_dir / T5_TOKENIZER
    for name in ("spiece.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        assert (tok / name).is_file(), name
    assert json.loads((tok / "special_tokens_map.json").read_text())["pad_token"] == "<pad>"


def test_every_key_maps_both_ways(tiny_dir, encoder):
    sd = torch.load(tiny_dir / T5_CHECKPOINT, weights_only=True)
    mapped = {t5_key_to_hf(k) for k in sd}
    model_keys = set(encoder.model.state_dict()) - {"encoder.embed_tokens.weight"}  # tied to shared
    assert mapped == model_keys
    assert {hf_key_to_t5(k) for k in model_keys} == set(sd)
    # weights really loaded (not the random init)
    torch.testing.assert_close(encoder.model.shared.weight, sd["token_embedding.weight"].float())
    torch.testing.assert_close(
        encoder.model.encoder.block[1].layer[1].DenseReluDense.wi_0.weight, sd["blocks.1.ffn.gate.0.weight"].float())
    assert encoder.model.encoder.embed_tokens.weight.data_ptr() == encoder.model.shared.weight.data_ptr()


def test_config_inferred_from_shapes(tiny_dir):
    sd = torch.load(tiny_dir / T5_CHECKPOINT, weights_only=True)
    shape = infer_t5_shape(sd)
    assert (shape.d_model, shape.num_layers, shape.num_heads, shape.d_kv, shape.d_ff, shape.num_buckets) == (
        32, 2, 4, 8, 48, 32)
    cfg = umt5_config(shape)
    assert cfg.is_gated_act and cfg.dense_act_fn == "gelu_new"
    assert cfg.relative_attention_max_distance == 128 and cfg.layer_norm_epsilon == 1e-6


def test_full_size_config_from_meta_shapes():
    # the real file's shapes give the UMT5-XXL config
    full = {"token_embedding.weight": torch.empty(256384, 4096, device="meta"),
            "blocks.0.attn.q.weight": torch.empty(4096, 4096, device="meta"),
            "blocks.0.ffn.fc1.weight": torch.empty(10240, 4096, device="meta"),
            "blocks.0.pos_embedding.embedding.weight": torch.empty(32, 64, device="meta")}
    full.update({f"blocks.{i}.norm1.weight": None for i in range(24)})
    s = infer_t5_shape(full)
    assert (s.vocab_size, s.d_model, s.d_kv, s.d_ff, s.num_layers, s.num_heads, s.num_buckets) == (
        256384, 4096, 64, 10240, 24, 64, 32)


@pytest.mark.parametrize("mutate, needle", [
    (lambda sd: sd.pop("blocks.1.ffn.fc2.weight"), "blocks.1.ffn.fc2.weight"),
    (lambda sd: sd.__setitem__("blocks.0.attn.extra.weight", torch.zeros(1)), "blocks.0.attn.extra.weight"),
    (lambda sd: sd.pop("norm.weight"), "norm.weight"),
])
def test_missing_or_extra_key_fails_naming_it(tiny_dir, tmp_path, mutate, needle):
    sd = torch.load(tiny_dir / T5_CHECKPOINT, weights_only=True)
    mutate(sd)
    bad = tmp_path / "bad"
    bad.mkdir()
    torch.save(sd, bad / T5_CHECKPOINT)
    (bad / "google").symlink_to(tiny_dir / "google")
    with pytest.raises(CheckpointKeyError, match=needle.replace(".", r"\.")):
        TextEncoder.from_checkpoint(bad, "cpu", torch.float32)


def test_encode_shape_and_zero_padding(encoder):
    prompts = ["a young woman speaks to the camera in a bright studio", "a man"]
    out = encoder.encode(prompts)
    assert out.shape == (2, TEXT_LEN, 32)
    lens = encoder.seq_lens(prompts)
    assert lens[0] > lens[1] >= 2  # tokens + </s>
    for b, n in enumerate(lens.tolist()):
        assert out[b, n:].abs().max() == 0
        assert (out[b, :n].abs().sum(-1) > 0).all()
    ids, mask = encoder.tokenize(prompts)
    assert ids.shape == (2, TEXT_LEN) and int(ids[1, lens[1] - 1]) == encoder.tokenizer.eos_token_id


def test_padding_does_not_change_real_tokens(encoder):
    # the encoder runs with the attention mask, so a prompt's features do not depend on the batch
    alone = encoder.encode(["a man nods"])
    batched = encoder.encode(["a man nods", "a woman laughs slowly in a warm room with a plant"])
    torch.testing.assert_close(alone[0], batched[0], atol=1e-5, rtol=1e-5)


def test_whitespace_cleaning_and_offload(encoder):
    a = encoder.encode(["a   man\n nods "])
    b = encoder.encode(["a man nods"])
    torch.testing.assert_close(a, b)
    encoder.offload()
    assert next(encoder.model.parameters()).device.type == "cpu"


def test_bf16_load(tiny_dir):
    enc = TextEncoder.from_checkpoint(tiny_dir, "cpu", torch.bfloat16)
    out = enc.encode(["a man"])
    assert out.dtype == torch.bfloat16 and out.shape == (1, TEXT_LEN, 32)
    assert torch.isfinite(out.float()).all()
