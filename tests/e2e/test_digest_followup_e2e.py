"""End to end: the digest's follow-up buttons through the real endpoints.

Slack: failure cases in through the API, the digest sent by the running app, then Assign
(the modal, its owner select preset to the Responsible team, submitted with another owner)
and Mark reviewed clicked through signed `/slack/events` requests; a forged value and a
stranger are refused; next week's digest (a week later on the service's clock) lists both.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from launchops.messages.digest_views import ASSIGN, REVIEWED
from launchops.services.digest import DigestService
from tests.e2e.harness import SLACK_SECRET, RunningApp, running_app, slack_settings
from tests.fakes.slack_api import FakeSlackAPI, RecordedCall
from tests.fakes.slack_requests import FORM, block_actions_body, sign, view_submission_body

TOKEN = {"Authorization": "Bearer test-api-token"}


def _post(app: RunningApp, body: bytes) -> httpx.Response:
    with app.client() as client:
        return client.post(
            "/slack/events", content=body, headers=sign(SLACK_SECRET, body, content_type=FORM)
        )


def _buttons(slack: FakeSlackAPI) -> list[dict[str, Any]]:
    found = []
    for call in slack.calls("chat.postMessage"):
        if call.params.get("channel") != "C0MLTEAM":
            continue
        for block in call.json_param("blocks") or []:
            if block.get("type") == "actions":
                found += block["elements"]
    return found


def _said(call: RecordedCall) -> str:
    return html.unescape(str(call.params.get("text", "")) + json.dumps(call.params.get("blocks")))


def _cases(when: datetime) -> list[dict[str, str]]:
    at = when.isoformat()
    return [
        *[{"component": "answer-model", "kind": "error", "summary": f"Timeout after {n}s",
           "occurred_at": at} for n in range(4)],
        *[{"component": "prompts", "kind": "negative_feedback",
           "summary": "Refused a harmless billing question", "occurred_at": at}] * 2,
    ]  # fmt: skip


def test_slack_assign_and_mark_reviewed_then_next_weeks_digest_lists_them(
    db_url: str, slack: FakeSlackAPI
) -> None:
    now = datetime.now(UTC)
    with running_app(slack_settings(db_url, slack.url)) as app:
        with app.client() as client:
            answer = client.post("/api/v1/failures", json={"cases": _cases(now)}, headers=TOKEN)
            assert answer.status_code == 201, answer.text
        digests = app.ctx.digests
        assert digests is not None
        digests.send(team_id="ml")
        app.ctx.dispatcher.drain(timeout=20)
        buttons = _buttons(slack)
        assigns = [b for b in buttons if b["action_id"].startswith(ASSIGN)]
        reviews = [b for b in buttons if b["action_id"].startswith(REVIEWED)]
        assert len(assigns) == len(reviews) == 2
        assert assigns[0]["text"]["text"] == "Assign 1"

        # Assign 1 → the modal, the ML team (Responsible for the answer model) preselected.
        click = block_actions_body(
            assigns[0]["action_id"], assigns[0]["value"], "U0BOB", "C0MLTEAM", "1.1",
            slack.response_url("assign"), trigger_id="trig-assign",
        )  # fmt: skip
        assert _post(app, click).status_code == 200
        [opened] = slack.wait_for("views.open")
        view = opened.json_param("view")
        select = view["blocks"][1]["element"]
        assert select["initial_option"]["value"] == "team:ml"
        values = {"digest_owner": {"digest_owner_select": {
            "type": "static_select", "selected_option": {"value": "person:alice"}}}}  # fmt: skip
        submit = view_submission_body(
            view["callback_id"], values, "U0BOB", private_metadata=view["private_metadata"]
        )
        assert _post(app, submit).status_code == 200
        [assigned] = slack.wait_for("response_url", predicate=lambda c: "assigned" in _said(c))
        assert "assigned to Alice Kim" in _said(assigned)

        # Mark 2 reviewed, twice (a retried click): recorded once, the second told so.
        for key in ("r1", "r2"):
            review = block_actions_body(
                reviews[1]["action_id"], reviews[1]["value"], "U0ALICE", "C0MLTEAM", "1.1",
                slack.response_url(key),
            )  # fmt: skip
            assert _post(app, review).status_code == 200
        said = [_said(c) for c in slack.wait_for("response_url", count=3)]
        assert sum("is marked reviewed" in s for s in said) == 1
        assert sum("already marked reviewed by Alice Kim" in s for s in said) == 1

        # A forged value and a stranger (Henry is neither ML nor R/A of these components).
        for user, value, expected in [
            ("U0BOB", "12345678", "does not match any failure pattern"),
            ("U0HENRY", reviews[0]["value"], "Only members of ML team"),
        ]:
            forged = block_actions_body(
                f"{REVIEWED}:9", value, user, "C0MLTEAM", "1.1", slack.response_url(user)
            )
            assert _post(app, forged).status_code == 200
            [refused] = slack.wait_for(
                "response_url",
                predicate=lambda c, e=expected: e in _said(c),  # type: ignore[misc]
            )
            assert refused.params.get("response_type") == "ephemeral"

        # Next week: the digest's follow-up section says what became of both.
        slack.clear()
        later = DigestService(
            app.ctx.engine, platforms=("slack",), clock=lambda: now + timedelta(days=7)
        )
        later.set_wakeup(app.ctx.dispatcher.wake)
        later.send(team_id="ml")
        app.ctx.dispatcher.drain(timeout=20)
        thread = " ".join(
            _said(c) for c in slack.calls("chat.postMessage") if c.params["channel"] == "C0MLTEAM"
        )
        assert "Follow-up from earlier weeks" in thread
        assert "“Timeout after" in thread and "assigned to Alice Kim, still open" in thread
        assert "“Refused a harmless billing question”: reviewed by Alice Kim" in thread


# Teams -------------------------------------------------------------------------------------------
BOB_TEAMS = {"id": "29:1bob", "name": "Bob Lee", "aadObjectId": "aad-bob"}
ALICE_TEAMS = {"id": "29:1alice", "name": "Alice Kim", "aadObjectId": "aad-alice"}
HENRY_TEAMS = {"id": "29:1henry", "name": "Henry Ford", "aadObjectId": "aad-henry"}


def test_teams_assign_and_mark_reviewed_and_the_chart_in_a_card(sqlite_url: str) -> None:
    from tests.e2e.harness import make_settings
    from tests.e2e.test_teams_incidents_e2e import execute, plain
    from tests.e2e.test_teams_incidents_e2e import post as post_teams
    from tests.fakes.cards import validate_adaptive_card
    from tests.fakes.teams_connector import FakeBotConnector, RecordedActivity

    def card_with(record: RecordedActivity, title: str) -> bool:
        return any(
            a.get("title") == title for card in record.cards for a in card.get("actions") or []
        )

    def press(
        app: RunningApp,
        connector: FakeBotConnector,
        user: dict[str, str],
        record: RecordedActivity,
        title: str,
        typed: dict[str, str] | None = None,
        value: str | None = None,
    ) -> str:
        [action] = [a for a in record.cards[0]["actions"] if a["title"] == title]
        if action["type"] == "Action.ShowCard":  # Assign: its owner box, then its button
            [box] = action["card"]["body"]
            assert box["type"] == "Input.Text" and box["id"] == "owner"
            [action] = action["card"]["actions"]
        data = dict(action["data"]) | (typed or {})
        if value is not None:
            data["value"] = value
        answer = post_teams(app, execute(connector, user, record, action["verb"], data))
        assert answer.status_code == 200, answer.text
        return str(answer.json()["value"])

    now = datetime.now(UTC)
    with FakeBotConnector() as connector:
        settings = make_settings(
            sqlite_url,
            LAUNCHOPS_TEAMS_SERVICE_URL=connector.url,
            LAUNCHOPS_TEAMS_ANONYMOUS="true",
            LAUNCHOPS_CHAT_PLATFORMS="teams",
        )
        with running_app(settings) as app:
            with app.client() as client:
                answer = client.post("/api/v1/failures", json={"cases": _cases(now)}, headers=TOKEN)
                assert answer.status_code == 201, answer.text
            digests = app.ctx.digests
            assert digests is not None
            digests.send(team_id="ml")
            [patterns] = connector.wait_for(1, predicate=lambda r: card_with(r, "Assign 1"))
            assert validate_adaptive_card(patterns.cards[0]) == []
            # The trend chart: an Image with a PNG data URL in a valid card.
            [chart] = connector.wait_for(
                1,
                predicate=lambda r: any(
                    b.get("type") == "Image" for c in r.cards for b in c.get("body", [])
                ),
            )
            assert validate_adaptive_card(chart.cards[0]) == []
            [image] = [b for b in chart.cards[0]["body"] if b["type"] == "Image"]
            assert image["url"].startswith("data:image/png;base64,iVBOR")

            said = press(app, connector, BOB_TEAMS, patterns, "Assign 1", {"owner": "Data team"})
            assert "assigned to Data team" in plain(said)
            again = press(app, connector, BOB_TEAMS, patterns, "Assign 1", {"owner": "data"})
            assert "already assigned to Data team" in plain(again)
            reviewed = press(app, connector, ALICE_TEAMS, patterns, "Mark 2 reviewed")
            assert "is marked reviewed" in plain(reviewed)
            retried = press(app, connector, ALICE_TEAMS, patterns, "Mark 2 reviewed")
            assert "already marked reviewed by Alice Kim" in plain(retried)
            stranger = press(app, connector, HENRY_TEAMS, patterns, "Mark 1 reviewed")
            assert "Only members of ML team" in plain(stranger)
            forged = press(app, connector, BOB_TEAMS, patterns, "Mark 1 reviewed", value="x1")
            assert "does not match any failure pattern" in plain(forged)

            connector.clear()
            later = DigestService(
                app.ctx.engine, platforms=("teams",), clock=lambda: now + timedelta(days=7)
            )
            later.set_wakeup(app.ctx.dispatcher.wake)
            later.send(team_id="ml")

            def card_text(record: RecordedActivity) -> str:
                return plain(
                    " ".join(str(b.get("text", "")) for c in record.cards for b in c["body"])
                )

            [followup] = connector.wait_for(
                1, predicate=lambda r: "Follow-up from earlier weeks" in card_text(r)
            )
            shown = card_text(followup)
            assert "assigned to Data team, still open" in shown
            assert "reviewed by Alice Kim" in shown
        connector.assert_valid()
