"""Typed shape of the organisation's config files (key names are contract, DESIGN.md §4).

Cross-references (a team's on-call person exists, a RACI party is known) are checked in
`loader.py`, where each problem can be tied to the line it came from.
"""

from __future__ import annotations

import re
from datetime import timedelta
from types import MappingProxyType
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Area = Literal["model", "infra", "data", "ux", "policy"]
Classification = Literal["public", "internal", "confidential", "pii"]
Stage = Literal["explore", "poc", "pilot", "production", "scale"]
STAGES: tuple[Stage, ...] = ("explore", "poc", "pilot", "production", "scale")
SeverityLevel = Literal["p0", "p1", "p2", "p3"]

_ID = r"^[a-z0-9][a-z0-9._-]{0,63}$"
Ident = Annotated[str, Field(pattern=_ID)]
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str | int | float) -> timedelta:
    """`15m`, `1h`, `7d`, `30s` or a bare number of seconds."""
    if isinstance(text, int | float):
        return timedelta(seconds=float(text))
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a duration like 30s, 15m, 1h or 7d")
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


class Team(_Strict):
    id: Ident
    name: str = Field(min_length=1, max_length=200)
    channel: Channel = Channel()
    oncall: list[Ident] = []
    members: list[Ident] = []


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
    stage: Stage = "explore"
    owner: Ident
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

    @field_validator("when")
    @classmethod
    def _weekday_time(cls, value: str) -> str:
        if not re.match(r"^(mon|tue|wed|thu|fri|sat|sun) ([01]\d|2[0-3]):[0-5]\d$", value):
            raise ValueError("use a weekday and a time, like 'mon 09:00'")
        return value


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
