"""The portfolio and its Scale view, from a made-up history of several quarters of gates:
this quarter's arrivals in Production and the median days per stage (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from launchops.config import load_config
from launchops.domain.errors import BadCommand
from launchops.services.actors import Actor
from launchops.services.config_sync import sync_config
from launchops.services.directory import DirectoryCache
from launchops.services.gates import GateService
from launchops.services.people import PeopleService
from launchops.services.portfolio import Portfolio
from launchops.services.roadmap import RoadmapService
from launchops.store import session_scope
from launchops.store.gate_models import GateRequest, ProjectStage
from launchops.store.roadmap_models import ProjectStop
from tests.conftest import CONFIG_DIR

NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
EXTRA = ("alpha", "beta", "gamma", "delta")

# (project, from, to, decided): alpha and beta and gamma reach Production in 2026-Q4 or
# before; delta's whole history ended before the last four quarters.
HISTORY = [
    ("alpha", "explore", "poc", "2025-12-01"),
    ("alpha", "poc", "pilot", "2026-01-20"),  # PoC 50 days
    ("alpha", "pilot", "production", "2026-04-20"),  # Pilot 90 days (Q2: not this quarter)
    ("alpha", "production", "scale", "2026-10-05"),  # Production 168 days
    ("beta", "explore", "poc", "2026-02-01"),
    ("beta", "poc", "pilot", "2026-03-03"),  # PoC 30 days
    ("beta", "pilot", "production", "2026-10-20"),  # Pilot 231 days, Production this quarter
    ("gamma", "explore", "poc", "2026-06-01"),
    ("gamma", "poc", "pilot", "2026-07-01"),  # PoC 30 days
    ("gamma", "pilot", "production", "2026-11-01"),  # Pilot 123 days, Production this quarter
    ("delta", "explore", "poc", "2025-01-01"),
    ("delta", "poc", "pilot", "2025-03-01"),  # ended before the window: left out
    ("delta", "pilot", "production", "2025-09-30"),
]


def _catalog(tmp_path: Path) -> Path:
    target = tmp_path / "portfolio-config"
    target.mkdir(exist_ok=True)
    catalog = (CONFIG_DIR / "catalog.yaml").read_text().rstrip("\n") + "\n"
    for ident in EXTRA:
        catalog += (
            f"  - id: {ident}\n    name: {ident.title()}\n    stage: explore\n"
            "    owner: carol\n    sponsor: grace\n    components: [retriever]\n"
        )
    (target / "catalog.yaml").write_text(catalog)
    (target / "policy.yaml").write_text((CONFIG_DIR / "policy.yaml").read_text())
    return target


def _at(day: str) -> datetime:
    return datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)


@pytest.fixture
def portfolio(engine: Engine, tmp_path: Path) -> Portfolio:
    config = _catalog(tmp_path)
    sync_config(engine, load_config(config), source=str(config), actor="test")
    with session_scope(engine) as session:
        for project, from_stage, to_stage, day in HISTORY:
            decided = _at(day)
            session.add(
                GateRequest(
                    project_id=project,
                    from_stage=from_stage,
                    to_stage=to_stage,
                    status="passed",
                    requested_by="carol",
                    requested_at=decided - timedelta(days=2),
                    expires_at=decided + timedelta(days=5),
                    decided_at=decided,
                    requirements=[],
                    evidence=[],
                    evidence_fingerprint="-",
                )
            )
        for project in EXTRA:
            last = max((h for h in HISTORY if h[0] == project), key=lambda h: h[3])
            stage = session.get(ProjectStage, project)
            assert stage is not None
            stage.stage, stage.entered_at = last[2], _at(last[3])
            session.add(stage)
        session.add(
            ProjectStop(project_id="delta", stage="production", reason="no users", by="carol")
        )
    return Portfolio(engine, DirectoryCache(engine, check_every=0), clock=lambda: NOW)


def test_scale_view_counts_this_quarter_and_medians_over_four(portfolio: Portfolio) -> None:
    view = portfolio.scale()
    assert view.quarter == "2026-Q4"
    assert [p.project_id for p in view.reached_production] == ["beta", "gamma"]
    assert len(view.reached_production) >= view.goal == 2
    assert view.median_days == {"poc": 30.0, "pilot": 123.0, "production": 168.0}
    assert [(s.id, s.reason) for s in view.stopped] == [("delta", "no users")]


def test_projects_with_days_flags_and_filters(portfolio: Portfolio) -> None:
    rows = {row.id: row for row in portfolio.projects()}
    assert set(rows) == {"support-assistant", "ticket-summarizer", *EXTRA}
    support = rows["support-assistant"]
    # Pilot since 2026-10-01 (config): 45.5 days of an 8-week timebox and a 90-day limit.
    assert (support.stage, support.days_in_stage, support.sponsor) == ("pilot", 45.5, "dan")
    assert support.timebox == timedelta(weeks=8) and support.limit == timedelta(days=90)
    assert support.flags == () and support.team == "ml"
    assert "no_sponsor" in rows["ticket-summarizer"].flags
    assert rows["delta"].flags == ("stopped",) and rows["delta"].stopped
    assert rows["beta"].timebox is None  # Production has no clock
    assert [r.id for r in portfolio.projects(stage="production")] == ["beta", "gamma", "delta"]
    assert {r.id for r in portfolio.projects(team="ml")} == {
        "support-assistant",
        "ticket-summarizer",
    }
    assert portfolio.projects(team="data", stage="scale")[0].id == "alpha"
    for bad in ({"stage": "beta"}, {"team": "nobody"}):
        with pytest.raises(BadCommand):
            portfolio.projects(**bad)


def test_over_the_limit_is_flagged_until_decided(engine: Engine, portfolio: Portfolio) -> None:
    late = Portfolio(
        engine, DirectoryCache(engine, check_every=0), clock=lambda: NOW + timedelta(days=60)
    )
    [support] = [r for r in late.projects() if r.id == "support-assistant"]
    assert support.flags == ("over_limit",)
    # A decision ends it: the sponsor carries the stage past its limit (an Extend).
    directory = DirectoryCache(engine, check_every=0)
    clock = lambda: NOW + timedelta(days=60)  # noqa: E731
    gates = GateService(engine, platforms=("slack",), directory=directory, clock=clock)
    roadmap = RoadmapService(
        engine, gates=gates, platforms=("slack",), directory=directory, clock=clock
    )
    sponsor = PeopleService(engine).identify("slack", ("U0DAN",))
    roadmap.extend("support-assistant", "2w", "worth two more weeks", Actor(sponsor, "Dan"))
    [support] = [r for r in late.projects() if r.id == "support-assistant"]
    assert support.flags == ()


def test_the_chat_answer_lists_flags_and_the_scale_view(
    engine: Engine, portfolio: Portfolio
) -> None:
    from launchops.messages.roadmap_views import portfolio_reply, scale_lines

    late = Portfolio(
        engine, DirectoryCache(engine, check_every=0), clock=lambda: NOW + timedelta(days=60)
    )
    reply = portfolio_reply(late.projects(stage="pilot"), "en")
    assert reply.private and "Support assistant — Pilot, 105 days" in reply.text
    assert "over its hard limit" in reply.text
    scale = scale_lines(portfolio.scale(), "en")
    assert "Reached Production in 2026-Q4: 2 (goal 2)" in scale
    assert "Stopped: Delta — no users" in scale
    assert "프로젝트" in portfolio_reply(late.projects(), "ko").text
