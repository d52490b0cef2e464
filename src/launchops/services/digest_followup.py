"""The digest's follow-up (issue 10 item 5): each failure pattern can be assigned to an owner
and marked reviewed; next week's digest says what became of last week's patterns.

A digest round records its patterns (`DigestPattern`, one row per team, ISO week and pattern
key) before its messages are queued; the buttons carry the row's id. Who may act: the members
of the digest's team and the pattern's component's Responsible and Accountable people (a team
named there counts with its members). Assigning and reviewing are compare-and-set updates: a
retried or double click changes nothing the second time and is told so; a value the bot did
not write (not a number, or no such row) gets its own refusal. Every change is audited.
Every sentence comes from the catalogue (`messages/locales/*.digest.yaml`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session

from launchops.messages.i18n import t
from launchops.messages.reply import Reply
from launchops.services.digest_data import PastPattern, Pattern
from launchops.services.directory import Directory, DirectoryCache
from launchops.store import read_scope, session_scope
from launchops.store.digest_models import DigestPattern
from launchops.store.models import AuditEntry
from launchops.store.types import utcnow

__all__ = [
    "ASSIGN",
    "REVIEWED",
    "DigestFollowup",
    "FollowupResult",
    "Owner",
    "PastPattern",
    "previous_week",
]

log = structlog.get_logger(__name__)

ASSIGN: Final = "digest_assign"
REVIEWED: Final = "digest_reviewed"
MAX_CARRIED: Final = 10  # earlier patterns listed in a digest's follow-up section
_patterns = DigestPattern.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Owner:
    kind: str  # team | person
    id: str
    name: str

    @property
    def value(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class FollowupResult:
    reply: Reply  # private, in the clicker's language
    ok: bool  # False: refused (forged id, not allowed, unknown owner)
    changed: bool = False  # False for a retried click that found its work done


def previous_week(week: str) -> str:
    year, number = week.split("-W")
    monday = date.fromisocalendar(int(year), int(number), 1) - timedelta(days=7)
    found_year, found_week, _ = monday.isocalendar()
    return f"{found_year}-W{found_week:02d}"


class DigestFollowup:
    def __init__(
        self, engine: Engine, directory: DirectoryCache | None = None, *, locale: str = "en"
    ) -> None:
        self._engine = engine
        self._directory = directory or DirectoryCache(engine)
        self._locale = locale

    # recording (DigestService, before the round's messages) ------------------------------
    def record(
        self, session: Session, team_id: str, week: str, patterns: Sequence[Pattern]
    ) -> list[int]:
        """The row id of each pattern of this team's week, inserted once (a forced resend or
        the other platform's channel finds the same rows)."""
        ids = []
        for rank, pattern in enumerate(patterns, start=1):
            values = {
                "team_id": team_id,
                "iso_week": week,
                "pattern_key": pattern.key,
                "component_id": pattern.component,
                "example": pattern.example[:500],
                "count": pattern.count,
                "rank": rank,
                "created_at": utcnow(),
            }
            insert: postgresql.Insert | sqlite.Insert
            if session.get_bind().dialect.name == "postgresql":
                insert = postgresql.insert(_patterns).values(values).on_conflict_do_nothing()
            else:
                insert = sqlite.insert(_patterns).values(values).on_conflict_do_nothing()
            session.execute(insert)
            found = session.execute(
                select(_patterns.c.id).where(
                    _patterns.c.team_id == team_id,
                    _patterns.c.iso_week == week,
                    _patterns.c.pattern_key == pattern.key,
                )
            ).scalar_one()
            ids.append(int(found))
        return ids

    def earlier(self, team_id: str, week: str) -> list[PastPattern]:
        """Last week's patterns, and older ones assigned and not yet reviewed; newest first,
        one line per pattern key."""
        last = previous_week(week)
        with read_scope(self._engine) as session:
            rows = session.execute(
                select(_patterns)
                .where(
                    _patterns.c.team_id == team_id,
                    _patterns.c.iso_week < week,
                    or_(
                        _patterns.c.iso_week == last,
                        and_(
                            _patterns.c.assignee_id.is_not(None),
                            _patterns.c.reviewed_at.is_(None),
                        ),
                    ),
                )
                .order_by(_patterns.c.iso_week.desc(), _patterns.c.rank)
            ).all()
        directory = self._directory.get()
        seen: set[str] = set()
        out = []
        for row in rows:
            if row.pattern_key in seen:
                continue
            seen.add(row.pattern_key)
            assignee = (
                _owner_name(directory, row.assignee_kind, row.assignee_id)
                if row.assignee_id
                else None
            )
            reviewer = (
                _owner_name(directory, "person", row.reviewed_by) if row.reviewed_by else None
            )
            out.append(PastPattern(row.iso_week, row.example, assignee, reviewer))
        return out[:MAX_CARRIED]

    # the buttons ---------------------------------------------------------------------------
    def owners(self) -> list[Owner]:
        """Everyone a pattern may be assigned to: teams first, then people (catalog order)."""
        directory = self._directory.get()
        return [Owner("team", team.id, team.name) for team in directory.teams.values()] + [
            Owner("person", person.id, person.name) for person in directory.people.values()
        ]

    def assign_form(
        self, value: str, platform: str, user_ids: tuple[str, ...]
    ) -> tuple[FollowupResult, str, Owner | None]:
        """Whether the clicker may assign this pattern (a refusal to show instead of a form,
        else ok), the pattern's example and its default owner. Writes nothing."""
        locale, person, directory = self._who(platform, user_ids)
        row = self._row(value)
        refusal = self._refusal(row, person, directory, locale)
        if refusal is not None or row is None:
            return refusal or self._unknown(locale), "", None
        return (
            FollowupResult(Reply(text="", private=True), True),
            row.example,
            _default(directory, row),
        )

    def assign(
        self, value: str, platform: str, user_ids: tuple[str, ...], owner: str | None = None
    ) -> FollowupResult:
        """Assign the pattern to `owner` (`team:<id>`, `person:<id>`, or an id or name typed;
        empty: the component's Responsible team)."""
        locale, person, directory = self._who(platform, user_ids)
        row = self._row(value)
        refusal = self._refusal(row, person, directory, locale)
        if refusal is not None or row is None or person is None:
            return refusal or self._unknown(locale)
        chosen = (
            _find_owner(directory, owner) if owner and owner.strip() else _default(directory, row)
        )
        if chosen is None:
            text = t("digest.followup.unknown_owner", locale, name=(owner or "").strip()[:100])
            return FollowupResult(Reply(text=text, private=True), False)
        with session_scope(self._engine) as session:
            changed = session.execute(
                update(_patterns)
                .where(
                    _patterns.c.id == row.id,
                    or_(
                        _patterns.c.assignee_id.is_(None),
                        _patterns.c.assignee_id != chosen.id,
                        _patterns.c.assignee_kind != chosen.kind,
                    ),
                )
                .values(
                    assignee_kind=chosen.kind,
                    assignee_id=chosen.id,
                    assigned_by=person,
                    assigned_at=utcnow(),
                )
                .returning(_patterns.c.id)
            ).first()
            if changed:
                _audit(session, person, "digest.assign", row, owner=chosen.value)
        key = "digest.followup.assigned" if changed else "digest.followup.already_assigned"
        text = t(key, locale, n=row.rank, example=_short(row.example), owner=chosen.name)
        log.info("digest.pattern_assigned", pattern=row.id, changed=bool(changed))
        return FollowupResult(Reply(text=text, private=True), True, bool(changed))

    def review(self, value: str, platform: str, user_ids: tuple[str, ...]) -> FollowupResult:
        locale, person, directory = self._who(platform, user_ids)
        row = self._row(value)
        refusal = self._refusal(row, person, directory, locale)
        if refusal is not None or row is None or person is None:
            return refusal or self._unknown(locale)
        with session_scope(self._engine) as session:
            changed = session.execute(
                update(_patterns)
                .where(_patterns.c.id == row.id, _patterns.c.reviewed_at.is_(None))
                .values(reviewed_by=person, reviewed_at=utcnow())
                .returning(_patterns.c.id)
            ).first()
            if changed:
                _audit(session, person, "digest.review", row)
            else:
                reviewer = session.execute(
                    select(_patterns.c.reviewed_by).where(_patterns.c.id == row.id)
                ).scalar_one()
        example = _short(row.example)
        if changed:
            text = t("digest.followup.reviewed", locale, n=row.rank, example=example)
        else:
            name = _owner_name(directory, "person", str(reviewer))
            text = t("digest.followup.already_reviewed", locale, n=row.rank, person=name)
        log.info("digest.pattern_reviewed", pattern=row.id, changed=bool(changed))
        return FollowupResult(Reply(text=text, private=True), True, bool(changed))

    def locale_of(self, platform: str, user_ids: tuple[str, ...]) -> str:
        """The language the clicker reads."""
        return self._who(platform, user_ids)[0]

    # helpers -------------------------------------------------------------------------------
    def _who(self, platform: str, user_ids: tuple[str, ...]) -> tuple[str, str | None, Directory]:
        directory = self._directory.get()
        person = directory.person_for(platform, tuple(i for i in user_ids if i))
        locale = (person.locale if person else None) or self._locale
        return locale, person.id if person else None, directory

    def _row(self, value: str) -> DigestPattern | None:
        text = (value or "").strip()
        if not text.isdigit() or len(text) > 12:
            return None
        with read_scope(self._engine) as session:
            row = session.get(DigestPattern, int(text))
            if row is not None:
                session.expunge(row)  # read after the scope: no refresh on a closed session
            return row

    def _unknown(self, locale: str) -> FollowupResult:
        return FollowupResult(Reply(text=t("digest.followup.unknown", locale), private=True), False)

    def _refusal(
        self, row: DigestPattern | None, person: str | None, directory: Directory, locale: str
    ) -> FollowupResult | None:
        if row is None:
            return self._unknown(locale)
        if person is not None and _may_act(directory, row, person):
            return None
        team = directory.teams.get(row.team_id)
        text = t("digest.followup.not_allowed", locale, team=team.name if team else row.team_id)
        return FollowupResult(Reply(text=text, private=True), False)


