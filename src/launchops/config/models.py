"""Typed shape of the organisation's config files (key names are contract, DESIGN.md §4).

Cross-references (a team's on-call person exists, a RACI party is known) are checked in
`loader.py`, where each problem can be tied to the line it came from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

Area = Literal["model", "infra", "data", "ux", "policy"]
Classification = Literal["public", "internal", "confidential", "pii"]
Stage = Literal["explore", "poc", "pilot", "production", "scale"]
STAGES: tuple[Stage, ...] = ("explore", "poc", "pilot", "production", "scale")
SeverityLevel = Literal["p0", "p1", "p2", "p3"]

_ID = r"^[a-z0-9][a-z0-9._-]{0,63}$"
Ident = Annotated[str, Field(pattern=_ID)]
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | int | float) -> timedelta:
    """`15m`, `1h`, `7d`, `2w`, `30s` or a bare number of seconds."""
    if isinstance(text, int | float):
        return timedelta(seconds=float(text))
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a duration like 30s, 15m, 1h, 7d or 2w")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


class _Strict(BaseModel):
    # Unknown keys are errors: a misspelt `oncal:` must not silently page nobody.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Person(_Strict):
    id: Ident
    name: str = Field(min_length=1, max_length=200)
    slack: str | None = Field(None, pattern=r"^[UW][A-Z0-9]{2,}$")
    teams: str | None = Field(None, min_length=1, max_length=200)
    email: str | None = None
    timezone: str = "UTC"
    locale: Literal["en", "ko"] | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}'") from None
        return value


class Channel(_Strict):
    slack: str | None = Field(None, pattern=r"^[CGD][A-Z0-9]{2,}$")
    teams: str | None = Field(None, min_length=1, max_length=300)


def _known_timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone '{value}'") from None
    return value


_DIGEST_WHEN = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun) ([01]\d|2[0-3]):[0-5]\d$")


def _digest_when(value: str | None) -> str | None:
    if value is not None and not _DIGEST_WHEN.match(value):
        raise ValueError("use a weekday and a time, like 'mon 09:00'")
    return value


class DigestOverride(_Strict):
    """A team's own `digest:` (catalog): either key left out follows the policy's."""

    when: str | None = None
    timezone: str | None = None

    @field_validator("when")
    @classmethod
    def _weekday_time(cls, value: str | None) -> str | None:
        return _digest_when(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else _known_timezone(value)


class Team(_Strict):
    id: Ident
    name: str = Field(min_length=1, max_length=200)
    channel: Channel = Channel()
    oncall: list[Ident] = []
    members: list[Ident] = []
    digest: DigestOverride | None = None  # when and where this team's weekly digest is due


class Raci(_Strict):
    """Each party is a team id or a person id (`team:x` / `person:x` when both exist)."""

    responsible: str
    accountable: str
    consulted: list[str] = []
    informed: list[str] = []


class Component(_Strict):
    id: Ident
    name: str = Field(min_length=1, max_length=200)
    aliases: list[Annotated[str, Field(min_length=1, max_length=200)]] = []
    area: Area
    classification: Classification = "internal"
    runbook: str | None = Field(None, pattern=r"^https?://\S+$")
    description: str | None = Field(None, max_length=2000)
    raci: Raci


class Project(_Strict):
    id: Ident
    name: str = Field(min_length=1, max_length=200)
    stage: Stage = "explore"  # where it starts; after the first sync only gates move it
    stage_entered: date | None = None  # when the current stage began (else: the first sync)
    owner: Ident
    sponsor: Ident | None = None  # the executive sponsor, told when a stage runs over
    components: list[Ident] = []


class Catalog(_Strict):
    people: list[Person] = []
    teams: list[Team] = []
    components: list[Component] = []
    projects: list[Project] = []


class SeverityPolicy(_Strict):
    meaning: str
    ack_within: str | None = None
    page: list[str] = []
    escalate_to: list[str] = []
    backlog: bool = False

    @field_validator("ack_within")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


class StagePolicy(_Strict):
    approvers: dict[str, int | Literal["all"]] = {}
    checklist: str | None = None


class GatePolicy(_Strict):
    stakeholders: dict[str, list[Ident]] = {}
    stages: dict[Stage, StagePolicy] = {}
    expire_after: str = "7d"
    remind_every: str = "1d"

    @field_validator("expire_after", "remind_every")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class DigestPolicy(_Strict):
    when: str = "mon 09:00"
    timezone: str = "UTC"
    # Per-team overrides. Written here by `OrgConfig` from each catalog team's `digest:`, so
    # they travel with the policy a config revision stores (services/digest.py reads them).
    teams: dict[Ident, DigestOverride] = {}

    @field_validator("when")
    @classmethod
    def _weekday_time(cls, value: str) -> str:
        _digest_when(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _known_timezone(value)

    def for_team(self, team_id: str) -> tuple[str, str]:
        """(when, time zone) of `team_id`'s digest: its override, else the policy's."""
        own = self.teams.get(team_id)
        when = own.when if own is not None and own.when else self.when
        zone = own.timezone if own is not None and own.timezone else self.timezone
        return when, zone


class AlertPolicy(_Strict):
    component_label: str = "component"
    severity_label: str = "severity"
    fallback_team: str | None = None
    severity_map: dict[str, SeverityLevel] = {
        "critical": "p1",
        "error": "p2",
        "warning": "p2",
        "info": "p3",
    }
    default: SeverityLevel = "p2"


class IncidentPolicy(_Strict):
    """Incident switches beyond the severity table."""

    dedicated_channel: list[SeverityLevel] = []  # levels that get an inc-<n>-<slug> channel
    channel_prefix: str = Field("inc", pattern=r"^[a-z][a-z0-9-]{0,20}$")


_NOT_WORD = re.compile(r"[^\w]+")
DELIVERABLE_ID_CHARS: Final = 50  # `deliverable.<id>` fits an attestation key (64)


def deliverable_id(name: str) -> str:
    """`Demo-able prototype` → `demo-able-prototype`: how a deliverable is named in chat
    (`gate attest <n> demo-able-prototype yes <url>`) and in a request's evidence."""
    return _NOT_WORD.sub("-", name.strip().lower()).strip("-_")


