"""Server errors schemathesis found in the API, each pinned on both backends.

Most were 500s on PostgreSQL only (SQLite takes them): a count past a 32-bit integer in an
SLI sample, an incidents cursor past one, and a NUL character (`\\u0000`) in any text, which
PostgreSQL's text and JSONB cannot hold, and two SLI costs near float's limit whose sum
overflowed. On both: a 422 quoting NaN or Infinity, and an SLI period whose UTC time falls
before year 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bench.fuzz_api import TOKEN, api_app
from requests import Session
from schemathesis.python.asgi import get_client

BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(db_url: str) -> Iterator[Session]:
    """A `requests` session into the app in process (schemathesis's ASGI client)."""
    with api_app(db_url) as app, get_client(app) as client:
        yield client


def sample(**fields: Any) -> dict[str, Any]:
    end = datetime.now(UTC).replace(microsecond=0)
    body = {
        "component": "retriever",
        "period_start": (end - timedelta(minutes=5)).isoformat(),
        "period_end": end.isoformat(),
        "requests": 100,
        "successes": 99,
    }
    return {**body, **fields}


def test_sli_counts_beyond_32_bits_are_refused_not_a_server_error(client: Session) -> None:
    largest = 2**31 - 1
    stored = client.post("/api/v1/sli", json=sample(requests=largest), headers=BEARER)
    assert stored.status_code == 201, stored.text
    refused = client.post("/api/v1/sli", json=sample(requests=largest + 1), headers=BEARER)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["loc"] == ["body", "requests"]


def test_sli_costs_near_float_limit_are_refused_not_summed_into_a_server_error(
    client: Session,
) -> None:
    """A cost of 6.6e307 was stored, and the day's sum of two overflowed on PostgreSQL."""
    stored = client.post("/api/v1/sli", json=sample(cost=1e12), headers=BEARER)
    assert stored.status_code == 201, stored.text
    again = client.post("/api/v1/sli", json=sample(cost=1e12), headers=BEARER)
    assert again.status_code == 201, again.text
    for cost in (1.000001e12, 6.647869814304434e307):
        refused = client.post("/api/v1/sli", json=sample(cost=cost), headers=BEARER)
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"][0]["loc"] == ["body", "cost"]


def test_sli_refuses_infinite_and_nan_numbers_with_a_422(client: Session) -> None:
    """json.loads reads `Infinity` and `NaN`; the 422 quoting one could not be written as
    JSON and became a 500 (NaN was refused that way before infinity was refused at all)."""
    for field in ("latency_p99", "cost"):
        for literal in ("Infinity", "NaN", "-Infinity"):
            response = client.post(
                "/api/v1/sli",
                data=json_with(sample(), field, literal),
                headers={**BEARER, "Content-Type": "application/json"},
            )
            assert response.status_code == 422, (field, literal, response.text)
            [problem] = response.json()["detail"]
            assert problem["loc"] == ["body", field]


def json_with(body: dict[str, Any], field: str, literal: str) -> str:
    """The body as JSON with `field` set to a literal json.dumps would not write."""
    return json.dumps({**body, field: 0}).replace(f'"{field}": 0', f'"{field}": {literal}')


def test_nul_characters_in_alerts_are_dropped_not_a_server_error(client: Session) -> None:
    notification = {
        "version": "4",
        "status": "firing",
        "groupKey": "g\x00k",
        "alerts": [
            {
                "status": "firing",
                "fingerprint": "fp\x00nul",
                "labels": {"alertname": "Nul\x00", "component": "retriever", "x\x00": "y"},
                "annotations": {"summary": "Empty \x00results"},
            }
        ],
    }
    response = client.post("/api/v1/alerts/alertmanager", json=notification, headers=BEARER)
    assert response.status_code == 200, response.text
    [outcome] = response.json()["alerts"]
    assert (outcome["fingerprint"], outcome["action"]) == ("fpnul", "opened")
    [listed] = client.get("/api/v1/incidents", headers=BEARER).json()["incidents"]
    assert listed["title"] == "Empty results"


def test_nul_characters_in_failure_cases_are_dropped_not_a_server_error(
    client: Session,
) -> None:
    case = {"component": "retriever", "summary": "No \x00documents", "trace_id": "t\x00"}
    response = client.post("/api/v1/failures", json={"cases": [case, case]}, headers=BEARER)
    assert response.status_code == 201, response.text
    assert response.json()["duplicates"] == 1


def test_sli_period_outside_utc_years_is_refused_not_a_server_error(client: Session) -> None:
    early = sample(period_start="0001-01-01T00:00:00Z", period_end="0001-01-01T00:00:01+01:00")
    response = client.post("/api/v1/sli", json=early, headers=BEARER)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "period_end"]
    late = sample(period_start="9999-12-31T23:00:00-05:00", period_end="9999-12-31T23:59:59Z")
    response = client.post("/api/v1/sli", json=late, headers=BEARER)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "period_start"]


def test_an_incidents_cursor_past_32_bits_lists_from_the_newest(client: Session) -> None:
    alert = {"status": "firing", "fingerprint": "fp-cursor", "labels": {"component": "rag"}}
    notification = {"version": "4", "status": "firing", "alerts": [alert]}
    opened = client.post("/api/v1/alerts/alertmanager", json=notification, headers=BEARER)
    assert opened.status_code == 200, opened.text
    for cursor in ("2147483647", "2147483648", "999999999999999999"):
        response = client.get("/api/v1/incidents", params={"cursor": cursor}, headers=BEARER)
        assert response.status_code == 200, (cursor, response.text)
        assert len(response.json()["incidents"]) == 1, cursor
