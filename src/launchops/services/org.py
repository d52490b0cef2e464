"""Reading the organisation for paging: teams, on-call order, a component's RACI, people."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlmodel import Session, col, select

from launchops.domain.paging import OrgSnapshot, TeamInfo
from launchops.store.models import Person, RaciAssignment, Team, TeamMember


def org_snapshot(session: Session, *, component_id: str | None, team_id: str | None) -> OrgSnapshot:
    """Teams with members and on-call order, and the RACI of the incident's component.

    An incident without a component (declared from a team's channel) gets that team as its
    Responsible party, so the same paging rules apply.
    """
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
