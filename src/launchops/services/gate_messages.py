"""Who hears about a gate, and how: approvers' DMs, the summary card, its edits, announcements.

Everything here writes outbox rows in the caller's transaction; nothing is sent from here.
The summary card needs no table of its own to be edited later: its outbox row is found again
by its dedupe key (`gate:<id>:card:…`), and each edit depends on that row for the message id.
The approvers' DMs with buttons (`gate:<id>:ask:…`, `…:changed:…`, `…:remind:…`) are found
the same way when the gate closes, and edited to show how it ended, without buttons.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlmodel import Session

from launchops.delivery import outbox
from launchops.domain.gates import GateView
from launchops.messages import gate_views as cards
from launchops.messages.reply import Reply
from launchops.services.destinations import dm_destination
from launchops.services.directory import Directory, ProjectInfo, TeamEntry

__all__ = ["GateMessenger"]

Render = Callable[[str], Reply]  # locale → the message in it


class GateMessenger:
    def __init__(self, *, platforms: tuple[str, ...], locale: str) -> None:
        self._platforms = platforms
        self._locale = locale

    @property
    def locale(self) -> str:
        """The bot's language: reasons stored on a request are written in it."""
        return self._locale

    def direct(
        self,
        session: Session,
        directory: Directory,
        people: Sequence[str],
        render: Render,
        key: str,
    ) -> tuple[list[str], list[str]]:
        """One DM per person (per platform they are on); returns (reached, unreachable)
        names. `key` makes each DM once: a retried request or a second replica adds none."""
        reached: list[str] = []
        unreachable: list[str] = []
        for person_id in dict.fromkeys(people):
            person = directory.people.get(person_id)
            if person is None:
                continue
            locale = person.locale or self._locale
            sent = False
            for platform in self._platforms:
                destination = dm_destination(platform, person)
                if destination is None:
                    continue
                kind, where = destination
                outbox.enqueue(
                    session,
                    platform=platform,
                    kind=kind,
                    destination=where,
                    reply=render(locale),
                    locale=locale,
                    dedupe_key=f"{key}:{person_id}:{platform}"[:255],
                )
                sent = True
            (reached if sent else unreachable).append(person.name)
        return reached, unreachable

    def post_summary(
        self,
        session: Session,
        directory: Directory,
        view: GateView,
        project: ProjectInfo,
        requester_id: str,
    ) -> None:
        """The summary card in the owner's team channel, or the requester's DM where that
        team has no channel on a platform."""
        team = _team_of(directory, project.owner)
        requester = directory.people.get(requester_id)
        for platform in self._platforms:
            where = _channel_destination(platform, team) if team else None
            if where is None and requester is not None:
                where = dm_destination(platform, requester)
            if where is None:
                continue
            kind, destination = where
            outbox.enqueue(
                session,
                platform=platform,
                kind=kind,
                destination=destination,
                reply=cards.summary_card(view, self._locale),
                locale=self._locale,
                dedupe_key=f"{_card_prefix(view.id)}{platform}",
            )

    def refresh(self, session: Session, view: GateView) -> None:
        """Edit every summary card of the gate in place; once it is closed (this is called
        once then, by whoever closed it), its approvers' DMs too."""
        if view.status != "open":
            self._close_dms(session, view)
        for card_id, platform, _kind, _destination, locale in _summary_cards(session, view.id):
            outbox.enqueue(
                session,
                platform=platform,
                kind="update",
                destination={},
                reply=cards.summary_card(view, locale),
                locale=locale,
                depends_on=card_id,
                ordering_key=f"gate:{view.id}:card:{card_id}",
            )

    def _close_dms(self, session: Session, view: GateView) -> None:
        """Each DM that offered the buttons, edited in place to the outcome (the summary card
        with how it ended as its note): nobody clicks a closed gate's stale buttons."""
        for dm_id, platform, _kind, _destination, locale in _decision_dms(session, view.id):
            card = cards.summary_card(view, locale).card
            assert card is not None
            note = cards.announcement(view, locale).text
            outbox.enqueue(
                session,
                platform=platform,
                kind="update",
                destination={},
                reply=Reply(text=note, card=card.model_copy(update={"note": note})),
                locale=locale,
                depends_on=dm_id,
                ordering_key=f"gate:{view.id}:dm:{dm_id}",
                dedupe_key=f"gate:{view.id}:closed:{dm_id}",
            )

    def announce(
        self, session: Session, directory: Directory, view: GateView, project: ProjectInfo
    ) -> None:
        """Once per gate: where its summary card is, a new message saying how it ended."""
        for _card_id, platform, kind, destination, _locale in _summary_cards(session, view.id):
            outbox.enqueue(
                session,
                platform=platform,
                kind=kind,
                destination=destination,
                reply=cards.announcement(view, self._locale),
                locale=self._locale,
                dedupe_key=f"gate:{view.id}:announce:{platform}",
            )


def _card_prefix(request_id: int) -> str:
    return f"gate:{request_id}:card:"


def _summary_cards(session: Session, request_id: int) -> list[Any]:
    """(outbox id, platform, kind, destination, locale) of each summary card posted for the
    gate, oldest first: found again by their dedupe key, so no table tracks them."""
    table = outbox.outbox_table
    return list(
        session.execute(
            select(table.c.id, table.c.platform, table.c.kind, table.c.destination, table.c.locale)
            .where(table.c.dedupe_key.like(f"{_card_prefix(request_id)}%"))
            .order_by(table.c.id)
        ).all()
    )


_DM_KINDS = ("ask", "changed", "remind")  # the DMs that carry the decision buttons


def _decision_dms(session: Session, request_id: int) -> list[Any]:
    """(outbox id, platform, kind, destination, locale) of each DM with buttons sent (or
    queued) for the gate, oldest first, found by their dedupe keys like the summary cards."""
    table = outbox.outbox_table
    keys = [table.c.dedupe_key.like(f"gate:{request_id}:{kind}:%") for kind in _DM_KINDS]
    return list(
        session.execute(
            select(table.c.id, table.c.platform, table.c.kind, table.c.destination, table.c.locale)
            .where(or_(*keys))
            .order_by(table.c.id)
        ).all()
    )


def _team_of(directory: Directory, person_id: str) -> TeamEntry | None:
    """The first team (in catalog order) the person belongs to."""
    return next((t for t in directory.teams.values() if person_id in t.members), None)


def _channel_destination(platform: str, team: TeamEntry) -> tuple[str, Mapping[str, Any]] | None:
    if platform == "slack" and team.slack_channel:
        return "post", {"channel": team.slack_channel}
    if platform == "teams" and team.teams_channel:
        return "post", {"conversation": team.teams_channel}
    if platform == "console":
        return "post", {"channel": f"#{team.id}"}
    return None
