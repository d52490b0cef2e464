"""The change ledger beside the incidents: the weekly digest lists the week's deployments and
rollbacks of the team's components in its thread, and the monthly report the month's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from launchops.config import load_config
from launchops.messages import digest_views
from launchops.messages.i18n import t
from launchops.messages.roadmap_views import monthly_report
from launchops.services.component_index import ComponentIndex
from launchops.services.config_sync import sync_config
from launchops.services.digest import DigestService
from launchops.services.directory import DirectoryCache
from launchops.services.ledger import LedgerService, NewDeployment
from launchops.services.monthly_report import MonthlyReporter
from launchops.store import session_scope
from launchops.store.gate_models import ProjectStage
from launchops.store.models import ConfigRevision
from tests.conftest import CONFIG_DIR

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
NOV = datetime(2026, 11, 1, tzinfo=UTC)


def _synced(engine: Engine) -> LedgerService:
    sync_config(engine, load_config(CONFIG_DIR), source="config", actor="test")
    with Session(engine) as session:
        session.execute(update(ConfigRevision).values(loaded_at=datetime(2026, 10, 1, tzinfo=UTC)))
        session.commit()
    return LedgerService(engine, ComponentIndex(DirectoryCache(engine)), clock=lambda: NOW)


def test_the_digest_lists_the_weeks_deployments_and_rollbacks(engine: Engine) -> None:
    ledger = _synced(engine)
    ledger.record(NewDeployment("rag", "v1", deployed_at=NOW - timedelta(days=9)))  # last week
    ledger.record(
        NewDeployment("rag", "v2", actor="carol", deployed_at=NOW - timedelta(days=2, hours=1))
    )
    ledger.record(
        NewDeployment("rag", "v1", kind="rollback", actor="ci", deployed_at=NOW - timedelta(days=2))
    )
    ledger.record(NewDeployment("model", "m7", deployed_at=NOW - timedelta(days=1)))  # ML team
    digests = DigestService(engine, platforms=("slack",), locale="en", clock=lambda: NOW)

    data = digests.build("data")
    assert [(d.version, d.kind) for d in data.deployments] == [("v2", "deploy"), ("v1", "rollback")]
    assert not data.quiet  # a week with only changes still has something to say
    [section] = [
        r for r in digest_views.sections(data, "en") if r.text.startswith("Deployments and")
    ]
    assert "1 deployment(s), 1 rollback(s)" in section.text
    assert "Retriever v2 to production 2026-11-21 09:00 UTC by Carol Jones" in section.text
    assert "Retriever rolled back to v1 in production 2026-11-21 10:00 UTC by ci" in section.text
    korean = digest_views.sections(data, "ko")
    assert any(r.text.startswith(t("ledger.period.title", "ko")) for r in korean)

    ml = digests.build("ml")
    assert [d.component_name for d in ml.deployments] == ["Answer model"]
    product = digests.build("product")
    assert product.deployments == []
    assert not any(
        r.text.startswith("Deployments and") for r in digest_views.sections(product, "en")
    )


def test_the_monthly_report_lists_the_months_deployments(engine: Engine) -> None:
    ledger = _synced(engine)
    with session_scope(engine) as session:
        stage = session.get(ProjectStage, "support-assistant")
        assert stage is not None
        stage.stage = "production"
        session.add(stage)
    ledger.record(NewDeployment("rag", "v2", actor="judy", deployed_at=NOV + timedelta(days=3)))
    ledger.record(NewDeployment("rag", "v1", kind="rollback", deployed_at=NOV + timedelta(days=4)))
    ledger.record(NewDeployment("rag", "v3", deployed_at=NOV - timedelta(days=2)))  # October
    reporter = MonthlyReporter(
        engine,
        platforms=("slack",),
        directory=DirectoryCache(engine, check_every=0),
        clock=lambda: NOW,
    )
    [report] = reporter.build("2026-11")
    assert [(d.version, d.kind) for d in report.deployments] == [
        ("v2", "deploy"),
        ("v1", "rollback"),
    ]
    reply = monthly_report(report, "en")
    assert (
        "Deployments and rollbacks: 1 deployment(s), 1 rollback(s) — Retriever v2 to production "
        "2026-11-04 00:00 UTC by Judy Park; Retriever rolled back to v1 in production "
        "2026-11-05 00:00 UTC"
    ) in reply.text
    [october] = reporter.build("2026-10")
    assert [d.version for d in october.deployments] == ["v3"]
    [september] = reporter.build("2026-09")
    assert "No deployment recorded." in monthly_report(september, "en").text
    assert t("ledger.period.none", "ko") in monthly_report(september, "ko").text
