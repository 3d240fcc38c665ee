"""Speed of the real pipeline loop, per preset and per speed option: the numbers issue 7 asks for.

Builds the full-size architecture with random weights on the GPU
(:func:`liveavatar.testing.random_pipeline.build_random_pipeline`: no checkpoint, no network) and runs
``LiveAvatarPipeline.generate`` the way the app does (block-wise denoising with one KV cache per
step, online VAE decode per clip, the preset's size, steps and frames per clip), once per preset x
option set. One table row each:

* ``s/step/block``: median seconds of one denoising step of one block in the steady state (clips after
  the first: clip 0 carries the warm-up, torch.compile's compilation and CUDA-graph capture, and its
  cache is still filling). The first step of every clip is left out, as it also pays for the previous
  clip's decode. With ``--clips 1`` the steady state falls back to clip 0 (marked ``*``);
* ``fps``: video frames per second of wall time from the ``generate()`` call to the last clip (model
  loading excluded, prompt/audio encoding and decoding included); ``fps steady``: the clips after the
  first, i.e. the rate a long video streams at;
* ``first clip s``: from the ``generate()`` call to the first clip's frames;
* ``peak GB``: ``torch.cuda.max_memory_allocated`` during the row (reset before it); on the CPU the
  growth of the process's resident memory during the row (sampled every 5 ms);
* ``TFLOP/s`` and ``% peak``: the DiT's analytic FLOPs (:mod:`liveavatar.pipeline.flops`) of the
  steady-state steps over their time, against the GPU's dense peak (bf16; with FP8 the block linears
  are held to the FP8 peak and the rest to the bf16 one). The VAE and the encoders are not counted.

Timing: after each step the *current* CUDA stream is synchronised (not the whole device: with
``overlap_decode`` the VAE decodes on a side stream, and a device-wide sync would serialise it).
Option sets the device can't use print ``SpeedOptions.usable_on``'s reason instead of a row; ``all``
runs with everything the device can use. An out-of-memory row prints ``OOM`` and the run goes on;
the model is rebuilt only when the load-time options (FP8, compile, CUDA graphs) change.

Streamed rows (``stream_blocks``, ``vram_24gb`` = FP8 + text encoder on the CPU + streamed layer weights
+ KV caches in host memory) carry their ceilings in the notes, and a table prints them per preset:
PCIe-bound fps = frames per block / (layer-weight bytes copied per finished block / ``--pcie_gbps``),
for the per-step loop (S copies per block) and the amortised schedule (1 copy), and with the host KV
caches' traffic added; FLOP-bound fps = peak FLOP/s / DiT FLOPs per frame (:mod:`liveavatar.pipeline.flops`).

Run on a GPU: ``python benchmarks/pipeline_speed.py`` (full size, all presets, all option sets; the
high-quality preset needs more than 80 GB in bf16). On a CPU it uses the tiny model, e.g.
``python benchmarks/pipeline_speed.py --scale tiny --device cpu --size 128x64 --threads 1``
(the tiny VAE dominates the CPU time at the presets' sizes).
"""

from __future__ import annotations

import argparse
import gc
import logging
import math
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from liveavatar.pipeline.config import S2VConfig  # noqa: E402
from liveavatar.pipeline.flops import block_step_flops, flops_per_frame, latent_grid  # noqa: E402
from liveavatar.plan import fit_size  # noqa: E402
from liveavatar.presets import FPS, PRESETS  # noqa: E402
from liveavatar.speed import ATTENTION_KERNELS, SpeedOptions  # noqa: E402
from liveavatar.testing.random_pipeline import build_random_pipeline, parameter_count  # noqa: E402

DEFAULT_OPTION_SETS = ("plain", "attention=flash", "static_kv", "compile", "compile+static_kv+cuda_graphs", "fp8",
                       "overlap_decode", "low_memory", "stream_blocks", "vram_24gb", "all")
