"""The incident machinery as operations see it: /metrics of the running app.

The outbox gauges are read from the store at scrape time, so rows written behind the app's
back (here: messages left pending while the dispatcher is stopped) show up; the sweep's
timestamp is set by the scheduler's own job.
"""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from launchops.delivery.outbox import PENDING, outbox_table
from launchops.services.incidents import Actor
from launchops.store import session_scope
from launchops.store.types import utcnow
from tests.e2e.harness import make_settings, running_app

pytestmark = pytest.mark.e2e

SWEEP = "launchops_escalation_sweep_last_success_timestamp_seconds"
DEPTH = "launchops_outbox_pending_messages"
AGE = "launchops_outbox_oldest_pending_age_seconds"


def scrape(client: httpx.Client) -> dict[str, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name in (SWEEP, DEPTH, AGE)
    }


def test_metrics_show_the_sweep_and_the_outbox(db_url: str) -> None:
    started = time.time()
    with running_app(make_settings(db_url)) as app, app.client() as client:
        deadline = time.monotonic() + 15
        while scrape(client).get(SWEEP, 0.0) < started and time.monotonic() < deadline:
            time.sleep(0.2)
        first = scrape(client)
        assert first[SWEEP] >= started  # the sweep ran since the app started
        assert first[SWEEP] <= time.time()
        assert (first[DEPTH], first[AGE]) == (0.0, 0.0)

        app.ctx.dispatcher.stop()  # nothing is delivered from here on
        declared = app.ctx.incidents.declare(
            level="p1", title="empty answers", component_query="rag", actor=Actor.system_actor("t")
        )
        assert declared.paged
        with session_scope(app.ctx.engine) as session:
            # The pending rows (the P1's pages and card; a roadmap nudge the scheduler sent
            # before the dispatcher stopped is not pending and not counted).
            written = session.execute(
                update(outbox_table)
                .where(outbox_table.c.status == PENDING)
                .values(
                    created_at=utcnow() - timedelta(minutes=5),
                    next_attempt_at=utcnow() - timedelta(minutes=5),
                )
            ).rowcount
        assert written > 0

        backlog = scrape(client)
        assert backlog[DEPTH] == written
        assert 300 <= backlog[AGE] < 3600
