"""GET /api/v1/projects over HTTP: the example organisation's portfolio with days in stage and
flags, filters, 422s naming the bad query field, and the bearer token."""

from __future__ import annotations

from datetime import UTC, datetime

from launchops.store.types import utcnow
from tests.api.test_alertmanager import TOKEN, api_app

URL = "/api/v1/projects"


def test_lists_the_example_projects_with_clocks_and_flags(db_url: str) -> None:
    with api_app(db_url) as app, app.client() as client:
        response = client.get(URL, headers=TOKEN)
        assert response.status_code == 200, response.text
        body = response.json()
        projects = {p["id"]: p for p in body["projects"]}
        assert set(projects) == {"support-assistant", "ticket-summarizer"}
        support = projects["support-assistant"]
        since = datetime(2026, 10, 1, tzinfo=UTC)
        expected_days = (utcnow() - since).total_seconds() / 86400
        assert abs(support["days_in_stage"] - expected_days) < 0.2
        assert (support["stage"], support["owner"], support["sponsor"], support["team"]) == (
            "pilot",
            "alice",
            "dan",
            "ml",
        )
        assert (support["timebox_days"], support["limit_days"]) == (56.0, 90.0)
        over = "over_limit" if expected_days >= 90 else "over_timebox"
        assert support["flags"] == ([over] if expected_days >= 56 else [])
        ticket = projects["ticket-summarizer"]
        assert ticket["stage"] == "poc" and ticket["sponsor"] is None
        assert ticket["flags"] == ["no_sponsor"] and ticket["days_in_stage"] < 1
        assert (ticket["timebox_days"], ticket["limit_days"]) == (28.0, 42.0)
        assert ticket["open_gate"] is None and ticket["open_incidents"] == 0
        assert body["scale"]["goal"] == 2 and body["scale"]["reached_production"] == []

        only_poc = client.get(URL, params={"stage": "poc"}, headers=TOKEN).json()
        assert [p["id"] for p in only_poc["projects"]] == ["ticket-summarizer"]
        assert client.get(URL, params={"team": "data"}, headers=TOKEN).json()["projects"] == []


def test_bad_filters_and_missing_token_are_refused(sqlite_url: str) -> None:
    with api_app(sqlite_url) as app, app.client() as client:
        bad_stage = client.get(URL, params={"stage": "beta"}, headers=TOKEN)
        assert bad_stage.status_code == 422
        assert bad_stage.json()["detail"][0]["loc"] == ["query", "stage"]
        bad_team = client.get(URL, params={"team": "nobody"}, headers=TOKEN)
        assert bad_team.status_code == 422
        assert bad_team.json()["detail"][0]["loc"] == ["query", "team"]
        assert client.get(URL).status_code == 401
        schema = client.get("/openapi.json").json()
        assert "get" in schema["paths"][URL]