# Everything that can make a run faster; text_encoder_on_cpu only saves GPU memory (it costs time), so
# "all" leaves it out and low_memory measures it.
ALL = SpeedOptions(torch_compile=True, cuda_graphs=True, fp8=True, static_kv=True, overlap_decode=True)
_FLAGS = {
    "compile": "torch_compile", "torch_compile": "torch_compile", "cuda_graphs": "cuda_graphs", "graphs": "cuda_graphs",
    "fp8": "fp8", "static_kv": "static_kv", "overlap_decode": "overlap_decode", "overlap": "overlap_decode",
    "text_encoder_on_cpu": "text_encoder_on_cpu", "text_cpu": "text_encoder_on_cpu",
    "stream_blocks": "stream_blocks", "stream": "stream_blocks", "offload_kv": "offload_kv",
}
# Dense (no sparsity) tensor-core peaks in TFLOP/s from the vendors' data sheets: (bf16, fp8).
# Longer names first: "H100 NVL" and "H100 PCIe" before the SXM "H100".
PEAK_TFLOPS: tuple[tuple[str, float, float | None], ...] = (
    ("GH200", 989.0, 1979.0),
    ("H200", 989.0, 1979.0),
    ("H100 NVL", 835.0, 1671.0),
    ("H100 PCIe", 756.0, 1513.0),
    ("H100", 989.0, 1979.0),
    ("B200", 2250.0, 4500.0),
    ("A100", 312.0, None),
    ("L40S", 362.0, 733.0),
    ("L4", 121.0, 242.0),
)
PROMPT = "A young woman with long hair talks to the camera in a bright studio, natural light, close-up shot."


# ----------------------------------------------------------------------------- option sets
def parse_option_set(name: str) -> SpeedOptions:
    """``plain``, ``low_memory``, ``vram_24gb``, ``all`` or ``+``-joined flags (``compile+static_kv+cuda_graphs``,
    ``attention=flash``, ``fp8+text_cpu``, ...)."""
    name = name.strip()
    if name in ("plain", "none", ""):
        return SpeedOptions()
    if name == "all":
        return ALL
    opts = SpeedOptions()
    for part in name.split("+"):
        part = part.strip()
        if part in ("vram_24gb", "card_24gb"):
            opts = opts.with_24gb()
        elif part == "low_memory":
            low = SpeedOptions.low_memory()
            opts = replace(opts, fp8=True if low.fp8 else opts.fp8,
                           text_encoder_on_cpu=True if low.text_encoder_on_cpu else opts.text_encoder_on_cpu)
        elif part.startswith("attention="):
            kernel = part.split("=", 1)[1]
            if kernel not in ATTENTION_KERNELS:
                raise ValueError(f"attention kernel must be one of {', '.join(ATTENTION_KERNELS)}; got {kernel!r}")
            opts = replace(opts, attention=kernel)
        elif part in _FLAGS:
            opts = replace(opts, **{_FLAGS[part]: True})
        else:
            raise ValueError(f"unknown option {part!r} in option set {name!r}; use plain, low_memory, all, "
                             f"attention=<{'|'.join(ATTENTION_KERNELS)}> or {', '.join(sorted(_FLAGS))} joined by +")
    return opts.validate()


def peak_tflops(device: torch.device, bf16: float | None, fp8: float | None) -> tuple[float | None, float | None, str]:
    """The peak figures to compare against and where they come from."""
    if bf16 is not None:
        return bf16, fp8 if fp8 is not None else 2 * bf16, "given on the command line"
    if device.type != "cuda":
        return None, None, "no peak figure for a CPU (give --peak_tflops to get a fraction)"
    name = torch.cuda.get_device_name(device)
    for key, b, f in PEAK_TFLOPS:
        if key in name:
            fp8 = fp8 if fp8 is not None else f
            return b, fp8, f"{name}: dense bf16 {b:g}" + (f", fp8 {fp8:g}" if fp8 else "") + " TFLOP/s"
    return None, None, f"{name} is not in the peak table (give --peak_tflops)"


# ----------------------------------------------------------------------------- memory
class _RssPeak:
    """Peak resident memory of this process while the block runs (CPU rows): ``ru_maxrss`` only ever
    grows over the whole process, so a sampler thread reads ``/proc/self/statm`` instead."""

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        self.base = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        try:
            with open("/proc/self/statm") as fh:
                return int(fh.read().split()[1]) * self.page
        except (OSError, ValueError, IndexError):
            return -1

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> "_RssPeak":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def delta_gb(self) -> float:
        return math.nan if self.base < 0 else (self.peak - self.base) / 1e9


