"""The one prepared GPU check (issue 12): ``python benchmarks/gpu_check.py`` on one H100, under 8 minutes.

Full-size random weights (:func:`liveavatar.testing.random_pipeline.build_random_pipeline`, through
``benchmarks/pipeline_speed.py``'s measurement, :func:`pipeline_speed.run_row`), the quick and standard
presets at their sizes and steps, with short clips (``--frames``, default 24 = 2 blocks; ``--clips``,
default 2: clip 0 warms up, clip 1 is the steady state), each under four option sets:

* ``plain bf16``: no speed option;
* ``fastest``: torch.compile + static KV buffers + CUDA graphs + FP8 (+ decode overlap);
* ``low_memory``: the 48 GB path (FP8, text encoder on the CPU);
* ``24 GB path``: ``SpeedOptions.card_24gb()`` (FP8 blocks streamed from host memory, KV caches on the
  host) under ``torch.cuda.set_per_process_memory_fraction(24 GiB / total)``, after the model is built.

One table: s/step/block, fps, time to first clip, peak GB, fraction of peak FLOP/s, and for the 24 GB row
the plan's figure next to the measured peak. Then two correctness lines on one full-size DiT block: FP8 vs
bf16 relative error of its output, and compiled vs eager max |Δ|.

It fails loudly: no CUDA (without ``--allow-cpu``), an option the GPU can't use, a row that raises or runs
out of memory, a correctness figure over its bound, or the whole run over ``--budget_s`` each make the exit
code non-zero with the reason printed. ``--allow-cpu`` runs a tiny smoke version on the CPU (tiny model,
small size; options the CPU can't use are noted, not failed).
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import torch

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import pipeline_speed as ps  # noqa: E402  (also puts the repository root on sys.path)

from liveavatar.pipeline.fp8 import convert_blocks_to_fp8  # noqa: E402
from liveavatar.pipeline.transformer import DiTBlock  # noqa: E402
from liveavatar.plan import make_plan  # noqa: E402
from liveavatar.presets import PRESETS  # noqa: E402
from liveavatar.speed import SpeedOptions  # noqa: E402
from liveavatar.testing.random_pipeline import RandomSizes, init_random_  # noqa: E402

GIB = 1024**3
CARD_24 = 24 * GIB

# Bounds of the correctness lines (bf16 activations in both): e4m3 keeps 3 mantissa bits, so per-row scaled
# FP8 linears give a few per cent; compiled and eager differ only by fused rounding.
FP8_REL_ERR_MAX = 0.08
COMPILE_REL_DELTA_MAX = 0.02


def _option_sets() -> list[tuple[str, Callable[[], SpeedOptions]]]:
    return [
        ("plain bf16", SpeedOptions),
        ("fastest", lambda: SpeedOptions(torch_compile=True, static_kv=True, cuda_graphs=True, fp8=True,
                                         overlap_decode=True)),
        ("low_memory", SpeedOptions.low_memory),
        ("24 GB path", lambda: SpeedOptions.card_24gb()),  # AttributeError until speed.py has it: a failed row
    ]


COLUMNS = ("preset", "options", "size", "s/step/block", "fps", "first clip s", "peak GB", "% peak FLOP/s",
           "status / notes")


def format_row(row: ps.Row) -> str:
    if row.status != "ok":
        cells = [row.preset, row.options, row.size, "", "", "", "", "", row.status]
    else:
        cells = [row.preset, row.options, row.size, ps._num(row.s_per_step, ".4f"), ps._num(row.fps, ".2f"),
                 ps._num(row.first_clip_s, ".2f"), ps._num(row.peak_gb, ".2f"), ps._num(100 * row.peak_fraction, ".1f"),
                 "; ".join(["ok", *row.notes])]
    return "| " + " | ".join(cells) + " |"


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _failed(c: ps.Case, name: str, why: str) -> ps.Row:
    return ps.Row(c.preset, name, f"{c.width}x{c.height}", status=f"FAILED: {why}")


def run_rows(args, device: torch.device, dtype: torch.dtype, cases: list[ps.Case], peaks) -> list[ps.Row]:
    rows: list[ps.Row] = []
    wanted = [w.strip() for w in args.rows.split(",") if w.strip()]
    known = dict(_option_sets())
    for name in wanted:
        if name not in known:
            raise SystemExit(f"gpu_check: unknown row {name!r}; choose from {', '.join(known)}")
    for name in wanted:
        started = time.perf_counter()
        try:
            opts = known[name]()
        except Exception as exc:  # e.g. the 24 GB options not implemented yet
            rows += [_failed(c, name, f"options unavailable: {type(exc).__name__}: {exc}") for c in cases]
            continue
        usable, why = opts.usable_on(str(device))
        if why and device.type == "cuda":
            rows += [_failed(c, name, "the GPU can't use it: " + " ".join(why)) for c in cases]
            continue
        notes = [f"on the CPU: {' '.join(why)}"] if why else []
        pipe = None
        capped = False
        try:
            _free(device)
            torch._dynamo.reset()
            pipe = ps.build_random_pipeline(args.scale, device, dtype, usable, seed=args.seed)
            if name == "24 GB path":
                if device.type == "cuda":
                    total = torch.cuda.get_device_properties(device).total_memory
                    torch.cuda.set_per_process_memory_fraction(min(1.0, CARD_24 / total), device)
                    capped = True
                    held = torch.cuda.memory_allocated(device)
                    if held > CARD_24:
                        raise RuntimeError(f"the loaded model holds {held / 1e9:.1f} GB on the GPU, over the 24 GiB "
                                           "cap: the 24 GB path must leave the blocks in host memory")
                    notes.append(f"capped at 24 GiB of {total / GIB:.0f} GiB")
                else:
                    notes.append("no memory cap on the CPU")
        except Exception as exc:
            msg = (str(exc).splitlines() or [""])[0][:200]
            rows += [_failed(c, name, f"building the model: {type(exc).__name__}: {msg}") for c in cases]
            pipe = None
            if capped:
                torch.cuda.set_per_process_memory_fraction(1.0, device)
            _free(device)
            continue
        try:
            for c in cases:
                try:
                    row = ps.run_row(pipe, c, usable, args.clips, True, peaks, seed=args.seed)
                    row.notes = notes + row.notes
                    if name == "24 GB path" and device.type == "cuda":  # the plan is the full model's
                        s = replace(PRESETS[c.preset].settings, infer_frames=c.frames_per_clip, num_clip=args.clips,
                                    online_decode=True, speed=usable)
                        plan = make_plan(s, image_size=(c.width, c.height), audio_seconds=None, backend="liveavatar")
                        row.notes.append(f"plan {plan.gpu_memory_gb:.1f} GB")
                except (torch.OutOfMemoryError, MemoryError) as exc:
                    row = _failed(c, name, f"out of memory: {(str(exc).splitlines() or [''])[0][:160]}")
                except Exception as exc:
                    row = _failed(c, name, f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}")
                row.options = name
                rows.append(row)
                print(f"[{time.perf_counter() - args.t0:6.1f} s] {format_row(row)}", flush=True)
        finally:
            pipe = None
            if capped:
                torch.cuda.set_per_process_memory_fraction(1.0, device)
            _free(device)
        print(f"[{time.perf_counter() - args.t0:6.1f} s] {name}: {time.perf_counter() - started:.1f} s", flush=True)
    return rows


# ----------------------------------------------------------------------------- correctness
def _block_inputs(cfg, device: torch.device, tokens: int, seed: int):
    g = torch.Generator(device=device).manual_seed(seed)
    x = torch.randn(1, tokens, cfg.dim, generator=g, device=device).to(torch.bfloat16)
    e = 0.1 * torch.randn(1, tokens, 6, cfg.dim, generator=g, device=device)
    context = torch.randn(1, cfg.text_len, cfg.dim, generator=g, device=device).to(torch.bfloat16)
    return x, e, context


def _attend(q, k, v):
    out = torch.nn.functional.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
    return out.transpose(1, 2)


def correctness(args, device: torch.device) -> list[tuple[str, float, float, str]]:
    """(name, figure, bound, status) for FP8 vs bf16 and compiled vs eager, on one block of the model."""
    cfg = RandomSizes.named(args.scale).dit
    tokens = args.block_tokens
    out: list[tuple[str, float, float, str]] = []
    torch.manual_seed(args.seed)
    with torch.no_grad():
        block = DiTBlock(cfg).to(device=device, dtype=torch.bfloat16)
        init_random_(block, torch.Generator(device=device).manual_seed(args.seed))
        x, e, context = _block_inputs(cfg, device, tokens, args.seed)
        ref = block(x, e, context, _attend).float()
        checks = [c.strip() for c in args.correctness.split(",") if c.strip()]
        if "fp8" in checks:
            try:
                import copy

                q = copy.deepcopy(block)
                convert_blocks_to_fp8([q])
                got = q(x, e, context, _attend).float()
                err = ((got - ref).norm() / ref.norm()).item()
                status = "ok" if math.isfinite(err) and err <= FP8_REL_ERR_MAX else "FAILED: over the bound"
                out.append(("FP8 vs bf16: relative error of one block's output", err, FP8_REL_ERR_MAX, status))
                del q
            except Exception as exc:
                out.append(("FP8 vs bf16: relative error of one block's output", math.nan, FP8_REL_ERR_MAX,
                            f"FAILED: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}"))
        else:
            out.append(("FP8 vs bf16", math.nan, FP8_REL_ERR_MAX, "not requested (--correctness)"))
        if "compile" in checks:
            try:
                torch._dynamo.reset()
                compiled = torch.compile(block)
                got = compiled(x, e, context, _attend).float()
                delta = (got - ref).abs().max().item()
                rel = delta / max(ref.abs().max().item(), 1e-12)
                status = "ok" if math.isfinite(rel) and rel <= COMPILE_REL_DELTA_MAX else "FAILED: over the bound"
                out.append((f"compiled vs eager: max |Δ| {delta:.3g} over max |out| (relative)", rel,
                            COMPILE_REL_DELTA_MAX, status))
            except Exception as exc:
                out.append(("compiled vs eager: max |Δ|", math.nan, COMPILE_REL_DELTA_MAX,
                            f"FAILED: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}"))
        else:
            out.append(("compiled vs eager", math.nan, COMPILE_REL_DELTA_MAX, "not requested (--correctness)"))
        del block
    _free(device)
    return out


# ----------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--allow-cpu", action="store_true", help="no CUDA: a tiny smoke run on the CPU instead of failing")
    p.add_argument("--presets", default="quick,standard")
    p.add_argument("--rows", default=",".join(n for n, _ in _option_sets()),
                   help="comma-separated option sets: " + ", ".join(n for n, _ in _option_sets()))
    p.add_argument("--frames", type=int, default=24, help="frames per clip (a multiple of 12; 24 = 2 blocks)")
    p.add_argument("--clips", type=int, default=2, help="clips per row (clip 0 warms up)")
    p.add_argument("--size", default=None, help="override the presets' sizes, WxH (default: theirs; 128x64 on the CPU)")
    p.add_argument("--block_tokens", type=int, default=None,
                   help="tokens of the correctness block's input (default: standard's block, 2967; 64 on the CPU)")
    p.add_argument("--correctness", default="fp8,compile", help="which correctness lines: fp8, compile")
    p.add_argument("--budget_s", type=float, default=480.0, help="fail when the whole check takes longer")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (the smoke run)")
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.t0 = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available()
    if not cuda and not args.allow_cpu:
        print("gpu_check FAILED: CUDA is not available (torch "
              f"{torch.__version__}, cuda {torch.version.cuda}); run it on a GPU, or --allow-cpu for the smoke run.")
        return 2
    device = torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")
    args.scale = "full" if cuda else "tiny"
    dtype = torch.bfloat16 if cuda else torch.float32
    size = ps._pair(args.size) or (None if cuda else (128, 64))
    if args.block_tokens is None:
        args.block_tokens = 2967 if cuda else 64
    cases = ps.preset_cases([p.strip() for p in args.presets.split(",") if p.strip()], None, size, args.frames)
    peaks = ps.peak_tflops(device, None, None)
    where = torch.cuda.get_device_name(device) if cuda else "CPU (smoke run, tiny model)"
    print(f"gpu_check: {where}, scale {args.scale}, {str(dtype).replace('torch.', '')}, {args.clips} clip(s) × "
          f"{args.frames} frames per row, torch {torch.__version__}")
    print(f"peak FLOP/s: {peaks[2]}")

    rows = run_rows(args, device, dtype, cases, peaks[:2])
    checks = correctness(args, device)
    elapsed = time.perf_counter() - args.t0

    print()
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for row in rows:
        print(format_row(row))
    print()
    for name, value, bound, status in checks:
        print(f"correctness: {name}: {ps._num(value, '.4g')} (bound {bound:g}): {status}")
    print(f"elapsed: {elapsed:.1f} s (budget {args.budget_s:.0f} s)")

    failures = [f"{r.preset} / {r.options}: {r.status}" for r in rows if r.status != "ok"]
    failures += [f"{name}: {status}" for name, _, _, status in checks if status.startswith("FAILED")]
    if elapsed > args.budget_s:
        failures.append(f"the check took {elapsed:.0f} s, over its {args.budget_s:.0f} s budget")
    if failures:
        print(f"gpu_check FAILED ({len(failures)}):")
        for f in failures:
            print(f"  - {f}")
        return 1
    print("gpu_check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
