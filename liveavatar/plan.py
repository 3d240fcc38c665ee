"""The generation plan: what will be made, shown to the user before anything runs.

One function, :func:`make_plan`, turns settings + what we know of the inputs into sizes, clip
count, video length and memory/time estimates. The app shows it live; backends render it exactly.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from liveavatar.presets import FPS, GenerationSettings

# --- model sizes (shared/reference/model-facts.md) -----------------------------------------
DIT_PARAMS = 16.30e9            # CausalWanModel_S2V at the full config, counted on the meta device
T5_PARAMS = 5.68e9              # UMT5-XXL encoder (≈ 11 GB file in bf16); offloaded after encoding
WAV2VEC_PARAMS = 0.315e9        # wav2vec2-large-xlsr-53
VAE_PARAMS = 0.127e9            # Wan 2.1 VAE, kept in fp32
NUM_LAYERS = 40
DIM = 5120
SINK_TOKENS = 2800              # upstream's conditioning ("sink") cache length per layer (an upper bound)
FP8_PARAMS = 14.05e9            # the blocks' attention projections + FFNs, stored in e4m3 with speed.fp8
FFN_DIM = 13824
GB = 1e9

# --- per-block figures for the streamed (24 GB) path, counted from shared/reference/dit-keys-full.json ----
BLOCK_PARAMS = 351_394_304      # one of the 40 `blocks.N.*`: 8 attention projections (26.2 M each),
                                # ffn.0/ffn.2 (70.8 M each), norms and the modulation table
BLOCK_FP8_WEIGHTS = 351_272_960  # the weight matrices pipeline/fp8.py converts (BLOCK_LINEARS): 8 × 5120² + 2 × 13824·5120
BLOCK_FP8_ROWS = 59_904         # their output rows (8 × 5120 + 13824 + 5120): one float32 scale and one bf16 bias each
NON_BLOCK_PARAMS = 2_239_983_449  # everything outside `blocks.*`: audio_injector 1.888 B (12 injectors + their AdaLN),
                                # time_projection 0.157 B, casual_audio_encoder 0.095 B, text/time embeddings 0.075 B,
                                # frame_packer 0.024 B, patch/cond embeddings, head, trainable_cond_mask (16.296 B − 40 blocks)
LATENT_CHANNELS = 16            # Wan 2.1 VAE z_dim (model-facts.md)
FRAMES_PER_BLOCK = 3            # latent frames per block (Live Avatar's num_frames_per_block)
MODULATION_ROWS = 6             # the float32 time projection per token, [B, L, 6, dim] (pipeline/transformer.py)
RESIDENT_BLOCKS = 2             # streamed path: the block computing + the next one arriving on the copy stream
HOST_PIN_FRACTION = 0.85        # of the machine's RAM the streamed path may pin (the OS and the app need the rest)

# Arithmetic for the time estimate: ≈ 24 GFLOP per token per step in the blocks' linear layers plus
# ≈ 13 in attention over a full cache at 704×384 (liveavatar/pipeline/flops.py counts 37.8–38.8).
FLOP_PER_TOKEN_STEP = 38e9
# Each extra speaking person: one more audio-injector pass (q/o on every block token in the 12
# injected layers, 4·dim² FLOP per token each) ≈ 1.26 GFLOP per token per step (flops.py, people=).
FLOP_PER_TOKEN_STEP_PER_EXTRA_PERSON = 1.26e9
H100_BF16_FLOPS = 990e12
ASSUMED_EFFICIENCY = 0.40        # an assumption until the benchmark measures it on a GPU

# Measured by benchmarks/preview_speed.py on 2 CPU cores: output pixels per second, render + encode (33–56e6).
PREVIEW_PIXELS_PER_SECOND = 40e6

FSDP_NOTE = (
    "Multi-GPU (FSDP, from the guide): 21.48 GB per GPU at load + 4.17 GB to unshard = 25.65 GB per GPU, "
    "so 24 GB cards (RTX 4090) cannot run it."
)


def fit_size(image_w: int, image_h: int, area: int, divisor: int = 64) -> tuple[int, int]:
    """Output (width, height): the image's aspect fitted inside ``area``, sides multiples of 64.

    Follows upstream Wan2.2-S2V's search: start from the largest scale that keeps the area (never
    above 1 for small images), round each side up to the divisor, and step the scale down until
    the rounded size fits.
    """
    h, w = image_h, image_w
    if h * w <= area:
        min_scale, max_scale = 0.1, 1.0
    else:
        d = divisor - 1
        a, b, c = h * w, d * (h + w), d * d - area
        min_scale = (-b + math.sqrt(b * b - 2 * a * c)) / (2 * a)
        max_scale = math.sqrt(area / (h * w))
    for i in range(100):
        scale = max_scale - (max_scale - min_scale) * i / 100
        nh, nw = int(h * scale), int(w * scale)
        ph, pw = nh + (-nh) % divisor, nw + (-nw) % divisor
        if ph * pw <= area and ph > 0 and pw > 0:
            return pw, ph
    aspect = w / h
    tw = int((area * aspect) ** 0.5 // divisor * divisor)
    th = int((area / aspect) ** 0.5 // divisor * divisor)
    return max(tw, divisor), max(th, divisor)


@dataclass
class GenerationPlan:
    backend: str
    backend_label: str
    settings: GenerationSettings
    width: int
    height: int
    fps: int
    frames_per_clip: int
    clips_requested: int | None
    num_clips: int
    audio_seconds: float | None
    covers_whole_audio: bool
    video_frames: int
    last_clip_frames: int
    gpu_memory_gb: float
    gpu_memory_parts: dict[str, float]
    estimated_seconds: float
    time_basis: str
    notes: list[str] = field(default_factory=list)
    host_memory_gb: float = 0.0
    """Host RAM the speed options put there (pinned streamed blocks and KV caches, the text encoder on the CPU)."""
    host_memory_parts: dict[str, float] = field(default_factory=dict)
    memory_path: str = "80"
    """Which card the options are the path for: "80" (plain), "48" (low memory), "24" (streamed); :func:`memory_path`."""

    @property
    def video_seconds(self) -> float:
        return self.video_frames / self.fps

    @property
    def clip_seconds(self) -> float:
        return self.frames_per_clip / self.fps

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["video_seconds"] = round(self.video_seconds, 3)
        d["clip_seconds"] = round(self.clip_seconds, 3)
        return d


def block_bytes(fp8: bool) -> float:
    """One DiT block's bytes on the device: e4m3 weights + float32 row scales + bf16 biases/norms with FP8,
    else all bf16."""
    if fp8:
        return BLOCK_FP8_WEIGHTS + BLOCK_FP8_ROWS * 4 + (BLOCK_PARAMS - BLOCK_FP8_WEIGHTS) * 2
    return BLOCK_PARAMS * 2


def _kv_bytes(s: GenerationSettings, clip_tokens: int, layers: int) -> float:
    """K and V (bf16) for ``layers`` layers: one noisy-token cache per denoising step, plus the sink (reference +
    motion) shared by all steps, or one RoPE'd sink copy per step's cache with static KV buffers."""
    sinks = s.sample_steps if s.speed.static_kv else 1
    return layers * 2 * (s.sample_steps * clip_tokens + sinks * SINK_TOKENS) * DIM * 2


def _memory_parts(s: GenerationSettings, width: int, height: int, num_clips: int) -> dict[str, float]:
    """Peak GPU memory on one GPU, by part (GB), for our pipeline's layout (as upstream's: one KV cache
    per denoising step), with the speed options' effect: FP8 weights, static KV buffers (a RoPE'd sink
    copy per step's cache) and the text encoder, which sits on the GPU while it encodes the prompt
    (before the caches exist) unless it stays on the CPU. The total is the larger of the two phases.

    The streamed path (``stream_blocks``) keeps :data:`RESIDENT_BLOCKS` blocks and the non-block weights on
    the GPU, and runs the S blocks in flight at different denoising steps (S = sample steps, timestep
    forcing in one process) through each layer together: their latents and layer inputs stay on the GPU.
    With ``offload_kv`` the GPU holds one layer's K/V for those S jobs, double-buffered (the next layer's
    arrives while this one computes), instead of all 40 layers'."""
    sp = s.speed
    tokens_per_frame = (height // 16) * (width // 16)
    latent_frames = s.infer_frames // 4
    clip_tokens = latent_frames * tokens_per_frame
    block_tokens = FRAMES_PER_BLOCK * tokens_per_frame
    activations = block_tokens * (FFN_DIM + 4 * DIM) * 2 * 2   # FFN hidden + q/k/v/o, double-buffered
    weights = (FP8_PARAMS + (DIT_PARAMS - FP8_PARAMS) * 2) if sp.fp8 else DIT_PARAMS * 2
    parts: dict[str, float] = {}
    if sp.stream_blocks:
        parts[BLOCKS_PART] = RESIDENT_BLOCKS * block_bytes(sp.fp8) / GB
        parts[OTHER_WEIGHTS_PART] = NON_BLOCK_PARAMS * 2 / GB
    else:
        parts[WEIGHTS_PART] = weights / GB
        if s.offload_model:
            # Blocks move to the GPU as they run; the largest resident piece is one block plus caches.
            parts[WEIGHTS_PART] = weights / GB / NUM_LAYERS * 2
    if sp.offload_kv:
        parts[KV_LAYER_PART] = 2 * _kv_bytes(s, clip_tokens, 1) / GB
    else:
        parts[KV_PART] = _kv_bytes(s, clip_tokens, NUM_LAYERS) / GB
    parts["audio encoder + VAE"] = (WAV2VEC_PARAMS * 2 + VAE_PARAMS * 4) / GB
    if sp.stream_blocks:
        latents = s.sample_steps * LATENT_CHANNELS * FRAMES_PER_BLOCK * (height // 8) * (width // 8) * 4
        layer_inputs = s.sample_steps * block_tokens * (1 + MODULATION_ROWS) * DIM * 4  # float32 residual + modulation
        parts[IN_FLIGHT_PART] = (latents + layer_inputs) / GB
    parts["activations"] = activations / GB + 1.0
    frames = s.infer_frames if s.online_decode else s.infer_frames * max(num_clips, 1)
    parts["VAE decode"] = 1.5 + frames * width * height * 3 * 4 / GB
    parts[TEXT_PART] = 0.0 if sp.text_encoder_on_cpu else T5_PARAMS * 2 / GB
    return {k: round(v, 2) for k, v in parts.items()}


def _host_parts(s: GenerationSettings, width: int, height: int) -> dict[str, float]:
    """Host (CPU RAM) memory the options put there, by part (GB): the pinned block weights (streamed path),
    the pinned per-step KV caches (``offload_kv``) and the text encoder kept on the CPU."""
    sp = s.speed
    clip_tokens = (s.infer_frames // 4) * (height // 16) * (width // 16)
    parts: dict[str, float] = {}
    if sp.stream_blocks:
        parts[HOST_BLOCKS_PART] = NUM_LAYERS * block_bytes(sp.fp8) / GB
    if sp.offload_kv:
        parts[HOST_KV_PART] = _kv_bytes(s, clip_tokens, NUM_LAYERS) / GB
    if sp.text_encoder_on_cpu:
        parts[HOST_TEXT_PART] = T5_PARAMS * 2 / GB
    return {k: round(v, 2) for k, v in parts.items()}


WEIGHTS_PART = "DiT weights"
TEXT_PART = "text encoder (while encoding the prompt)"
KV_PART = "KV cache"
BLOCKS_PART = "DiT blocks (2 of 40 resident, streamed)"
OTHER_WEIGHTS_PART = "DiT non-block weights (embeddings, audio injector, head)"
KV_LAYER_PART = "KV cache (one layer, double-buffered)"
IN_FLIGHT_PART = "blocks in flight (latents + layer inputs)"
HOST_BLOCKS_PART = "DiT blocks (pinned host memory)"
HOST_KV_PART = "KV caches (pinned host memory)"
HOST_TEXT_PART = "text encoder (CPU)"
RUN_PARTS = (KV_PART, KV_LAYER_PART, IN_FLIGHT_PART, "activations", "VAE decode")


def memory_path(speed: Any) -> str:
    """The card size a set of speed options is the path for: "24" (blocks streamed from host memory),
    "48" (FP8 blocks, text encoder on the CPU) or "80" (everything else on the GPU)."""
    if speed.stream_blocks:
        return "24"
    if speed.fp8 and speed.text_encoder_on_cpu:
        return "48"
    return "80"


def peak_memory(parts: dict[str, float]) -> float:
    """The text encoder is on the GPU only before the caches and activations exist: the peak is the
    resident parts plus the larger of the two phases, not the sum of everything."""
    resident = sum(v for k, v in parts.items() if k not in RUN_PARTS and k != TEXT_PART)
    return round(resident + max(parts.get(TEXT_PART, 0.0), sum(parts.get(k, 0.0) for k in RUN_PARTS)), 1)


def make_plan(
    settings: GenerationSettings,
    *,
    image_size: tuple[int, int] | None,
    audio_seconds: float | None,
    backend: str = "preview",
    backend_label: str = "CPU preview (not the model)",
    device: str | None = None,
    people: int = 1,
) -> GenerationPlan:
    """Plan a run. ``image_size`` is (width, height); unknown inputs give the preset's own size.

    On the model backend, speed options ``device`` can't use are turned off here, each with a note
    saying why, so the plan's memory and the run use the options that will really apply. ``people``:
    speech tracks driving faces (each extra one adds an audio-injector pass to the model's time)."""
    notes: list[str] = []
    if backend == "preview":
        if settings.speed.enabled():
            notes.append("Speed options (" + ", ".join(settings.speed.enabled()) + ") apply to the model only; "
                         "the CPU preview ignores them.")
    elif device:
        usable, why = settings.speed.usable_on(device)
        settings = replace(settings, speed=usable)
        notes += why
    area_w, area_h = (int(v) for v in settings.size.split("*"))
    if image_size and image_size[0] > 0 and image_size[1] > 0:
        width, height = fit_size(image_size[0], image_size[1], area_w * area_h)
    else:
        width, height = area_w, area_h
    fpc = settings.infer_frames
    if audio_seconds is not None and audio_seconds > 0:
        audio_frames = max(1, round(audio_seconds * FPS))
        clips_for_audio = math.ceil(audio_frames / fpc)
        requested = settings.num_clip
        num_clips = clips_for_audio if requested is None else min(requested, clips_for_audio)
        covers = num_clips == clips_for_audio
        if covers:
            video_frames = audio_frames
            if requested is not None and requested > clips_for_audio:
                notes.append(f"{requested} clips asked for; the audio drives {clips_for_audio}, so {clips_for_audio} will be made.")
        else:
            video_frames = num_clips * fpc
            notes.append(f"The audio is {audio_seconds:.1f} s; only the first {video_frames / FPS:.1f} s will be used.")
    else:
        num_clips = settings.num_clip or 1
        covers = False
        video_frames = num_clips * fpc
    last = video_frames - (num_clips - 1) * fpc
    parts = _memory_parts(settings, width, height, num_clips)
    host = _host_parts(settings, width, height)
    tokens = (height // 16) * (width // 16) * (fpc // 4) * num_clips
    if backend == "preview":
        est = 1.0 + video_frames * width * height / PREVIEW_PIXELS_PER_SECOND
        basis = "measured preview speed on 2 CPU cores"
    else:
        flop = FLOP_PER_TOKEN_STEP + max(0, people - 1) * FLOP_PER_TOKEN_STEP_PER_EXTRA_PERSON
        est = 60.0 + tokens * settings.sample_steps * flop / (H100_BF16_FLOPS * ASSUMED_EFFICIENCY)
        basis = f"model arithmetic at {ASSUMED_EFFICIENCY:.0%} of one H100's bf16 peak, plus ~1 min to load"
    return GenerationPlan(
        backend=backend,
        backend_label=backend_label,
        settings=settings,
        width=width,
        height=height,
        fps=FPS,
        frames_per_clip=fpc,
        clips_requested=settings.num_clip,
        num_clips=num_clips,
        audio_seconds=audio_seconds,
        covers_whole_audio=covers,
        video_frames=video_frames,
        last_clip_frames=last,
        gpu_memory_gb=peak_memory(parts),
        gpu_memory_parts=parts,
        estimated_seconds=round(est, 1),
        time_basis=basis,
        notes=notes,
        host_memory_gb=round(sum(host.values()), 1),
        host_memory_parts=host,
        memory_path=memory_path(settings.speed),
    )
