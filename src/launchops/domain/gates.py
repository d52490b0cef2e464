"""Stage-gate rules: which step comes next, who must approve it, and what the decisions add up to.

Pure: the gate service reads requests and decisions from the store and asks these functions
what they mean, so the same rules answer a button click, a reminder sweep and `gate status`,
and can be tested without a database.

Decisions are bound to evidence. A request snapshots its evidence as version 1; when the
evidence changes while the gate is open (a P0/P1 on one of the project's components, a check
turning ❌), the version goes up. An approval counts only if it was given on the current
version: earlier approvals are shown as given on older evidence and their givers are asked
again. A rejection closes the gate whatever version it was given on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Literal

from launchops.domain.evidence import EvidenceItem

__all__ = [
    "STAGES",
    "Change",
    "Decision",
    "DecisionView",
    "GateState",
    "GateView",
    "GroupView",
    "Requirement",
    "Tally",
    "expires_at",
    "next_stage",
    "reminders_due",
    "requirements",
    "tally",
]

STAGES: Final = ("explore", "poc", "pilot", "production", "scale")
Verdict = Literal["approve", "reject"]
GateState = Literal["open", "passed", "rejected", "expired"]


def next_stage(stage: str) -> str | None:
    """The one stage a gate may move a project to; None past Scale (or for an unknown stage)."""
    if stage not in STAGES:
        return None
    position = STAGES.index(stage)
    return STAGES[position + 1] if position + 1 < len(STAGES) else None


@dataclass(frozen=True)
class Requirement:
    """One stakeholder group's part of a gate: `needed` approvals from its `members`."""

    group: str
    members: tuple[str, ...]
    needed: int

    @property
    def satisfiable(self) -> bool:
        return 0 < self.needed <= len(self.members)


def requirements(
    approvers: Mapping[str, int | str], stakeholders: Mapping[str, Sequence[str]]
) -> tuple[Requirement, ...]:
    """The stage's `approvers` (group → a number or `all`) resolved against the groups'
    members, in the policy's order. `all` means every member at the time of the request: the
    request keeps this list, so a later config change does not move its goalposts."""
    resolved = []
    for group, wanted in approvers.items():
        members = tuple(dict.fromkeys(stakeholders.get(group, ())))
        needed = len(members) if wanted == "all" else int(wanted)
        resolved.append(Requirement(group, members, needed))
    return tuple(resolved)


@dataclass(frozen=True)
class Decision:
    person: str
    verdict: Verdict
    evidence_version: int
    at: datetime
    reason: str | None = None


@dataclass(frozen=True)
class Tally:
    """What the decisions add up to for each group, and for the gate."""

    state: GateState
    approved: Mapping[str, tuple[str, ...]]  # group → people whose approval counts now
    stale: tuple[str, ...]  # approvals given on older evidence: their givers are asked again
    pending: Mapping[str, tuple[str, ...]]  # group still short → members who may still decide
    rejected_by: Decision | None = None
    missing: Mapping[str, int] = field(default_factory=dict)  # group → approvals still needed


def tally(
    needs: Iterable[Requirement],
    decisions: Iterable[Decision],
    *,
    evidence_version: int,
    expired: bool = False,
) -> Tally:
    """Each person's latest decision counts once, for every required group they belong to.

    The gate is rejected at the first rejection, passed when every group has its approvals on
    the current evidence, expired when its time ran out first, and open otherwise.
    """
    latest: dict[str, Decision] = {}
    for decision in sorted(decisions, key=lambda d: d.at):
        latest[decision.person] = decision
    rejections = [d for d in latest.values() if d.verdict == "reject"]
    current = {
        person
        for person, d in latest.items()
        if d.verdict == "approve" and d.evidence_version == evidence_version
    }
    stale = tuple(
        sorted(
            person
            for person, d in latest.items()
            if d.verdict == "approve" and d.evidence_version != evidence_version
        )
    )
    approved: dict[str, tuple[str, ...]] = {}
    pending: dict[str, tuple[str, ...]] = {}
    missing: dict[str, int] = {}
    for need in needs:
        counted = tuple(p for p in need.members if p in current)
        approved[need.group] = counted
        short = max(need.needed - len(counted), 0)
        if short:
            missing[need.group] = short
            pending[need.group] = tuple(p for p in need.members if p not in current)
    if rejections:
        first = min(rejections, key=lambda d: d.at)
        return Tally("rejected", approved, stale, pending, first, missing)
    if not missing:
        return Tally("passed", approved, stale, {}, None, {})
    return Tally("expired" if expired else "open", approved, stale, pending, None, missing)


def expires_at(requested_at: datetime, expire_after: timedelta) -> datetime:
    return requested_at + expire_after


def reminders_due(
    requested_at: datetime,
    *,
    remind_every: timedelta,
    expire_after: timedelta,
    now: datetime,
    sent: int,
) -> int:
    """How many reminders should have gone out by `now` beyond the `sent` ones: one per
    `remind_every` after the request, none at or after expiry. The sweep sends the newest
    only, so a bot that was down catches up with one reminder, not a burst."""
    if remind_every <= timedelta(0):
        return 0
    horizon = min(now, requested_at + expire_after - timedelta(microseconds=1))
    if horizon < requested_at:
        return 0
    owed = int((horizon - requested_at) / remind_every)
    return max(owed - sent, 0)


# What cards and `gate status` show: names instead of ids, built by the gate service. ------


@dataclass(frozen=True)
class GroupView:
    group: str
    needed: int
    approved: tuple[str, ...]  # names whose approval counts on the current evidence
    pending: tuple[str, ...]  # names who may still decide for the group (empty once met)


@dataclass(frozen=True)
class DecisionView:
    person: str
    verdict: Verdict
    evidence_version: int
    at: datetime
    reason: str | None
    current: bool  # given on the evidence in force (an approval that still counts)


@dataclass(frozen=True)
class Change:
    version: int
    reason: str
    at: datetime


@dataclass(frozen=True)
class GateView:
    id: int
    project_id: str
    project_name: str
    from_stage: str
    to_stage: str
    status: GateState
    requested_by: str
    requested_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    evidence: tuple[EvidenceItem, ...]
    evidence_version: int
    groups: tuple[GroupView, ...]
    decisions: tuple[DecisionView, ...] = ()
    changes: tuple[Change, ...] = ()
    rejected_by: DecisionView | None = None

    @property
    def stale(self) -> tuple[str, ...]:
        """Names whose latest word is an approval on older evidence: asked again."""
        latest: dict[str, DecisionView] = {}
        for d in sorted(self.decisions, key=lambda d: d.at):
            latest[d.person] = d
        return tuple(p for p, d in latest.items() if d.verdict == "approve" and not d.current)
