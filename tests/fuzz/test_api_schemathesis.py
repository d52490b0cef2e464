"""The HTTP API against its own `/openapi.json`: every `/api/v1` route is declared there, and
schemathesis finds no 5xx and no response other than declared.

The fuzzer is bench/fuzz_api.py (`make bench` runs it longer): it fetches the document from
the app in process and sends each `/api/v1` operation Hypothesis-generated requests, valid
and invalid, with the bearer token, without one and with a wrong one. The run is
derandomized, so a failure here is the same failure on every machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bench.fuzz_api import (
    PREFIX,
    TOKEN,
    KnownNames,
    api_app,
    checks,
    fuzz,
    stop_app_lifespans,
)

from launchops.body_limits import limit_for

EXAMPLES = 15  # per operation and mode with the token (a quarter of that without): ~20 s
KNOWN_PATHS = {
    ("POST", "/api/v1/alerts/alertmanager"),
    ("GET", "/api/v1/incidents"),
    ("POST", "/api/v1/failures"),
    ("POST", "/api/v1/sli"),
    ("GET", "/api/v1/projects"),
}
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Any]:
    with api_app(f"sqlite:///{tmp_path / 'fuzz.db'}") as app:
        yield app


def served_api_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves under /api/v1, found by walking its
    routes (so a route added later is covered without touching this test), with whether
    it is left out of the schema."""
    from fastapi import routing

    walk = getattr(routing, "iter_route_contexts", None)  # FastAPI ≥ 0.16x: lazy includes
    routes = list(walk(app.routes)) if walk is not None else list(app.routes)
    served = set()
    for route in routes:
        path = getattr(route, "path", None)
        if not isinstance(path, str) or not path.startswith(f"{PREFIX}/"):
            continue
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                served.add((method, path))
    return served


def test_every_api_route_is_declared_in_openapi(app: Any) -> None:
    served = served_api_routes(app)
    # The walk itself works: the routes known when this test was written are all found.
    assert served >= KNOWN_PATHS, sorted(KNOWN_PATHS - served)
    paths = app.openapi()["paths"]
    declared = {
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith(PREFIX)
        for method in operations
    }
    assert served - declared == set(), "served under /api/v1 but missing from /openapi.json"
    assert declared - served == set(), "declared but not served"


def test_every_api_operation_declares_its_bodies_and_refusals(app: Any) -> None:
    """The refusals every operation can give are declared (the bearer guard's 401 and 503,
    422), and each POST declares its JSON request body, also where the route reads the body
    itself to check the token first (openapi_extra), and the body cap's 413."""
    doc = app.openapi()
    for path, operations in doc["paths"].items():
        if not path.startswith(PREFIX):
            continue
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            responses = operation["responses"]
            for status in ("401", "422", "503"):
                assert status in responses, f"{where} does not declare {status}"
                assert "application/json" in responses[status].get("content", {}), where
            assert operation.get("security"), f"{where} does not declare the bearer token"
            if method == "post":
                body = operation.get("requestBody", {})
                assert body.get("required"), f"{where} declares no required body"
                schema = body["content"]["application/json"]["schema"]
                assert schema, where
                assert "$defs" not in json.dumps(schema), f"{where}: unresolvable $defs"
                assert "application/json" in responses["413"].get("content", {}), where


def test_bodies_over_the_cap_are_refused_as_declared(app: Any) -> None:
    """The body-size middleware's 413 matches what each operation declares."""
    import schemathesis

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.method.upper() != "POST" or not operation.path.startswith(PREFIX):
                continue
            padding = "x" * (limit_for(operation.path) + 1)
            case = operation.Case(body={"padding": padding}, media_type="application/json")
            response = case.call(headers=BEARER)
            assert response.status_code == 413, (operation.path, response.status_code)
            case.validate_response(response, checks=checks(negative=False), headers=BEARER)
    finally:
        stop_app_lifespans()


def test_schemathesis_finds_no_server_error_and_no_undeclared_response(db_url: str) -> None:
    with api_app(db_url) as app:
        report = fuzz(app, EXAMPLES, names=KnownNames.of())
    summary = report.summary()
    assert report.server_errors == 0, summary
    assert report.nonconforming_responses == 0, summary
    # Valid requests got through to every operation: the fuzz reached past the refusals.
    assert set(report.accepted) == set(report.operations), summary
    assert {401, 422} <= set(report.statuses), summary


def test_bench_report_counts_requests_and_server_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make bench` runs the same fuzzer longer; its report's shape, on a tiny run."""
    from bench import QUICK, fuzz_api

    monkeypatch.setattr(fuzz_api, "QUICK_EXAMPLES", 2)
    lines = fuzz_api.run(QUICK).splitlines()
    assert lines[0].startswith("API fuzz (schemathesis over /openapi.json, 2 examples")
    assert lines[0].endswith("— SQLite")
    assert any(line.startswith("requests: ") for line in lines)
    assert "5xx responses: 0" in lines
    assert "responses not as declared: 0" in lines
