"""Shared pieces of the gate tests: a still clock, the example org with gate deadlines in
seconds, actors by Slack id, and readers for what a gate wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from launchops.config import load_config
from launchops.services.actors import Actor
from launchops.services.config_sync import sync_config
from launchops.services.directory import DirectoryCache
from launchops.services.gates import GateService
from launchops.services.people import PeopleService
from launchops.store import session_scope
from launchops.store.gate_models import GateDecision, GateRequest, ProjectStage
from launchops.store.models import AuditEntry, OutboxMessage
from tests.conftest import CONFIG_DIR

APPROVERS = {"U0DAN": "legal", "U0ERIN": "security", "U0FRANK": "cs", "U0GRACE": "business"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def fast_gates(tmp_path: Path, *, expire: str = "10s", remind: str = "3s") -> Path:
    """The example config with a gate's expiry and reminders in seconds."""
    target = tmp_path / "fast-gates"
    target.mkdir(exist_ok=True)
    (target / "catalog.yaml").write_text((CONFIG_DIR / "catalog.yaml").read_text())
    policy = (CONFIG_DIR / "policy.yaml").read_text()
    assert "expire_after: 7d" in policy and "remind_every: 1d" in policy
    policy = policy.replace("expire_after: 7d", f"expire_after: {expire}")
    (target / "policy.yaml").write_text(
        policy.replace("remind_every: 1d", f"remind_every: {remind}")
    )
    return target


def sync(engine: Engine, directory: Path = CONFIG_DIR) -> None:
    sync_config(engine, load_config(directory), source=str(directory), actor="test")


def service(engine: Engine, clock: Clock, platforms: tuple[str, ...] = ("slack",)) -> GateService:
    return GateService(
        engine, platforms=platforms, directory=DirectoryCache(engine, check_every=0), clock=clock
    )


def actor(engine: Engine, slack_id: str) -> Actor:
    viewer = PeopleService(engine).identify("slack", (slack_id,))
    return Actor(viewer=viewer, label=viewer.name or slack_id)


def outbox(engine: Engine) -> list[OutboxMessage]:
    with session_scope(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


def dms(engine: Engine) -> list[OutboxMessage]:
    return [m for m in outbox(engine) if m.kind == "dm"]


def requests(engine: Engine) -> list[GateRequest]:
    with session_scope(engine) as session:
        return list(session.exec(select(GateRequest).order_by(col(GateRequest.id))).all())


def decisions(engine: Engine) -> list[GateDecision]:
    with session_scope(engine) as session:
        return list(session.exec(select(GateDecision).order_by(col(GateDecision.id))).all())


def stage_of(engine: Engine, project: str) -> str:
    with session_scope(engine) as session:
        row = session.get(ProjectStage, project)
        assert row is not None
        return row.stage


def audit_actions(engine: Engine, prefix: str = "gate.") -> list[str]:
    with session_scope(engine) as session:
        rows = session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
        return [r.action for r in rows if r.action.startswith(prefix)]


def announcements(engine: Engine) -> list[OutboxMessage]:
    return [m for m in outbox(engine) if (m.dedupe_key or "").startswith("gate:1:announce:")]