class _RecompileLimit(logging.Handler):
    """Notices torch._dynamo giving up on recompiling (``recompile_limit``): from then on the block calls
    whose guards fail run eagerly, so a compiled row would quietly measure part of the model uncompiled."""

    LOGGER = "torch._dynamo"

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.hit = False

    def emit(self, record: logging.LogRecord) -> None:
        if "recompile_limit" in record.getMessage() or "cache_size_limit" in record.getMessage():
            self.hit = True

    def __enter__(self) -> "_RecompileLimit":
        logging.getLogger(self.LOGGER).addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        logging.getLogger(self.LOGGER).removeHandler(self)


# ----------------------------------------------------------------------------- one row
@dataclass
class Row:
    preset: str
    options: str
    size: str = ""
    steps: int = 0
    frames_per_clip: int = 0
    s_per_step: float = math.nan
    fps: float = math.nan
    fps_steady: float = math.nan
    first_clip_s: float = math.nan
    peak_gb: float = math.nan
    tflops: float = math.nan
    peak_fraction: float = math.nan
    steady_basis: str = ""
    status: str = "ok"  # ok | OOM | skipped: ... | failed: ...
    notes: list[str] = field(default_factory=list)


@dataclass
class Case:
    """What one preset runs: its size, steps and frames per clip (after the command line's overrides)."""

    preset: str
    width: int
    height: int
    steps: int
    frames_per_clip: int


def preset_cases(names: list[str], image: tuple[int, int] | None, size: tuple[int, int] | None,
                 frames: int | None) -> list[Case]:
    """Each preset's output size as the app plans it (:func:`fit_size` of the reference inside the
    preset's area; the reference defaults to the preset's own aspect), unless ``size`` is given."""
    cases = []
    for name in names:
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
        s = PRESETS[name].settings
        area_w, area_h = (int(v) for v in s.size.split("*"))
        if size:
            w, h = size
        else:
            iw, ih = image or (area_w, area_h)
            w, h = fit_size(iw, ih, area_w * area_h)
        cases.append(Case(name, w, h, s.sample_steps, frames or s.infer_frames))
    return cases


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.current_stream(device).synchronize()


def _steady(marks: list[tuple[int, int, int, float]], dts: list[float]) -> tuple[list[int], str]:
    """Indices of the steady-state steps and a word on what they are."""
    later = [k for k, (r, b, i, _) in enumerate(marks) if not (b == 0 and i == 1)]  # not a clip's first step
    for basis, keep in (("clips 1+", lambda r, b: r >= 1), ("clip 0, blocks 1+", lambda r, b: b >= 1),
                        ("clip 0", lambda r, b: True)):
        idx = [k for k in later if keep(marks[k][0], marks[k][1])]
        if idx:
            return idx, basis
    return list(range(len(dts))), "all steps"


