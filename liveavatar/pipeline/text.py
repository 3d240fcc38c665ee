"""UMT5-XXL text encoder (Wan's ``models_t5_umt5-xxl-enc-bf16.pth``) as ``transformers.UMT5EncoderModel``.

Wan stores the encoder under its own module names (``wan/modules/t5.py``: ``T5Encoder`` with
``token_embedding``, ``blocks.N.{norm1,attn,norm2,ffn,pos_embedding}``, ``norm``; UMT5 uses
``shared_pos=False`` so every block owns its relative position embedding). We load that file into the
transformers model through an explicit key map, with the config read off the tensor shapes, so a tiny
file written by :func:`write_tiny_t5` loads a tiny model through the same code path as the 11 GB file.

Encoding follows Wan's ``T5EncoderModel.__call__`` + the DiT's context padding: tokenize to
``text_len`` (512) with padding/truncation and the EOS token, run the encoder with the attention mask,
keep each prompt's real tokens and zero the rest (the DiT attends to the zero padding, unmasked).
"""

from __future__ import annotations

import html
import io
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

import torch

T5_CHECKPOINT = "models_t5_umt5-xxl-enc-bf16.pth"
T5_TOKENIZER = "google/umt5-xxl"
TEXT_LEN = 512

# Fixed (not shape-derived) facts of UMT5 as Wan builds it (wan/modules/t5.py): relative position
# buckets are bidirectional with max distance 128, T5LayerNorm eps 1e-6, tanh-GELU gate ("gated-gelu").
REL_MAX_DISTANCE = 128
LAYER_NORM_EPS = 1e-6

_BLOCK_MAP = {
    # Wan original (after "blocks.N.")  ->  transformers UMT5 (after "encoder.block.N.")
    "norm1.weight": "layer.0.layer_norm.weight",
    "attn.q.weight": "layer.0.SelfAttention.q.weight",
    "attn.k.weight": "layer.0.SelfAttention.k.weight",
    "attn.v.weight": "layer.0.SelfAttention.v.weight",
    "attn.o.weight": "layer.0.SelfAttention.o.weight",
    "pos_embedding.embedding.weight": "layer.0.SelfAttention.relative_attention_bias.weight",
    "norm2.weight": "layer.1.layer_norm.weight",
    "ffn.gate.0.weight": "layer.1.DenseReluDense.wi_0.weight",  # GELU branch
    "ffn.fc1.weight": "layer.1.DenseReluDense.wi_1.weight",  # linear branch
    "ffn.fc2.weight": "layer.1.DenseReluDense.wo.weight",
}
_TOP_MAP = {
    "token_embedding.weight": "shared.weight",
    "norm.weight": "encoder.final_layer_norm.weight",
}
_BLOCK_RE = re.compile(r"^blocks\.(\d+)\.(.+)$")


