"""Who is speaking: platform user ids → catalog people, from the directory in memory."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from launchops.services.directory import DirectoryCache


@dataclass(frozen=True)
class Viewer:
    """The person asking, as far as we know them. Unknown people may still ask questions."""

    person_id: str | None
    name: str | None
    locale: str | None
    team_ids: frozenset[str]


ANONYMOUS = Viewer(person_id=None, name=None, locale=None, team_ids=frozenset())


class PeopleService:
    """Every request starts here, so nothing here queries the store: the directory is
    rebuilt when the config in force changes (services/directory.py)."""

    def __init__(self, engine: Engine, directory: DirectoryCache | None = None) -> None:
        self._directory = directory or DirectoryCache(engine)

    def identify(self, platform: str, user_ids: tuple[str, ...]) -> Viewer:
        """Match any of the user's ids (Teams sends an id and an aadObjectId) to a person."""
        ids = tuple(i for i in user_ids if i)
        if not ids:
            return ANONYMOUS
        directory = self._directory.get()
        person = directory.person_for(platform, ids)
        if person is None:
            return ANONYMOUS
        teams = directory.memberships.get(person.id, frozenset())
        return Viewer(person.id, person.name, person.locale, teams)

    def team_for_channel(self, platform: str, channel: str | None) -> str | None:
        """The team whose channel this is: an incident declared there is theirs by default."""
        if not channel:
            return None
        if platform not in ("slack", "teams"):
            return channel.lstrip("#") if platform == "console" else None
        return self._directory.get().team_for_channel(platform, channel)
