"""The evidence a stage gate puts in front of its approvers, from the operations guide.

Each stage asks its own questions (PoC: does it work? Pilot: is it worth using? …) and
Production adds the launch checklist, the guide's eleven questions. What the bot can read
from its own data it checks itself (open P0/P1 incidents, RACI completeness, runbooks, data
classification); the rest a named person attests. Pure: the gate service gathers the facts.

The evidence's fingerprint covers only what can change under an open gate without anyone
attesting: the computed checks and the open major incidents. When it changes, the request's
evidence version goes up and earlier approvals stop counting (see domain/gates.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "ATTACHABLE",
    "DELIVERABLE",
    "LAUNCH_CHECKLIST",
    "STAGE_EVIDENCE",
    "Attestation",
    "ComponentFacts",
    "EvidenceItem",
    "ProjectFacts",
    "evidence",
    "fingerprint",
    "resolve_item",
]

Kind = Literal["computed", "attested", "gate", "deliverable"]
DELIVERABLE: Final = "deliverable."  # key prefix: `deliverable.<id>` (config/models.py)
ATTACHABLE: Final = ("attested", "deliverable")  # what a requester's word fills in


@dataclass(frozen=True)
class ComponentFacts:
    id: str
    name: str
    responsible: bool  # a Responsible party is named
    accountable: bool
    oncall: bool  # the Responsible team has someone on call (an incident owner)
    runbook: str | None
    classification: str | None


@dataclass(frozen=True)
class ProjectFacts:
    components: tuple[ComponentFacts, ...]
    open_major: tuple[str, ...] = ()  # refs of open P0/P1 incidents on the components
    recent_major: tuple[str, ...] = ()  # refs of P0/P1 incidents declared in the last 30 days
    recent_incidents: int = 0  # every incident of the last 30 days


@dataclass(frozen=True)
class Attestation:
    """A requester's word for what data cannot show: yes/no, a value or a link, and who."""

    ok: bool
    by: str
    value: str | None = None


@dataclass(frozen=True)
class EvidenceItem:
    key: str  # catalogue key under `gate.evidence.`
    kind: Kind
    ok: bool | None  # None: not attested yet, or decided by the gate itself
    detail: str | None = None  # names, counts, a link or the attested value
    by: str | None = None  # who attested it


LAUNCH_CHECKLIST: Final[tuple[tuple[str, Kind], ...]] = (
    ("launch.stakeholders_approved", "gate"),
    ("launch.failure_rate_agreed", "attested"),
    ("launch.raci_defined", "computed"),
    ("launch.incident_owner", "computed"),
    ("launch.data_classified", "computed"),
    ("launch.pii_policy", "attested"),
    ("launch.slo_defined", "attested"),
    ("launch.dashboard", "attested"),
    ("launch.rollback", "attested"),
    ("launch.runbook", "computed"),
    ("launch.feedback_loop", "attested"),
)

STAGE_EVIDENCE: Final[Mapping[str, tuple[tuple[str, Kind], ...]]] = {
    "poc": (
        ("poc.quality_threshold", "attested"),
        ("poc.no_blocker", "attested"),
        ("poc.cost_predictable", "attested"),
    ),
    "pilot": (
        ("pilot.satisfaction", "attested"),
        ("pilot.kpi_improved", "attested"),
        ("pilot.cost_within_budget", "attested"),
        ("pilot.no_critical_issue", "computed"),
    ),
    "production": (
        ("production.failure_rate", "attested"),
        ("production.rollout_plan", "attested"),
        *LAUNCH_CHECKLIST,
    ),
    "scale": (
        ("scale.sla_met", "attested"),
        ("scale.quality_within_target", "attested"),
        ("scale.no_major_incident", "computed"),
    ),
}

# Shown for every stage, whatever it asks: what an approver should know before deciding.
ALWAYS_CHECKED: Final = ("check.open_major", "check.raci", "check.runbooks", "check.classified")


def _names(components: tuple[ComponentFacts, ...]) -> str:
    return ", ".join(c.name for c in components)


def _computed(facts: ProjectFacts) -> dict[str, tuple[bool, str | None]]:
    parts = facts.components
    no_raci = tuple(c for c in parts if not (c.responsible and c.accountable))
    no_owner = tuple(c for c in parts if not c.oncall)
    no_runbook = tuple(c for c in parts if not c.runbook)
    unclassified = tuple(c for c in parts if not c.classification)
    open_major = ", ".join(facts.open_major) or None
    recent_major = ", ".join(facts.recent_major) or None
    return {
        "check.open_major": (not facts.open_major, open_major),
        "check.raci": (not no_raci, _names(no_raci) or None),
        "check.runbooks": (not no_runbook, _names(no_runbook) or None),
        "check.classified": (not unclassified, _names(unclassified) or None),
        "launch.raci_defined": (not no_raci, _names(no_raci) or None),
        "launch.incident_owner": (not no_owner, _names(no_owner) or None),
        "launch.data_classified": (not unclassified, _names(unclassified) or None),
        "launch.runbook": (not no_runbook, _names(no_runbook) or None),
        "pilot.no_critical_issue": (not facts.open_major, open_major),
        "scale.no_major_incident": (not facts.recent_major, recent_major),
    }


def evidence(
    stage: str,
    facts: ProjectFacts,
    attested: Mapping[str, Attestation],
    deliverables: Sequence[str] = (),
) -> tuple[EvidenceItem, ...]:
    """The items for a gate into `stage`: its own questions, then the checks always shown,
    then the deliverables (ids) of the stage being left, each with its link once attached."""
    computed = _computed(facts)
    items: list[EvidenceItem] = []
    seen: set[str] = set()
    for key, kind in (*STAGE_EVIDENCE.get(stage, ()), *((k, "computed") for k in ALWAYS_CHECKED)):
        if key in seen:
            continue
        seen.add(key)
        if kind == "computed":
            ok, detail = computed[key]
            items.append(EvidenceItem(key, kind, ok, detail))
        elif kind == "attested" and key in attested:
            word = attested[key]
            items.append(EvidenceItem(key, kind, word.ok, word.value, word.by))
        else:
            items.append(EvidenceItem(key, kind, None))
    for ident in deliverables:
        key = DELIVERABLE + ident
        given = attested.get(key)
        if given is None:
            items.append(EvidenceItem(key, "deliverable", None))
        else:
            link = given.value if given.ok else None
            items.append(EvidenceItem(key, "deliverable", given.ok, link, given.by))
    return tuple(items)


def resolve_item(items: Sequence[EvidenceItem], given: str) -> EvidenceItem | None:
    """The attachable item `given` names: its key, or its last part when that is unique
    (`rollback` → `launch.rollback`, `priority-matrix` → `deliverable.priority-matrix`)."""
    fillable = [i for i in items if i.kind in ATTACHABLE]
    exact = [i for i in fillable if i.key == given]
    if exact:
        return exact[0]
    tail = given.rsplit(".", 1)[-1]
    matches = [i for i in fillable if i.key.rsplit(".", 1)[-1] == tail]
    return matches[0] if len(matches) == 1 else None


def fingerprint(items: tuple[EvidenceItem, ...]) -> str:
    """A digest of what data decides (computed items and their details), so an attestation
    added later never invalidates approvals, but an incident or a ❌ does."""
    computed = [(i.key, i.ok, i.detail) for i in items if i.kind == "computed"]
    canonical = json.dumps(computed, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