class CheckpointKeyError(KeyError):
    """A checkpoint's keys do not match the model: names the missing / unexpected keys."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


def t5_key_to_hf(key: str) -> str:
    """Map one original Wan T5-encoder key to its ``UMT5EncoderModel`` name (KeyError if unknown)."""
    if key in _TOP_MAP:
        return _TOP_MAP[key]
    m = _BLOCK_RE.match(key)
    if m and m.group(2) in _BLOCK_MAP:
        return f"encoder.block.{m.group(1)}.{_BLOCK_MAP[m.group(2)]}"
    raise CheckpointKeyError(f"unexpected key in T5 checkpoint: {key!r}")


def hf_key_to_t5(key: str) -> str:
    """Inverse of :func:`t5_key_to_hf` (used by the tiny-checkpoint writer)."""
    for orig, hf in _TOP_MAP.items():
        if key == hf:
            return orig
    m = re.match(r"^encoder\.block\.(\d+)\.(.+)$", key)
    if m:
        for orig, hf in _BLOCK_MAP.items():
            if m.group(2) == hf:
                return f"blocks.{m.group(1)}.{orig}"
    raise CheckpointKeyError(f"no original Wan name for UMT5 key {key!r}")


@dataclass(frozen=True)
class T5Shape:
    vocab_size: int
    d_model: int
    d_kv: int
    d_ff: int
    num_layers: int
    num_heads: int
    num_buckets: int


def infer_t5_shape(state_dict: dict[str, torch.Tensor]) -> T5Shape:
    """Read the encoder's sizes off the tensors (full file: 256384, 4096, 64, 10240, 24, 64, 32)."""
    for need in ("token_embedding.weight", "blocks.0.attn.q.weight", "blocks.0.ffn.fc1.weight",
                 "blocks.0.pos_embedding.embedding.weight"):
        if need not in state_dict:
            raise CheckpointKeyError(f"T5 checkpoint lacks {need!r}; is this Wan's umt5-xxl encoder file?")
    vocab, d_model = state_dict["token_embedding.weight"].shape
    inner = state_dict["blocks.0.attn.q.weight"].shape[0]
    d_ff = state_dict["blocks.0.ffn.fc1.weight"].shape[0]
    buckets, heads = state_dict["blocks.0.pos_embedding.embedding.weight"].shape
    layers = 1 + max(int(m.group(1)) for k in state_dict if (m := _BLOCK_RE.match(k)))
    if inner % heads:
        raise ValueError(f"attention width {inner} is not a multiple of {heads} heads")
    return T5Shape(int(vocab), int(d_model), int(inner // heads), int(d_ff), layers, int(heads), int(buckets))


def umt5_config(shape: T5Shape):
    from transformers import UMT5Config

    return UMT5Config(
        vocab_size=shape.vocab_size,
        d_model=shape.d_model,
        d_kv=shape.d_kv,
        d_ff=shape.d_ff,
        num_layers=shape.num_layers,
        num_heads=shape.num_heads,
        relative_attention_num_buckets=shape.num_buckets,
        relative_attention_max_distance=REL_MAX_DISTANCE,
        feed_forward_proj="gated-gelu",  # tanh GELU on wi_0, times wi_1 (Wan: gate(x) * fc1(x))
        layer_norm_epsilon=LAYER_NORM_EPS,
        dropout_rate=0.0,
        is_encoder_decoder=False,
        use_cache=False,
        tie_word_embeddings=True,
    )


def convert_t5_state_dict(state_dict: dict[str, torch.Tensor], expected: set[str]) -> dict[str, torch.Tensor]:
    """Rename Wan keys to transformers keys; every key must map and every model key must be covered."""
    out: dict[str, torch.Tensor] = {}
    unexpected = []
    for k, v in state_dict.items():
        try:
            out[t5_key_to_hf(k)] = v
        except CheckpointKeyError:
            unexpected.append(k)
    # the encoder's embedding is tied to `shared`
    if "shared.weight" in out:
        out["encoder.embed_tokens.weight"] = out["shared.weight"]
    missing = sorted(expected - set(out))
    extra = sorted(set(out) - expected)
    if unexpected or missing or extra:
        parts = []
        if unexpected:
            parts.append(f"unexpected keys in the .pth: {unexpected[:10]}")
        if missing:
            parts.append(f"missing keys (model needs): {[hf_key_to_t5_or_same(k) for k in missing[:10]]}")
        if extra:
            parts.append(f"keys the model does not have: {extra[:10]}")
        raise CheckpointKeyError("T5 checkpoint does not match UMT5EncoderModel: " + "; ".join(parts))
    return out


def hf_key_to_t5_or_same(key: str) -> str:
    try:
        return hf_key_to_t5(key)
    except CheckpointKeyError:
        return key


def clean_prompt(text: str) -> str:
    """Wan's ``clean='whitespace'``: fix text (ftfy when installed), unescape HTML twice, collapse spaces."""
    try:
        import ftfy  # optional: Wan uses it; without it mojibake is left as is

        text = ftfy.fix_text(text)
    except ImportError:
        pass
    text = html.unescape(html.unescape(text)).strip()
    return re.sub(r"\s+", " ", text).strip()


def load_t5_encoder(path: str | Path, dtype: torch.dtype = torch.bfloat16):
    """Build a ``UMT5EncoderModel`` from Wan's .pth (config from shapes), on CPU, eval mode."""
    from transformers import UMT5EncoderModel

    sd = torch.load(str(path), map_location="cpu", weights_only=True)
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    shape = infer_t5_shape(sd)
    config = umt5_config(shape)
    with torch.device("meta"):
        model = UMT5EncoderModel(config)
    expected = set(model.state_dict().keys())
    converted = convert_t5_state_dict(sd, expected)
    converted = {k: v.to(dtype) for k, v in converted.items()}
    model.load_state_dict(converted, strict=True, assign=True)
    model.tie_weights()
    return model.eval().requires_grad_(False)


class TextEncoder:
    """UMT5-XXL prompt encoder: ``encode(prompts) -> [B, 512, 4096]`` with zeroed padding."""

    def __init__(self, model, tokenizer, device: torch.device | str = "cpu", text_len: int = TEXT_LEN):
        self.model = model
        self.tokenizer = tokenizer
        self.device = torch.device(device)
        self.text_len = text_len

    @classmethod
    def from_checkpoint(cls, ckpt_dir: str | Path, device: torch.device | str = "cpu",
                        dtype: torch.dtype = torch.bfloat16, text_len: int = TEXT_LEN) -> "TextEncoder":
        from transformers import AutoTokenizer

        ckpt_dir = Path(ckpt_dir)
        pth = ckpt_dir / T5_CHECKPOINT
        tok_dir = ckpt_dir / T5_TOKENIZER
        if not pth.is_file():
            raise FileNotFoundError(f"T5 encoder weights not found: {pth}")
        if not tok_dir.is_dir():
            raise FileNotFoundError(f"T5 tokenizer folder not found: {tok_dir}")
        model = load_t5_encoder(pth, dtype=dtype).to(device)
        tokenizer = AutoTokenizer.from_pretrained(str(tok_dir), local_files_only=True)
        return cls(model, tokenizer, device=device, text_len=text_len)

    @property
    def dim(self) -> int:
        return self.model.config.d_model

    def tokenize(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        enc = self.tokenizer(
            [clean_prompt(p) for p in prompts],
            padding="max_length",
            truncation=True,
            max_length=self.text_len,
            add_special_tokens=True,
            return_tensors="pt",
        )
        return enc.input_ids, enc.attention_mask

    @torch.no_grad()
    def encode(self, prompts: list[str]) -> torch.Tensor:
        """Encode prompts to ``[B, text_len, d_model]``; positions past each prompt's tokens are 0."""
        if isinstance(prompts, str):
            prompts = [prompts]
        ids, mask = self.tokenize(list(prompts))
        device = next(self.model.parameters()).device
        ids, mask = ids.to(device), mask.to(device)
        hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
        return hidden * mask.unsqueeze(-1).to(hidden.dtype)

    def seq_lens(self, prompts: list[str]) -> torch.Tensor:
        return self.tokenize(list(prompts))[1].sum(dim=1)

    def offload(self) -> None:
        """Move the encoder's weights to CPU (Wan offloads T5 after encoding the prompts)."""
        self.model.to("cpu")
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


# --------------------------------------------------------------------------------------------------
# tiny random checkpoint writer (tests, CPU smoke runs)

_TINY_WORDS = (
    "the a an person man woman girl boy speaks talks smiles laughs sings explains teaches listens nods "
    "turns looks at into camera front of in on with and soft natural warm cool bright dark light studio "
    "office desk news anchor reads report calm clear voice happy sad young old short long hair eyes face "
    "mouth lips moves hands gestures slowly quickly gently room window wall plant green blue red white "
    "black grey shirt jacket glasses portrait close up medium shot cinematic realistic video frame motion "
    "head background blurred sharp detailed high quality natural expression steady lighting daylight evening"
).split()


def _write_tiny_tokenizer(folder: Path, vocab_size: int, seed: int) -> int:
    """Train a tiny sentencepiece unigram model offline and save it as a T5 tokenizer folder."""
    import sentencepiece as spm
    from transformers import T5Tokenizer

    rng = random.Random(seed)
    sentences = [" ".join(rng.choice(_TINY_WORDS) for _ in range(rng.randint(4, 14))) for _ in range(400)]
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_writer=buf, vocab_size=vocab_size, model_type="unigram",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1,  # T5's special ids: <pad>=0, </s>=1, <unk>=2
        character_coverage=1.0, hard_vocab_limit=False, minloglevel=2,
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spiece.model").write_bytes(buf.getvalue())
    sp = spm.SentencePieceProcessor(model_file=str(folder / "spiece.model"))
    # build the fast tokenizer from the pieces and scores (no protobuf conversion needed)
    vocab = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]
    tok = T5Tokenizer(vocab=vocab, extra_ids=0)
    tok.save_pretrained(str(folder))
    if not (folder / "special_tokens_map.json").exists():
        (folder / "special_tokens_map.json").write_text(
            json.dumps({"eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}, indent=2))
    if not (folder / "spiece.model").exists():  # save_pretrained may clean the folder
        (folder / "spiece.model").write_bytes(buf.getvalue())
    return len(tok)


def write_tiny_t5(folder: str | Path, *, d_model: int = 32, num_layers: int = 2, num_heads: int = 4,
                  d_kv: int = 8, d_ff: int = 48, num_buckets: int = 32, tokenizer_vocab: int = 96,
                  seed: int = 0) -> Path:
    """Write a tiny random ``models_t5_umt5-xxl-enc-bf16.pth`` (original Wan key names, bf16, flat
    state dict) and a tiny ``google/umt5-xxl/`` tokenizer folder into ``folder``; returns ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n_tok = _write_tiny_tokenizer(folder / T5_TOKENIZER, tokenizer_vocab, seed)
    vocab = max(n_tok, 8)
    g = torch.Generator().manual_seed(seed)
    inner = num_heads * d_kv

    def rnd(*shape, std=0.02):
        return (torch.randn(*shape, generator=g) * std).to(torch.bfloat16)

    sd: dict[str, torch.Tensor] = {"token_embedding.weight": rnd(vocab, d_model, std=1.0)}
    for i in range(num_layers):
        p = f"blocks.{i}."
        sd[p + "norm1.weight"] = (1 + rnd(d_model, std=0.1).float()).to(torch.bfloat16)
        sd[p + "attn.q.weight"] = rnd(inner, d_model, std=(d_model * d_kv) ** -0.5)
        sd[p + "attn.k.weight"] = rnd(inner, d_model, std=d_model ** -0.5)
        sd[p + "attn.v.weight"] = rnd(inner, d_model, std=d_model ** -0.5)
        sd[p + "attn.o.weight"] = rnd(d_model, inner, std=inner ** -0.5)
        sd[p + "norm2.weight"] = (1 + rnd(d_model, std=0.1).float()).to(torch.bfloat16)
        sd[p + "ffn.gate.0.weight"] = rnd(d_ff, d_model, std=d_model ** -0.5)
        sd[p + "ffn.fc1.weight"] = rnd(d_ff, d_model, std=d_model ** -0.5)
        sd[p + "ffn.fc2.weight"] = rnd(d_model, d_ff, std=d_ff ** -0.5)
        sd[p + "pos_embedding.embedding.weight"] = rnd(num_buckets, num_heads, std=0.5)
    sd["norm.weight"] = torch.ones(d_model, dtype=torch.bfloat16)
    torch.save(sd, folder / T5_CHECKPOINT)
    return folder


__all__ = [
    "CheckpointKeyError", "T5Shape", "TextEncoder", "TEXT_LEN", "T5_CHECKPOINT", "T5_TOKENIZER",
    "clean_prompt", "convert_t5_state_dict", "hf_key_to_t5", "infer_t5_shape", "load_t5_encoder",
    "t5_key_to_hf", "umt5_config", "write_tiny_t5",
]
