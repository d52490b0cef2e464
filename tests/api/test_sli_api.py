"""`POST /api/v1/sli` on the running app: samples stored, judged, alerts queued in the outbox.

The app runs without chat credentials, so alerts go to the console platform: the data team's
channel is `#data`, and the rows are read before any dispatcher could send them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, select

from launchops.body_limits import limit_for
from launchops.store.feedback_models import SliSample
from launchops.store.models import OutboxMessage
from tests.e2e.harness import RunningApp, make_settings, running_app

pytestmark = pytest.mark.e2e

URL = "/api/v1/sli"
TOKEN = {"Authorization": "Bearer test-api-token"}
START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def sample(minute: int, ok: int = 1000, **fields: Any) -> dict[str, Any]:
    begin = START + timedelta(minutes=minute)
    return {
        "component": "rag",
        "period_start": begin.isoformat(),
        "period_end": (begin + timedelta(minutes=5)).isoformat(),
        "requests": 1000,
        "successes": ok,
        "errors_4xx": 0,
        "errors_5xx": 1000 - ok,
        "latency_p50": 0.4,
        "latency_p95": 1.2,
        "latency_p99": 2.5,
        "cost": 1.5,
        **fields,
    }


@pytest.fixture
def app(sqlite_url: str) -> Iterator[RunningApp]:
    with running_app(make_settings(sqlite_url)) as running:
        running.ctx.dispatcher.stop()
        yield running


@pytest.fixture
def client(app: RunningApp) -> Iterator[httpx.Client]:
    with app.client() as client:
        yield client


def post(client: httpx.Client, payload: Any) -> httpx.Response:
    return client.post(URL, json=payload, headers=TOKEN)


def outbox_rows(app: RunningApp) -> list[OutboxMessage]:
    with Session(app.ctx.engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


def samples(app: RunningApp) -> list[SliSample]:
    with Session(app.ctx.engine) as session:
        return list(session.exec(select(SliSample)).all())


def test_a_breaching_series_alerts_once_and_recovers_once(db_url: str) -> None:
    with running_app(make_settings(db_url)) as app, app.client() as client:
        app.ctx.dispatcher.stop()
        first = post(client, sample(0, ok=900))
        assert first.status_code == 201, first.text
        assert first.json()["alerts"] == [
            {
                "component": "retriever",
                "kind": "success_rate",
                "state": "opened",
                "value": 0.9,
                "threshold": 0.99,
            }
        ]
        more = post(client, {"samples": [sample(5, ok=950), sample(10, ok=970)]})
        assert more.status_code == 201 and more.json()["alerts"] == []
        back = post(client, sample(15, ok=1000))
        assert [a["state"] for a in back.json()["alerts"]] == ["cleared"]
        rows = outbox_rows(app)
        assert [r.destination for r in rows] == [{"channel": "#data"}] * 2
        assert rows[0].payload["text"].startswith("Retriever: success rate 90.00%")
        assert rows[1].payload["text"].startswith("Retriever: success rate is back")
        assert len(samples(app)) == 4
        repeat = post(client, sample(0, ok=900))
        assert repeat.json()["ids"] == first.json()["ids"]
        assert repeat.json()["duplicates"] == 1
        assert len(outbox_rows(app)) == 2


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"successes": 1001}, ["body", "successes"]),
        ({"requests": -1}, ["body", "requests"]),
        ({"latency_p95": -0.1}, ["body", "latency_p95"]),
        ({"cost": "lots"}, ["body", "cost"]),
        ({"period_end": START.isoformat()}, ["body", "period_end"]),
        ({"period_start": "soon"}, ["body", "period_start"]),
    ],
)
def test_invalid_fields_are_422_naming_the_field(
    app: RunningApp, client: httpx.Client, change: dict[str, Any], loc: list[Any]
) -> None:
    response = post(client, sample(0) | change)
    assert response.status_code == 422
    assert loc in [e["loc"] for e in response.json()["detail"]]
    assert samples(app) == []


def test_missing_fields_in_a_batch_are_named_by_position(
    app: RunningApp, client: httpx.Client
) -> None:
    broken = sample(5)
    del broken["requests"]
    response = post(client, {"samples": [sample(0), broken]})
    assert response.status_code == 422
    assert ["body", "samples", 1, "requests"] in [e["loc"] for e in response.json()["detail"]]
    assert samples(app) == []


def test_an_unknown_component_is_422_naming_it(app: RunningApp, client: httpx.Client) -> None:
    response = post(client, {"samples": [sample(0), sample(5, component="retreiver-x")]})
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "samples", 1, "component"]
    assert "retreiver-x" in problem["msg"]
    assert samples(app) == []


def test_token_before_body_malformed_json_and_limits(app: RunningApp, client: httpx.Client) -> None:
    assert client.post(URL, content=b"{", headers={"Authorization": "Bearer no"}).status_code == 401
    malformed = client.post(URL, content=b"{", headers=TOKEN)
    assert malformed.status_code == 422
    assert malformed.json()["detail"][0]["type"] == "json_invalid"
    too_many = post(client, {"samples": [sample(n) for n in range(1001)]})
    assert too_many.status_code == 422
    assert "at most 1000" in too_many.json()["detail"][0]["msg"]
    huge = client.post(
        URL,
        content=b" " * (limit_for(URL) + 1),
        headers=TOKEN | {"Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    assert samples(app) == []


def test_openapi_declares_the_request(client: httpx.Client) -> None:
    operation = client.get("/openapi.json").json()["paths"][URL]["post"]
    assert "requestBody" in operation
    assert {"201", "401", "422"} <= set(operation["responses"])
