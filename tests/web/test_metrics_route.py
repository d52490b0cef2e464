"""`GET /metrics` serves Prometheus' text format, and `/openapi.json` says so (text/plain, not
the JSON FastAPI declares by default)."""

from __future__ import annotations

from tests.e2e.harness import make_settings, running_app


def test_metrics_is_declared_and_served_as_text(sqlite_url: str) -> None:
    with running_app(make_settings(sqlite_url)) as app, app.client() as client:
        document = client.get("/openapi.json").json()
        served = client.get("/metrics")
    answer = document["paths"]["/metrics"]["get"]["responses"]["200"]
    assert set(answer["content"]) == {"text/plain"}
    assert answer["content"]["text/plain"]["schema"] == {"type": "string"}
    assert answer["description"] == "Prometheus text exposition format"
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/plain")
    assert "# TYPE launchops_" in served.text
