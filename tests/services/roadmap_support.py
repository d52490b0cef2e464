"""Shared pieces of the roadmap tests: the example org with stage clocks in seconds, a clock
that starts at the real sync time, services wired as main.py wires them, and readers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from launchops.services.actors import Actor
from launchops.services.directory import DirectoryCache
from launchops.services.gates import GateService
from launchops.services.people import PeopleService
from launchops.services.roadmap import RoadmapService
from launchops.services.roadmap_nudges import RoadmapNudger
from launchops.store import session_scope
from launchops.store.models import OutboxMessage
from launchops.store.types import utcnow
from tests.conftest import CONFIG_DIR

# ticket-summarizer: PoC, owner bob, sponsor dan (added here); support-assistant: Pilot,
# owner alice, sponsor dan, its clock started at the sync (stage_entered removed).
OWNER, SPONSOR, STRANGER = "U0BOB", "U0DAN", "U0CAROL"
POC_BUTTON = "ticket-summarizer:poc:1"


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def fast_roadmap(tmp_path: Path, *, timebox: int = 60, limit: int = 120) -> Path:
    target = tmp_path / "fast-roadmap"
    target.mkdir(exist_ok=True)
    catalog = (CONFIG_DIR / "catalog.yaml").read_text()
    assert "    stage_entered: 2026-10-01\n" in catalog
    catalog = catalog.replace("    stage_entered: 2026-10-01\n", "")
    catalog = catalog.replace("    owner: bob\n", "    owner: bob\n    sponsor: dan\n", 1)
    (target / "catalog.yaml").write_text(catalog)
    policy = (CONFIG_DIR / "policy.yaml").read_text()
    for line in ("poc:     {timebox: 4w, limit: 6w}", "pilot:   {timebox: 8w, limit: 90d}"):
        assert line in policy
        stage = line.split(":")[0]
        policy = policy.replace(line, f"{stage}: {{timebox: {timebox}s, limit: {limit}s}}")
    (target / "policy.yaml").write_text(policy)
    return target


def services(
    engine: Engine, clock: Clock, platforms: tuple[str, ...] = ("slack",)
) -> tuple[RoadmapService, RoadmapNudger, GateService]:
    directory = DirectoryCache(engine, check_every=0)
    gates = GateService(engine, platforms=platforms, directory=directory, clock=clock)
    roadmap = RoadmapService(
        engine, gates=gates, platforms=platforms, directory=directory, clock=clock
    )
    nudger = RoadmapNudger(engine, platforms=platforms, directory=directory, clock=clock)
    return roadmap, nudger, gates


def actor(engine: Engine, slack_id: str) -> Actor:
    viewer = PeopleService(engine).identify("slack", (slack_id,))
    return Actor(viewer=viewer, label=viewer.name or slack_id)


def roadmap_messages(engine: Engine) -> list[OutboxMessage]:
    with session_scope(engine) as session:
        rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
        return [r for r in rows if (r.dedupe_key or "").startswith("roadmap:")]
