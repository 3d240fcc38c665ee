"""The command line that reproduces a run from the app, with upstream Live Avatar's argument names.

:func:`cli_command` returns one shell line, e.g.::

    python -m liveavatar.generate --ckpt_dir ckpt --load_lora --lora_path_dmd Quark-Vision/Live-Avatar \
        --prompt 'A young woman ...' --image portrait.jpg --audio speech.wav --size 704*384 \
        --num_clip 10 --sample_steps 4 --infer_frames 48 --enable_online_decode \
        --offload_model False --base_seed 420 --save_file output.mp4

(shown wrapped here; the returned string is a single line). Every value goes through
:func:`shlex.quote`, so prompts with quotes, newlines, ``$``, backticks or any unicode are passed
to a POSIX shell literally, and ``shlex.split`` gives the arguments back unchanged. A value that
starts with ``-`` is written as ``--name=value`` so argparse does not take it for an option.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from liveavatar.presets import GenerationSettings

LORA_REPO = "Quark-Vision/Live-Avatar"
MODULE = "liveavatar.generate"


def _option(name: str, value: object) -> str:
    text = str(value).replace("\x00", "")  # a NUL cannot be passed in argv at all
    if text.startswith("-") and not _is_number(text):
        return shlex.quote(f"--{name}={text}")
    return f"--{name} {shlex.quote(text)}"


def _is_number(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def cli_command(
    prompt: str,
    image: str,
    audio: str,
    settings: GenerationSettings,
    *,
    ckpt_dir: str = "ckpt",
    save_file: str = "output.mp4",
    more_audio: Sequence[str] = (),
    face_order: str | None = None,
) -> str:
    """The ``python -m liveavatar.generate ...`` line for these inputs and settings.

    ``settings.num_clip`` None (the whole audio) leaves ``--num_clip`` out, which is the CLI's own
    default. ``settings.seed`` is written as ``--base_seed`` as is: pass the settings with the seed
    the run actually used (``dataclasses.replace(settings, seed=result.seed)``) to reproduce it;
    -1 asks the CLI for a random seed again. ``more_audio`` (tracks 2..4 for several people) joins
    ``audio`` in upstream's ``--audio a.wav+b.wav``; ``face_order`` is written as ``--face_order``.
    """
    s = settings
    parts = [
        "python", "-m", MODULE,
        _option("ckpt_dir", ckpt_dir),
        "--load_lora",
        _option("lora_path_dmd", LORA_REPO),
        _option("prompt", prompt if prompt is not None else ""),
        _option("image", image),
        _option("audio", "+".join([audio, *more_audio])),
    ]
    if face_order:
        parts.append(_option("face_order", face_order))
    parts += [
        _option("size", s.size),
    ]
    if s.num_clip is not None:
        parts.append(_option("num_clip", int(s.num_clip)))
    parts += [
        _option("sample_steps", int(s.sample_steps)),
        _option("infer_frames", int(s.infer_frames)),
    ]
    if s.online_decode:
        parts.append("--enable_online_decode")
    sp = s.speed
    if sp.attention != "auto":
        parts.append(_option("attention", sp.attention))
    flags = {"torch_compile": "--compile", "cuda_graphs": "--cuda_graphs", "fp8": "--fp8", "static_kv": "--static_kv",
             "overlap_decode": "--overlap_decode", "text_encoder_on_cpu": "--t5_cpu"}
    parts += [flag for name, flag in flags.items() if getattr(sp, name)]
    parts += [
        _option("offload_model", "True" if s.offload_model else "False"),
        _option("base_seed", int(s.seed)),
        _option("save_file", save_file),
    ]
    return " ".join(parts)
