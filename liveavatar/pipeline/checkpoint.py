"""Find, verify and (only on request) download the Live Avatar checkpoint.

Layout (what ``python -m liveavatar.download --target ckpt`` produces)::

    <root>/Wan2.2-S2V-14B/                 # snapshot of Wan-AI/Wan2.2-S2V-14B
        config.json
        diffusion_pytorch_model.safetensors.index.json  (+ the shards it lists)
        models_t5_umt5-xxl-enc-bf16.pth
        google/umt5-xxl/{spiece.model,tokenizer.json,tokenizer_config.json,special_tokens_map.json}
        Wan2.1_VAE.pth
        wav2vec2-large-xlsr-53-english/{config.json,model.safetensors|pytorch_model.bin,
                                        preprocessor_config.json,vocab.json}
    <root>/LiveAvatar/liveavatar.safetensors   # Quark-Vision/Live-Avatar (LoRA)

Nothing here touches the network except :func:`download_checkpoint`, which runs only when the user
asks for it. Finding uses the local file system and the Hugging Face cache's on-disk layout
(``try_to_load_from_cache``), verifying reads file headers only (safetensors headers, ``torch.load``
with ``mmap=True``), so it costs seconds even for the 50 GB checkpoint.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WAN_REPO = "Wan-AI/Wan2.2-S2V-14B"
LORA_REPO = "Quark-Vision/Live-Avatar"
LORA_FILENAME = "liveavatar.safetensors"
WAN_DIRNAME = "Wan2.2-S2V-14B"
LORA_DIRNAME = "LiveAvatar"
ENV_VAR = "LIVEAVATAR_CKPT_DIR"

DIT_INDEX = "diffusion_pytorch_model.safetensors.index.json"
T5_FILE = "models_t5_umt5-xxl-enc-bf16.pth"
TOKENIZER_DIR = "google/umt5-xxl"
TOKENIZER_FILES = ("spiece.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
VAE_FILE = "Wan2.1_VAE.pth"
WAV2VEC_DIR = "wav2vec2-large-xlsr-53-english"
# Upstream (Wan-AI/Wan2.2-S2V-14B) ships the jonatasgrosman/wav2vec2-large-xlsr-53-english snapshot,
# which holds both model.safetensors and pytorch_model.bin (plus a flax file, an n-gram LM, eval logs).
# Wav2Vec2ForCTC.from_pretrained needs config.json and one weights file; we also require the
# feature-extractor and vocab files the folder is expected to have.
WAV2VEC_FILES = ("config.json", "preprocessor_config.json", "vocab.json")
WAV2VEC_WEIGHTS = ("model.safetensors", "pytorch_model.bin")

# Key prefixes the original (non-diffusers) Wan checkpoints use at top level.
T5_KEY_PREFIXES = ("token_embedding.", "blocks.", "norm.")
VAE_KEY_PREFIXES = ("encoder.", "decoder.", "conv1.", "conv2.")

# Files of the Wan repo the pipeline needs (patterns for snapshot_download's allow_patterns).
WAN_ALLOW_PATTERNS = [
    "config.json",
    "diffusion_pytorch_model*.safetensors",
    DIT_INDEX,
    T5_FILE,
    f"{TOKENIZER_DIR}/*",
    VAE_FILE,
    *(f"{WAV2VEC_DIR}/{name}" for name in (*WAV2VEC_FILES, "special_tokens_map.json",
                                            "tokenizer_config.json", "model.safetensors")),
]

def how_to_get(target: str | os.PathLike[str] = "ckpt") -> str:
    """The fix we suggest for anything missing."""
    return (f"download it with the app's download button or run "
            f"`python -m liveavatar.download --target {target}` (about 50 GB; needs internet)")


class CheckpointError(ValueError):
    """The checkpoint is missing or broken; the message says what and how to fix it."""


class DownloadError(RuntimeError):
    """A requested download could not be done (offline, no access, no disk space...)."""


# --------------------------------------------------------------------------------------------
# Layout


@dataclass
class CheckpointLayout:
    """Where every expected file of the checkpoint is (or should be).

    ``wan_dir`` is the ``Wan2.2-S2V-14B`` folder (or a Hugging Face cache snapshot of it),
    ``lora_file`` the ``liveavatar.safetensors`` file. ``sources`` says where each part was found
    (filled by :func:`find_checkpoint`). The object is path-like: ``os.fspath(layout)`` is
    ``root``, the folder holding both parts in the standard layout (``wan_dir`` otherwise).
    """

    wan_dir: Path
    lora_file: Path
    sources: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_root(cls, root: str | os.PathLike[str]) -> CheckpointLayout:
        root = Path(root).expanduser()
        lora = root / LORA_DIRNAME / LORA_FILENAME
        if not lora.exists():
            # Upstream's loader calls hf_hub_download(cache_dir="ckpt/LiveAvatar"): accept that too.
            cached = _hf_cached_file(LORA_REPO, LORA_FILENAME, root / LORA_DIRNAME)
            if cached is not None:
                lora = cached
        return cls(wan_dir=root / WAN_DIRNAME, lora_file=lora)

    # -- naming every expected file ---------------------------------------------------------
    @property
    def is_standard(self) -> bool:
        """True when both parts sit in one ``<root>/{Wan2.2-S2V-14B,LiveAvatar}`` folder."""
        return self.wan_dir.name == WAN_DIRNAME and self.lora_file.parent.parent == self.wan_dir.parent

    @property
    def root(self) -> Path:
        return self.wan_dir.parent if self.is_standard else self.wan_dir

    def __fspath__(self) -> str:
        return str(self.root)

    @property
    def config(self) -> Path:
        return self.wan_dir / "config.json"

    @property
    def dit_index(self) -> Path:
        return self.wan_dir / DIT_INDEX

    @property
    def t5(self) -> Path:
        return self.wan_dir / T5_FILE

    @property
    def tokenizer_dir(self) -> Path:
        return self.wan_dir / TOKENIZER_DIR

    @property
    def tokenizer_files(self) -> list[Path]:
        return [self.tokenizer_dir / n for n in TOKENIZER_FILES]

    @property
    def vae(self) -> Path:
        return self.wan_dir / VAE_FILE

    @property
    def wav2vec_dir(self) -> Path:
        return self.wan_dir / WAV2VEC_DIR

    @property
    def wav2vec_files(self) -> list[Path]:
        return [self.wav2vec_dir / n for n in WAV2VEC_FILES]

    @property
    def wav2vec_weights(self) -> Path:
        """``model.safetensors`` if present, else ``pytorch_model.bin`` if present, else the former."""
        for name in WAV2VEC_WEIGHTS:
            if (self.wav2vec_dir / name).exists():
                return self.wav2vec_dir / name
        return self.wav2vec_dir / WAV2VEC_WEIGHTS[0]

    def dit_shards(self) -> list[Path]:
        """The shard files the index lists (empty when the index is missing or unreadable)."""
        try:
            index = json.loads(self.dit_index.read_text())
            names = sorted(set(index["weight_map"].values()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return []
        return [self.wan_dir / n for n in names]

    def expected_files(self) -> list[Path]:
        """Every file the pipeline reads (shards only once the index is readable)."""
        return [
            self.config,
            self.dit_index,
            *self.dit_shards(),
            self.t5,
            *self.tokenizer_files,
            self.vae,
            *self.wav2vec_files,
            self.wav2vec_weights,
            self.lora_file,
        ]

    def describe(self) -> str:
        lines = [f"DiT/T5/VAE/wav2vec2: {self.wan_dir}", f"LoRA: {self.lora_file}"]
        for part, where in self.sources.items():
            lines.append(f"  {part} found via {where}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Finding


def _hf_cached_file(repo_id: str, filename: str, cache_dir: str | os.PathLike[str] | None) -> Path | None:
    """Path of ``filename`` in a local Hugging Face cache snapshot, or None. Never uses the network."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - huggingface_hub is a requirement
        return None
    try:
        hit = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir)
    except Exception:  # noqa: BLE001 - a malformed cache is "not found"
        return None
    if isinstance(hit, str) and os.path.isfile(hit):
        return Path(hit)
    return None


