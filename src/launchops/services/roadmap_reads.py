"""Reading a project's roadmap state from the store, and where its messages go.

Shared by the nudge sweep, the extend/stop operations, the portfolio and the monthly report,
so that each computes a clock from the same rows (`ProjectStage` + `StageExtension`) and
speaks to the same channel: the owner's team channel, as the gates do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from launchops.delivery import outbox
from launchops.domain.roadmap import Clock, Extension, clock_of, flags_of
from launchops.messages.reply import Reply
from launchops.services.destinations import dm_destination
from launchops.services.directory import Directory, ProjectInfo, TeamEntry
from launchops.store.gate_models import ProjectStage
from launchops.store.roadmap_models import ProjectStop, StageExtension

__all__ = [
    "channel_destination",
    "clock_for",
    "clocks",
    "direct",
    "project_destinations",
    "project_flags",
    "stops",
    "team_of",
]


def _extensions(rows: list[StageExtension]) -> list[Extension]:
    return [Extension(r.version, r.due_at, r.approved_by_sponsor) for r in rows]


def clock_for(session: Session, directory: Directory, project_id: str) -> Clock | None:
    """The project's clock in its current stage; None before its first sync."""
    row = session.get(ProjectStage, project_id)
    if row is None:
        return None
    extensions = session.exec(
        select(StageExtension).where(
            StageExtension.project_id == project_id,
            StageExtension.stage == row.stage,
            StageExtension.stage_entered == row.entered_at,
        )
    ).all()
    return clock_of(
        project_id,
        row.stage,
        row.entered_at,
        directory.policy.roadmap,
        _extensions(list(extensions)),
    )


def clocks(session: Session, directory: Directory) -> dict[str, Clock]:
    """Every current project's clock, in two queries (the sweep runs every second)."""
    stages = {
        r.project_id: r
        for r in session.exec(select(ProjectStage)).all()
        if r.project_id in directory.projects
    }
    extensions: dict[str, list[StageExtension]] = {}
    for ext in session.exec(select(StageExtension).order_by(col(StageExtension.id))).all():
        row = stages.get(ext.project_id)
        if row is not None and ext.stage == row.stage and ext.stage_entered == row.entered_at:
            extensions.setdefault(ext.project_id, []).append(ext)
    return {
        pid: clock_of(
            pid,
            row.stage,
            row.entered_at,
            directory.policy.roadmap,
            _extensions(extensions.get(pid, [])),
        )
        for pid, row in stages.items()
    }


def project_flags(
    session: Session, directory: Directory, project: ProjectInfo, now: datetime
) -> tuple[str, ...]:
    """The portfolio's warnings for one project (`gate status` shows them too): over its
    timebox or hard limit until a decision moves its clock, no sponsor from PoC on, stopped."""
    clock = clock_for(session, directory, project.id)
    if clock is None:
        return ()
    stopped = session.get(ProjectStop, project.id) is not None
    return tuple(flags_of(clock, now, sponsor=project.sponsor, stopped=stopped))


def stops(session: Session) -> dict[str, ProjectStop]:
    return {r.project_id: r for r in session.exec(select(ProjectStop)).all()}


def team_of(directory: Directory, person_id: str) -> TeamEntry | None:
    """The first team (in catalog order) the person belongs to: a project's team is its
    owner's, as for gate summary cards."""
    return next((t for t in directory.teams.values() if person_id in t.members), None)


def channel_destination(platform: str, team: TeamEntry) -> tuple[str, Mapping[str, Any]] | None:
    if platform == "slack" and team.slack_channel:
        return "post", {"channel": team.slack_channel}
    if platform == "teams" and team.teams_channel:
        return "post", {"conversation": team.teams_channel}
    if platform == "console":
        return "post", {"channel": f"#{team.id}"}
    return None


def project_destinations(
    directory: Directory, project: ProjectInfo, platforms: tuple[str, ...]
) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(platform, kind, destination) of the project's channel on each platform, or the
    owner's DM where the team has no channel there: an announcement is never dropped."""
    team = team_of(directory, project.owner)
    owner = directory.people.get(project.owner)
    out: list[tuple[str, str, Mapping[str, Any]]] = []
    for platform in platforms:
        where = channel_destination(platform, team) if team else None
        if where is None and owner is not None:
            where = dm_destination(platform, owner)
        if where is not None:
            out.append((platform, where[0], where[1]))
    return out


def direct(
    session: Session,
    directory: Directory,
    platforms: tuple[str, ...],
    people: list[str],
    render: Callable[[str], Reply],
    key: str,
    default_locale: str,
) -> list[str]:
    """One DM per person and platform, each in the person's language; `key` makes each once
    (a second replica or a retried call adds none). Returns the ids of the people reached."""
    reached: list[str] = []
    for person_id in dict.fromkeys(people):
        person = directory.people.get(person_id)
        if person is None:
            continue
        locale = person.locale or default_locale
        for platform in platforms:
            destination = dm_destination(platform, person)
            if destination is None:
                continue
            outbox.enqueue(
                session,
                platform=platform,
                kind=destination[0],
                destination=destination[1],
                reply=render(locale),
                locale=locale,
                dedupe_key=f"{key}:{person_id}:{platform}"[:255],
            )
            if person_id not in reached:
                reached.append(person_id)
    return reached
