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


@dataclass
class PagePlan:
    people: dict[str, str] = field(default_factory=dict)  # person id → why (first reason wins)
    channels: list[str] = field(default_factory=list)  # team ids whose channel gets the post

    def add_person(self, person: str, reason: str) -> None:
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
                    plan.add_person(person, f"on call for {team.id}")
        elif target in ("responsible", "responsible_oncall", "responsible_team"):
            for kind, ident in responsible:
                if kind == "person":
                    plan.add_person(ident, "responsible")
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
                for person in chosen:
                    plan.add_person(person, f"{target.replace('_', ' ')} ({r_team.id})")
                if r_team.has_channel:
                    plan.add_channel(r_team.id)
        elif target in RACI_ROLES:
            for kind, ident in org.raci.get(RACI_ROLES[target], ()):
                _add_party(plan, kind, ident, org, reason=target)
        else:
            kind, _, ident = target.partition(":")
            if ident:
                _add_party(plan, kind, ident, org, reason=target)
    return plan


def _add_party(plan: PagePlan, kind: str, ident: str, org: OrgSnapshot, *, reason: str) -> None:
    if kind == "person":
        plan.add_person(ident, reason)
        return
    team = org.teams.get(ident)
    if team is None:
        return
    for person in _team_pagees(team):
        plan.add_person(person, f"{reason} ({team.id})")
    if team.has_channel:
        plan.add_channel(team.id)