def run_row(pipe, case: Case, speed: SpeedOptions, clips: int, online_decode: bool, peaks: tuple, seed: int = 0,
            people: int = 1) -> Row:
    """Generate ``clips`` clips of ``case`` with ``speed`` and measure them (see the module docstring).
    ``people`` > 1: that many speech tracks, each routed to one vertical stripe of the frame."""
    device = pipe.device
    config: S2VConfig = pipe.config
    row = Row(case.preset, "", f"{case.width}x{case.height}", case.steps, case.frames_per_clip)
    rng = np.random.default_rng(seed)
    reference = (rng.random((case.height, case.width, 3)) * 255).astype(np.uint8)
    seconds = clips * case.frames_per_clip / FPS + 0.5
    audio = (rng.standard_normal(int(16000 * seconds)) * 0.1).astype(np.float32)
    tracks = masks = None
    if people > 1:
        row.notes.append(f"{people} people")
        tracks = [(rng.standard_normal(len(audio)) * 0.1).astype(np.float32) for _ in range(people)]
        stripe = np.arange(case.width) * people // case.width  # person k: the k-th vertical stripe
        masks = np.stack([np.broadcast_to(stripe == k, (case.height, case.width)) for k in range(people)]).astype(np.float32)
    marks: list[tuple[int, int, int, float]] = []

    def on_step(clip: int, block: int, step: int, steps: int) -> None:
        _sync(device)
        marks.append((clip, block, step, time.perf_counter()))

    if speed.torch_compile or speed.cuda_graphs:
        torch._dynamo.reset()  # each row compiles (and captures) in its own clip 0
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    clip_times: list[float] = []
    frames: list[int] = []
    with _RssPeak() as rss, _RecompileLimit() as recompiles:
        _sync(device)
        t0 = time.perf_counter()
        gen = pipe.generate(PROMPT, reference, audio, frames_per_clip=case.frames_per_clip, num_clips=clips,
                            steps=case.steps, seed=seed, fps=FPS, online_decode=online_decode, on_step=on_step,
                            speed=speed, tracks_16k=tracks, person_masks=masks)
        try:
            for out in gen:
                clip_times.append(time.perf_counter())
                frames.append(len(out.frames))
        finally:
            gen.close()
    row.peak_gb = torch.cuda.max_memory_allocated(device) / 1e9 if device.type == "cuda" else rss.delta_gb
    if recompiles.hit:
        row.notes.append("torch._dynamo hit its recompile limit: some block calls ran uncompiled")

    total = clip_times[-1] - t0
    row.first_clip_s = clip_times[0] - t0
    row.fps = sum(frames) / total
    if clips > 1:
        row.fps_steady = sum(frames[1:]) / (clip_times[-1] - clip_times[0])
    times = [m[3] for m in marks]
    dts = [b - a for a, b in zip([t0, *times[:-1]], times)]
    idx, row.steady_basis = _steady(marks, dts)
    row.s_per_step = statistics.median(dts[k] for k in idx)
    blocks_per_clip = case.frames_per_clip // 4 // config.num_frames_per_block
    flops = [block_step_flops(config, case.width, case.height, case.frames_per_clip,
                              marks[k][0] * blocks_per_clip + marks[k][1], people=people) for k in idx]
    secs = sum(dts[k] for k in idx)
    if speed.stream_blocks or speed.offload_kv:
        # the amortised schedule finishes S blocks' steps together at the end of each tick: the median gap
        # between progress calls means nothing there, the mean over the steady steps does
        row.s_per_step = secs / len(idx)
        row.notes.append("s/step/block is the mean (steps of a tick finish together)")
    row.tflops = sum(f.total for f in flops) / secs / 1e12
    bf16_peak, fp8_peak = peaks
    if bf16_peak:
        if pipe.speed.fp8 and fp8_peak:
            ideal = sum(f.fp8_eligible / fp8_peak + (f.total - f.fp8_eligible) / bf16_peak for f in flops) / 1e12
        else:
            ideal = sum(f.total for f in flops) / bf16_peak / 1e12
        row.peak_fraction = ideal / secs
    return row


# ----------------------------------------------------------------------------- table
COLUMNS = ("preset", "options", "size", "s/step/block", "fps", "fps steady", "first clip s", "peak GB",
           "TFLOP/s", "% peak", "notes")


def _num(v: float, fmt: str) -> str:
    return "n/a" if v is None or not math.isfinite(v) else format(v, fmt)


def format_row(row: Row) -> str:
    if row.status != "ok":
        cells = [row.preset, row.options, row.size, row.status]
        return "| " + " | ".join(cells) + " |"
    step = _num(row.s_per_step, ".4f") + ("*" if row.steady_basis != "clips 1+" else "")
    cells = [row.preset, row.options, row.size, step, _num(row.fps, ".2f"), _num(row.fps_steady, ".2f"),
             _num(row.first_clip_s, ".2f"), _num(row.peak_gb, ".2f"), _num(row.tflops, ".4g"),
             _num(100 * row.peak_fraction, ".1f"), "; ".join(row.notes)]
    return "| " + " | ".join(cells) + " |"


