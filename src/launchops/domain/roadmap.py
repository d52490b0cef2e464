"""The roadmap's arithmetic, free of I/O: stage clocks, portfolio flags, quarters and medians.

The guide's cure for the eternal PoC is a clock per stage and a decision at its end; these
rules are kept pure so the nudge sweep, the portfolio, the API and the chat answer all judge
a project the same way, and tests can replay years of history without a store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from statistics import median
from typing import Any

from launchops.config.models import StageClock, parse_duration
from launchops.domain.errors import BadCommand

__all__ = [
    "Clock",
    "ClockRef",
    "Extension",
    "Pass",
    "clock_of",
    "days",
    "flags_of",
    "is_due",
    "median_days_per_stage",
    "parse_clock_ref",
    "quarter_of",
    "quarter_start",
    "reached_production",
    "to_deadline",
]

EARLY_STAGES = ("explore",)  # a sponsor is expected from PoC on (the guide)
PRODUCTION = "production"


@dataclass(frozen=True)
class Extension:
    version: int
    due_at: datetime
    approved_by_sponsor: bool


@dataclass(frozen=True)
class Clock:
    """A project's clock in its current stage. `due_at` is when the owner is nudged (the
    timebox, moved by extensions); `limit_at` when the sponsor is told (moved only by a
    sponsor's extension past it). `version` = 1 + extensions: the button values carry it."""

    project_id: str
    stage: str
    entered_at: datetime
    version: int
    due_at: datetime | None
    limit_at: datetime | None
    extensions: int
    unsponsored: int  # extensions on the owner's word alone (the guide allows one)


@dataclass(frozen=True)
class ClockRef:
    """What a nudge's button carries: `<project_id>:<stage>:<version>`."""

    project_id: str
    stage: str
    version: int

    def value(self) -> str:
        return f"{self.project_id}:{self.stage}:{self.version}"


@dataclass(frozen=True)
class Pass:
    """A passed gate: the project left `from_stage` for `to_stage` at `at`."""

    project_id: str
    from_stage: str
    to_stage: str
    at: datetime


def clock_of(
    project_id: str,
    stage: str,
    entered_at: datetime,
    policy: Mapping[Any, StageClock],
    extensions: Sequence[Extension],
) -> Clock:
    rule = policy.get(stage)
    due = entered_at + parse_duration(rule.timebox) if rule and rule.timebox else None
    limit = entered_at + parse_duration(rule.limit) if rule and rule.limit else None
    latest = max(extensions, key=lambda e: e.version, default=None)
    if latest is not None:
        due = latest.due_at
        if limit is not None:
            # Only the sponsor can carry a stage past its hard limit (services/roadmap.py).
            limit = max([limit] + [e.due_at for e in extensions if e.approved_by_sponsor])
    return Clock(
        project_id=project_id,
        stage=stage,
        entered_at=entered_at,
        version=1 + len(extensions),
        due_at=due,
        limit_at=limit,
        extensions=len(extensions),
        unsponsored=sum(1 for e in extensions if not e.approved_by_sponsor),
    )


def days(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds() / 86400)


def flags_of(clock: Clock, now: datetime, *, sponsor: str | None, stopped: bool) -> list[str]:
    """The portfolio's warnings, most urgent first. A stopped project has nothing left to
    decide, so its clock raises nothing."""
    if stopped:
        return ["stopped"]
    out: list[str] = []
    if clock.limit_at is not None and now >= clock.limit_at:
        out.append("over_limit")
    elif clock.due_at is not None and now >= clock.due_at:
        out.append("over_timebox")
    if sponsor is None and clock.stage not in EARLY_STAGES:
        out.append("no_sponsor")
    return out


def parse_clock_ref(value: str) -> ClockRef:
    """A button value back into its parts; anything malformed is refused (forged or mangled
    buttons must change nothing)."""
    parts = value.strip().rsplit(":", 2)
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise BadCommand("roadmap.error.bad_button")
    project_id, stage, version = parts
    if not (version.isascii() and version.isdigit()) or len(version) > 6 or int(version) < 1:
        raise BadCommand("roadmap.error.bad_button")
    return ClockRef(project_id, stage, int(version))


def quarter_of(when: datetime) -> str:
    when = when.astimezone(UTC)
    return f"{when.year}-Q{(when.month - 1) // 3 + 1}"


def quarter_start(when: datetime, back: int = 0) -> datetime:
    """The first instant (UTC) of `when`'s quarter, or of the quarter `back` quarters before."""
    when = when.astimezone(UTC)
    index = when.year * 4 + (when.month - 1) // 3 - back
    return datetime(index // 4, (index % 4) * 3 + 1, 1, tzinfo=UTC)


def reached_production(passes: Iterable[Pass], now: datetime) -> list[Pass]:
    """Passes into Production this quarter (the guide's Scale goal: at least two)."""
    start = quarter_start(now)
    return sorted(
        (p for p in passes if p.to_stage == PRODUCTION and start <= p.at <= now),
        key=lambda p: p.at,
    )


def median_days_per_stage(
    passes: Iterable[Pass], now: datetime, quarters: int = 4
) -> dict[str, float]:
    """Median days spent per stage, over stays that ended in the last `quarters` quarters
    (this one included). A stay runs from the gate that entered a stage to the gate that left
    it; the first stage of a project seeded from config has no entering gate and is left out
    rather than guessed."""
    since = quarter_start(now, quarters - 1)
    by_project: dict[str, list[Pass]] = {}
    for p in passes:
        by_project.setdefault(p.project_id, []).append(p)
    stays: dict[str, list[float]] = {}
    for history in by_project.values():
        history.sort(key=lambda p: p.at)
        for entered, left in pairwise(history):
            if entered.to_stage == left.from_stage and since <= left.at <= now:
                stays.setdefault(left.from_stage, []).append(days(entered.at, left.at))
    return {stage: round(median(values), 1) for stage, values in stays.items()}


def is_due(deadline: datetime | None, now: datetime) -> bool:
    return deadline is not None and now >= deadline


def to_deadline(value: str, now: datetime) -> datetime:
    """`2026-12-24` (end of that day, UTC) or a duration from now (`2w`, `10d`, `30s`)."""
    text = value.strip()
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        try:
            return now + parse_duration(text)
        except ValueError:
            raise BadCommand("roadmap.error.bad_date", given=text[:40]) from None
    return day + timedelta(days=1) - timedelta(microseconds=1)
