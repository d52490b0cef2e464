"""Health, readiness and metrics on the running app."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import make_settings, running_app

pytestmark = pytest.mark.e2e


def test_health_ready_and_metrics(sqlite_url: str) -> None:
    with running_app(make_settings(sqlite_url)) as app, app.client() as client:
        assert client.get("/healthz").json()["status"] == "ok"
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["store"] == "ok"
        unconfigured = client.post("/slack/events", content=b"{}")
        assert unconfigured.status_code == 503
        assert "SLACK_SIGNING_SECRET" in unconfigured.json()["detail"]
        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        text = metrics.text
        assert 'launchops_http_requests_total{handler="/healthz",method="GET",status="200"}' in text
        assert 'launchops_http_request_seconds_bucket{handler="/readyz"' in text


def test_readyz_fails_when_the_store_is_unreachable(tmp_path: Path, sqlite_url: str) -> None:
    with running_app(make_settings(sqlite_url)) as app, app.client() as client:
        app.ctx.engine.dispose()
        database = Path(sqlite_url.removeprefix("sqlite:///"))
        database.unlink()
        database.mkdir()  # a directory where the file was: SQLite cannot open it
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["status"] == "unavailable"
        assert response.json()["store"] == "unreachable"
