"""The weekly failure-review digest: when it is due, who sends it, what goes out.

Exactly once per channel and ISO week (DESIGN.md §2, §5): sending a team's digest inserts a
`DigestClaim` row `(channel, iso_week, round 0)` and, in the same transaction, the digest's
outbox rows. A second replica, a double fire or a catch-up after a restart loses the insert
(`ON CONFLICT DO NOTHING`; on PostgreSQL the loser waits for the winner's commit and then
finds the row) and sends nothing. `--force` claims the next round.

When: each team's digest is due at the policy's `digest.when` in `digest.timezone` (a team's
own `digest:` in the catalog overrides either), in the ISO week of that time zone. The
scheduler asks every minute; whatever is due and unclaimed for the current week goes out, so
a bot that was down at the time sends it once when it is back. Only the current week is ever
considered (a week long past is never sent), and not a week whose time came before the
organisation's first config sync (a new install does not greet its channels with a digest).

What: the seven days before the send (services/digest_data.py), one top-level message per
channel, the rest in its thread, then the eight-week trend chart (Slack: an `upload` row;
Teams: a card with the PNG in it).
Sponsors: at the policy's `digest.when`, each sponsor named on a project gets one direct
message with a short line per project of theirs (the portfolio's row), claimed the same way
as channel `sponsor:<person id>`.
All rows are `PRIORITY_BULK`: a page never waits behind a digest burst.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session

from launchops.delivery import outbox
from launchops.messages import digest_views as views
from launchops.messages.i18n import t
from launchops.messages.reply import Reply
from launchops.services.config_sync import installed_at
from launchops.services.destinations import dm_destination
from launchops.services.digest_chart import trend_png
from launchops.services.digest_data import TREND_WEEKS, WEEK, DigestData, collect
from launchops.services.digest_followup import DigestFollowup
from launchops.services.directory import Directory, DirectoryCache, load_directory
from launchops.services.portfolio import Portfolio, ProjectRow
from launchops.store import read_scope, session_scope
from launchops.store.digest_models import DigestClaim
from launchops.store.types import utcnow

__all__ = ["UPLOAD_KIND", "DigestService", "SentDigest", "UnknownTeam", "iso_week", "scheduled_at"]

log = structlog.get_logger(__name__)

UPLOAD_KIND: Final = "upload"  # outbox kind: a file into a thread (adapters/slack/sender.py)
_DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_claims = DigestClaim.__table__  # type: ignore[attr-defined]
SPONSOR_CHANNEL: Final = "sponsor:"  # claim channel of a sponsor's weekly line
SPONSORS: Final = "sponsors"  # its claim's (and SentDigest's) team_id


class UnknownTeam(LookupError):
    pass


@dataclass(frozen=True)
class SentDigest:
    team_id: str
    channel: str  # `<platform>:<id>`
    iso_week: str
    round: int
    quiet: bool
    outbox_id: int


def iso_week(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def scheduled_at(when: str, zone: str, now: datetime) -> tuple[str, datetime]:
    """(ISO week label, the digest's moment in that week as UTC) for the week `now` falls in,
    both in the time zone `zone`."""
    local = now.astimezone(ZoneInfo(zone))
    day, clock = when.split()
    hour, minute = (int(part) for part in clock.split(":"))
    monday = local.date() - timedelta(days=local.weekday())
    target = monday + timedelta(days=_DAYS.index(day))
    moment = datetime(target.year, target.month, target.day, hour, minute, tzinfo=ZoneInfo(zone))
    return iso_week(local), moment.astimezone(now.tzinfo)


def _channels(directory: Directory, team_id: str, platforms: tuple[str, ...]) -> list[str]:
    team = directory.teams[team_id]
    found = []
    if "slack" in platforms and team.slack_channel:
        found.append(f"slack:{team.slack_channel}")
    if "teams" in platforms and team.teams_channel:
        found.append(f"teams:{team.teams_channel}")
    return found


class DigestService:
    def __init__(
        self,
        engine: Engine,
        *,
        platforms: tuple[str, ...],
        locale: str = "en",
        clock: Callable[[], datetime] = utcnow,
        on_enqueue: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._platforms = platforms
        self._locale = locale
        self._clock = clock
        self._on_enqueue = on_enqueue or (lambda: None)
        # Assign / Mark reviewed on each pattern, and next week's account of them.
        self.followup = DigestFollowup(engine, locale=locale)
        # Sponsors' weekly line: the portfolio's rows of the projects each one sponsors.
        self._portfolio = Portfolio(engine, DirectoryCache(engine, check_every=0), clock)

    def set_wakeup(self, wake: Callable[[], None]) -> None:
        self._on_enqueue = wake

    # reading -----------------------------------------------------------------------------
    def build(self, team_id: str, *, end: datetime | None = None) -> DigestData:
        """The figures of the seven days before `end` (default: now) for one team."""
        with read_scope(self._engine) as session:
            directory = load_directory(session)
            if team_id not in directory.teams:
                raise UnknownTeam(team_id)
            return collect(session, directory, team_id, end or self._clock())

    def preview(self, team_id: str, locale: str | None = None) -> Reply:
        """This week's digest for one team in one private reply (CLI preview, chat `digest`)."""
        locale = locale or self._locale
        try:
            data = self.build(team_id)
        except UnknownTeam:
            return Reply(text=t("digest.no_team", locale, team=team_id), private=True)
        return views.whole(data, iso_week(data.end), locale)

    def team_ids(self) -> list[str]:
        with read_scope(self._engine) as session:
            return list(load_directory(session).teams)

    # sending -----------------------------------------------------------------------------
    def run_due(self) -> list[SentDigest]:
        """The scheduler's job: send every digest due this week and not yet claimed."""
        now = self._clock()
        with read_scope(self._engine) as session:
            directory = load_directory(session)
            since = installed_at(session)
            if since is None:
                return []
            due: dict[str, str] = {}
            for team_id in directory.teams:
                when, zone = directory.policy.digest.for_team(team_id)
                week, moment = scheduled_at(when, zone, now)
                if since <= moment <= now:
                    due[team_id] = week
            week, moment = scheduled_at(
                directory.policy.digest.when, directory.policy.digest.timezone, now
            )
            sponsor_week = week if since <= moment <= now else None
            weeks = set(due.values()) | ({sponsor_week} if sponsor_week else set())
            claimed = _claimed(session, weeks) if weeks else set()
        sent: list[SentDigest] = []
        for team_id, week in due.items():
            channels = _channels(directory, team_id, self._platforms)
            if all((channel, week) in claimed for channel in channels):
                continue  # the cheap check: no figures are read for a week already sent
            sent += self._send_team(directory, team_id, week, now, force=False, by="scheduler")
        if sponsor_week and any((c, sponsor_week) not in claimed for c in _sponsors(directory)):
            sent += self._send_sponsors(directory, sponsor_week, force=False, by="scheduler")
        return sent

    def send(
        self, *, team_id: str | None = None, force: bool = False, by: str = "cli"
    ) -> list[SentDigest]:
        """`digest send --now` (what has not been sent this week) or `--force` (again)."""
        now = self._clock()
        with read_scope(self._engine) as session:
            directory = load_directory(session)
        if team_id is not None and team_id not in directory.teams:
            raise UnknownTeam(team_id)
        sent: list[SentDigest] = []
        for team in [team_id] if team_id else list(directory.teams):
            when, zone = directory.policy.digest.for_team(team)
            week, _ = scheduled_at(when, zone, now)
            sent += self._send_team(directory, team, week, now, force=force, by=by)
        if team_id is None:
            policy = directory.policy.digest
            week, _ = scheduled_at(policy.when, policy.timezone, now)
            sent += self._send_sponsors(directory, week, force=force, by=by)
        return sent

    def _send_sponsors(
        self, directory: Directory, week: str, *, force: bool, by: str
    ) -> list[SentDigest]:
        """Each sponsor's line on their projects, in a direct message on every platform they
        are on, once per (sponsor, ISO week): claimed as channel `sponsor:<person id>`."""
        theirs: dict[str, list[ProjectRow]] = {}
        for row in self._portfolio.projects():
            if row.sponsor and not row.stopped:
                theirs.setdefault(row.sponsor, []).append(row)
        sent: list[SentDigest] = []
        for person_id, rows in theirs.items():
            person = directory.people.get(person_id)
            if person is None:
                continue
            channel = f"{SPONSOR_CHANNEL}{person_id}"
            locale = person.locale or self._locale
            with session_scope(self._engine) as session:
                claimed = _claim(session, channel, week, SPONSORS, force=force, by=by)
                if claimed is None:
                    continue
                for platform in self._platforms:
                    where = dm_destination(platform, person)
                    if where is not None:
                        outbox.enqueue(
                            session,
                            platform=platform,
                            kind=where[0],
                            destination=where[1],
                            reply=views.sponsor_line(rows, week, locale),
                            locale=locale,
                            priority=outbox.PRIORITY_BULK,
                            dedupe_key=f"digest:{channel}:{week}:{claimed[1]}:{platform}",
                        )
            sent.append(SentDigest(SPONSORS, channel, week, claimed[1], False, 0))
        if sent:
            log.info("digest.sponsors_sent", week=week, sponsors=len(sent), by=by)
            self._on_enqueue()
        return sent

    def _send_team(
        self,
        directory: Directory,
        team_id: str,
        week: str,
        now: datetime,
        *,
        force: bool,
        by: str,
    ) -> list[SentDigest]:
        channels = _channels(directory, team_id, self._platforms)
        if not channels:
            return []
        with read_scope(self._engine) as session:
            data = collect(session, directory, team_id, now)
        if not data.quiet:
            data.earlier.extend(self.followup.earlier(team_id, week))
            if data.patterns:
                with session_scope(self._engine) as session:
                    ids = self.followup.record(session, team_id, week, data.patterns)
                data.pattern_ids.extend(ids)
        chart = None if data.quiet else _chart(data)
        sent = []
        for channel in channels:
            with session_scope(self._engine) as session:
                claimed = _claim(session, channel, week, team_id, force=force, by=by)
                if claimed is None:
                    continue
                claim_id, round_ = claimed
                top = self._enqueue(session, channel, week, round_, data, chart)
                session.execute(
                    _claims.update().where(_claims.c.id == claim_id).values(outbox_id=top)
                )
            sent.append(SentDigest(team_id, channel, week, round_, data.quiet, top))
        if sent:
            log.info("digest.sent", team=team_id, week=week, channels=len(sent), by=by)
            self._on_enqueue()
        return sent

    def _enqueue(
        self,
        session: Session,
        channel: str,
        week: str,
        round_: int,
        data: DigestData,
        chart: bytes | None,
    ) -> int:
        platform, target = channel.split(":", 1)
        locale = self._locale
        key = f"digest:{channel}:{week}:{round_}"
        where: dict[str, Any] = {"conversation" if platform == "teams" else "channel": target}
        head = views.quiet(data, week, locale) if data.quiet else views.summary(data, week, locale)
        common: dict[str, Any] = {
            "platform": platform,
            "locale": locale,
            "ordering_key": key,
            "priority": outbox.PRIORITY_BULK,
        }
        top = outbox.enqueue(
            session, kind="post", destination=where, reply=head, dedupe_key=f"{key}:top", **common
        )
        assert top is not None  # the claim is new, so is its key
        if data.quiet:
            return top
        reply_kind = "respond" if platform == "teams" else "post"
        for n, section in enumerate(views.sections(data, locale)):
            outbox.enqueue(
                session,
                kind=reply_kind,
                destination={"thread": True},
                reply=section,
                dedupe_key=f"{key}:{n}",
                depends_on=top,
                **common,
            )
        if chart is not None and platform == "slack":
            outbox.enqueue(
                session,
                kind=UPLOAD_KIND,
                destination={
                    "thread": True,
                    "filename": f"failure-trend-{week}.png",
                    "title": t("digest.chart.title", locale),
                    "png": base64.b64encode(chart).decode("ascii"),
                },
                reply=Reply(text=views.chart_comment(locale)),
                dedupe_key=f"{key}:chart",
                depends_on=top,
                **common,
            )
        elif chart is not None and platform == "teams":
            outbox.enqueue(
                session,
                kind=reply_kind,
                destination={"thread": True},
                reply=views.chart(chart, locale),
                dedupe_key=f"{key}:chart",
                depends_on=top,
                **common,
            )
        return top


def _sponsors(directory: Directory) -> list[str]:
    """The claim channels of the sponsors named on projects (`sponsor:<person id>`)."""
    named = (p.sponsor for p in directory.projects.values() if p.sponsor)
    return [f"{SPONSOR_CHANNEL}{person}" for person in dict.fromkeys(named)]


def _chart(data: DigestData) -> bytes:
    labels = [(data.end - WEEK * (TREND_WEEKS - n)).strftime("%m-%d") for n in range(TREND_WEEKS)]
    counts = data.trend or [0] * TREND_WEEKS
    return trend_png(counts, labels, "Failure cases per week, last 8 weeks")


def _claimed(session: Session, weeks: set[str]) -> set[tuple[str, str]]:
    rows = session.execute(
        select(_claims.c.channel, _claims.c.iso_week).where(
            _claims.c.round == 0, _claims.c.iso_week.in_(sorted(weeks))
        )
    ).all()
    return {(str(channel), str(week)) for channel, week in rows}


def _claim(
    session: Session, channel: str, week: str, team_id: str, *, force: bool, by: str
) -> tuple[int, int] | None:
    """(claim id, round) when this caller won `(channel, week, round)`, else None."""
    round_ = 0
    if force:
        latest = session.execute(
            select(func.max(_claims.c.round)).where(
                _claims.c.channel == channel, _claims.c.iso_week == week
            )
        ).scalar_one_or_none()
        round_ = 0 if latest is None else int(latest) + 1
    values = {
        "channel": channel,
        "iso_week": week,
        "round": round_,
        "team_id": team_id,
        "claimed_at": utcnow(),
        "claimed_by": by[:64],
    }
    insert: postgresql.Insert | sqlite.Insert
    if session.get_bind().dialect.name == "postgresql":
        insert = postgresql.insert(_claims).values(values).on_conflict_do_nothing()
    else:
        insert = sqlite.insert(_claims).values(values).on_conflict_do_nothing()
    new_id = session.execute(insert.returning(_claims.c.id)).scalar_one_or_none()
    return None if new_id is None else (int(new_id), round_)
