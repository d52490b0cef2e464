"""A real Prometheus Alertmanager notifying the running app through its webhook.

The other webhook tests send payloads written by hand; this one lets Alertmanager itself group
an alert, sign the request with the bearer token from `http_config.authorization`, and send
both the firing and the resolved notification (`send_resolved: true`). It proves the payload
model accepts what Alertmanager really sends, not what its documentation says it sends.

Debian ships the binary as `prometheus-alertmanager`; a machine without it skips with the
reason (set LAUNCHOPS_TEST_ALERTMANAGER to point at another build), and CI
(LAUNCHOPS_REQUIRE_TOOLS=1) fails instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session, func, select

from launchops.store.models import Incident, OutboxMessage
from tests.api.test_alertmanager import RESOLVED_NOTE, TOKEN, api_app
from tests.api.test_alertmanager_retry import incidents_locked, with_lock_timeout
from tests.e2e.harness import RunningApp
from tests.required_tools import missing_tool

pytestmark = pytest.mark.e2e

WAIT_SECONDS = 30.0
T = TypeVar("T")


def alertmanager_binary() -> str | None:
    configured = os.environ.get("LAUNCHOPS_TEST_ALERTMANAGER")
    if configured:
        return configured if Path(configured).is_file() else None
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Alertmanager:
    def __init__(self, url: str, log_file: Path) -> None:
        self.url = url
        self.log_file = log_file
        self.http = httpx.Client(base_url=url, timeout=5, trust_env=False)

    def log_tail(self) -> str:
        lines = self.log_file.read_text(errors="replace").splitlines()
        return "\n".join(lines[-40:])

    def push(self, alert: dict[str, Any]) -> None:
        response = self.http.post("/api/v2/alerts", json=[alert])
        assert response.status_code == 200, response.text

    def fingerprints(self) -> list[str]:
        response = self.http.get("/api/v2/alerts")
        assert response.status_code == 200, response.text
        return [a["fingerprint"] for a in response.json()]


@contextmanager
def running_alertmanager(binary: str, tmp_path: Path, webhook_url: str) -> Iterator[Alertmanager]:
    """Alertmanager on a loopback port, clustering off, grouping waits of one second."""
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        f"""
route:
  receiver: launchops
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: launchops
    webhook_configs:
      - url: {webhook_url}
        send_resolved: true
        max_alerts: 1000
        http_config:
          authorization:
            type: Bearer
            credentials: {TOKEN["Authorization"].removeprefix("Bearer ")}
"""
    )
    storage = tmp_path / "alertmanager-data"
    storage.mkdir()
    port = free_port()
    log_file = tmp_path / "alertmanager.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.path={storage}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=debug",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    manager = Alertmanager(f"http://127.0.0.1:{port}", log_file)
    try:
        wait_for(lambda: _ready(manager, process), "Alertmanager to be ready", manager)
        yield manager
    finally:
        manager.http.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _ready(manager: Alertmanager, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"Alertmanager exited ({process.returncode}):\n{manager.log_tail()}")
    try:
        return manager.http.get("/-/ready").status_code == 200
    except httpx.TransportError:
        return False


def wait_for(check: Callable[[], T | None], what: str, manager: Alertmanager) -> T:
    """Poll `check` until it returns something truthy, for at most WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}; Alertmanager:\n{manager.log_tail()}")
        time.sleep(0.2)


def retriever_incidents(client: httpx.Client) -> list[dict[str, Any]]:
    response = client.get("/api/v1/incidents", params={"component": "retriever"}, headers=TOKEN)
    assert response.status_code == 200, response.text
    incidents: list[dict[str, Any]] = response.json()["incidents"]
    return incidents


def stored(app: RunningApp, incident_id: int) -> Incident:
    with Session(app.ctx.engine) as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        return incident


def require_alertmanager() -> str:
    binary = alertmanager_binary()
    if binary is None:
        missing_tool(
            "no Alertmanager binary: apt-get install prometheus-alertmanager (Debian/Ubuntu), "
            "or set LAUNCHOPS_TEST_ALERTMANAGER to its path"
        )
    assert binary is not None
    return binary


