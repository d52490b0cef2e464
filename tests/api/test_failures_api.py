"""`POST /api/v1/failures` on the running app: stored once, masked at the door, all or nothing.

Privacy is checked where it matters: the raw database (the SQLite file's bytes, PostgreSQL's
rows as text) and every log line captured while the app ran must hold none of the PII that
was posted, in any of the listed forms, glued to Korean text included.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from launchops.body_limits import limit_for
from tests.e2e.harness import RunningApp, make_settings, running_app
from tests.pii import NEEDLES, pii_case, raw_store

pytestmark = pytest.mark.e2e

URL = "/api/v1/failures"
TOKEN = {"Authorization": "Bearer test-api-token"}


@pytest.fixture
def app(sqlite_url: str) -> Iterator[RunningApp]:
    with running_app(make_settings(sqlite_url)) as running:
        running.ctx.dispatcher.stop()
        yield running


@pytest.fixture
def client(app: RunningApp) -> Iterator[httpx.Client]:
    with app.client() as client:
        yield client


def rows(app: RunningApp) -> list[dict[str, Any]]:
    with app.ctx.engine.connect() as connection:
        result = connection.execute(sa.text("SELECT * FROM failurecase ORDER BY id"))
        return [dict(row._mapping) for row in result]


def post(client: httpx.Client, payload: Any) -> httpx.Response:
    return client.post(URL, json=payload, headers=TOKEN)


# stored, masked, once ----------------------------------------------------------------------
def test_cases_are_stored_masked_and_none_of_the_pii_is_anywhere(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with running_app(make_settings(db_url)) as app, app.client() as client:
        app.ctx.dispatcher.stop()
        one = post(client, pii_case(trace_id="trace-1"))
        many = post(client, {"cases": [pii_case(trace_id=f"t-{n}") for n in range(3)]})
        assert one.status_code == 201, one.text
        assert many.status_code == 201, many.text
        assert len(one.json()["ids"]) == 1 and len(many.json()["ids"]) == 3
        stored = rows(app)
        assert len(stored) == 4
        first = stored[0]
        assert first["component_id"] == "retriever"
        assert first["kind"] == "negative_feedback"
        assert first["source"] == "api"
        assert first["summary"] == "고객 연락처[phone]로 회신 요청, 메일[email]입니다"
        assert "[card]" in first["input"] and "[rrn]" in first["input"]
        assert "[ip]" in first["output"] and "[secret]" in first["output"]
        raw = raw_store(app.ctx.engine, ("failurecase",))
    logs = caplog.text + "\n".join(str(r.msg) for r in caplog.records)
    assert "failures.recorded" in logs
    for needle in NEEDLES:
        assert needle not in raw, needle
        assert needle not in logs, needle


def test_a_repeated_trace_is_stored_once_and_keeps_its_first_id(db_url: str) -> None:
    with running_app(make_settings(db_url)) as app, app.client() as client:
        app.ctx.dispatcher.stop()
        first = post(client, {"component": "retriever", "summary": "empty answer", "trace_id": "a"})
        [first_id] = first.json()["ids"]
        batch = post(
            client,
            {
                "cases": [
                    {"component": "rag", "summary": "again", "trace_id": "a"},
                    {"component": "retriever", "summary": "new", "trace_id": "b"},
                    {"component": "retriever", "summary": "dup in batch", "trace_id": "b"},
                    {"component": "answer-model", "summary": "other component", "trace_id": "a"},
                    {"component": "retriever", "summary": "untraced"},
                ]
            },
        )
        assert batch.status_code == 201, batch.text
        ids = batch.json()["ids"]
        assert ids[0] == first_id
        assert ids[1] == ids[2]
        assert len(set(ids)) == 4
        assert batch.json()["duplicates"] == 2
        assert len(rows(app)) == 4
        assert {r["summary"] for r in rows(app)} == {
            "empty answer", "new", "other component", "untraced"
        }  # fmt: skip


def test_defaults_kind_other_and_occurred_now(app: RunningApp, client: httpx.Client) -> None:
    response = post(client, {"component": "Retriever", "summary": "no documents"})
    assert response.status_code == 201
    [row] = rows(app)
    assert row["kind"] == "other"
    assert row["occurred_at"] is not None


def test_occurred_at_is_kept(app: RunningApp, client: httpx.Client) -> None:
    payload = {"component": "rag", "summary": "x", "occurred_at": "2026-11-30T09:00:00+09:00"}
    assert post(client, payload).status_code == 201
    [row] = rows(app)
    assert str(row["occurred_at"]).startswith("2026-11-30 00:00:00")


# refusals: nothing stored ------------------------------------------------------------------
@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Basic abc"])
def test_no_or_wrong_token_is_401_before_the_body_is_read(
    app: RunningApp, client: httpx.Client, authorization: str | None
) -> None:
    headers = {"Content-Type": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    for body in (b'{"cases": [', b'{"component": "rag", "summary": "x"}'):
        response = client.post(URL, content=body, headers=headers)
        assert response.status_code == 401
        assert response.json() == {"detail": "missing or invalid bearer token"}
    assert rows(app) == []


def test_malformed_json_is_422(app: RunningApp, client: httpx.Client) -> None:
    response = client.post(
        URL, content=b'{"cases": [', headers=TOKEN | {"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["type"] == "json_invalid" and error["loc"][0] == "body"
    nested = client.post(URL, content=b"[" * 200_000, headers=TOKEN)
    assert nested.status_code == 422
    assert nested.json()["detail"][0]["type"] == "json_invalid"
    empty = client.post(URL, headers=TOKEN)
    assert empty.status_code == 422
    assert empty.json()["detail"][0]["loc"] == ["body"]


@pytest.mark.parametrize(
    ("payload", "loc", "kind"),
    [
        ({"component": "rag"}, ["body", "summary"], "missing"),
        ({"component": "rag", "summary": ""}, ["body", "summary"], "string_too_short"),
        ({"component": "rag", "summary": "x" * 2001}, ["body", "summary"], "string_too_long"),
        ({"component": "rag", "summary": "x", "kind": "meh"}, ["body", "kind"], "literal_error"),
        ({"component": "rag", "summary": "x", "confidence": 1.5}, ["body", "confidence"],
         "less_than_equal"),
        ({"component": "rag", "summary": "x", "input": "y" * 8001}, ["body", "input"],
         "string_too_long"),
        ({"component": "rag", "summary": "x", "occurred_at": "yesterday"},
         ["body", "occurred_at"], "datetime_from_date_parsing"),
        ({"cases": [{"component": "rag", "summary": "ok"}, {"component": "rag"}]},
         ["body", "cases", 1, "summary"], "missing"),
        ({"cases": []}, ["body", "cases"], "too_short"),
        ([1, 2], ["body"], "model_type"),
    ],
)  # fmt: skip
def test_invalid_fields_are_422_naming_the_field(
    app: RunningApp, client: httpx.Client, payload: Any, loc: list[Any], kind: str
) -> None:
    response = post(client, payload)
    assert response.status_code == 422
    assert (loc, kind) in [(e["loc"], e["type"]) for e in response.json()["detail"]]
    assert rows(app) == []


def test_an_unknown_component_is_422_naming_it_and_nothing_is_stored(
    app: RunningApp, client: httpx.Client
) -> None:
    response = post(
        client,
        {
            "cases": [
                {"component": "rag", "summary": "fine"},
                {"component": "retreiver", "summary": "typo"},
                {"component": "nothing-like-it", "summary": "unknown"},
            ]
        },
    )
    assert response.status_code == 422
    problems = response.json()["detail"]
    assert [p["loc"] for p in problems] == [
        ["body", "cases", 1, "component"],
        ["body", "cases", 2, "component"],
    ]
    assert "retreiver" in problems[0]["msg"] and "retriever" in problems[0]["msg"]
    assert "nothing-like-it" in problems[1]["msg"]
    assert rows(app) == []
    single = post(client, {"component": "nope", "summary": "x"})
    assert single.status_code == 422
    assert single.json()["detail"][0]["loc"] == ["body", "component"]


def test_1001_cases_are_refused_with_the_limit(app: RunningApp, client: httpx.Client) -> None:
    cases = [{"component": "rag", "summary": f"case {n}"} for n in range(1001)]
    response = post(client, {"cases": cases})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "cases"]
    assert "at most 1000" in error["msg"] and "1001" in error["msg"]
    assert rows(app) == []
    ok = post(client, {"cases": cases[:1000]})
    assert ok.status_code == 201
    assert len(ok.json()["ids"]) == 1000
    assert len(rows(app)) == 1000


def test_a_body_over_the_cap_is_413(app: RunningApp, client: httpx.Client) -> None:
    cap = limit_for(URL)
    assert cap == 2 * 1024 * 1024
    summary = "x" * 1900
    cases = [{"component": "rag", "summary": summary}] * (cap // 1900 + 10)
    response = post(client, {"cases": cases})
    assert response.status_code == 413
    assert response.json() == {"detail": f"request body larger than {cap} bytes"}
    assert rows(app) == []


def test_openapi_declares_the_request_and_response(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"][URL]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert "$ref" not in str(schema).replace("#/components", "")
    assert {"201", "401", "413", "422"} <= set(operation["responses"])
