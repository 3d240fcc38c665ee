"""The real pipeline classes with random weights, built in memory: no checkpoint files, no network.

Why: the speed benchmark (``benchmarks/pipeline_speed.py``) has to run the app's loop at the full
model size on machines that have a GPU but not the 50 GB checkpoint; speed and memory depend on the
shapes, not on the values. The same builder at ``scale="tiny"`` gives the CPU tests a pipeline in
well under a second, through the same code path.

How the full size is built without ever holding it on the CPU: every model is constructed on the
``meta`` device (shapes only), the DiT's load-time speed options are applied there through
:func:`~liveavatar.pipeline.pipeline.prepare_transformer` (FP8 conversion of the block linears and
``torch.compile`` of the blocks work on meta tensors), then ``to_empty(device=...)`` allocates the
storage on the target device and :func:`init_random_` fills it in place. So the GPU never holds more
than the prepared model (FP8: 18 GB, not the 32.6 GB bf16 copy), as when loading from the checkpoint.

The text encoder ends up on the CPU, where ``LiveAvatarPipeline.from_checkpoint`` leaves it (the
pipeline moves it to the GPU for each prompt unless ``text_encoder_on_cpu``); it is initialised on the
device first because filling 5.7 B random values is much faster there.

Weights: normal with std ``1/sqrt(fan_in)`` (so every layer's output has about its input's scale,
at 5120 wide as at 64 wide, and bf16 activations stay finite through 40 layers), biases zero, norm
scales one, and the few tensors whose construction-time values matter kept as the constructors set
them (the DiT's small modulation tables, the audio-layer averaging weights). Values are meaningless:
the video is noise, the arithmetic and memory traffic are those of the real model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from liveavatar.pipeline.audio import AudioEncoder
from liveavatar.pipeline.config import S2VConfig
from liveavatar.pipeline.fp8 import Fp8Linear, quantize_rows
from liveavatar.pipeline.pipeline import LiveAvatarPipeline, prepare_transformer
from liveavatar.pipeline.text import TextEncoder, T5Shape, umt5_config
from liveavatar.pipeline.transformer import CausalS2VTransformer
from liveavatar.pipeline.vae import VideoVAE
from liveavatar.speed import SpeedOptions

__all__ = ["MetaModels", "RandomSizes", "build_random_pipeline", "init_random_", "meta_models", "parameter_count",
           "random_transformer", "small_t5_tokenizer"]

# A few words and the letters: enough for any prompt to tokenize (unknown characters become <unk>).
_WORDS = (
    "a an the person man woman girl boy speaks talks smiles sings explains to at in on of with and camera "
    "front studio office news anchor calm clear voice happy young old hair eyes face mouth lips hands "
    "room light natural warm bright soft portrait close up shot video realistic background"
).split()


@dataclass(frozen=True)
class RandomSizes:
    """Every size the random pipeline needs; the cross-part constraints are checked in ``__post_init__``."""

    dit: S2VConfig
    t5: T5Shape
    wav2vec: dict[str, Any] = field(hash=False)  # Wav2Vec2Config keyword arguments
    vae_base_dim: int = 96

    def __post_init__(self) -> None:
        cfg = self.dit
        hidden, layers = self.wav2vec["hidden_size"], self.wav2vec["num_hidden_layers"]
        problems = []
        if cfg.text_dim != self.t5.d_model:
            problems.append(f"DiT text_dim {cfg.text_dim} != T5 d_model {self.t5.d_model}")
        if cfg.audio_dim != hidden:
            problems.append(f"DiT audio_dim {cfg.audio_dim} != wav2vec2 hidden_size {hidden}")
        if cfg.num_audio_layers != layers + 1:
            problems.append(f"DiT num_audio_layers {cfg.num_audio_layers} != wav2vec2 layers + 1 ({layers + 1})")
        if problems:
            raise ValueError("Inconsistent random-pipeline sizes: " + "; ".join(problems))

    @classmethod
    def full(cls, num_layers: int | None = None) -> "RandomSizes":
        """The real model: Wan2.2-S2V-14B DiT (16.3 B), UMT5-XXL encoder (d_model 4096, 24 layers, 64 heads,
        d_ff 10240, the real 256,384-row embedding so its memory is right), the Wan 2.1 VAE (base_dim 96)
        and wav2vec2-large (hidden 1024, 24 layers -> the DiT's 25 audio layers).

        ``num_layers`` shortens the DiT only (full width), for checks on machines without the memory."""
        dit = S2VConfig.full()
        if num_layers is not None:
            dit = dataclasses.replace(dit, num_layers=num_layers,
                                      audio_inject_layers=tuple(i for i in dit.audio_inject_layers if i < num_layers))
        t5 = T5Shape(vocab_size=256384, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64, num_buckets=32)
        wav2vec = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                       vocab_size=33)
        return cls(dit=dit, t5=t5, wav2vec=wav2vec, vae_base_dim=96)

    @classmethod
    def tiny(cls) -> "RandomSizes":
        """The tiny checkpoint's sizes (:data:`liveavatar.testing.tiny_checkpoint.TINY`)."""
        from liveavatar.testing.tiny_checkpoint import TINY, tiny_dit_config

        s = TINY
        t5 = T5Shape(vocab_size=s.t5_tokenizer_vocab, d_model=s.t5_d_model, d_kv=s.t5_d_kv, d_ff=s.t5_d_ff,
                     num_layers=s.t5_num_layers, num_heads=s.t5_num_heads, num_buckets=32)
        wav2vec = dict(hidden_size=s.wav2vec_hidden, num_hidden_layers=s.wav2vec_num_layers,
                       num_attention_heads=s.wav2vec_num_heads, intermediate_size=s.wav2vec_hidden * 2,
                       conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                       vocab_size=32)
        return cls(dit=tiny_dit_config(), t5=t5, wav2vec=wav2vec, vae_base_dim=s.vae_base_dim)

    @classmethod
    def named(cls, scale: str) -> "RandomSizes":
        if scale == "full":
            return cls.full()
        if scale == "tiny":
            return cls.tiny()
        raise ValueError(f"scale must be 'full' or 'tiny'; got {scale!r}")


# ----------------------------------------------------------------------------- weights
def _constructor_value(name: str, param: torch.Tensor) -> float | None:
    """Tensors whose constructor sets a specific constant that the arithmetic relies on."""
    if name.endswith("casual_audio_encoder.weights"):
        return 0.01  # SiLU-weighted average over the audio layers: random signs could sum to ~0
    if name.endswith("padding_tokens"):
        return 0.0
    return None


@torch.no_grad()
def init_random_(model: nn.Module, generator: torch.Generator | None = None, skip: set[int] | None = None) -> nn.Module:
    """Fill every parameter of a materialised (``to_empty``) model in place, on its device.

    FP8 linears get a random full-precision weight quantised the way loading quantises one (per output
    row), so their scales are realistic. Parameters whose ``id`` is in ``skip`` are left alone (already
    filled). Returns ``model``."""
    done: set[int] = set(skip or ())
    for module in model.modules():
        if isinstance(module, Fp8Linear) and id(module.weight) not in done:
            w = torch.empty(module.out_features, module.in_features, device=module.weight.device)
            w.normal_(0.0, module.in_features ** -0.5, generator=generator)
            q, scale = quantize_rows(w)
            module.weight.copy_(q)
            module.weight_scale.copy_(scale)
            done.update({id(module.weight), id(module.weight_scale)})
    for name, p in model.named_parameters():
        if id(p) in done:
            continue
        const = _constructor_value(name, p)
        leaf = name.rsplit(".", 1)[-1]
        if const is not None:
            p.fill_(const)
        elif leaf == "bias":
            p.zero_()
        elif leaf == "modulation":
            # the DiT's own init (N(0, 1) / sqrt(dim)): small shifts/scales/gates around the time projection
            p.normal_(0.0, p.shape[-1] ** -0.5, generator=generator)
        elif p.ndim == 1 or leaf in ("gamma", "original0", "weight_g"):
            p.fill_(1.0)  # norm scales (LayerNorm, RMSNorm, the VAE's gamma), weight-norm magnitudes
        else:
            fan_in = p.numel() // p.shape[0]
            p.normal_(0.0, fan_in ** -0.5, generator=generator)
    return model


def _materialise(model: nn.Module, device: torch.device, generator: torch.Generator | None) -> nn.Module:
    model.to_empty(device=device)
    init_random_(model, generator)
    left = [n for n, t in (*model.named_parameters(), *model.named_buffers()) if t.device.type == "meta"]
    if left:
        raise RuntimeError(f"still on the meta device after to_empty: {left[:5]}")
    return model.eval().requires_grad_(False)


def _materialise_streamed(model: CausalS2VTransformer, device: torch.device,
                          generator: torch.Generator | None) -> CausalS2VTransformer:
    """``stream_blocks``: each layer unit is materialised and filled on ``device`` one at a time, then kept
    on the CPU for the streamer, so the device never holds more than one layer of the random weights
    (the full FP8 model's 14 GB of layers would not fit a 24 GB card beside the rest)."""
    from liveavatar.pipeline.streaming import attach_streamer_, layer_units

    units = layer_units(model)
    filled: set[int] = set()
    for unit in units:
        for m in unit:
            m.to_empty(device=device)
            init_random_(m, generator)
            m.to("cpu")
            filled.update(id(p) for p in m.parameters())
    for name, child in model.named_children():
        if name not in ("blocks", "audio_injector"):  # the injector holds only streamed modules
            child.to_empty(device=device)
    init_random_(model, generator, skip=filled)  # the rest, named from the model (the constants' names)
    model.eval().requires_grad_(False)
    attach_streamer_(model, device, units)
    left = [n for n, t in (*model.named_parameters(), *model.named_buffers()) if t.device.type == "meta"]
    if left:
        raise RuntimeError(f"still on the meta device after materialising: {left[:5]}")
    return model


def _dit(meta_transformer: CausalS2VTransformer, device: torch.device, generator, speed: SpeedOptions):
    if speed.stream_blocks:
        return _materialise_streamed(meta_transformer, device, generator)
    return _materialise(meta_transformer, device, generator)


def _generator(device: torch.device, seed: int) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


# ----------------------------------------------------------------------------- parts
def small_t5_tokenizer():
    """An in-memory T5 (unigram) tokenizer with a few dozen pieces and T5's special ids
    (<pad> 0, </s> 1, <unk> 2). The vocabulary's size only changes which embedding rows are read."""
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -4.0)]
    pieces += [("\u2581" + w, -1.0 - (i % 5)) for i, w in enumerate(_WORDS)]
    pieces += [(c, -8.0) for c in "abcdefghijklmnopqrstuvwxyz0123456789.,!?'-"]
    return T5Tokenizer(vocab=pieces, extra_ids=0)