def _may_act(directory: Directory, row: DigestPattern, person: str) -> bool:
    teams = directory.memberships.get(person, frozenset())
    if row.team_id in teams:
        return True
    component = directory.components.get(row.component_id)
    if component is None:
        return False
    for role in ("R", "A"):
        for kind, party in component.raci.get(role, ()):
            if (kind == "person" and party == person) or (kind == "team" and party in teams):
                return True
    return False


def _default(directory: Directory, row: DigestPattern) -> Owner | None:
    """The component's Responsible team (else person), else the digest's team."""
    component = directory.components.get(row.component_id)
    for kind, party in component.raci.get("R", ()) if component else ():
        found = _find_owner(directory, f"{kind}:{party}")
        if found is not None:
            return found
    return _find_owner(directory, f"team:{row.team_id}")


def _find_owner(directory: Directory, text: str | None) -> Owner | None:
    wanted = (text or "").strip()
    kind, _, ident = wanted.partition(":")
    if kind == "team" and ident in directory.teams:
        return Owner("team", ident, directory.teams[ident].name)
    if kind == "person" and ident in directory.people:
        return Owner("person", ident, directory.people[ident].name)
    folded = wanted.casefold().lstrip("@")
    for team in directory.teams.values():
        if folded in (team.id.casefold(), team.name.casefold()):
            return Owner("team", team.id, team.name)
    for person in directory.people.values():
        if folded in (person.id.casefold(), person.name.casefold()):
            return Owner("person", person.id, person.name)
    return None


def _owner_name(directory: Directory, kind: str | None, ident: str | None) -> str:
    found = _find_owner(directory, f"{kind}:{ident}")
    return found.name if found else str(ident)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _audit(session: Session, person: str, action: str, row: DigestPattern, **detail: str) -> None:
    session.add(
        AuditEntry(
            at=utcnow(),
            actor=f"person:{person}",
            action=action,
            subject=f"digest_pattern:{row.id}",
            detail={"team": row.team_id, "week": row.iso_week, **detail},
        )
    )
