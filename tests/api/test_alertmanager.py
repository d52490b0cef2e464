"""`POST /api/v1/alerts/alertmanager` on the running app, with Alertmanager's real payload.

The app runs without chat credentials, so pages go to the console platform: every page and
post is still an outbox row, which is what these tests read to tell "paged" from "paged
nobody". The core flow runs on SQLite and PostgreSQL, since dedupe rests on a partial unique
index that each backend enforces its own way.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, func, select

from launchops.config import load_config
from launchops.services.config_sync import sync_config
from launchops.store.models import Incident, IncidentMessage, OutboxMessage
from tests.conftest import CONFIG_DIR
from tests.e2e.harness import RunningApp, make_settings, running_app

pytestmark = pytest.mark.e2e

URL = "/api/v1/alerts/alertmanager"
TOKEN = {"Authorization": "Bearer test-api-token"}
RESOLVED_NOTE = "The alert that opened this incident has resolved."


# payloads as Alertmanager builds them ----------------------------------------------------
def alert(
    fingerprint: str,
    *,
    status: str = "firing",
    component: str | None = "rag",
    severity: str | None = "critical",
    summary: str | None = "Retriever returns no documents",
    alertname: str = "RetrieverEmptyResults",
) -> dict[str, Any]:
    labels = {"alertname": alertname, "instance": "retriever-0:9100", "job": "retriever"}
    if component is not None:
        labels["component"] = component
    if severity is not None:
        labels["severity"] = severity
    annotations = {"description": "p95 of documents per query is 0 for 5m"}
    if summary is not None:
        annotations["summary"] = summary
    return {
        "status": status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": "2026-11-22T03:00:00.000Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-22T03:20:00.000Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=retriever_docs_p95+%3D%3D+0",
        "fingerprint": fingerprint,
    }


def notification(*alerts: dict[str, Any]) -> dict[str, Any]:
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "version": "4",
        "groupKey": '{}:{alertname="RetrieverEmptyResults"}',
        "truncatedAlerts": 0,
        "status": "firing" if firing else "resolved",
        "receiver": "launchops",
        "groupLabels": {"alertname": "RetrieverEmptyResults"},
        "commonLabels": {"job": "retriever"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


# reading the store -------------------------------------------------------------------------
def incidents(app: RunningApp) -> list[Incident]:
    with Session(app.ctx.engine) as session:
        return list(session.exec(select(Incident).order_by(col(Incident.id))).all())


def outbox_rows(app: RunningApp) -> list[OutboxMessage]:
    with Session(app.ctx.engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


def paged_users(app: RunningApp) -> list[str]:
    """Console pages are posts to a person; channel cards are posts to `#team`."""
    return [m.destination["user"] for m in outbox_rows(app) if "user" in m.destination]


def thread_notes(app: RunningApp) -> list[str]:
    return [m.payload["text"] for m in outbox_rows(app) if m.destination.get("thread")]


def post(client: httpx.Client, payload: Any) -> httpx.Response:
    return client.post(URL, json=payload, headers=TOKEN)


@contextmanager
def api_app(database_url: str, **overrides: Any) -> Iterator[RunningApp]:
    """The running app with its outbox dispatcher stopped.

    These tests read what was queued, not what was delivered: with the dispatcher stopped the
    rows stay exactly as the request wrote them, and no background thread logs a delivery
    while pytest is printing a report (which would bypass output capture).
    """
    with running_app(make_settings(database_url, **overrides)) as running:
        running.ctx.dispatcher.stop()
        yield running


@pytest.fixture
def app(sqlite_url: str) -> Iterator[RunningApp]:
    with api_app(sqlite_url) as running:
        yield running


@pytest.fixture
def client(app: RunningApp) -> Iterator[httpx.Client]:
    with app.client() as client:
        yield client


# the core flow, both backends ----------------------------------------------------------
def test_firing_opens_once_resolves_and_reopens_linked(db_url: str) -> None:
    with api_app(db_url) as app, app.client() as client:
        first = post(client, notification(alert("fp-retriever")))
        assert first.status_code == 200, first.text
        [outcome] = first.json()["alerts"]
        assert outcome["action"] == "opened"
        assert (outcome["severity"], outcome["component"], outcome["team"]) == (
            "p1",
            "retriever",
            "data",
        )
        incident_id = outcome["incident"]
        view = app.ctx.incidents.get(incident_id)
        # critical → p1, whose policy pages the Responsible team (data): its on-call, Chris.
        assert (view.severity, view.status, view.component_id) == ("p1", "open", "retriever")
        assert view.title == "Retriever returns no documents"
        assert (view.source, view.declared_by) == ("alertmanager", "Alertmanager")
        assert view.responders == ("Chris Novak",)
        assert paged_users(app) == ["chris"]
        assert view.description is not None and "http://prometheus:9090/graph" in view.description
        rows_after_open = len(outbox_rows(app))

        repeat = post(client, notification(alert("fp-retriever")))
        assert repeat.status_code == 200
        assert repeat.json()["alerts"] == [outcome | {"action": "existing"}]  # same incident
        assert len(incidents(app)) == 1
        assert len(outbox_rows(app)) == rows_after_open  # nobody paged, nothing posted

        resolved = post(client, notification(alert("fp-retriever", status="resolved")))
        assert resolved.status_code == 200
        assert resolved.json()["alerts"][0]["action"] == "resolved"
        assert resolved.json()["alerts"][0]["incident"] == incident_id
        view = app.ctx.incidents.get(incident_id)
        assert (view.status, view.resolved_by) == ("resolved", "Alertmanager")
        assert thread_notes(app) == [RESOLVED_NOTE]  # in the data team's channel thread

        again = post(client, notification(alert("fp-retriever", status="resolved")))
        assert again.json()["alerts"] == [
            {
                "fingerprint": "fp-retriever",
                "incident": None,
                "action": "not_open",
                "severity": None,
                "component": None,
                "team": None,
                "error": None,
            }
        ]

        refire = post(client, notification(alert("fp-retriever")))
        assert refire.json()["alerts"][0]["action"] == "opened"
        new_id = refire.json()["alerts"][0]["incident"]
        assert new_id != incident_id
        rows = {row.id: row for row in incidents(app)}
        assert rows[new_id].previous_incident_id == incident_id
        assert rows[new_id].status == "open" and rows[incident_id].status == "resolved"
        assert app.ctx.incidents.get(new_id).responders == ("Chris Novak",)
        assert paged_users(app) == ["chris", "chris"]


def test_a_group_is_handled_alert_by_alert(db_url: str) -> None:
    group = notification(
        alert("fp-a", component="rag", severity="critical", summary="Retriever down"),
        alert("fp-b", component="llm", severity="warning", summary="Answers drift"),
        alert("fp-c", component="Chat Widget", severity="info", summary="Widget slow"),
        alert("fp-d", component="retriever", status="resolved", summary="Never seen firing"),
    )
    with api_app(db_url) as app, app.client() as client:
        response = post(client, group)
        assert response.status_code == 200, response.text
        summary = [
            (a["fingerprint"], a["action"], a["severity"], a["component"])
            for a in response.json()["alerts"]
        ]
        assert summary == [
            ("fp-a", "opened", "p1", "retriever"),
            ("fp-b", "opened", "p2", "answer-model"),  # warning → p2; `llm` is an alias
            ("fp-c", "opened", "p3", "chat-widget"),  # info → p3, the backlog
            ("fp-d", "not_open", None, None),
        ]
        by_fingerprint = {i.fingerprint: i for i in incidents(app)}
        assert set(by_fingerprint) == {"fp-a", "fp-b", "fp-c"}
        # p1 pages the data team's on-call; p2 the ML team's first on-call (bob).
        assert sorted(paged_users(app)) == ["bob", "chris"]


# mapping labels to an incident -----------------------------------------------------------
def test_unknown_component_goes_to_the_fallback_team(app: RunningApp, client: httpx.Client) -> None:
    response = post(client, notification(alert("fp-billing", component="billing-db")))
    [outcome] = response.json()["alerts"]
    assert (outcome["action"], outcome["component"], outcome["team"]) == (
        "opened",
        None,
        "platform",
    )
    view = app.ctx.incidents.get(outcome["incident"])
    assert (view.team_id, view.component_id, view.severity) == ("platform", None, "p1")
    # p1 pages the Responsible team's on-call people: the platform team's.
    assert set(view.responders) == {"Ivy Chen", "Henry Ford"}
    assert view.description is not None
    assert "component label “billing-db” names no known component" in view.description


def test_missing_component_label_goes_to_the_fallback_team(
    app: RunningApp, client: httpx.Client
) -> None:
    response = post(client, notification(alert("fp-nolabel", component=None)))
    [outcome] = response.json()["alerts"]
    assert (outcome["action"], outcome["team"]) == ("opened", "platform")
    description = app.ctx.incidents.get(outcome["incident"]).description
    assert description is not None and "has no component label" in description


def test_missing_severity_label_takes_the_policy_default(
    app: RunningApp, client: httpx.Client
) -> None:
    response = post(client, notification(alert("fp-nosev", severity=None)))
    [outcome] = response.json()["alerts"]
    assert outcome["severity"] == "p2"
    # p2 pages only the Responsible team's first on-call person.
    assert app.ctx.incidents.get(outcome["incident"]).responders == ("Chris Novak",)


def test_unmapped_severity_takes_the_default_and_a_level_label_is_kept(
    client: httpx.Client,
) -> None:
    response = post(
        client,
        notification(
            alert("fp-page", severity="page"),
            alert("fp-p0", severity="P0"),
            alert("fp-crit", severity="CRITICAL"),
        ),
    )
    assert [a["severity"] for a in response.json()["alerts"]] == ["p2", "p0", "p1"]


def test_info_goes_to_the_backlog_and_pages_nobody(app: RunningApp, client: httpx.Client) -> None:
    """p3 is `backlog: true`: recorded for the weekly review, but nobody is woken for it."""
    response = post(client, notification(alert("fp-info", severity="info")))
    [outcome] = response.json()["alerts"]
    assert (outcome["action"], outcome["severity"]) == ("opened", "p3")
    view = app.ctx.incidents.get(outcome["incident"])
    assert view.responders == ()
    assert view.ack_deadline is None
    assert outbox_rows(app) == []  # no page and no channel card for the backlog


def test_long_titles_are_shortened_to_200_characters(app: RunningApp, client: httpx.Client) -> None:
    """Unlike a chat title (refused), an alert's text cannot be retyped: it is cut instead."""
    summary = "Retriever latency " + "very " * 80 + "high"
    response = post(client, notification(alert("fp-long", summary=summary)))
    [outcome] = response.json()["alerts"]
    assert outcome["action"] == "opened"
    title = app.ctx.incidents.get(outcome["incident"]).title
    assert len(title) == 200
    assert title.endswith("…")
    assert title.startswith("Retriever latency very very")


