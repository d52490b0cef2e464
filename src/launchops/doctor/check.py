"""One line of `launchops doctor`'s report, and how it is printed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["TIMEOUT", "Check", "first_line", "format_check"]

TIMEOUT = 10.0

Status = Literal["ok", "fail", "off"]
MARKS: dict[Status, str] = {"ok": "✓", "fail": "✗", "off": "–"}


@dataclass(frozen=True)
class Check:
    """One line of the report (and, when broken, what to change)."""

    name: str
    status: Status
    detail: str
    setting: str = ""  # the environment name to change, when one is to blame
    fix: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "fail"


def format_check(check: Check) -> str:
    lines = [f"{MARKS[check.status]} {check.name}: {check.detail}"]
    if check.setting:
        lines.append(f"    setting: {check.setting}")
    if check.fix:
        lines.append(f"    fix: {check.fix}")
    return "\n".join(lines)


def first_line(error: object) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
