"""`GET /api/v1/incidents` and the OpenAPI document, on the running app.

Incidents are opened through the Alertmanager webhook and moved on through the service, so
the list is read back exactly as scripts will see it. Filters run on both backends: status and
severity are plain column matches, but the component filter goes through the name index.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from launchops.services.incidents import Actor
from tests.api.test_alertmanager import TOKEN, alert, api_app, notification, post
from tests.e2e.harness import RunningApp

pytestmark = pytest.mark.e2e

URL = "/api/v1/incidents"
FIELDS = {
    "id",
    "number",
    "severity",
    "status",
    "component",
    "team",
    "source",
    "title",
    "declared_at",
    "acknowledged_at",
    "resolved_at",
}


@pytest.fixture
def app(sqlite_url: str) -> Iterator[RunningApp]:
    with api_app(sqlite_url) as running:
        yield running


@pytest.fixture
def client(app: RunningApp) -> Iterator[httpx.Client]:
    with app.client() as client:
        yield client


def listed(client: httpx.Client, **params: str) -> list[dict[str, Any]]:
    response = client.get(URL, params=params, headers=TOKEN)
    assert response.status_code == 200, response.text
    incidents: list[dict[str, Any]] = response.json()["incidents"]
    return incidents


def ids(client: httpx.Client, **params: str) -> list[int]:
    return [incident["id"] for incident in listed(client, **params)]


def test_list_and_filter_incidents(db_url: str) -> None:
    with api_app(db_url) as app, app.client() as client:
        opened = post(
            client,
            notification(
                alert("fp-open", component="rag", severity="critical", summary="Retriever down"),
                alert("fp-ack", component="llm", severity="warning", summary="Answers drift"),
                alert("fp-backlog", component="widget", severity="info", summary="Widget slow"),
                alert("fp-done", component="indexer", severity="error", summary="Index stale"),
            ),
        ).json()["alerts"]
        open_id, ack_id, backlog_id, done_id = (a["incident"] for a in opened)
        app.ctx.incidents.acknowledge(ack_id, Actor.system_actor("Test"))
        post(client, notification(alert("fp-done", component="indexer", status="resolved")))

        everything = listed(client)
        assert [i["id"] for i in everything] == [done_id, backlog_id, ack_id, open_id]
        assert all(set(i) == FIELDS for i in everything)
        first = everything[-1]
        assert first["number"] == first["id"] == open_id
        assert (first["severity"], first["status"], first["component"]) == (
            "p1",
            "open",
            "retriever",
        )
        assert (first["title"], first["source"], first["team"]) == (
            "Retriever down",
            "alertmanager",
            "data",
        )
        declared = datetime.fromisoformat(first["declared_at"])
        assert declared.utcoffset() is not None  # ISO 8601 with the zone, not a naive time
        assert first["acknowledged_at"] is None and first["resolved_at"] is None
        done = everything[0]
        assert done["status"] == "resolved"
        assert datetime.fromisoformat(done["resolved_at"]) >= datetime.fromisoformat(
            done["declared_at"]
        )
        acked = everything[2]
        assert acked["status"] == "acknowledged" and acked["acknowledged_at"] is not None

        assert ids(client, status="open") == [backlog_id, open_id]
        assert ids(client, status="acknowledged") == [ack_id]
        assert ids(client, status="resolved") == [done_id]
        assert ids(client, severity="p3") == [backlog_id]  # the backlog is listed too
        assert ids(client, severity="p0") == []
        for name in ("rag", "Retriever", "retriever", "SEARCH INDEX"):
            assert ids(client, component=name) == [open_id]
        assert ids(client, status="open", severity="p1", component="rag") == [open_id]
        assert ids(client, status="resolved", component="rag") == []
        assert ids(client, limit="2") == [done_id, backlog_id]


def test_team_incidents_have_no_component(app: RunningApp, client: httpx.Client) -> None:
    post(client, notification(alert("fp-x", component="billing-db")))
    [incident] = listed(client)
    assert (incident["component"], incident["team"]) == (None, "platform")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "closed"}, "status"),
        ({"status": "OPEN"}, "status"),
        ({"severity": "p4"}, "severity"),
        ({"severity": "critical"}, "severity"),
        ({"component": "no-such-component"}, "component"),
        ({"component": ""}, "component"),
        ({"limit": "0"}, "limit"),
    ],
)
def test_unknown_filter_values_are_422_naming_the_field(
    client: httpx.Client, params: dict[str, str], field: str
) -> None:
    response = client.get(URL, params=params, headers=TOKEN)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", field]
    assert error["msg"]


def test_unknown_component_suggests_close_names(client: httpx.Client) -> None:
    response = client.get(URL, params={"component": "retreiver"}, headers=TOKEN)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["type"] == "unknown_component"
    assert error["input"] == "retreiver"
    assert "retriever" in error["ctx"]["suggestions"]
    assert "did you mean retriever" in error["msg"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}])
def test_listing_needs_the_token(client: httpx.Client, headers: dict[str, str]) -> None:
    response = client.get(URL, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_openapi_documents_the_api_without_a_token(client: httpx.Client) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()

    # Every /api/v1 operation (this module's and any other) is guarded and fully described.
    operations = [
        (path, method, operation)
        for path, methods in spec["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in methods.items()
    ]
    assert {(path, method) for path, method, _ in operations} >= {
        ("/api/v1/alerts/alertmanager", "post"),
        ("/api/v1/incidents", "get"),
    }
    for path, method, operation in operations:
        assert operation.get("security"), (path, method)
        success = next(code for code in operation["responses"] if code.startswith("2"))
        assert operation["responses"][success]["content"]["application/json"]["schema"], path
        if method in ("post", "put", "patch"):
            assert operation["requestBody"]["content"]["application/json"]["schema"], path

    schemes = spec["components"]["securitySchemes"]
    assert any(s.get("scheme", "").lower() == "bearer" for s in schemes.values())

    webhook = spec["paths"]["/api/v1/alerts/alertmanager"]["post"]
    body = _resolve(spec, webhook["requestBody"]["content"]["application/json"]["schema"])
    assert set(body["required"]) >= {"version", "status", "alerts"}
    assert set(body["properties"]) >= {
        "version",
        "groupKey",
        "truncatedAlerts",
        "status",
        "receiver",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "alerts",
    }
    one_alert = _resolve(spec, body["properties"]["alerts"]["items"])
    assert set(one_alert["properties"]) >= {
        "status",
        "labels",
        "annotations",
        "startsAt",
        "endsAt",
        "generatorURL",
        "fingerprint",
    }
    assert "fingerprint" in one_alert["required"]
    assert {"401", "413", "422", "503"} <= set(webhook["responses"])
    receipt = _resolve(spec, webhook["responses"]["200"]["content"]["application/json"]["schema"])
    outcome = _resolve(spec, receipt["properties"]["alerts"]["items"])
    assert set(outcome["properties"]) >= {"fingerprint", "incident", "action"}

    listing = spec["paths"]["/api/v1/incidents"]["get"]
    params = {p["name"]: p for p in listing["parameters"]}
    assert set(params) >= {"status", "severity", "component"}
    assert all(p["in"] == "query" for p in params.values())
    assert "acknowledged" in str(params["status"]["schema"])
    assert "p3" in str(params["severity"]["schema"])
    result = _resolve(spec, listing["responses"]["200"]["content"]["application/json"]["schema"])
    item = _resolve(spec, result["properties"]["incidents"]["items"])
    assert set(item["properties"]) >= FIELDS - {"team", "source"}