def _deliverable_name(name: str) -> str:
    ident = deliverable_id(name)
    if not ident:
        raise ValueError("a deliverable needs a name with letters or digits")
    if len(ident) > DELIVERABLE_ID_CHARS:
        raise ValueError(f"a deliverable name is at most {DELIVERABLE_ID_CHARS} characters")
    return name.strip()


Deliverable = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_deliverable_name)]

# The guide's deliverables per stage: what a gate out of the stage lists, each with its link.
DEFAULT_DELIVERABLES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "explore": ("candidate use cases", "priority matrix", "selected use case and rationale"),
        "poc": (
            "technical validation report",
            "demo-able prototype",
            "quality results",
            "pilot proposal",
        ),
        "pilot": (
            "results report",
            "satisfaction survey",
            "running-cost analysis",
            "production migration plan",
        ),
        "production": ("dashboard", "runbook", "incident playbook", "monthly report"),
    }
)


class StageClock(_Strict):
    """A stage's timebox (the owner is nudged), hard limit (the sponsor is told) and the
    deliverables a gate out of it lists (absent: the guide's; `[]`: none)."""

    timebox: str | None = None
    limit: str | None = None
    deliverables: list[Deliverable] | None = None

    @field_validator("deliverables")
    @classmethod
    def _distinct(cls, value: list[str] | None) -> list[str] | None:
        seen: set[str] = set()
        for name in value or ():
            ident = deliverable_id(name)
            if ident in seen:
                raise ValueError(f"deliverable '{name}' is listed twice")
            seen.add(ident)
        return value

    @field_validator("timebox", "limit")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None and parse_duration(value) <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value

    @model_validator(mode="after")
    def _limit_after_timebox(self) -> StageClock:
        if (
            self.timebox
            and self.limit
            and parse_duration(self.limit) < parse_duration(self.timebox)
        ):
            raise ValueError(f"limit {self.limit} is shorter than the timebox {self.timebox}")
        return self


