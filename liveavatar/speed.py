"""How the model runs, as opposed to what it makes: attention kernels, compilation, FP8, cache layout.

Every option is off by default (the plain path is the reference the tests compare against) and
each one is switchable on its own, from the app's advanced settings, the CLI and the benchmark.
An option the hardware can't use is turned off for the run with a sentence saying why
(:meth:`SpeedOptions.usable_on`), never a failure.

Which options change the loaded model (FP8 weights, compiled blocks) and which only change a run
(attention kernel, cache layout, decode overlap, where the text encoder runs) matters to the app:
the first kind needs a reload (:meth:`SpeedOptions.load_key`).

This module imports no torch at import time: the presets, the plan and the checks use it on
machines that only run the preview.
"""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

ATTENTION_KERNELS = ("auto", "flash", "efficient", "cudnn", "math")
"""``auto`` lets torch pick per call; the others pin one of torch's SDPA back-ends."""


@dataclass(frozen=True)
class SpeedOptions:
    attention: str = "auto"
    torch_compile: bool = False
    cuda_graphs: bool = False
    fp8: bool = False
    static_kv: bool = False
    overlap_decode: bool = False
    text_encoder_on_cpu: bool = False
    stream_blocks: bool = False
    """DiT block weights live in (pinned) host memory; each layer is copied in on a side stream while the
    previous one computes (~2 blocks resident), and the S blocks in flight at different denoising steps
    all pass through a layer while its weights are on the device (timestep forcing in one process)."""
    offload_kv: bool = False
    """The per-step KV caches live in (pinned) host memory and are streamed per layer like the weights."""

    # ------------------------------------------------------------------ values
    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def low_memory(cls) -> "SpeedOptions":
        """The 48 GB path: FP8 weights (~18 GB instead of 32.6 GB) and no text encoder on the GPU."""
        return cls().with_low_memory()

    def with_low_memory(self) -> "SpeedOptions":
        """These options plus the 48 GB path's two (the JSON's and the CLI's ``low_memory``)."""
        return replace(self, fp8=True, text_encoder_on_cpu=True)

    @classmethod
    def card_24gb(cls) -> "SpeedOptions":
        """The 24 GB path: the 48 GB path plus streamed block weights and KV caches off the GPU."""
        return cls().with_24gb()

    def with_24gb(self) -> "SpeedOptions":
        return replace(self.with_low_memory(), stream_blocks=True, offload_kv=True)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load_key(self) -> tuple[bool, bool, bool, bool]:
        """The options baked into a loaded model; a change means loading again."""
        return (self.fp8, self.torch_compile, self.cuda_graphs, self.stream_blocks)

    def validate(self) -> "SpeedOptions":
        if self.attention not in ATTENTION_KERNELS:
            raise ValueError(f"Attention kernel must be one of {', '.join(ATTENTION_KERNELS)}; got {self.attention!r}.")
        return self

    def enabled(self) -> list[str]:
        """Human names of what is on (for plans, logs and the benchmark's table)."""
        out = [] if self.attention == "auto" else [f"attention={self.attention}"]
        out += [f.name for f in fields(self) if f.name != "attention" and getattr(self, f.name)]
        return out

    # ------------------------------------------------------------------ hardware
    def usable_on(self, device: str) -> tuple["SpeedOptions", list[str]]:
        """The options this device can run, and one sentence per option turned off (and why).

        ``device`` is a torch device string ("cuda", "cuda:1", "cpu"). CUDA graphs need a CUDA GPU and
        a compiled block (they capture the compiled step); compiling needs a C compiler on the CPU and
        Triton on a GPU; FP8 matmuls need compute capability 8.9+ on a GPU (torch runs them on the
        CPU too, slowly, which is what the CPU tests use); flash/efficient/cuDNN kernels exist only
        for some devices and dtypes. Streamed block weights rule out compiling and CUDA graphs, and KV
        caches in host memory rule out the static KV layout (both said with the reason).
        """
        opts, why = self, []
        is_cuda = str(device).startswith("cuda")
        if opts.stream_blocks and (opts.torch_compile or opts.cuda_graphs):
            opts = replace(opts, torch_compile=False, cuda_graphs=False)
            why.append("torch.compile and CUDA graphs are off with streamed block weights: every layer's weights "
                       "land at new addresses each time they are copied in, which a captured graph can't follow "
                       "and a compiled block would keep re-checking.")
        if opts.offload_kv and opts.static_kv:
            opts = replace(opts, static_kv=False)
            why.append("Static KV buffers are off with KV caches in host memory: each layer's cache is copied in "
                       "for its attention, so there is no fixed device buffer to keep.")
        if opts.cuda_graphs and not is_cuda:
            opts = replace(opts, cuda_graphs=False)
            why.append("CUDA graphs are off: they need a CUDA GPU.")
        if opts.torch_compile or opts.cuda_graphs:
            missing = _compiler_missing(is_cuda)
            if missing:
                opts = replace(opts, torch_compile=False, cuda_graphs=False)
                why.append(f"torch.compile is off: {missing}")
        if opts.fp8:
            reason = _fp8_unusable(device)
            if reason:
                opts = replace(opts, fp8=False)
                why.append(f"FP8 linear layers are off: {reason}")
        if opts.attention != "auto":
            reason = _kernel_unusable(opts.attention, is_cuda)
            if reason:
                opts = replace(opts, attention="auto")
                why.append(f"The {self.attention} attention kernel is off ({reason}); torch picks one per call.")
        if opts.static_kv and opts.attention == "flash" and is_cuda:
            opts = replace(opts, static_kv=False)
            why.append("Static KV buffers are off: they mask the unfilled part of the cache, and CUDA's flash "
                       "kernel takes no mask (choose auto or efficient attention to use both).")
        if opts.overlap_decode and opts.attention in ("flash", "cudnn") and is_cuda:
            opts = replace(opts, attention="auto")
            why.append(f"The {self.attention} attention kernel is off: torch's kernel choice is process-wide, and "
                       "the VAE decoding beside the DiT (decode overlap) attends in float32, which that kernel can't.")
        if opts.text_encoder_on_cpu and not is_cuda:
            opts = replace(opts, text_encoder_on_cpu=False)  # it already is: nothing to say
        return opts, why