def test_title_falls_back_to_description_then_alertname(
    app: RunningApp, client: httpx.Client
) -> None:
    no_summary = alert("fp-desc", summary=None)
    bare = alert("fp-bare", summary=None)
    bare["annotations"] = {}
    response = post(client, notification(no_summary, bare))
    titles = [app.ctx.incidents.get(a["incident"]).title for a in response.json()["alerts"]]
    assert titles == ["p95 of documents per query is 0 for 5m", "RetrieverEmptyResults"]


def test_the_alerts_policy_in_force_is_used(tmp_path: Path, sqlite_url: str) -> None:
    """Labels, the severity map and the default come from the policy synced last (read per
    notification, so a `config sync` applies without a restart). Without a fallback team an
    unroutable alert is reported as failed with a 500 (the others are still handled), unless
    it already has an open incident from before the change: that one is still deduped."""
    config = tmp_path / "config"
    config.mkdir()
    shutil.copy(CONFIG_DIR / "catalog.yaml", config / "catalog.yaml")
    policy = (CONFIG_DIR / "policy.yaml").read_text()
    policy = policy[: policy.index("alerts:")] + (
        "alerts:\n"
        "  component_label: service\n"
        "  severity_label: urgency\n"
        "  severity_map: {wake-someone: p0, someday: p3}\n"
        "  default: p3\n"
    )
    (config / "policy.yaml").write_text(policy)
    routed = alert("fp-routed", component=None, severity=None)
    routed["labels"] |= {"service": "search index", "urgency": "wake-someone"}
    quiet = alert("fp-quiet", component=None, severity=None)
    quiet["labels"] |= {"service": "gateway"}
    lost = alert("fp-lost", component="rag", severity=None)  # `component` is not read now
    earlier = alert("fp-earlier", component="billing-db")
    with api_app(sqlite_url) as app, app.client() as client:
        before = post(client, notification(earlier)).json()["alerts"][0]
        assert (before["action"], before["team"]) == ("opened", "platform")
        sync_config(app.ctx.engine, load_config(config), source=str(config), actor="test")

        response = post(client, notification(routed, quiet, lost, earlier))
        # Not lost to the config gap: 5xx, so Alertmanager retries until the config is fixed.
        assert response.status_code == 500, response.text
        assert response.json()["detail"] == "1 of 4 alerts could not be handled; retry later"
        outcomes = response.json()["alerts"]
        assert [(a["action"], a["severity"], a["component"]) for a in outcomes] == [
            ("opened", "p0", "retriever"),
            ("opened", "p3", "inference-gateway"),
            ("failed", "p3", None),
            ("existing", "p1", None),
        ]
        assert "fallback_team is not set" in outcomes[2]["error"]
        assert outcomes[2]["incident"] is None
        assert outcomes[3]["incident"] == before["incident"]
        assert len(incidents(app)) == 3