def stage_deliverables(roadmap: Mapping[Any, StageClock], stage: str) -> tuple[str, ...]:
    """The deliverables of `stage` as `roadmap:` says, else the guide's."""
    rule = roadmap.get(stage)
    if rule is not None and rule.deliverables is not None:
        return tuple(rule.deliverables)
    return DEFAULT_DELIVERABLES.get(stage, ())


def _default_roadmap() -> dict[Stage, StageClock]:
    """The guide's timeboxes: Explore 1–2 weeks, PoC 2–4 (6 at most), Pilot 4–8 weeks (never
    past 90 days)."""
    return {
        "explore": StageClock(timebox="2w"),
        "poc": StageClock(timebox="4w", limit="6w"),
        "pilot": StageClock(timebox="8w", limit="90d"),
    }


class SloTargets(_Strict):
    success_rate: float | None = Field(None, gt=0, le=1)
    latency_p95: str | None = None
    monthly_cost_budget: float | None = Field(None, ge=0)

    @field_validator("latency_p95")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


class SloPolicy(SloTargets):
    """The guide's defaults (success ≥ 99.5%, p95 ≤ 3 s), with `overrides` per component or
    project id."""

    success_rate: float | None = Field(0.995, gt=0, le=1)
    latency_p95: str | None = "3s"
    overrides: dict[Ident, SloTargets] = {}


def _default_severities() -> dict[SeverityLevel, SeverityPolicy]:
    """The operations guide's table (DESIGN.md §4): what a level gets when policy.yaml has
    no entry for it."""
    return {
        "p0": SeverityPolicy(
            meaning="Full service outage",
            ack_within="15m",
            page=["oncall_all", "accountable"],
            escalate_to=["accountable", "team:leadership"],
        ),
        "p1": SeverityPolicy(
            meaning="Core feature broken",
            ack_within="1h",
            page=["responsible"],
            escalate_to=["accountable"],
        ),
        "p2": SeverityPolicy(
            meaning="Partial degradation",
            ack_within="4h",
            page=["responsible_oncall"],
            escalate_to=["responsible"],
        ),
        "p3": SeverityPolicy(meaning="Minor issue", backlog=True),
    }


DEFAULT_SEVERITIES: Final = MappingProxyType(_default_severities())
"""Read-only: the built-in level rules (the models are frozen, the mapping is a view)."""


class Policy(_Strict):
    severities: dict[SeverityLevel, SeverityPolicy] = Field(default_factory=_default_severities)
    gates: GatePolicy = GatePolicy()
    digest: DigestPolicy = DigestPolicy()
    alerts: AlertPolicy = AlertPolicy()
    incidents: IncidentPolicy = IncidentPolicy()
    roadmap: dict[Stage, StageClock] = Field(default_factory=_default_roadmap)
    slo: SloPolicy = SloPolicy()

    @field_validator("severities")
    @classmethod
    def _every_level(
        cls, value: dict[SeverityLevel, SeverityPolicy]
    ) -> dict[SeverityLevel, SeverityPolicy]:
        # A level left out gets the guide's rules rather than a KeyError at the first
        # declaration (or alert) of that level: every severity a person can type, or an alert
        # can map to, always has a rule. Levels keep p0..p3 order whatever the file's order.
        return {
            level: value[level] if level in value else default.model_copy(deep=True)
            for level, default in DEFAULT_SEVERITIES.items()
        }


class OrgConfig(_Strict):
    """Catalog and policy together, validated and cross-checked."""

    catalog: Catalog
    policy: Policy

    @model_validator(mode="after")
    def _team_digests_into_policy(self) -> OrgConfig:
        """Each catalog team's `digest:` joins `policy.digest.teams` (the catalog's wins), so
        the stored policy alone says when every team's digest is due."""
        own = {team.id: team.digest for team in self.catalog.teams if team.digest is not None}
        if not own:
            return self
        digest = self.policy.digest.model_copy(
            update={"teams": {**self.policy.digest.teams, **own}}
        )
        # Frozen models: the validated instance is completed in place, once, here.
        object.__setattr__(self, "policy", self.policy.model_copy(update={"digest": digest}))
        return self