@dataclass
class MetaModels:
    """Every model of the pipeline on the ``meta`` device (shapes, no storage), DiT already prepared."""

    transformer: CausalS2VTransformer
    text_model: nn.Module  # transformers UMT5EncoderModel
    tokenizer: Any
    vae_model: nn.Module  # diffusers AutoencoderKLWan
    audio_model: nn.Module  # transformers Wav2Vec2ForCTC
    feature_extractor: Any


def meta_models(sizes: RandomSizes, dtype: torch.dtype, speed: SpeedOptions = SpeedOptions()) -> MetaModels:
    """Construct every part on the meta device: free at any size, so the tests can check the full-size
    shapes (parameter counts, FP8 conversion) without the memory."""
    from diffusers import AutoencoderKLWan
    from transformers import UMT5EncoderModel, Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC

    from liveavatar.pipeline.audio import SAMPLE_RATE
    from liveavatar.pipeline.vae import vae_config

    with torch.device("meta"):
        transformer = CausalS2VTransformer(sizes.dit)
    transformer = prepare_transformer(transformer, speed, "meta", dtype)

    tokenizer = small_t5_tokenizer()
    shape = sizes.t5
    if shape.vocab_size < len(tokenizer):
        shape = dataclasses.replace(shape, vocab_size=len(tokenizer))
    # the large-xlsr layout: layer-normed CNN, stable (pre-norm) transformer layers, conv biases
    w2v_config = Wav2Vec2Config(feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True,
                                pad_token_id=0, **sizes.wav2vec)
    with torch.device("meta"):
        text_model = UMT5EncoderModel(umt5_config(shape)).to(dtype=dtype)
        vae_model = AutoencoderKLWan(**vae_config(base_dim=sizes.vae_base_dim, z_dim=sizes.dit.in_dim))
        audio_model = Wav2Vec2ForCTC(w2v_config)
    features = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0,
                                        do_normalize=True, return_attention_mask=True)
    return MetaModels(transformer, text_model, tokenizer, vae_model, audio_model, features)


