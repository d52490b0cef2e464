"""The monthly operations report of a Production project: real incidents, SLO figures, cost,
failures and gates from the store; sent to its channel and its sponsor once per month."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from launchops.config import load_config
from launchops.domain.errors import BadCommand
from launchops.messages.roadmap_views import monthly_report
from launchops.services.config_sync import sync_config
from launchops.services.directory import DirectoryCache
from launchops.services.monthly_report import MonthlyReporter, first_working_day
from launchops.store import make_engine, session_scope
from launchops.store.feedback_models import FailureCase, SliSample
from launchops.store.gate_models import GateRequest, ProjectStage
from launchops.store.models import ConfigRevision, Incident, OutboxMessage
from tests.conftest import CONFIG_DIR

NOV = datetime(2026, 11, 1, tzinfo=UTC)


def _incident(severity: str, declared: datetime, ack: int | None, resolve: int | None) -> dict:
    return {
        "severity": severity,
        "status": "resolved" if resolve else "open",
        "title": f"{severity} on the retriever",
        "component_id": "retriever",
        "team_id": "data",
        "source": "api",
        "declared_by": "test",
        "declared_at": declared,
        "acknowledged_at": declared + timedelta(minutes=ack) if ack else None,
        "resolved_at": declared + timedelta(minutes=resolve) if resolve else None,
        "policy": {},
        "origin": {},
        "escalation_step": 0,
    }


@pytest.fixture
def synced(engine: Engine) -> Engine:
    sync_config(engine, load_config(CONFIG_DIR), source="config", actor="test")
    _installed(engine, datetime(2026, 10, 15, tzinfo=UTC))
    with session_scope(engine) as session:
        stage = session.get(ProjectStage, "support-assistant")
        assert stage is not None
        stage.stage = "production"
        session.add(stage)
        for day, (requests, successes, p95, cost) in enumerate(
            [(1000, 998, 1.2, 300.0), (3000, 2990, 2.0, 500.0)]
        ):
            start = NOV + timedelta(days=day + 3)
            session.add(
                SliSample(
                    component_id="retriever",
                    period_start=start,
                    period_end=start + timedelta(minutes=5),
                    requests=requests,
                    successes=successes,
                    latency_p95=p95,
                    cost=cost,
                )
            )
        for n in range(3):
            session.add(
                FailureCase(
                    component_id="prompts",
                    kind="error",
                    summary=f"case {n}",
                    occurred_at=NOV + timedelta(days=n),
                )
            )
        session.add(
            FailureCase(
                component_id="prompts",
                kind="error",
                summary="october",
                occurred_at=NOV - timedelta(days=3),
            )
        )
        session.add(
            GateRequest(
                project_id="support-assistant",
                from_stage="pilot",
                to_stage="production",
                status="passed",
                requested_by="alice",
                requested_at=NOV + timedelta(days=9),
                expires_at=NOV + timedelta(days=16),
                decided_at=NOV + timedelta(days=10),
                requirements=[],
                evidence=[],
                evidence_fingerprint="-",
            )
        )
    with Session(engine) as session:
        rows = [
            _incident("p1", NOV + timedelta(days=5), 10, 70),
            _incident("p2", NOV + timedelta(days=6), 30, None),
            _incident("p2", NOV + timedelta(days=40), 5, 10),  # December: not in the report
        ]
        session.execute(insert(Incident), rows)
        session.commit()
    return engine


def _installed(engine: Engine, when: datetime) -> None:
    """Date the organisation's first config sync (scheduled reports never cover a month that
    ended before it)."""
    with Session(engine) as session:
        session.execute(update(ConfigRevision).values(loaded_at=when))
        session.commit()


def _reporter(engine: Engine, now: datetime) -> MonthlyReporter:
    return MonthlyReporter(
        engine,
        platforms=("slack",),
        directory=DirectoryCache(engine, check_every=0),
        clock=lambda: now,
    )


def _reports(engine: Engine) -> list[OutboxMessage]:
    with session_scope(engine) as session:
        rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
        return [r for r in rows if (r.dedupe_key or "").startswith("report:")]


def test_the_report_reads_the_store(synced: Engine) -> None:
    [report] = _reporter(synced, NOV).build("2026-11")
    assert report.project_id == "support-assistant"
    assert report.success_rate == pytest.approx(3988 / 4000)
    assert report.latency_p95_ms == pytest.approx((1.2 * 1000 + 2.0 * 3000) / 4000 * 1000)
    assert (report.cost, report.budget) == (800.0, 2000.0)
    assert report.incidents == {"p1": 1, "p2": 1}
    assert report.mean_ack == timedelta(minutes=20)
    assert report.mean_resolve == timedelta(minutes=70)
    assert (report.failures, report.failures_before, report.gates_decided) == (3, 1, 1)
    text = monthly_report(report, "en").text
    assert report.times == {
        "p1": (timedelta(minutes=10), timedelta(minutes=70)),
        "p2": (timedelta(minutes=30), None),
    }
    assert "99.70%" in text and "800 / 2000" in text and "1800 ms / 3000 ms" in text
    assert "P1 1 (10 min / 70 min); P2 1 (30 min / —)" in text
    assert "월간 운영 보고서" in monthly_report(report, "ko").text


def test_sent_once_per_month_to_channel_and_sponsor_then_resent(synced: Engine) -> None:
    reporter = _reporter(synced, NOV)
    assert reporter.send("2026-11", by="scheduler") == 1
    assert _reporter(synced, NOV).send("2026-11", by="scheduler") == 0  # another replica
    destinations = [m.destination for m in _reports(synced)]
    assert destinations == [{"channel": "C0MLTEAM"}, {"user": "U0DAN"}]
    assert reporter.send("2026-11", project="support-assistant", force=True) == 1
    assert len(_reports(synced)) == 4
    with pytest.raises(BadCommand):
        reporter.build("2026-13")


def test_due_from_nine_on_the_first_working_day(synced: Engine) -> None:
    # The example policy's digest time zone is Asia/Seoul (UTC+9); 2026-12-01 is a Tuesday.
    assert first_working_day(2026, 12) == 1 and first_working_day(2026, 11) == 2
    assert _reporter(synced, datetime(2026, 11, 30, 23, 0, tzinfo=UTC)).run_due() == 0
    assert _reporter(synced, datetime(2026, 12, 1, 0, 30, tzinfo=UTC)).run_due() == 1
    assert _reporter(synced, datetime(2026, 12, 3, 0, 30, tzinfo=UTC)).run_due() == 0
    assert {m.dedupe_key.split(":")[2] for m in _reports(synced) if m.dedupe_key} == {"2026-11"}


def test_a_month_that_ended_before_the_first_sync_is_never_sent(synced: Engine) -> None:
    # Installed on 1 December: November's report would speak of a month the bot never saw.
    _installed(synced, datetime(2026, 12, 1, 0, 10, tzinfo=UTC))
    assert _reporter(synced, datetime(2026, 12, 1, 0, 30, tzinfo=UTC)).run_due() == 0
    assert _reports(synced) == []
    # A month it did see is sent as usual (January 2027's first working day is the 1st).
    assert _reporter(synced, datetime(2027, 1, 1, 0, 30, tzinfo=UTC)).run_due() == 1


def test_replicas_racing_on_the_first_working_day_send_each_report_once(
    db_url: str, synced: Engine
) -> None:
    """Several replicas (threads with engines of their own) whose monthly check fires at the
    same moment: one report to the channel and one to the sponsor, whoever won."""
    barrier = threading.Barrier(3)
    sent: list[int] = []

    def replica() -> None:
        engine = make_engine(db_url)
        try:
            reporter = _reporter(engine, datetime(2026, 12, 1, 0, 30, tzinfo=UTC))
            barrier.wait()
            sent.append(reporter.run_due())
        finally:
            engine.dispose()

    threads = [threading.Thread(target=replica) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(sent) == [0, 0, 1]
    assert [m.destination for m in _reports(synced)] == [{"channel": "C0MLTEAM"}, {"user": "U0DAN"}]
