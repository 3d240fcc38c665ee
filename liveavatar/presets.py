"""The guide's three presets and the user's custom settings, as plain values.

Numbers come from the parameter guide (``shared/reference/parameter-guide.md``). Frames per clip
must be a multiple of 12 (blocks of 3 latent frames, 4 video frames each), so where the guide
says 32 we use 36, the nearest valid value, and say so in :attr:`Preset.note`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any

from liveavatar.speed import ATTENTION_KERNELS, SpeedOptions

FPS = 25
"""Live Avatar's own config writes 25 fps (base Wan2.2-S2V uses 16)."""

FRAMES_MULTIPLE = 12
DISTILLED_FRAMES = 48
ALLOWED_STEPS = (3, 4, 5, 6)
MAX_CLIPS = 10_000

# Upstream's --size choices ("width*height"); the output fits the image's aspect inside the area.
SIZES = (
    "720*1280", "1280*720", "480*832", "832*480", "704*1280", "1280*704",
    "1024*704", "704*1024", "720*400", "704*384", "688*368", "384*256",
)


def nearest_valid_frames(frames: int) -> int:
    """Round to the nearest multiple of 12 (ties go up), never below 12."""
    return max(FRAMES_MULTIPLE, int((frames + FRAMES_MULTIPLE / 2) // FRAMES_MULTIPLE) * FRAMES_MULTIPLE)


@dataclass(frozen=True)
class GenerationSettings:
    """Everything a run depends on besides the three inputs.

    ``num_clip`` None means "the whole audio". ``seed`` -1 means "pick one at random"; the seed
    actually used is reported back with the result.
    """

    size: str = "704*384"
    num_clip: int | None = None
    sample_steps: int = 4
    infer_frames: int = DISTILLED_FRAMES
    seed: int = -1
    online_decode: bool = True
    offload_model: bool = False
    speed: SpeedOptions = SpeedOptions()  # how the model runs (liveavatar/speed.py), not what it makes

    def __post_init__(self) -> None:
        if isinstance(self.speed, dict):  # from to_dict() / stored JSON
            object.__setattr__(self, "speed", SpeedOptions(**self.speed))

    @property
    def area(self) -> int:
        w, h = (int(v) for v in self.size.split("*"))
        return w * h

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    settings: GenerationSettings
    guide_figures: str
    note: str = ""


QUICK = Preset(
    key="quick",
    label="Quick (first tries)",
    settings=GenerationSettings(size="384*256", num_clip=10, sample_steps=3, infer_frames=36, online_decode=False),
    guide_figures="12–15 GB per GPU, 2–3 min (guide's figures)",
    note="The guide says 32 frames per clip; the model works in blocks of 12 frames, so quick uses 36, the nearest valid value.",
)
STANDARD = Preset(
    key="standard",
    label="Standard (everyday)",
    settings=GenerationSettings(size="688*368", num_clip=100, sample_steps=4, infer_frames=48, online_decode=True),
    guide_figures="18–20 GB per GPU, 15–20 min (guide's figures)",
)
HIGH_QUALITY = Preset(
    key="high-quality",
    label="High quality (long, pro)",
    settings=GenerationSettings(size="704*384", num_clip=1000, sample_steps=5, infer_frames=48, online_decode=True),
    guide_figures="needs 5 × 80 GB GPUs, 2–3 h (guide's figures)",
)
PRESETS: dict[str, Preset] = {p.key: p for p in (QUICK, STANDARD, HIGH_QUALITY)}
CUSTOM = "custom"


class SettingsError(ValueError):
    """A custom setting the user typed is out of range; the message says which and what is allowed."""


def validate_settings(s: GenerationSettings) -> GenerationSettings:
    if s.size not in SIZES:
        raise SettingsError(f"Size {s.size!r} is not one of the model's sizes: {', '.join(SIZES)}.")
    if s.sample_steps not in ALLOWED_STEPS:
        raise SettingsError(
            f"Steps must be one of {', '.join(map(str, ALLOWED_STEPS))} (the model is distilled for 4); got {s.sample_steps}."
        )
    if s.infer_frames < FRAMES_MULTIPLE or s.infer_frames % FRAMES_MULTIPLE:
        raise SettingsError(
            f"Frames per clip must be a multiple of {FRAMES_MULTIPLE} (blocks of 3 latent frames × 4 video frames); "
            f"got {s.infer_frames}, the nearest valid value is {nearest_valid_frames(s.infer_frames)}."
        )
    if s.infer_frames > 240:
        raise SettingsError(f"Frames per clip is at most 240 here; got {s.infer_frames}. The model was distilled at 48.")
    if s.num_clip is not None and not 1 <= s.num_clip <= MAX_CLIPS:
        raise SettingsError(f"Clips must be between 1 and {MAX_CLIPS}, or empty for the whole audio; got {s.num_clip}.")
    if not -1 <= s.seed < 2**63:
        raise SettingsError(f"Seed must be -1 (random) or a whole number ≥ 0; got {s.seed}.")
    if s.speed.attention not in ATTENTION_KERNELS:
        raise SettingsError(f"Attention kernel must be one of {', '.join(ATTENTION_KERNELS)}; got {s.speed.attention!r}.")
    return s


_BOOL_WORDS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}


def resolve_settings(preset: str, advanced: str | dict[str, Any] | None = None) -> GenerationSettings:
    """Turn the preset name plus the optional advanced JSON into validated settings.

    With a named preset, the advanced JSON may still set the seed, online decode, offload and the
    speed options (they change how it runs, not the preset's size/length trade-off); with ``custom``
    it may set anything, starting from the standard preset. Speed options are given flat
    (``{"fp8": true}``) or as ``{"speed": {...}}``; ``"low_memory": true`` turns on the 48 GB path.
    """
    key = (preset or "").strip().lower().replace(" ", "-").replace("_", "-")
    if key == "high":
        key = "high-quality"
    if key != CUSTOM and key not in PRESETS:
        raise SettingsError(f"Unknown preset {preset!r}: choose one of {', '.join([*PRESETS, CUSTOM])}.")
    base = PRESETS.get(key, STANDARD).settings
    if advanced in (None, ""):
        values: dict[str, Any] = {}
    elif isinstance(advanced, dict):
        values = dict(advanced)
    else:
        try:
            values = json.loads(advanced)
        except json.JSONDecodeError as exc:
            raise SettingsError(f"Advanced settings are not valid JSON ({exc.msg} at position {exc.pos}).") from None
        if not isinstance(values, dict):
            raise SettingsError('Advanced settings must be a JSON object, e.g. {"seed": 42}.')
    allowed = set(GenerationSettings.__dataclass_fields__)
    if key != CUSTOM:
        allowed = {"seed", "online_decode", "offload_model", "speed"}
    allowed |= {*SpeedOptions.names(), "low_memory"}
    unknown = sorted(set(values) - allowed)
    if unknown:
        where = "with the custom preset" if key == CUSTOM else f"with the {key} preset (choose 'custom' to change more)"
        raise SettingsError(f"Unknown or fixed setting(s) {', '.join(unknown)} {where}; allowed: {', '.join(sorted(allowed))}.")
    speed = _speed_values(values.pop("speed", None))
    for name in [*SpeedOptions.names(), "low_memory"]:
        if name in values:
            speed[name] = values.pop(name)
    clean: dict[str, Any] = {}
    for name, value in values.items():
        clean[name] = _coerce(name, value)
    if speed:
        clean["speed"] = _speed_options(base.speed, speed)
    return validate_settings(replace(base, **clean))


def _speed_values(value: Any) -> dict[str, Any]:
    if value in (None, ""):
        return {}
    if isinstance(value, SpeedOptions):
        return value.to_dict()
    if not isinstance(value, dict):
        raise SettingsError('"speed" must be an object, e.g. {"speed": {"fp8": true}}.')
    unknown = sorted(set(value) - {*SpeedOptions.names(), "low_memory"})
    if unknown:
        raise SettingsError(f"Unknown speed option(s) {', '.join(unknown)}; allowed: {', '.join(SpeedOptions.names())}, low_memory.")
    return dict(value)


def _speed_options(base: SpeedOptions, values: dict[str, Any]) -> SpeedOptions:
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name == "attention":
            out[name] = str(value).strip().lower()
        else:
            out[name] = _coerce_bool(name, value)
    opts = replace(base, **{k: v for k, v in out.items() if k != "low_memory"})
    return opts.with_low_memory() if out.get("low_memory") else opts


def _coerce_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    try:
        return _BOOL_WORDS[str(value).strip().lower()]
    except KeyError:
        raise SettingsError(f"Setting {name} must be true or false; got {value!r}.") from None


def _coerce(name: str, value: Any) -> Any:
    try:
        if name == "size":
            return str(value).replace("x", "*").replace("×", "*").strip()
        if name == "num_clip":
            if value in (None, "", "whole", "whole audio", "all"):
                return None
            return int(value)
        if name in ("online_decode", "offload_model"):
            if isinstance(value, bool):
                return value
            return _BOOL_WORDS[str(value).strip().lower()]
        if isinstance(value, bool):
            raise TypeError
        as_float = float(value)
        if as_float != int(as_float):
            raise TypeError
        return int(as_float)
    except (TypeError, ValueError, KeyError, OverflowError):
        raise SettingsError(f"Setting {name} has an invalid value {value!r}.") from None