def flop_table(config: S2VConfig, cases: list[Case], label: str) -> list[str]:
    """Per preset: tokens, analytic FLOPs per step per block and per video frame (steady and clip 0)."""
    lines = [f"DiT FLOPs ({label}; batch 1, text padded to {config.text_len} tokens, VAE and encoders excluded):",
             "| preset | size | steps | frames/clip | block tokens | sink tokens | cache tokens | GFLOP/token block "
             "linears | GFLOP/token all linears | GFLOP/token attention | TFLOP/step/block | TFLOP/frame steady "
             "| TFLOP/frame clip 0 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in cases:
        grid = latent_grid(config, c.width, c.height, c.frames_per_clip)
        step = block_step_flops(config, c.width, c.height, c.frames_per_clip, 10**6)  # cache full
        per_token = step.per_token()
        lines.append(
            f"| {c.preset} | {c.width}x{c.height} | {c.steps} | {c.frames_per_clip} | {grid.block_tokens} | "
            f"{grid.sink_tokens} | {grid.cache_capacity} | {per_token['block_linear'] / 1e9:.3g} | "
            f"{per_token['linear'] / 1e9:.3g} | "
            f"{per_token['attention'] / 1e9:.3g} | {step.total / 1e12:.4g} | "
            f"{flops_per_frame(config, c.width, c.height, c.steps, c.frames_per_clip) / 1e12:.4g} | "
            f"{flops_per_frame(config, c.width, c.height, c.steps, c.frames_per_clip, steady=False) / 1e12:.4g} |")
    return lines


# ----------------------------------------------------------------------------- streaming ceilings
def layer_weight_bytes(config: S2VConfig, dtype: torch.dtype, fp8: bool) -> int:
    """Bytes of the streamed layer weights (40 blocks + the audio injectors), counted on the meta device."""
    from liveavatar.pipeline.pipeline import prepare_transformer
    from liveavatar.pipeline.streaming import layer_units
    from liveavatar.pipeline.transformer import CausalS2VTransformer

    with torch.device("meta"):
        model = CausalS2VTransformer(config)
    model = prepare_transformer(model, SpeedOptions(fp8=fp8), "meta", dtype)
    return sum(p.numel() * p.element_size() for unit in layer_units(model) for m in unit for p in m.parameters())


def kv_bytes_per_block(config: S2VConfig, case: "Case", dtype: torch.dtype) -> int:
    """Steady-state KV traffic of one finished block with the caches in host memory: each of the S steps
    reads every layer's full cache (K and V) and writes the block's rows back; the shared sink comes in
    once per layer per tick."""
    grid = latent_grid(config, case.width, case.height, case.frames_per_clip)
    row = 2 * config.dim * torch.tensor([], dtype=dtype).element_size()  # K + V of one token, one layer
    per_step = config.num_layers * row * (grid.cache_capacity + grid.block_tokens)
    return case.steps * per_step + config.num_layers * row * grid.sink_tokens


@dataclass
class Ceilings:
    """Upper bounds on the streamed paths' speed for one case (video frames per second)."""

    weights_gb: float  # streamed layer weights, GB
    pcie_per_step: float  # every layer copied for every step of every block
    pcie_amortised: float  # every layer copied once per finished block (the amortised schedule)
    pcie_amortised_kv: float  # ... plus the host-memory KV caches' traffic
    flops: float  # the GPU's peak over the DiT's FLOPs per frame (nan without a peak figure)

    def note(self) -> str:
        return (f"ceilings: PCIe {_num(self.pcie_amortised, '.3g')} fps amortised ({_num(self.pcie_per_step, '.3g')} "
                f"per-step, {_num(self.pcie_amortised_kv, '.3g')} with KV offload), FLOP {_num(self.flops, '.3g')} fps")


def ceilings(config: S2VConfig, case: "Case", dtype: torch.dtype, fp8: bool, pcie_gbps: float,
             peaks: tuple[float | None, float | None], weight_bytes: int | None = None) -> Ceilings:
    """PCIe-bound fps = frames per block / (bytes copied per finished block / bandwidth); FLOP-bound fps =
    peak / DiT FLOPs per frame (steady state; FP8-eligible FLOPs at the FP8 peak when ``fp8``)."""
    frames = config.num_frames_per_block * 4
    w = layer_weight_bytes(config, dtype, fp8) if weight_bytes is None else weight_bytes
    bw = pcie_gbps * 1e9
    kv = kv_bytes_per_block(config, case, dtype)
    bf16_peak, fp8_peak = peaks
    flop_fps = math.nan
    if bf16_peak:
        blocks_per_clip = case.frames_per_clip // 4 // config.num_frames_per_block
        step = block_step_flops(config, case.width, case.height, case.frames_per_clip, 10 * blocks_per_clip)
        if fp8 and fp8_peak:
            secs = (step.fp8_eligible / fp8_peak + (step.total - step.fp8_eligible) / bf16_peak) / 1e12
        else:
            secs = step.total / bf16_peak / 1e12
        flop_fps = frames / (case.steps * secs)
    return Ceilings(w / 1e9, frames / (case.steps * w / bw), frames / (w / bw), frames / ((w + kv) / bw), flop_fps)


def ceiling_table(config: S2VConfig, cases: list["Case"], dtype: torch.dtype, pcie_gbps: float, peaks: tuple,
                  label: str) -> list[str]:
    lines = [f"Streamed-weights ceilings ({label}; {pcie_gbps:g} GB/s host-to-device, "
             f"{str(dtype).replace('torch.', '')}): fps = frames per block / (bytes per finished block / bandwidth)",
             "| preset | size | steps | weights | layer GB | PCIe fps per-step | PCIe fps amortised | "
             "PCIe fps amortised + KV offload | FLOP fps |", "|---|---|---|---|---|---|---|---|---|"]
    for fp8 in (False, True):
        wb = layer_weight_bytes(config, dtype, fp8)
        for c in cases:
            cl = ceilings(config, c, dtype, fp8, pcie_gbps, peaks, wb)
            lines.append(f"| {c.preset} | {c.width}x{c.height} | {c.steps} | {'fp8' if fp8 else 'bf16'} | "
                         f"{cl.weights_gb:.3g} | {_num(cl.pcie_per_step, '.3g')} | {_num(cl.pcie_amortised, '.3g')} | "
                         f"{_num(cl.pcie_amortised_kv, '.3g')} | {_num(cl.flops, '.3g')} |")
    return lines


# ----------------------------------------------------------------------------- main
def _pair(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    w, h = (int(v) for v in text.lower().replace("*", "x").split("x"))
    return w, h


def build_parser() -> argparse.ArgumentParser:
    cuda = torch.cuda.is_available()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", choices=("full", "tiny"), default="full" if cuda else "tiny",
                   help="model size (default: full with a GPU, tiny without)")
    p.add_argument("--device", default="cuda" if cuda else "cpu")
    p.add_argument("--dtype", choices=("bf16", "fp32"), default=None,
                   help="DiT dtype (default as the app: bf16 on a GPU, fp32 on the CPU)")
    p.add_argument("--presets", default=",".join(PRESETS), help="comma-separated presets")
    p.add_argument("--options", default=",".join(DEFAULT_OPTION_SETS),
                   help="comma-separated option sets: plain, low_memory, all, or flags joined by '+'")
    p.add_argument("--clips", type=int, default=2, help="clips per row (clip 0 is the warm-up)")
    p.add_argument("--peak_tflops", type=float, default=None, help="dense bf16 peak (default: from the GPU's name)")
    p.add_argument("--peak_tflops_fp8", type=float, default=None, help="dense fp8 peak (default: from the name)")
    p.add_argument("--image", default=None,
                   help="reference image WxH whose aspect the app fits in the preset's area (default: the preset's)")
    p.add_argument("--size", default=None, help="override every preset's output size, WxH (multiples of 64)")
    p.add_argument("--frames", type=int, default=None, help="override frames per clip (a multiple of 12)")
    p.add_argument("--decode", choices=("online", "offline", "preset"), default="online",
                   help="VAE decode per clip (online, as the issue asks), at the end, or as the preset says")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--pcie_gbps", type=float, default=25.0,
                   help="host-to-device bandwidth for the streamed paths' ceilings (PCIe 4.0 x16: ~25 GB/s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--people", default="1",
                   help="comma-separated speaker counts to run each row with, e.g. 1,2 (several people: one "
                        "track each, routed to vertical stripes)")
    return p