def test_twin_notifications_open_one_incident(db_url: str) -> None:
    """An Alertmanager HA pair sends the same notification from each replica at once."""
    payload = notification(alert("fp-twin"))
    with api_app(db_url) as app:
        start = threading.Barrier(4)
        results: list[dict[str, Any]] = []

        def send() -> None:
            with app.client() as client:
                start.wait(timeout=10)
                response = post(client, payload)
                results.append(response.json()["alerts"][0])

        threads = [threading.Thread(target=send) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(r["action"] for r in results) == [
            "existing",
            "existing",
            "existing",
            "opened",
        ]
        assert len({r["incident"] for r in results}) == 1
        assert len(incidents(app)) == 1
        assert paged_users(app) == ["chris"]


# refusing what is not a notification -----------------------------------------------------
def test_malformed_json_is_422(app: RunningApp, client: httpx.Client) -> None:
    response = client.post(
        URL,
        content=b'{"version": "4", "alerts": [',
        headers=TOKEN | {"content-type": "application/json"},
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["type"] == "json_invalid"
    assert error["loc"][0] == "body"
    assert incidents(app) == []


def test_wrong_shape_is_422_naming_every_field(app: RunningApp, client: httpx.Client) -> None:
    """Every problem at once, each with its location, so one fix-and-retry is enough."""
    no_fingerprint = alert("x")
    del no_fingerprint["fingerprint"]
    weird = alert("fp-weird", status="weird")
    payload = notification(no_fingerprint, weird, alert("fp-fine"))
    payload["status"] = "weird"
    response = post(client, payload)
    assert response.status_code == 422
    problems = {(tuple(e["loc"]), e["type"]) for e in response.json()["detail"]}
    assert problems == {
        (("body", "status"), "literal_error"),
        (("body", "alerts", 0, "fingerprint"), "missing"),
        (("body", "alerts", 1, "status"), "literal_error"),
    }
    assert incidents(app) == []  # nothing is handled from a notification that is refused


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"version": "3"}, ["body", "version"]),
        ({"alerts": "none"}, ["body", "alerts"]),
        ({"alerts": [{"status": "firing", "labels": {"a": 1}, "fingerprint": "f"}]},
         ["body", "alerts", 0, "labels", "a"]),
    ],
)  # fmt: skip
def test_other_shapes_are_422(client: httpx.Client, change: dict[str, Any], loc: list[Any]) -> None:
    response = post(client, notification(alert("fp")) | change)
    assert response.status_code == 422
    assert loc in [e["loc"] for e in response.json()["detail"]]