def random_transformer(config: S2VConfig, device: torch.device | str, dtype: torch.dtype,
                       speed: SpeedOptions = SpeedOptions(), seed: int = 0) -> CausalS2VTransformer:
    """The DiT alone, with random weights and the load-time options of ``speed`` applied (see the module
    docstring for why they are applied before the storage exists)."""
    device = torch.device(device)
    with torch.device("meta"):
        model = CausalS2VTransformer(config)
    model = prepare_transformer(model, speed, "meta", dtype)
    return _dit(model, device, _generator(device, seed), speed)


def build_random_pipeline(scale: str | RandomSizes, device: str | torch.device, dtype: torch.dtype | None = None,
                          speed: SpeedOptions = SpeedOptions(), *, seed: int = 0) -> LiveAvatarPipeline:
    """A :class:`LiveAvatarPipeline` of the real classes with random weights, on ``device``.

    ``scale``: ``"full"`` (the 16.3 B DiT and the real encoders: about 34 GB resident on the GPU in
    bf16, 20 GB with FP8, plus the text encoder's 11 GB while it encodes a prompt and the KV caches),
    ``"tiny"`` (the tiny checkpoint's sizes; milliseconds per step on a CPU) or a :class:`RandomSizes`.
    ``dtype`` defaults as in ``from_checkpoint``: bf16 on a GPU, float32 on the CPU. ``speed``'s
    load-time options (FP8, compile, CUDA graphs) are applied to the DiT and ``speed`` becomes the
    pipeline's default run-time options; the caller checks ``speed.usable_on(device)`` first, as the
    app does.
    """
    sizes = scale if isinstance(scale, RandomSizes) else RandomSizes.named(scale)
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    dtype = dtype or (torch.bfloat16 if device.type == "cuda" else torch.float32)
    generator = _generator(device, seed)
    meta = meta_models(sizes, dtype, speed)

    transformer = _dit(meta.transformer, device, generator, speed)
    text_model = _materialise(meta.text_model, device, generator)
    text_model.tie_weights()  # to_empty gives the tied embedding two storages; tie them again
    text = TextEncoder(text_model, meta.tokenizer, device="cpu", text_len=sizes.dit.text_len)
    text.offload()  # where from_checkpoint keeps it: on the CPU between prompts
    vae = VideoVAE(_materialise(meta.vae_model, device, generator), device=device, dtype=torch.float32)
    audio = AudioEncoder(_materialise(meta.audio_model, device, generator), meta.feature_extractor,
                         device=device, dtype=torch.float32)
    return LiveAvatarPipeline(transformer, text, vae, audio, device=device, dtype=dtype, speed=speed)


def parameter_count(model: nn.Module) -> int:
    """Parameters of a (possibly FP8) model: an FP8 linear counts its weight, not its per-row scales."""
    total = 0
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if isinstance(module, Fp8Linear) and name == "weight_scale":
                continue
            total += p.numel()
    streamer = getattr(model, "block_streamer", None)
    if streamer is not None:  # streamed layers: the modules hold empty placeholders, the streamer the values
        for entries, host in zip(streamer._entries, streamer._host):
            total += sum(t.numel() for (sub, name, _), t in zip(entries, host)
                         if not (isinstance(sub, Fp8Linear) and name == "weight_scale"))
    return total

