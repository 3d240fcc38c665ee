"""The bundled examples (``examples/examples.json``): good inputs and bad ones that show each check."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from liveavatar.i18n import EXAMPLE_NAMES_ZH, t


@dataclass(frozen=True)
class Example:
    name: str
    prompt: str
    image: str
    audio: str
    preset: str
    expect: str
    """``ok``, or the id of the check this example is made to trip (e.g. ``image.faces``)."""
    more_audio: tuple[str, ...] = ()
    """Several people: the speech tracks of persons 2..4 (absolute paths), in track order."""
    face_order: str = ""
    """Several people: which face each track drives, as ``/generate`` takes it ("1,2"; "" = in order)."""

    def speech_slots(self, slots: int = 3) -> list[str | None]:
        """``more_audio`` padded with ``None`` to the page's ``slots`` extra speech inputs."""
        return [*self.more_audio, *[None] * slots][:slots]

    @property
    def label(self) -> str:
        return self.label_in("en")

    def label_in(self, lang: str) -> str:
        """The button's text: the name, marked as a bad example when it is made to trip a check."""
        name = EXAMPLE_NAMES_ZH.get(self.name, self.name) if lang == "zh" else self.name
        return name if self.expect == "ok" else t("example_bad", lang, name=name)


def load_examples(folder: str | Path) -> list[Example]:
    """Read the list; paths become absolute. A missing list means no examples, not an error."""
    folder = Path(folder)
    index = folder / "examples.json"
    if not index.is_file():
        return []
    out = []
    for e in json.loads(index.read_text(encoding="utf-8")):
        out.append(
            Example(
                name=e["name"],
                prompt=e["prompt"],
                image=str((folder / e["image"]).resolve()),
                audio=str((folder / e["audio"]).resolve()),
                preset=e.get("preset", "quick"),
                expect=e.get("expect", "ok"),
                more_audio=tuple(str((folder / a).resolve()) for a in e.get("more_audio", [])),
                face_order=str(e.get("face_order", "")),
            )
        )
    return out
