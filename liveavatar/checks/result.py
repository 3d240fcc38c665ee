"""The one shape every check answers in, so the UI, the API and the tests read them alike."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Level = Literal["ok", "info", "warning", "problem"]


@dataclass(frozen=True)
class CheckResult:
    """One line of the checklist.

    ``problem`` blocks generation (the result would be meaningless); ``warning`` does not; ``info``
    says what the app will do for the user (convert, downmix, rotate) and asks nothing of them.
    ``value`` is what was measured, ``threshold`` the rule it was held against, and ``fix`` tells
    the user what to do (empty when the check passed).
    """

    id: str
    name: str
    level: Level
    value: str
    threshold: str
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def ok(id: str, name: str, value: str, threshold: str) -> CheckResult:
    return CheckResult(id, name, "ok", value, threshold, "")


def warning(id: str, name: str, value: str, threshold: str, fix: str) -> CheckResult:
    return CheckResult(id, name, "warning", value, threshold, fix)


def problem(id: str, name: str, value: str, threshold: str, fix: str) -> CheckResult:
    return CheckResult(id, name, "problem", value, threshold, fix)


def info(id: str, name: str, value: str, threshold: str, fix: str = "") -> CheckResult:
    return CheckResult(id, name, "info", value, threshold, fix)