def test_real_alertmanager_opens_and_resolves_one_incident(db_url: str, tmp_path: Path) -> None:
    binary = require_alertmanager()
    started = datetime.now(UTC) - timedelta(minutes=1)
    alert = {
        "labels": {
            "alertname": "RetrieverEmptyResults",
            "component": "retriever",
            "severity": "critical",
        },
        "annotations": {"summary": "Retriever returns no documents"},
        "startsAt": started.isoformat(),
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up",
    }
    with (
        api_app(db_url) as app,
        app.client() as client,
        running_alertmanager(binary, tmp_path, f"{app.url}/api/v1/alerts/alertmanager") as am,
    ):
        am.push(alert)
        [opened] = wait_for(lambda: retriever_incidents(client), "the incident", am)
        assert (opened["severity"], opened["status"], opened["source"]) == (
            "p1",
            "open",
            "alertmanager",
        )
        assert opened["title"] == "Retriever returns no documents"
        incident = stored(app, opened["id"])
        assert incident.fingerprint in am.fingerprints()
        assert app.ctx.incidents.get(opened["id"]).responders == ("Chris Novak",)

        am.push(alert | {"endsAt": (datetime.now(UTC) - timedelta(seconds=1)).isoformat()})
        [resolved] = wait_for(
            lambda: [i for i in retriever_incidents(client) if i["status"] == "resolved"],
            "the incident to resolve",
            am,
        )
        assert resolved["id"] == opened["id"]
        assert len(retriever_incidents(client)) == 1  # exactly one incident, ever
        assert stored(app, opened["id"]).resolved_by == "Alertmanager"
        with Session(app.ctx.engine) as session:
            notes = [
                m.payload["text"]
                for m in session.exec(select(OutboxMessage)).all()
                if m.destination.get("thread")
            ]
        assert notes == [RESOLVED_NOTE]


def webhook_answers(status: str) -> float:
    """How many times this process answered the webhook with `status` (the app's own metric)."""
    value = REGISTRY.get_sample_value(
        "launchops_http_requests_total",
        {"handler": "/api/v1/alerts/alertmanager", "method": "POST", "status": status},
    )
    return value or 0.0


def failed_webhook_requests(manager: Alertmanager) -> float:
    """Alertmanager's own count of webhook requests that failed (and so were retried)."""
    text = manager.http.get("/metrics").text
    total = 0.0
    for family in text_string_to_metric_families(text):
        if family.name == "alertmanager_notification_requests_failed":
            total += sum(
                s.value for s in family.samples if s.labels.get("integration") == "webhook"
            )
    return total


def test_real_alertmanager_retries_a_5xx_and_opens_the_incident_once(
    postgres_url: str, tmp_path: Path
) -> None:
    """A real fault, not a mock: another connection holds the incident table locked, so the
    app's first answer is 503; once the lock goes, Alertmanager's own retry opens exactly one
    incident. PostgreSQL only: its lock timeout is set per connection, where SQLite's busy
    timeout is fixed at 30 s."""
    binary = require_alertmanager()
    alert = {
        "labels": {"alertname": "RetrieverDown", "component": "retriever", "severity": "critical"},
        "annotations": {"summary": "Retriever is down"},
        "startsAt": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
    }
    with (
        api_app(with_lock_timeout(postgres_url)) as app,
        app.client() as client,
        running_alertmanager(binary, tmp_path, f"{app.url}/api/v1/alerts/alertmanager") as am,
    ):
        refused_before = webhook_answers("503")
        with incidents_locked(postgres_url):
            am.push(alert)
            wait_for(lambda: webhook_answers("503") > refused_before, "a 503 answer", am)
            wait_for(lambda: failed_webhook_requests(am) > 0, "Alertmanager to see it fail", am)
        [opened] = wait_for(lambda: retriever_incidents(client), "the retried incident", am)
        assert (opened["severity"], opened["status"], opened["title"]) == (
            "p1",
            "open",
            "Retriever is down",
        )
        assert webhook_answers("200") > 0
        assert len(retriever_incidents(client)) == 1
        with Session(app.ctx.engine) as session:
            count = session.exec(select(func.count()).select_from(Incident)).one()
        assert count == 1