def test_empty_body_is_422(client: httpx.Client) -> None:
    response = client.post(URL, headers=TOKEN | {"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body"]


def test_too_many_alerts_is_413_naming_the_field(app: RunningApp, client: httpx.Client) -> None:
    payload = notification(*(alert(f"fp-{n}", severity="info") for n in range(1001)))
    response = post(client, payload)
    assert response.status_code == 413
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "alerts"]
    assert "1000" in error["msg"]
    assert incidents(app) == []


# the bearer token -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        b"Bearer wrong-token",
        b"Bearer test-api-token-and-more",
        b"Bearer test-api-toke",
        b"Basic dGVzdC1hcGktdG9rZW4=",
        b"test-api-token",
        "Bearer tëst-api-token".encode(),  # non-ASCII must be refused, not crash compare_digest
    ],
)
def test_missing_or_wrong_token_is_401_and_changes_nothing(
    app: RunningApp, client: httpx.Client, authorization: bytes | None
) -> None:
    """Opening incidents pages people: only the holder of the token may do it."""
    headers = {} if authorization is None else {b"Authorization": authorization}
    response = client.post(URL, json=notification(alert("fp-auth")), headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": "missing or invalid bearer token"}
    assert response.headers["www-authenticate"] == "Bearer"
    assert incidents(app) == []
    assert outbox_rows(app) == []


def test_without_a_configured_token_the_api_is_closed(sqlite_url: str) -> None:
    """A forgotten LAUNCHOPS_API_TOKEN must close the API, never open it to everyone."""
    with api_app(sqlite_url, LAUNCHOPS_API_TOKEN=None) as app, app.client() as client:
        assert app.settings.api_token is None
        for headers in ({}, TOKEN, {"Authorization": "Bearer wrong"}):
            response = client.post(URL, json=notification(alert("fp")), headers=headers)
            assert response.status_code == 503
            assert response.json() == {"detail": "LAUNCHOPS_API_TOKEN is not set"}
        assert client.get("/api/v1/incidents", headers=TOKEN).status_code == 503
        assert incidents(app) == []


# the store going away ---------------------------------------------------------------------
def test_store_failure_is_503_so_alertmanager_retries(sqlite_url: str) -> None:
    """Alertmanager retries a 5xx but drops a 4xx; the retry after the store is back opens
    the incident exactly once."""
    database = Path(sqlite_url.removeprefix("sqlite:///"))
    aside = database.parent / "aside"
    aside.mkdir()
    with api_app(sqlite_url) as app, app.client() as client:
        app.ctx.engine.dispose()
        moved = [p for p in database.parent.glob(database.name + "*") if p.is_file()]
        for path in moved:
            path.rename(aside / path.name)
        database.mkdir()  # a directory where the file was: SQLite cannot open it
        try:
            down = post(client, notification(alert("fp-down")))
            assert down.status_code == 503
            assert down.json() == {
                "detail": "the incident store is unavailable; retry later",
                "alerts": [],
            }
        finally:
            database.rmdir()
            for path in moved:
                (aside / path.name).rename(path)
        retried = post(client, notification(alert("fp-down")))
        assert retried.status_code == 200
        assert retried.json()["alerts"][0]["action"] == "opened"
        with Session(app.ctx.engine) as session:
            count = session.exec(select(func.count()).select_from(Incident)).one()
            messages = session.exec(select(func.count()).select_from(IncidentMessage)).one()
        assert count == 1
        assert messages > 0
