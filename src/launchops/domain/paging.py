"""Who gets paged: policy targets resolved against the RACI and the on-call lists.

Pure: it takes a snapshot of the organisation and returns a plan, so the same rules serve
declaration, escalation and severity changes, and can be tested without a database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

RACI_ROLES = {"responsible": "R", "accountable": "A", "consulted": "C", "informed": "I"}


@dataclass(frozen=True)
class TeamInfo:
    id: str
    members: tuple[str, ...]
    oncall: tuple[str, ...]  # in paging order
    has_channel: bool


@dataclass(frozen=True)
class OrgSnapshot:
    """What paging needs to know, read from the store in one go."""

    teams: Mapping[str, TeamInfo]
    raci: Mapping[str, tuple[tuple[str, str], ...]]  # role letter → ((kind, id), …)


@dataclass(frozen=True)
class PageReason:
    """Why someone is paged: the policy target that chose them and, if through a team, which.

    Kept as data so each person reads the reason in their own language.
    """

    target: str  # oncall_all, responsible, accountable, team, person, …
    team: str | None = None

    def __str__(self) -> str:
        return f"{self.target} ({self.team})" if self.team else self.target


@dataclass
class PagePlan:
    people: dict[str, PageReason] = field(default_factory=dict)  # first reason wins
    channels: list[str] = field(default_factory=list)  # team ids whose channel gets the post

    def add_person(self, person: str, reason: PageReason) -> None:
        self.people.setdefault(person, reason)

    def add_channel(self, team: str) -> None:
        if team not in self.channels:
            self.channels.append(team)


def _team_pagees(team: TeamInfo) -> tuple[str, ...]:
    # A team without an on-call rota is paged through every member.
    return team.oncall or team.members


def plan_pages(targets: Iterable[str], org: OrgSnapshot) -> PagePlan:
    """Resolve policy targets (DESIGN.md §4) into people to DM and channels to post in."""
    plan = PagePlan()
    responsible = org.raci.get("R", ())
    for target in targets:
        if target == "oncall_all":
            for team in org.teams.values():
                for person in team.oncall:
                    plan.add_person(person, PageReason("oncall_all", team.id))
        elif target in ("responsible", "responsible_oncall", "responsible_team"):
            for kind, ident in responsible:
                if kind == "person":
                    plan.add_person(ident, PageReason(target))
                    continue
                r_team = org.teams.get(ident)
                if r_team is None:
                    continue
                if target == "responsible":
                    chosen = _team_pagees(r_team)
                elif target == "responsible_oncall":
                    chosen = _team_pagees(r_team)[:1]
                else:
                    chosen = r_team.members
                # A team with no rota is paged through its members: say so.
                why = target if r_team.oncall else "responsible_team"
                for person in chosen:
                    plan.add_person(person, PageReason(why, r_team.id))
                if r_team.has_channel:
                    plan.add_channel(r_team.id)
        elif target in RACI_ROLES:
            for kind, ident in org.raci.get(RACI_ROLES[target], ()):
                _add_party(plan, kind, ident, org, reason=target)
        else:
            kind, _, ident = target.partition(":")
            if ident:
                _add_party(plan, kind, ident, org, reason=kind)
    return plan


def _add_party(plan: PagePlan, kind: str, ident: str, org: OrgSnapshot, *, reason: str) -> None:
    if kind == "person":
        plan.add_person(ident, PageReason(reason))
        return
    team = org.teams.get(ident)
    if team is None:
        return
    for person in _team_pagees(team):
        plan.add_person(person, PageReason(reason, team.id))
    if team.has_channel:
        plan.add_channel(team.id)