def _compiler_missing(is_cuda: bool) -> str:
    if is_cuda:
        return "" if importlib.util.find_spec("triton") else "Triton is not installed (pip install triton)."
    if not any(shutil.which(c) for c in ("cc", "gcc", "clang")):
        return "no C compiler was found (install gcc) for torch's CPU code generation."
    return ""


def _fp8_unusable(device: str) -> str:
    import torch

    if not hasattr(torch, "float8_e4m3fn") or not hasattr(torch, "_scaled_mm"):
        return f"this torch ({torch.__version__}) has no FP8 matmul."
    if str(device).startswith("cuda"):
        if not torch.cuda.is_available():
            return "no CUDA GPU is visible."
        major, minor = torch.cuda.get_device_capability(torch.device(device))
        if (major, minor) < (8, 9):
            name = torch.cuda.get_device_name(torch.device(device))
            return f"{name} is compute capability {major}.{minor}; FP8 matmuls need 8.9+ (Ada, Hopper or newer)."
    return ""


def _kernel_unusable(kernel: str, is_cuda: bool) -> str:
    # torch has math and flash kernels for the CPU too; efficient and cuDNN only for CUDA
    if kernel in ("efficient", "cudnn") and not is_cuda:
        return f"torch's {kernel} kernel runs on CUDA GPUs only"
    return ""


def sdpa_backends(kernel: str) -> list[Any]:
    """torch's ``SDPBackend`` list for a kernel name; ``auto`` gives every back-end (torch chooses)."""
    from torch.nn.attention import SDPBackend

    table = {
        "flash": [SDPBackend.FLASH_ATTENTION],
        "efficient": [SDPBackend.EFFICIENT_ATTENTION],
        "cudnn": [SDPBackend.CUDNN_ATTENTION],
        "math": [SDPBackend.MATH],
    }
    if kernel == "auto":
        return [SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]
    return table[kernel]
