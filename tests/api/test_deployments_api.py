"""`POST /api/v1/deployments` on the running app, on SQLite and PostgreSQL: the token before
the body, 201 with an id, 422 naming the field (an unknown component with suggestions), a
retried post with the same external id stored once, the description masked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from launchops.body_limits import limit_for
from tests.e2e.harness import RunningApp, make_settings, running_app

pytestmark = pytest.mark.e2e

URL = "/api/v1/deployments"
TOKEN = {"Authorization": "Bearer test-api-token"}


@pytest.fixture
def app(db_url: str) -> Iterator[RunningApp]:
    with running_app(make_settings(db_url)) as running:
        running.ctx.dispatcher.stop()
        yield running


@pytest.fixture
def client(app: RunningApp) -> Iterator[httpx.Client]:
    with app.client() as client:
        yield client


def rows(app: RunningApp) -> list[dict[str, Any]]:
    with app.ctx.engine.connect() as connection:
        result = connection.execute(sa.text("SELECT * FROM deployment ORDER BY id"))
        return [dict(row._mapping) for row in result]


def post(client: httpx.Client, payload: Any, **headers: str) -> httpx.Response:
    return client.post(URL, json=payload, headers={**TOKEN, **headers})


def test_a_deployment_is_stored_with_its_rollback_url(
    app: RunningApp, client: httpx.Client
) -> None:
    answer = post(
        client,
        {
            "component": "rag",
            "version": "v1.4.2",
            "deployed_at": "2026-11-30T09:00:00+09:00",
            "url": "https://ci.example.com/runs/77",
            "rollback_url": "https://ci.example.com/rollback?to=v1.4.1",
            "actor": "alice",
            "description": "reindexed; ping alice@example.com",
        },
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["duplicate"] is False and isinstance(body["id"], int)
    [row] = rows(app)
    assert row["id"] == body["id"]
    assert row["component_id"] == "retriever"
    assert row["environment"] == "production"
    assert row["kind"] == "deploy"
    assert row["actor"] == "Alice Kim" and row["person_id"] == "alice"
    assert row["rollback_url"] == "https://ci.example.com/rollback?to=v1.4.1"
    assert row["description"] == "reindexed; ping [email]"
    assert row["source"] == "api"


def test_a_free_text_actor_and_a_rollback(app: RunningApp, client: httpx.Client) -> None:
    answer = post(
        client,
        {
            "component": "Answer model",
            "version": "2026-11-b",
            "environment": "staging",
            "kind": "rollback",
            "actor": "github-actions",
        },
    )
    assert answer.status_code == 201, answer.text
    [row] = rows(app)
    assert (row["component_id"], row["environment"], row["kind"]) == (
        "answer-model",
        "staging",
        "rollback",
    )
    assert row["actor"] == "github-actions" and row["person_id"] is None


def test_a_retried_post_with_the_same_external_id_is_stored_once(
    app: RunningApp, client: httpx.Client
) -> None:
    payload = {"component": "retriever", "version": "v2", "external_id": "run-991"}
    first = post(client, payload)
    again = post(client, payload)
    assert first.status_code == again.status_code == 201
    assert again.json() == {"id": first.json()["id"], "duplicate": True}
    other = post(client, {**payload, "component": "indexer"})  # unique per component
    assert other.status_code == 201 and other.json()["duplicate"] is False
    assert len(rows(app)) == 2


def test_the_token_is_checked_before_the_body(app: RunningApp, client: httpx.Client) -> None:
    refused = client.post(URL, content=b"{not json", headers={"Authorization": "Bearer wrong"})
    assert refused.status_code == 401
    missing = client.post(URL, json={"component": "rag", "version": "v1"})
    assert missing.status_code == 401
    assert rows(app) == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"version": "v1"}, "component"),
        ({"component": "rag"}, "version"),
        (
            {"component": "rag", "version": "v1", "rollback_url": "javascript:alert(1)"},
            "rollback_url",
        ),
        (
            {"component": "rag", "version": "v1", "rollback_url": "ftp://x.example/y"},
            "rollback_url",
        ),
        ({"component": "rag", "version": "v1", "url": "not a url"}, "url"),
        ({"component": "rag", "version": "v1", "kind": "hotfix"}, "kind"),
        ({"component": "rag", "version": "v1", "deployed_at": "yesterday"}, "deployed_at"),
        (
            {"component": "rag", "version": "v1", "deployed_at": "0001-01-01T00:00:00+05:00"},
            "deployed_at",
        ),
        ({"component": "rag", "version": "x" * 201}, "version"),
    ],
)
def test_an_invalid_field_is_named(
    app: RunningApp, client: httpx.Client, payload: dict[str, Any], field: str
) -> None:
    answer = post(client, payload)
    assert answer.status_code == 422, answer.text
    assert [p["loc"] for p in answer.json()["detail"]] == [["body", field]]
    assert rows(app) == []


def test_an_unknown_component_is_named_with_suggestions(
    app: RunningApp, client: httpx.Client
) -> None:
    answer = post(client, {"component": "retreiver", "version": "v1"})
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert problem["loc"] == ["body", "component"]
    assert "retreiver" in problem["msg"]
    assert "retriever" in problem["ctx"]["suggestions"]
    assert rows(app) == []


def test_malformed_json_and_a_batch_are_refused(app: RunningApp, client: httpx.Client) -> None:
    broken = client.post(URL, content=b'{"component": ', headers=TOKEN)
    assert broken.status_code == 422 and broken.json()["detail"][0]["type"] == "json_invalid"
    batch = post(client, {"deployments": [{"component": "rag", "version": "v1"}] * 2})
    assert batch.status_code == 422
    assert rows(app) == []


def test_the_body_is_capped_and_the_operation_is_documented(
    app: RunningApp, client: httpx.Client
) -> None:
    assert limit_for(URL) == 2 * 1024 * 1024
    huge = client.post(
        URL,
        content=b"x" * (limit_for(URL) + 1),
        headers={**TOKEN, "content-type": "application/json"},
    )
    assert huge.status_code == 413
    spec = client.get("/openapi.json").json()
    operation = spec["paths"][URL]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert {"component", "version", "rollback_url", "actor"} <= set(schema["properties"])
    assert "201" in operation["responses"] and "422" in operation["responses"]
