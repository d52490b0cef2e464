"""Server errors schemathesis found in the API, each pinned on both backends.

Both were 500s on PostgreSQL only (SQLite takes either): a count past a 32-bit integer in an
SLI sample, and a NUL character (`\\u0000`) in any text, which PostgreSQL's text and JSONB
cannot hold.
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
