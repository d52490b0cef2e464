"""Who hears about an incident, and how: pages, channel cards, edits, thread notes, rooms.

Everything here writes outbox rows in the caller's transaction; nothing is sent from here.
Each card posted is remembered as an `IncidentMessage`, so every later change edits it in
place and notes the change in its thread instead of posting again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from launchops.config.models import Policy, SeverityPolicy
from launchops.delivery import outbox
from launchops.domain.incidents import IncidentView
from launchops.domain.paging import OrgSnapshot, PagePlan, plan_pages
from launchops.messages import incident_views as cards
from launchops.messages.reply import Reply
from launchops.services.actors import Actor
from launchops.services.destinations import dm_destination
from launchops.services.incident_records import incident_view
from launchops.services.ledger import with_deployments
from launchops.services.org import people_by_id
from launchops.store.models import Incident, IncidentMessage, IncidentResponder, Person, Team

ROOM_KIND = "channel"  # outbox kind: create a channel, invite, post the card (SlackSender)
INVITE_KIND = "invite"  # outbox kind: invite people into the channel a `channel` row made
_NOT_IN_NAMES = re.compile(r"[^a-z0-9]+")
MAX_CHANNEL_NAME = 80  # Slack's limit


@dataclass(frozen=True)
class Escalation:
    """An escalation step's pages: they reach people paged before too, and say why again."""

    waited: timedelta  # since the declaration, for "still unacknowledged after 15 min"
    by: str | None = None  # who escalated by hand; None for the deadline