def run(args: argparse.Namespace) -> list[Row]:
    """Print the header, the FLOP table and one row per preset x option set; return the rows."""
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32, None: None}[args.dtype]
    dtype = dtype or (torch.bfloat16 if device.type == "cuda" else torch.float32)
    cases = preset_cases([p.strip() for p in args.presets.split(",") if p.strip()], _pair(args.image),
                         _pair(args.size), args.frames)
    option_sets = [(name.strip(), parse_option_set(name)) for name in args.options.split(",") if name.strip()]
    people_counts = [int(n) for n in str(args.people).split(",") if n.strip()]
    bf16_peak, fp8_peak, basis = peak_tflops(device, args.peak_tflops, args.peak_tflops_fp8)
    config: S2VConfig | None = None

    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"pipeline_speed: scale {args.scale}, {where}, {str(dtype).replace('torch.', '')}, {args.clips} clip(s) "
          f"per row, {args.decode} decode, torch {torch.__version__}")
    print(f"peak FLOP/s: {basis}")
    print("peak GB: " + ("torch.cuda.max_memory_allocated during the row" if device.type == "cuda"
                         else "growth of the process's resident memory during the row"))
    if args.scale != "full":  # what the GPU would do with the presets as the app plans them
        app_cases = preset_cases([c.preset for c in cases], _pair(args.image), None, None)
        for line in flop_table(S2VConfig.full(), app_cases, "full 14B model at the presets' sizes"):
            print(line)
        print()
        full_peaks = (bf16_peak or 989.0, fp8_peak or 1979.0) if device.type != "cuda" else (bf16_peak, fp8_peak)
        where_peak = "given" if bf16_peak else "H200's dense peaks, for scale"
        for line in ceiling_table(S2VConfig.full(), app_cases, torch.bfloat16, args.pcie_gbps, full_peaks,
                                  f"full 14B model at the presets' sizes, FLOP ceiling at the {where_peak}"):
            print(line)
        print()

    rows: list[Row] = []
    pipe = None
    pipe_key = None
    for name, wanted in option_sets:
        usable, why = wanted.usable_on(str(device))
        if why and name != "all":
            print(f"[{name}] skipped: {' '.join(why)}")
            rows += [Row(c.preset, name, f"{c.width}x{c.height}", status="skipped: " + " ".join(why)) for c in cases]
            continue
        key = usable.load_key()
        if pipe is None or key != pipe_key:
            pipe = None  # free the previous model (and compiled code, CUDA-graph pools) before the next
            torch._dynamo.reset()
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
            t = time.perf_counter()
            try:
                pipe = build_random_pipeline(args.scale, device, dtype, usable, seed=args.seed)
            except (torch.OutOfMemoryError, MemoryError):
                pipe, pipe_key = None, None
                gc.collect()
                print(f"[{name}] OOM while building the model")
                rows += [Row(c.preset, name, f"{c.width}x{c.height}", status="OOM (building the model)") for c in cases]
                continue
            pipe_key = key
            print(f"[{name}] built the random {args.scale} pipeline in {time.perf_counter() - t:.1f} s: DiT "
                  f"{parameter_count(pipe.transformer) / 1e9:.3f} B parameters"
                  + (" (FP8 block linears)" if usable.fp8 else ""))
            if config is None:
                config = pipe.config
                for line in flop_table(config, cases, f"this {args.scale} model"):
                    print(line)
                print()
                for line in ceiling_table(config, cases, dtype, args.pcie_gbps, (bf16_peak, fp8_peak),
                                          f"this {args.scale} model"):
                    print(line)
                print()
        if why:
            print(f"[{name}] runs with what this device can use: {', '.join(usable.enabled()) or 'nothing'} "
                  f"({' '.join(why)})")
        for c, people in [(c, n) for c in cases for n in people_counts]:
            online = {"online": True, "offline": False}.get(args.decode, PRESETS[c.preset].settings.online_decode)
            try:
                row = run_row(pipe, c, usable, args.clips, online, (bf16_peak, fp8_peak), seed=args.seed,
                              people=people)
            except (torch.OutOfMemoryError, MemoryError):
                row = Row(c.preset, name, f"{c.width}x{c.height}", status="OOM")
            except Exception as exc:  # a row that breaks is reported; the others still run
                msg = str(exc).splitlines()[0][:160] if str(exc) else ""
                row = Row(c.preset, name, f"{c.width}x{c.height}", status=f"failed: {type(exc).__name__}: {msg}")
            row.options = name
            if usable.stream_blocks and row.status == "ok":
                row.notes.append(ceilings(pipe.config, c, dtype, usable.fp8, args.pcie_gbps,
                                          (bf16_peak, fp8_peak)).note())
            rows.append(row)
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
            print(f"[{name}] {format_row(row)}", flush=True)

    print()
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for row in rows:
        print(format_row(row))
    if any(r.steady_basis and r.steady_basis != "clips 1+" for r in rows):
        print("* steady state from clip 0 only (run with --clips 2 or more for clips after the warm-up)")
    return rows


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
