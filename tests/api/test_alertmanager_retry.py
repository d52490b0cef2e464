"""The webhook answers 5xx whenever an alert was not handled, so Alertmanager retries.

Alertmanager drops a notification answered 4xx and retries one answered 5xx; 200 means every
alert was opened, found open, resolved or deliberately ignored. Faults here are real ones: a
table locked by another connection, a config gap, a corrupt row in the store.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlmodel import Session, func, select

from launchops.api.alerts import severity_for
from launchops.config import load_config
from launchops.config.models import AlertPolicy
from launchops.services.config_sync import sync_config
from launchops.store.models import ConfigRevision, Incident
from tests.api.test_alertmanager import alert, api_app, incidents, notification, post
from tests.conftest import CONFIG_DIR

pytestmark = pytest.mark.e2e

LOCK_TIMEOUT_MS = 300


def with_lock_timeout(url: str) -> str:
    """The app's database URL with a libpq lock timeout, as an operator would configure it:
    a statement that waits on a lock fails after LOCK_TIMEOUT_MS instead of hanging."""
    return (
        make_url(url)
        .update_query_dict({"options": f"-c lock_timeout={LOCK_TIMEOUT_MS}"})
        .render_as_string(hide_password=False)
    )


@contextmanager
def incidents_locked(url: str) -> Iterator[None]:
    """Hold ACCESS EXCLUSIVE on the incident table from another connection (a migration or a
    stuck transaction would): nobody can even read it until the block ends."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("LOCK TABLE incident IN ACCESS EXCLUSIVE MODE"))
            try:
                yield
            finally:
                connection.rollback()
    finally:
        engine.dispose()


def test_a_locked_store_is_503_and_the_retry_opens_the_incident(postgres_url: str) -> None:
    with api_app(with_lock_timeout(postgres_url)) as app, app.client() as client:
        with incidents_locked(postgres_url):
            down = post(client, notification(alert("fp-locked")))
        assert down.status_code == 503, down.text
        assert down.json() == {
            "detail": "the incident store is unavailable; retry later",
            "alerts": [],
        }
        retried = post(client, notification(alert("fp-locked")))
        assert retried.status_code == 200, retried.text
        assert retried.json()["alerts"][0]["action"] == "opened"
        again = post(client, notification(alert("fp-locked")))
        assert again.json()["alerts"][0]["action"] == "existing"
        assert [i.fingerprint for i in incidents(app)] == ["fp-locked"]


def test_an_unroutable_alert_is_500_until_the_config_routes_it(
    tmp_path: Path, sqlite_url: str
) -> None:
    """No component matches and no fallback team: a config gap, not a reason to drop the
    alert. Alertmanager keeps retrying; the first retry after the fix opens the incident."""
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    policy = config / "policy.yaml"
    original = policy.read_text()
    policy.write_text(original.replace("  fallback_team: platform\n", ""))
    assert policy.read_text() != original
    good = alert("fp-good")
    stray = alert("fp-stray", component="billing-db")
    with api_app(sqlite_url) as app, app.client() as client:
        sync_config(app.ctx.engine, load_config(config), source="gap", actor="test")
        response = post(client, notification(good, stray))
        assert response.status_code == 500, response.text
        body = response.json()
        assert body["detail"] == "1 of 2 alerts could not be handled; retry later"
        assert [(a["fingerprint"], a["action"]) for a in body["alerts"]] == [
            ("fp-good", "opened"),
            ("fp-stray", "failed"),
        ]
        assert "Traceback" not in response.text

        policy.write_text(original)
        sync_config(app.ctx.engine, load_config(config), source="fixed", actor="test")
        retried = post(client, notification(good, stray))
        assert retried.status_code == 200, retried.text
        assert [(a["action"], a["team"]) for a in retried.json()["alerts"]] == [
            ("existing", "data"),
            ("opened", "platform"),
        ]
        assert sorted(i.fingerprint or "" for i in incidents(app)) == ["fp-good", "fp-stray"]


def test_an_internal_error_is_500_with_a_short_detail(sqlite_url: str) -> None:
    """A policy row the code cannot read (a bad hand edit of the store, a downgrade): the
    answer says so in one line and Alertmanager retries; the traceback stays in the log."""
    with api_app(sqlite_url) as app, app.client() as client:
        with Session(app.ctx.engine) as session:
            session.add(ConfigRevision(digest="corrupt", source="test", policy={"gates": 7}))
            session.commit()
        response = post(client, notification(alert("fp-internal")))
        assert response.status_code == 500
        assert response.json() == {
            "detail": "the notification could not be processed; retry later",
            "alerts": [],
        }
        with Session(app.ctx.engine) as session:
            assert session.exec(select(func.count()).select_from(Incident)).one() == 0


def test_a_mapped_level_without_rules_falls_back_to_the_default() -> None:
    policy = AlertPolicy(severity_map={"critical": "p0", "warning": "p2"}, default="p1")
    labels = {"severity": "critical"}
    assert severity_for(labels, policy) == "p0"
    assert severity_for(labels, policy, levels=("p1", "p2", "p3")) == "p1"
    assert severity_for({"severity": "P3"}, policy, levels=("p1", "p2")) == "p1"
    assert severity_for({"severity": "warning"}, policy, levels=("p1", "p2")) == "p2"