class IncidentMessenger:
    def __init__(
        self, *, platforms: tuple[str, ...], locale: str, clock: Callable[[], datetime]
    ) -> None:
        self._platforms = platforms
        self._locale = locale
        self._clock = clock

    def _view(
        self, session: Session, incident: Incident, *, extra_responders: list[str] | None = None
    ) -> IncidentView:
        """The incident as its cards show it, with the component's latest deployments (read
        before the declaration's first write: services/ledger.py `read_before_write`)."""
        view = incident_view(session, incident, extra_responders=extra_responders)
        return with_deployments(session, view, self._clock())

    def page_level(
        self,
        session: Session,
        incident: Incident,
        level_policy: SeverityPolicy,
        policy: Policy,
        snapshot: OrgSnapshot,
        actor: Actor,
    ) -> tuple[list[str], list[str], list[str]]:
        """Page a severity level: its `page` targets, the Responsible team's channel and, for
        levels with a dedicated channel, the incident's own room. Returns (paged names,
        unreachable names, where the card was posted)."""
        if level_policy.backlog:
            return [], [], []
        plan = plan_pages(level_policy.page, snapshot)
        paged, unreachable = self.page(session, incident, plan, step=0)
        if incident.team_id:
            plan.add_channel(incident.team_id)
        posted = self.post_cards(session, incident, plan.channels)
        if incident.severity in policy.incidents.dedicated_channel:
            posted += self.open_room(session, incident, policy, actor)
        return paged, unreachable, posted

    def page(
        self,
        session: Session,
        incident: Incident,
        plan: PagePlan,
        *,
        step: int,
        escalation: Escalation | None = None,
    ) -> tuple[list[str], list[str]]:
        """DM the planned people; returns (names paged, names with no chat id to page).

        A first page skips people already paged. An escalation pages everyone of its step
        except whoever acknowledged, people paged before included, with a card that says it
        is an escalation (DESIGN.md §4); each step's pages are queued once (dedupe key).
        """
        assert incident.id is not None
        already = set(
            session.exec(
                select(IncidentResponder.person_id).where(
                    IncidentResponder.incident_id == incident.id
                )
            ).all()
        )
        if escalation is None:
            chosen = {p: why for p, why in plan.people.items() if p not in already}
        else:
            chosen = dict(plan.people)
        people = people_by_id(session, chosen)
        if escalation is not None and incident.acknowledged_by:
            chosen = {
                p: why
                for p, why in chosen.items()
                if p not in people or people[p].name != incident.acknowledged_by
            }
        fresh = [p for p in chosen if p not in already]
        team_names = {team.id: team.name for team in session.exec(select(Team)).all()}
        view = self._view(session, incident, extra_responders=fresh)
        paged: list[str] = []
        unreachable: list[str] = []
        for person_id, reason in chosen.items():
            person = people.get(person_id)
            if person is None:
                continue
            if person_id not in already:
                session.add(
                    IncidentResponder(
                        incident_id=incident.id,
                        person_id=person_id,
                        reason=str(reason)[:200],
                        step=step,
                        paged_at=self._clock(),
                    )
                )
            locale = person.locale or self._locale
            if escalation is None:
                card = cards.page_card(view, locale, reason, team_names)
                key = f"incident:{incident.id}:page:{person_id}"
            else:
                card = cards.escalation_card(
                    view, locale, reason, team_names, waited=escalation.waited, by=escalation.by
                )
                key = f"incident:{incident.id}:step:{step}:page:{person_id}"
            sent = False
            for platform in self._platforms:
                destination = dm_destination(platform, person)
                if destination is None:
                    continue
                kind, where = destination
                if _post_card(
                    session,
                    incident,
                    platform=platform,
                    kind=kind,
                    destination=where,
                    reply=card,
                    locale=locale,
                    dedupe_key=f"{key}:{platform}",
                    channel=person_id,
                    person_id=person_id,
                    step=step,
                    priority=outbox.PRIORITY_PAGE,
                ):
                    sent = True
            (paged if sent else unreachable).append(person.name)
        self.invite_to_room(session, incident, [people[p] for p in chosen if p in people], step)
        return paged, unreachable

    # the incident's own channel (policy `incidents.dedicated_channel`) -------------------
    def open_room(
        self, session: Session, incident: Incident, policy: Policy, actor: Actor
    ) -> list[str]:
        """One outbox row that creates `<prefix>-<number>-<slug>` in Slack, invites the
        responders and the declarer, and posts the card there; the card is then edited and
        its thread noted like any other. Returns the channel's name, once."""
        assert incident.id is not None
        if "slack" not in self._platforms:
            return []
        name = room_name(policy.incidents.channel_prefix, incident.id, incident.title)
        responders = session.exec(
            select(IncidentResponder.person_id).where(IncidentResponder.incident_id == incident.id)
        ).all()
        declarer = [actor.viewer.person_id] if actor.viewer.person_id else []
        people = people_by_id(session, [*declarer, *responders])
        users = sorted({p.slack_id for p in people.values() if p.slack_id})
        opened = _post_card(
            session,
            incident,
            platform="slack",
            kind=ROOM_KIND,
            destination={"name": name, "users": users},
            # Anyone may join the room later: like any channel outside the R team, no
            # confidential runbook.
            reply=cards.incident_card(self._view(session, incident), self._locale),
            locale=self._locale,
            dedupe_key=_room_key(incident.id),
            channel=name,
        )
        return [f"#{name}"] if opened else []

    def invite_to_room(
        self, session: Session, incident: Incident, people: list[Person], step: int
    ) -> None:
        """People paged after the room was opened (escalations) are invited into it too."""
        assert incident.id is not None
        users = sorted({p.slack_id for p in people if p.slack_id})
        if not users or "slack" not in self._platforms:
            return
        table = outbox.outbox_table
        room = session.execute(
            select(table.c.id).where(table.c.dedupe_key == _room_key(incident.id))
        ).scalar_one_or_none()
        if room is None:
            return
        outbox.enqueue(
            session,
            platform="slack",
            kind=INVITE_KIND,
            destination={"users": users},
            reply=Reply(text=f"INC-{incident.id}"),  # required by the outbox, never shown
            locale=self._locale,
            depends_on=room,
            dedupe_key=f"incident:{incident.id}:invite:{step}:{','.join(users)}"[:255],
            priority=outbox.PRIORITY_INCIDENT,
        )

    def post_cards(self, session: Session, incident: Incident, team_ids: list[str]) -> list[str]:
        assert incident.id is not None
        view = self._view(session, incident)
        posted: list[str] = []
        for team_id in team_ids:
            team = session.get(Team, team_id)
            if team is None:
                continue
            for platform in self._platforms:
                channel = _channel_of(platform, team)
                if channel is None:
                    continue
                where = {"conversation" if platform == "teams" else "channel": channel}
                posted_here = _post_card(
                    session,
                    incident,
                    platform=platform,
                    kind="post",
                    destination=where,
                    reply=cards.incident_card(
                        view, self._locale, for_responders=team_id == incident.team_id
                    ),
                    locale=self._locale,
                    dedupe_key=f"incident:{incident.id}:card:{platform}:{channel}",
                    channel=channel,
                )
                if posted_here and team.name not in posted:
                    posted.append(team.name)
        return posted

    def broadcast(
        self, session: Session, incident: Incident, note_key: str | None, **params: Any
    ) -> None:
        """Edit every card of the incident in place and add a note to channel threads."""
        session.flush()
        view = self._view(session, incident)
        messages = session.exec(
            select(IncidentMessage)
            .where(IncidentMessage.incident_id == incident.id)
            .order_by(col(IncidentMessage.id))
        ).all()
        team = session.get(Team, incident.team_id) if incident.team_id else None
        team_channels = {_channel_of(p, team) for p in self._platforms} if team else set()
        for message in messages:
            order = f"incident:{incident.id}:message:{message.id}"
            inside = message.person_id is not None or message.channel in team_channels
            outbox.enqueue(
                session,
                platform=message.platform,
                kind="update",
                destination={},
                reply=cards.incident_card(view, message.locale, for_responders=inside),
                locale=message.locale,
                depends_on=message.outbox_id,
                ordering_key=order,
                priority=outbox.PRIORITY_INCIDENT,
            )
            if note_key and message.person_id is None:
                kind = "respond" if message.platform == "teams" else "post"
                outbox.enqueue(
                    session,
                    platform=message.platform,
                    kind=kind,
                    destination={"thread": True},
                    reply=cards.note(note_key, message.locale, **params),
                    locale=message.locale,
                    depends_on=message.outbox_id,
                    ordering_key=order,
                    priority=outbox.PRIORITY_INCIDENT,
                )


