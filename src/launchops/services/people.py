"""Who is speaking: platform user ids → catalog people."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from launchops.store import session_scope
from launchops.store.models import Person, Team, TeamMember


@dataclass(frozen=True)
class Viewer:
    """The person asking, as far as we know them. Unknown people may still ask questions."""

    person_id: str | None
    name: str | None
    locale: str | None
    team_ids: frozenset[str]


ANONYMOUS = Viewer(person_id=None, name=None, locale=None, team_ids=frozenset())


def _viewer(session: Session, person: Person | None) -> Viewer:
    if person is None:
        return ANONYMOUS
    teams = session.exec(select(TeamMember.team_id).where(TeamMember.person_id == person.id))
    return Viewer(person.id, person.name, person.locale, frozenset(teams.all()))


class PeopleService:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def identify(self, platform: str, user_ids: tuple[str, ...]) -> Viewer:
        """Match any of the user's ids (Teams sends an id and an aadObjectId) to a person."""
        ids = [i for i in user_ids if i]
        if not ids:
            return ANONYMOUS
        with session_scope(self._engine) as session:
            column = {"console": Person.id, "slack": Person.slack_id}.get(platform, Person.teams_id)
            person = session.exec(select(Person).where(col(column).in_(ids))).first()
            return _viewer(session, person)

    def team_for_channel(self, platform: str, channel: str | None) -> str | None:
        """The team whose channel this is: an incident declared there is theirs by default."""
        if not channel:
            return None
        column = {"slack": Team.slack_channel, "teams": Team.teams_channel}.get(platform)
        if column is None:
            return channel.lstrip("#") if platform == "console" else None
        with session_scope(self._engine) as session:
            return session.exec(select(Team.id).where(col(column) == channel)).first()