def find_checkpoint(
    ckpt_dir: str | os.PathLike[str] | None = None,
    *,
    hf_cache_dir: str | os.PathLike[str] | None = None,
) -> CheckpointLayout:
    """Locate the checkpoint without touching the network.

    Order: ``ckpt_dir`` → ``$LIVEAVATAR_CKPT_DIR`` → ``./ckpt`` → the Hugging Face cache
    (``hf_cache_dir`` or the default ``$HF_HUB_CACHE``). An explicit argument or the environment
    variable is authoritative: if it lacks a part we raise instead of silently using another copy.
    ``ckpt_dir`` may also point at the ``Wan2.2-S2V-14B`` folder itself (the LoRA is then looked
    for in a sibling ``LiveAvatar/`` folder).

    Returns a :class:`CheckpointLayout` (path-like; ``Path(layout)`` is its root) whose ``sources``
    say where each part was found. Only presence of each part's folder/file is checked here; call
    :func:`verify_checkpoint` for the full check. Raises :class:`CheckpointError` naming what is
    missing and how to get it.
    """
    explicit: tuple[Path, str] | None = None
    if ckpt_dir is not None and str(ckpt_dir) != "":
        explicit = (Path(ckpt_dir).expanduser(), f"the ckpt_dir argument ({ckpt_dir})")
    elif os.environ.get(ENV_VAR):
        explicit = (Path(os.environ[ENV_VAR]).expanduser(), f"${ENV_VAR} ({os.environ[ENV_VAR]})")

    if explicit is not None:
        root, how = explicit
        if (root / "config.json").is_file() and (root / DIT_INDEX).exists():
            layout = CheckpointLayout.from_root(root.parent)
            layout.wan_dir = root
        else:
            layout = CheckpointLayout.from_root(root)
        missing = []
        if not layout.wan_dir.is_dir():
            missing.append(f"the {WAN_DIRNAME} folder ({layout.wan_dir})")
        if not layout.lora_file.is_file():
            missing.append(f"the LoRA file ({layout.lora_file})")
        if missing:
            raise CheckpointError(
                f"Checkpoint folder from {how} is incomplete: missing {' and '.join(missing)}. "
                f"Fix: {how_to_get(root)}, or point {ENV_VAR} at a complete copy."
            )
        layout.sources = {"Wan2.2-S2V-14B": how, "LiveAvatar LoRA": how}
        return layout

    # Search: ./ckpt, then the Hugging Face cache, part by part.
    local = CheckpointLayout.from_root(Path.cwd() / "ckpt")
    wan_dir: Path | None = None
    lora_file: Path | None = None
    sources: dict[str, str] = {}
    if local.wan_dir.is_dir():
        wan_dir, sources["Wan2.2-S2V-14B"] = local.wan_dir, f"./ckpt ({local.wan_dir})"
    if local.lora_file.is_file():
        lora_file, sources["LiveAvatar LoRA"] = local.lora_file, f"./ckpt ({local.lora_file})"
    if wan_dir is None:
        hit = _hf_cached_file(WAN_REPO, "config.json", hf_cache_dir)
        if hit is not None:
            wan_dir, sources["Wan2.2-S2V-14B"] = hit.parent, f"the Hugging Face cache ({hit.parent})"
    if lora_file is None:
        hit = _hf_cached_file(LORA_REPO, LORA_FILENAME, hf_cache_dir)
        if hit is not None:
            lora_file, sources["LiveAvatar LoRA"] = hit, f"the Hugging Face cache ({hit})"

    if wan_dir is None or lora_file is None:
        missing = []
        if wan_dir is None:
            missing.append(f"the base model {WAN_REPO} (a {WAN_DIRNAME} folder)")
        if lora_file is None:
            missing.append(f"the Live Avatar LoRA {LORA_REPO}/{LORA_FILENAME}")
        looked = f"the ckpt_dir argument, ${ENV_VAR}, ./ckpt ({Path.cwd() / 'ckpt'}) and the Hugging Face cache"
        raise CheckpointError(f"Checkpoint not found: missing {' and '.join(missing)} (looked in {looked}). "
                              f"Fix: {how_to_get()}.")
    return CheckpointLayout(wan_dir=wan_dir, lora_file=lora_file, sources=sources)


