"""Decisions bound to the evidence, end to end in text over signed Slack requests.

A P1 declared (`/incident p1 retriever: …`) on one of the project's components while its gate
is open: earlier approvals are shown as given on older evidence (summary card and `gate
status`), their givers get a new DM saying what changed, with the buttons, and the gate passes
only once they approve again. A `launchops config sync` (another process) that removes a
component's runbook link does the same.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.gate_chat import (
    CHANNEL,
    SECRET,
    Store,
    env,
    gate_config,
    launchops,
    posts,
    say,
    updates,
)
from tests.e2e.harness import RunningApp, running_app, slack_settings
from tests.e2e.slack_ack import ack_answer
from tests.fakes.slack_api import FakeSlackAPI, RecordedCall
from tests.fakes.slack_requests import FORM, sign, slash_command_body

pytestmark = pytest.mark.e2e

CHANGED = "The evidence for gate #1 (Support assistant → Production) changed"
STALE = "Given on older evidence (asked again)"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return gate_config(tmp_path)


@pytest.fixture
def app(sqlite_url: str, slack: FakeSlackAPI, config: Path) -> Iterator[RunningApp]:
    settings = slack_settings(
        sqlite_url, slack.url, SLACK_SIGNING_SECRET=SECRET, LAUNCHOPS_CONFIG_DIR=str(config)
    )
    with running_app(settings) as running:
        yield running


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    reader = Store(sqlite_url)
    yield reader
    reader.close()


def declare(app: RunningApp, slack: FakeSlackAPI, text: str) -> str:
    body = slash_command_body("/incident", text, "U0CAROL", CHANNEL, slack.response_url("i"))
    response = httpx.post(
        f"{app.url}/slack/events", content=body, headers=sign(SECRET, body, content_type=FORM)
    )
    return html.unescape(str(ack_answer(response).params["text"]))


def changed_dms(slack: FakeSlackAPI) -> list[RecordedCall]:
    return posts(slack, text=CHANGED)


def buttons(call: RecordedCall) -> list[tuple[str, str]]:
    blocks = call.json_param("blocks") or []
    return [
        (element["action_id"].split(":")[0], element["value"])
        for block in blocks
        if block.get("type") == "actions"
        for element in block["elements"]
    ]


def card_text(call: RecordedCall) -> str:
    return html.unescape(json.dumps(call.json_param("blocks"), ensure_ascii=False))


def request_with_three_approvals(app: RunningApp, slack: FakeSlackAPI) -> None:
    assert "Requested gate #1" in say(
        app.url, slack, "U0ALICE", "gate request support-assistant production"
    )
    for user in ("U0DAN", "U0ERIN", "U0FRANK"):
        assert "You approved gate #1" in say(app.url, slack, user, "gate approve 1")


def test_a_p1_mid_vote_makes_earlier_approvals_count_only_once_given_again(
    app: RunningApp, slack: FakeSlackAPI, store: Store
) -> None:
    request_with_three_approvals(app, slack)
    answer = declare(app, slack, "p1 retriever: answers cite the wrong articles")
    assert "INC-1" in answer, answer

    # Those who approved before the declaration, and only they, are asked again.
    calls = slack.wait_for(
        "chat.postMessage",
        count=3,
        timeout=15,
        predicate=lambda c: CHANGED in c.params.get("text", ""),
    )
    assert sorted(c.params["channel"] for c in calls) == ["DU0DAN", "DU0ERIN", "DU0FRANK"]
    for call in calls:
        text = html.unescape(call.params["text"])
        assert "P1 INC-1 declared on Retriever: answers cite the wrong articles" in text
        assert buttons(call) == [
            ("gate_approve", "1:2"),
            ("gate_reject", "1:2"),
            ("gate_comment", "1:2"),
        ]
    # The summary card, edited in place, says so.
    slack.wait_for(
        "chat.update",
        timeout=15,
        predicate=lambda c: c.params["channel"] == "C0MLTEAM" and STALE in card_text(c),
    )
    card = card_text(updates(slack, channel="C0MLTEAM")[-1])
    assert "Dan Rivera, Erin Walsh, Frank Osei" in card
    assert "v2: P1 INC-1 declared on Retriever" in card
    status = say(app.url, slack, "U0ALICE", "gate status support-assistant")
    # (A warning line may follow the stage: Pilot since 2026-10-01 runs over its timebox.)
    lines = [line for line in status.splitlines() if not line.startswith("⚠️")]
    assert lines[:2] == ["stage: pilot", lines[1]] and lines[1].startswith(
        "requested: production (gate #1"
    ), status
    for name in ("Dan Rivera", "Erin Walsh", "Frank Osei"):
        assert f"{name} approved on older evidence v1 (no longer counts)" in status

    assert "You approved gate #1" in say(app.url, slack, "U0GRACE", "gate approve 1")
    for user in ("U0DAN", "U0ERIN"):
        answer = say(app.url, slack, user, "gate approve 1")
        assert "You approved gate #1" in answer and "now in" not in answer
        assert store.request(1).status == "open"
    answer = say(app.url, slack, "U0FRANK", "gate approve 1")  # the last one given again
    assert "Support assistant is now in Production" in answer
    assert store.stage("support-assistant") == "production"
    assert store.decisions(1) == [
        ("dan", "approve", 1),
        ("erin", "approve", 1),
        ("frank", "approve", 1),
        ("grace", "approve", 2),
        ("dan", "approve", 2),
        ("erin", "approve", 2),
        ("frank", "approve", 2),
    ]
    assert store.audit("gate.evidence_changed") == 1 and store.audit("gate.passed") == 1
    assert len(changed_dms(slack)) == 3  # asked again once each
    status = say(app.url, slack, "U0ALICE", "gate status support-assistant")
    assert status.startswith("stage: production"), status


def test_a_config_sync_removing_a_runbook_mid_vote_asks_again(
    app: RunningApp,
    slack: FakeSlackAPI,
    store: Store,
    config: Path,
    sqlite_url: str,
    tmp_path: Path,
) -> None:
    request_with_three_approvals(app, slack)
    catalog = config / "catalog.yaml"
    line = "    runbook: https://wiki.example/runbooks/retriever\n"
    assert catalog.read_text().count(line) == 1
    catalog.write_text(catalog.read_text().replace(line, ""))
    synced = launchops(["config", "sync", str(config)], env(sqlite_url, slack, config), tmp_path)
    assert synced.returncode == 0 and "config loaded" in synced.stdout, synced.stderr

    # The running bot notices the new revision and rechecks the open gate.
    calls = slack.wait_for(
        "chat.postMessage",
        count=3,
        timeout=15,
        predicate=lambda c: CHANGED in c.params.get("text", ""),
    )
    assert sorted(c.params["channel"] for c in calls) == ["DU0DAN", "DU0ERIN", "DU0FRANK"]
    text = html.unescape(calls[0].params["text"])
    assert "now ❌: An incident runbook for every component (Retriever)" in text
    assert "Runbook links (Retriever)" in text
    assert store.request(1).evidence_version == 2
    status = say(app.url, slack, "U0ALICE", "gate status support-assistant")
    assert "Dan Rivera approved on older evidence v1 (no longer counts)" in status
    evidence = {i["key"]: (i["ok"], i["detail"]) for i in store.request(1).evidence}
    assert evidence["launch.runbook"] == (False, "Retriever")

    for user in ("U0GRACE", "U0DAN", "U0ERIN"):
        say(app.url, slack, user, "gate approve 1")
    assert store.request(1).status == "open"  # Frank's approval was on older evidence
    assert "now in Production" in say(app.url, slack, "U0FRANK", "gate approve 1")
    assert len(changed_dms(slack)) == 3 and store.audit("gate.evidence_changed") == 1


def test_deliverables_of_the_stage_left_with_links_in_dms_card_and_status(
    app: RunningApp, slack: FakeSlackAPI, store: Store
) -> None:
    """Issue 11, item 4: the request lists the Pilot's deliverables, ❌ until a link is
    attached (`gate attest <n> <deliverable> yes <url>`); attaching asks nobody again."""
    assert "Requested gate #1" in say(
        app.url, slack, "U0ALICE", "gate request support-assistant production"
    )
    [asked] = slack.wait_for(
        "chat.postMessage", predicate=lambda c: c.params["channel"] == "DU0DAN"
    )
    text = card_text(asked)
    assert "Deliverables of Pilot" in text and "❌ Results report" in text, text
    assert "You approved gate #1" in say(app.url, slack, "U0DAN", "gate approve 1")
    answer = say(
        app.url,
        slack,
        "U0ALICE",
        "gate attest 1 results-report yes https://wiki.example/pilot-results",
    )
    assert "✅ Results report: https://wiki.example/pilot-results (alice)" in answer, answer
    refused = say(app.url, slack, "U0ALICE", "gate attest 1 satisfaction-survey yes the wiki")
    assert "A deliverable is attached as a link" in refused, refused
    slack.wait_for(
        "chat.update",
        timeout=15,
        predicate=lambda c: (
            c.params["channel"] == "C0MLTEAM"
            and "✅ Results report: https://wiki.example/pilot-results" in card_text(c)
        ),
    )
    card = card_text(updates(slack, channel="C0MLTEAM")[-1])
    assert "❌ Satisfaction survey" in card and "❌ Production migration plan" in card
    assert store.decisions(1) == [("dan", "approve", 1)]  # still counts: nobody asked again
    assert changed_dms(slack) == []
    # `gate status` warns like the portfolio: the PoC has no sponsor.
    status = say(app.url, slack, "U0BOB", "gate status ticket-summarizer")
    assert status.startswith("stage: poc\n⚠️ no sponsor"), status
