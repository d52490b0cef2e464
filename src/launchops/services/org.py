"""Reading the organisation for paging: teams, on-call order, a component's RACI, people."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from sqlmodel import Session, col, select

from launchops.domain.paging import OrgSnapshot, TeamInfo
from launchops.services.directory import Directory
from launchops.store.models import Person, RaciAssignment, Team, TeamMember


def org_snapshot(
    session: Session,
    *,
    component_id: str | None,
    team_id: str | None,
    directory: Directory | None = None,
) -> OrgSnapshot:
    """Teams with members and on-call order, and the RACI of the incident's component.

    An incident without a component (declared from a team's channel) gets that team as its
    Responsible party, so the same paging rules apply. With the directory in force this is
    built from memory (three queries per declaration before); an incident whose component or
    team has left the config since is still read from the store, as it always was.
    """
    if directory is not None and _in_directory(directory, component_id, team_id):
        known: Mapping[str, tuple[tuple[str, str], ...]] = {}
        if component_id is not None:
            known = directory.components[component_id].raci
        elif team_id is not None:
            known = {"R": (("team", team_id),)}
        return OrgSnapshot(teams=directory.paging_teams, raci=known)
    members: dict[str, list[TeamMember]] = defaultdict(list)
    for member in session.exec(select(TeamMember)).all():
        members[member.team_id].append(member)
    teams = {}
    for team in session.exec(select(Team)).all():
        rows = members.get(team.id, [])
        oncall = sorted(
            (m for m in rows if m.oncall_rank is not None), key=lambda m: m.oncall_rank or 0
        )
        teams[team.id] = TeamInfo(
            id=team.id,
            members=tuple(m.person_id for m in rows),
            oncall=tuple(m.person_id for m in oncall),
            has_channel=bool(team.slack_channel or team.teams_channel),
        )
    raci: dict[str, list[tuple[str, str]]] = defaultdict(list)
    if component_id is not None:
        for row in session.exec(
            select(RaciAssignment)
            .where(RaciAssignment.component_id == component_id)
            .order_by(col(RaciAssignment.role), col(RaciAssignment.position))
        ).all():
            raci[row.role].append((row.party_kind, row.party_id))
    elif team_id is not None:
        raci["R"].append(("team", team_id))
    return OrgSnapshot(teams=teams, raci={role: tuple(parties) for role, parties in raci.items()})


def _in_directory(directory: Directory, component_id: str | None, team_id: str | None) -> bool:
    if component_id is not None:
        return component_id in directory.components
    return team_id is None or team_id in directory.teams


def people_by_id(session: Session, ids: Iterable[str]) -> dict[str, Person]:
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    rows = session.exec(select(Person).where(col(Person.id).in_(wanted))).all()
    return {p.id: p for p in rows}


def responsible_team(snapshot: OrgSnapshot) -> str | None:
    for kind, ident in snapshot.raci.get("R", ()):
        if kind == "team":
            return ident
    return None


def insiders(snapshot: OrgSnapshot) -> set[str]:
    """Members of the Responsible team(s) and the Accountable people: they may always act."""
    people: set[str] = set()
    for role in ("R", "A"):
        for kind, ident in snapshot.raci.get(role, ()):
            if kind == "person":
                people.add(ident)
            elif ident in snapshot.teams:
                people.update(snapshot.teams[ident].members)
    return people