def _post_card(
    session: Session,
    incident: Incident,
    *,
    platform: str,
    kind: str,
    destination: dict[str, Any],
    reply: Reply,
    locale: str,
    dedupe_key: str,
    channel: str,
    person_id: str | None = None,
    step: int = 0,
    priority: int = outbox.PRIORITY_INCIDENT,
) -> bool:
    """Queue one incident card and remember it, so later changes edit it in place.

    False when `dedupe_key` was queued before (the card is already out there). A page
    (a card DMed to a person) passes PRIORITY_PAGE; channel cards go just behind pages."""
    assert incident.id is not None
    outbox_id = outbox.enqueue(
        session,
        platform=platform,
        kind=kind,
        destination=destination,
        reply=reply,
        locale=locale,
        dedupe_key=dedupe_key,
        priority=priority,
    )
    if outbox_id is None:
        return False
    session.add(
        IncidentMessage(
            incident_id=incident.id,
            platform=platform,
            outbox_id=outbox_id,
            channel=channel,
            person_id=person_id,
            locale=locale,
            step=step,
        )
    )
    return True


def room_name(prefix: str, number: int, title: str) -> str:
    """`inc-12-empty-answers`: Slack channel names are lowercase letters, digits and hyphens,
    at most 80 characters; a title with no such characters (e.g. Korean) gives `inc-12`."""
    base = f"{prefix}-{number}"
    slug = _NOT_IN_NAMES.sub("-", title.lower()).strip("-")
    if not slug:
        return base
    return f"{base}-{slug}"[:MAX_CHANNEL_NAME].rstrip("-")


def _room_key(incident_id: int) -> str:
    return f"incident:{incident_id}:room:slack"


def _channel_of(platform: str, team: Team) -> str | None:
    if platform == "slack":
        return team.slack_channel
    if platform == "teams":
        return team.teams_channel
    if platform == "console":
        return f"#{team.id}"
    return None