# --------------------------------------------------------------------------------------------
# Verifying

_DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}
_MAX_HEADER = 100 * 1024 * 1024


@dataclass
class Problem:
    file: Path
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.file}: {self.problem}. Fix: {self.fix}"


@dataclass
class VerifyReport:
    """Result of :func:`verify_checkpoint`: ``problems`` block loading, ``warnings`` do not."""

    layout: CheckpointLayout
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    files_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            extra = f" ({len(self.warnings)} warning(s))" if self.warnings else ""
            return f"Checkpoint OK: {self.files_checked} files checked at {self.layout.root}{extra}"
        return f"Checkpoint broken: {len(self.problems)} problem(s) at {self.layout.root}"

    def message(self) -> str:
        lines = [self.summary()]
        lines += [f"- {p}" for p in self.problems]
        lines += [f"- warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def raise_if_broken(self) -> None:
        if self.problems:
            raise CheckpointError(self.message())


class _HeaderError(Exception):
    pass


def read_safetensors_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse and check a safetensors header without reading tensor data.

    Returns ``{name: {"dtype", "shape", "data_offsets"}}`` (plus ``__metadata__`` if any). Raises
    ``_HeaderError`` (message for a user) if the header is unreadable, inconsistent, or the file's
    size does not match the data the header describes (truncated / half-downloaded file).
    """
    path = Path(path)
    size = path.stat().st_size
    if size < 8:
        raise _HeaderError(f"file is only {size} bytes, too short to be a safetensors file (truncated)")
    with path.open("rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n > _MAX_HEADER or 8 + n > size:
            if 8 + n > size and n <= _MAX_HEADER:
                raise _HeaderError(f"header of {n} bytes does not fit in a {size}-byte file (truncated)")
            raise _HeaderError(f"invalid header length {n} (not a safetensors file or corrupt)")
        raw = f.read(n)
    try:
        header = json.loads(raw)
    except ValueError as exc:
        raise _HeaderError(f"header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise _HeaderError("header is not a JSON object")
    data_len = size - 8 - n
    end_max = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise _HeaderError(f"tensor {name!r} has a malformed header entry") from None
        if dtype not in _DTYPE_BYTES:
            raise _HeaderError(f"tensor {name!r} has unknown dtype {dtype!r}")
        nbytes = math.prod(shape) * _DTYPE_BYTES[dtype]
        if end - begin != nbytes or begin < 0:
            raise _HeaderError(f"tensor {name!r}: offsets {begin}..{end} do not match {dtype} {shape}")
        end_max = max(end_max, end)
    if end_max > data_len:
        raise _HeaderError(
            f"file is {size} bytes but its header describes {8 + n + end_max} bytes: "
            f"the file is truncated (an interrupted download)"
        )
    if end_max < data_len:
        raise _HeaderError(f"file has {data_len - end_max} unexpected trailing bytes (corrupt)")
    return header


def _tensor_bytes(header: dict[str, Any]) -> int:
    return sum(v["data_offsets"][1] - v["data_offsets"][0] for k, v in header.items() if k != "__metadata__")


def verify_checkpoint(root: str | os.PathLike[str] | CheckpointLayout) -> VerifyReport:
    """Check every file the pipeline will read, before loading anything.

    ``root`` is a folder in the standard layout (see module docstring) or a
    :class:`CheckpointLayout` from :func:`find_checkpoint`. Checks: presence (non-empty); JSON
    files parse; every safetensors header is readable and the file size matches its data offsets;
    every key of the DiT index is in the shard it names; the shards' tensor bytes add up to the
    index's ``metadata.total_size``; the ``.pth`` files open lazily (``torch.load(mmap=True,
    weights_only=True)``) with the expected top-level key prefixes. Never raises for a broken
    checkpoint: see ``report.problems`` / ``report.raise_if_broken()``.
    """
    layout = root if isinstance(root, CheckpointLayout) else CheckpointLayout.from_root(root)
    report = VerifyReport(layout=layout)
    target = layout.root if layout.is_standard else "ckpt"
    redownload = (f"re-download it: delete the file and use the app's download button or "
                  f"`python -m liveavatar.download --target {target}`")

    def problem(path: Path, what: str, fix: str = redownload) -> None:
        report.problems.append(Problem(path, what, fix))

    def present(path: Path) -> bool:
        report.files_checked += 1
        if not path.is_file():
            problem(path, "missing", f"download it: use the app's download button or "
                                     f"`python -m liveavatar.download --target {target}`")
            return False
        if path.stat().st_size == 0:
            problem(path, "empty file (0 bytes)")
            return False
        return True

    def check_json(path: Path) -> Any:
        if not present(path):
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            problem(path, f"not valid JSON ({exc})")
            return None

    def check_safetensors(path: Path) -> dict[str, Any] | None:
        if not present(path):
            return None
        try:
            return read_safetensors_header(path)
        except _HeaderError as exc:
            problem(path, str(exc))
            return None

    def check_pth(path: Path, prefixes: Iterable[str]) -> None:
        if not present(path):
            return
        import torch

        try:
            state = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any failure means "cannot be loaded"
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if "_use_new_zipfile_serialization" in text or "mmap can only be used" in text:
                report.warnings.append(Problem(path, "legacy (non-zip) torch file: not checked lazily", "none needed"))
                return
            problem(path, f"cannot be opened by torch.load ({text}); the file is truncated or corrupt")
            return
        if not isinstance(state, dict) or not state:
            problem(path, f"expected a state dict of tensors, got {type(state).__name__}")
            return
        keys = [k for k in state if isinstance(k, str)]
        missing = [p for p in prefixes if not any(k.startswith(p) for k in keys)]
        if missing:
            problem(path, f"no keys starting with {', '.join(missing)} (first keys: {keys[:3]}); "
                          f"this is not the expected file")
        del state

    # Wan config
    check_json(layout.config)

    # DiT: index + shards
    index = check_json(layout.dit_index)
    if index is not None:
        weight_map = index.get("weight_map") if isinstance(index, dict) else None
        if not isinstance(weight_map, dict) or not weight_map:
            problem(layout.dit_index, "has no 'weight_map'")
        else:
            by_shard: dict[str, list[str]] = {}
            for key, shard in weight_map.items():
                by_shard.setdefault(shard, []).append(key)
            total = 0
            all_shards_read = True
            for shard, keys in sorted(by_shard.items()):
                shard_path = layout.wan_dir / shard
                header = check_safetensors(shard_path)
                if header is None:
                    all_shards_read = False
                    continue
                absent = [k for k in keys if k not in header]
                if absent:
                    problem(shard_path, f"{len(absent)} key(s) listed for it in {DIT_INDEX} are not in it "
                                        f"(e.g. {absent[0]!r}); the shard does not match the index")
                total += _tensor_bytes(header)
            expected_total = (index.get("metadata") or {}).get("total_size")
            if all_shards_read and isinstance(expected_total, (int, float)) and int(expected_total) != total:
                problem(layout.dit_index, f"metadata.total_size is {int(expected_total)} bytes but the shards hold "
                                          f"{total} bytes of tensors; shards and index are from different versions")

    # T5 text encoder + tokenizer
    check_pth(layout.t5, T5_KEY_PREFIXES)
    for path in layout.tokenizer_files:
        if path.suffix == ".json":
            check_json(path)
        else:
            present(path)

    # VAE
    check_pth(layout.vae, VAE_KEY_PREFIXES)

    # wav2vec2
    for path in layout.wav2vec_files:
        check_json(path)
    weights = layout.wav2vec_weights
    if weights.name.endswith(".safetensors"):
        if not weights.exists():
            report.files_checked += 1
            problem(weights, f"missing (neither {' nor '.join(WAV2VEC_WEIGHTS)} is in {layout.wav2vec_dir})",
                    f"download it: use the app's download button or "
                    f"`python -m liveavatar.download --target {target}`")
        else:
            check_safetensors(weights)
    else:
        check_pth(weights, ())

    # LoRA
    header = check_safetensors(layout.lora_file)
    if header is not None and not any("lora" in k for k in header if k != "__metadata__"):
        report.warnings.append(Problem(layout.lora_file, "holds no LoRA (lora_A/lora_B) tensors", "check the file"))
    return report


# --------------------------------------------------------------------------------------------
# Downloading (only on explicit request)

ProgressFn = Callable[[str, int, int], None]
"""``progress(message, done_bytes, total_bytes)``."""


def _fmt_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1000
    return f"{n} B"  # pragma: no cover


def _wanted(path: str) -> bool:
    from fnmatch import fnmatch

    return any(fnmatch(path, pat) for pat in WAN_ALLOW_PATTERNS)


@dataclass
class DownloadPlan:
    """Files (repo, filename, size) the download will fetch; sizes come from the Hub."""

    files: list[tuple[str, str, int]]

    @property
    def total_bytes(self) -> int:
        return sum(size for _, _, size in self.files)

    def describe(self) -> str:
        per_repo: dict[str, int] = {}
        for repo, _, size in self.files:
            per_repo[repo] = per_repo.get(repo, 0) + size
        parts = [f"{repo}: {_fmt_size(size)}" for repo, size in per_repo.items()]
        return f"{len(self.files)} files, {_fmt_size(self.total_bytes)} in total ({'; '.join(parts)})"


def _network_error(exc: BaseException, endpoint: str) -> DownloadError:
    name = type(exc).__name__
    text = str(exc).splitlines()[0] if str(exc) else name
    for hint, msg in (
        ("GatedRepo", "the repository is gated: accept its terms on huggingface.co and log in (`hf auth login`)"),
        ("RepositoryNotFound", "repository not found or not accessible with your token"),
    ):
        if hint in name:
            return DownloadError(f"Download failed: {msg} ({text}).")
    return DownloadError(
        f"Download failed: cannot reach the Hugging Face Hub at {endpoint} ({name}: {text}). "
        "Check your internet connection (or HF_ENDPOINT / proxy settings) and try again; "
        "or copy an existing checkpoint folder and set LIVEAVATAR_CKPT_DIR."
    )


def plan_download(*, endpoint: str | None = None, token: str | bool | None = None,
                  timeout: float = 10.0) -> DownloadPlan:
    """Ask the Hub which files will be downloaded and how big they are (fails fast offline)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        raise DownloadError("Download impossible: HF_HUB_OFFLINE is set. Unset it to download the checkpoint.")
    from huggingface_hub import HfApi

    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    api = HfApi(endpoint=endpoint, token=token)
    files: list[tuple[str, str, int]] = []
    try:
        wan = api.model_info(WAN_REPO, files_metadata=True, timeout=timeout)
        lora = api.model_info(LORA_REPO, files_metadata=True, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - httpx/requests/Hub errors all mean "cannot download"
        raise _network_error(exc, endpoint) from exc
    names = {s.rfilename for s in wan.siblings or []}
    for s in wan.siblings or []:
        if not _wanted(s.rfilename):
            continue
        # Prefer the safetensors weights of wav2vec2; take the .bin only if that is all there is.
        if s.rfilename == f"{WAV2VEC_DIR}/pytorch_model.bin" and f"{WAV2VEC_DIR}/model.safetensors" in names:
            continue
        files.append((WAN_REPO, s.rfilename, int(s.size or 0)))
    if f"{WAV2VEC_DIR}/model.safetensors" not in names and f"{WAV2VEC_DIR}/pytorch_model.bin" in names:
        size = next(int(s.size or 0) for s in wan.siblings if s.rfilename == f"{WAV2VEC_DIR}/pytorch_model.bin")
        files.append((WAN_REPO, f"{WAV2VEC_DIR}/pytorch_model.bin", size))
    lora_sizes = {s.rfilename: int(s.size or 0) for s in lora.siblings or []}
    if LORA_FILENAME not in lora_sizes:
        raise DownloadError(f"Download failed: {LORA_REPO} has no {LORA_FILENAME}.")
    files.append((LORA_REPO, LORA_FILENAME, lora_sizes[LORA_FILENAME]))
    return DownloadPlan(files=files)


def _byte_progress_class(report: ProgressFn, message: str, total: int, every_s: float = 1.0) -> type:
    """A silent tqdm class forwarding snapshot_download's byte counter to ``report`` (throttled).

    huggingface_hub 2.x creates its aggregated byte bar ("Reconstructing ...", unit "B") with the
    ``tqdm_class`` given to ``snapshot_download``; other bars (file counts) are ignored. If a future
    version names its bars differently we simply report less often, never fail.
    """
    import threading
    import time

    from tqdm.auto import tqdm

    lock = threading.Lock()
    state = {"last": 0.0}

    class _Forward(tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.pop("name", None)
            kwargs["disable"] = True
            self._bytes_bar = kwargs.get("unit") == "B" and "Reconstruct" in str(kwargs.get("desc", ""))
            self._done = int(kwargs.get("initial", 0) or 0)
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            if self._bytes_bar:
                with lock:
                    self._done += int(n or 0)
                    now = time.monotonic()
                    if now - state["last"] >= every_s:
                        state["last"] = now
                        report(f"{message}: {_fmt_size(self._done)}", min(self._done, total), total)
            return super().update(n)

    return _Forward


def download_checkpoint(
    target_dir: str | os.PathLike[str],
    progress: ProgressFn | None = None,
    *,
    endpoint: str | None = None,
    token: str | bool | None = None,
    timeout: float = 10.0,
) -> CheckpointLayout:
    """Download the checkpoint into ``target_dir`` (standard layout). Only call on user request.

    First asks the Hub for the file sizes (``progress`` gets a message with the total before any
    byte is fetched), checks free disk space, then downloads ``Wan-AI/Wan2.2-S2V-14B`` (only the
    files the pipeline needs) with ``snapshot_download`` and the LoRA with ``hf_hub_download``,
    and finally verifies the result. ``endpoint`` defaults to ``$HF_ENDPOINT`` read at call time.
    Raises :class:`DownloadError` quickly when the Hub is unreachable (no retry loop before the
    size query), and :class:`CheckpointError` if the downloaded files do not verify.
    """
    from huggingface_hub import hf_hub_download, snapshot_download

    report = progress or (lambda msg, done, total: None)
    target = Path(target_dir).expanduser()
    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    plan = plan_download(endpoint=endpoint, token=token, timeout=timeout)
    total = plan.total_bytes
    report(f"Will download {plan.describe()} into {target}", 0, total)

    target.mkdir(parents=True, exist_ok=True)
    layout = CheckpointLayout.from_root(target)
    need = sum(size for repo, name, size in plan.files
               if not (layout.wan_dir / name if repo == WAN_REPO else layout.lora_file).is_file())
    free = shutil.disk_usage(target).free
    if need > free:
        raise DownloadError(f"Not enough disk space in {target}: need {_fmt_size(need)}, "
                            f"{_fmt_size(free)} free. Free some space or choose another --target.")

    wan_files = [name for repo, name, _ in plan.files if repo == WAN_REPO]
    wan_bytes = sum(size for repo, _, size in plan.files if repo == WAN_REPO)
    try:
        report(f"Downloading {WAN_REPO} ({len(wan_files)} files, {_fmt_size(wan_bytes)})...", 0, total)
        snapshot_download(WAN_REPO, local_dir=target / WAN_DIRNAME, allow_patterns=wan_files,
                          endpoint=endpoint, token=token, etag_timeout=timeout,
                          tqdm_class=_byte_progress_class(report, f"Downloading {WAN_REPO}", total))
        report(f"Downloaded {WAN_REPO}", wan_bytes, total)
        report(f"Downloading {LORA_REPO}/{LORA_FILENAME}...", wan_bytes, total)
        hf_hub_download(LORA_REPO, LORA_FILENAME, local_dir=target / LORA_DIRNAME,
                        endpoint=endpoint, token=token, etag_timeout=timeout)
        report(f"Downloaded {LORA_REPO}/{LORA_FILENAME}", total, total)
    except Exception as exc:  # noqa: BLE001
        raise _network_error(exc, endpoint) from exc

    layout = CheckpointLayout.from_root(target)
    layout.sources = {"Wan2.2-S2V-14B": f"download into {target}", "LiveAvatar LoRA": f"download into {target}"}
    result = verify_checkpoint(layout)
    report(result.summary(), total, total)
    result.raise_if_broken()
    return layout
