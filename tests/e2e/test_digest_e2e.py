"""End to end: failure cases posted to the running app's `POST /api/v1/failures` and typed in
chat (`failure <component>: …`), then the real `launchops digest send --now` process posts
each team's weekly digest to the loopback Slack.

Checked in what Slack received: the ML and data teams' channels each get one top-level digest
with the right counts, the thread under it holds the patterns (masked examples) and the chart
arrives through files upload v2 into that thread; a team with nothing gets one quiet line; no
PII posted (every form tests/pii.py lists) reaches any outgoing call, stored row, or line the
processes printed. `--now` again sends nothing; `--force` sends again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from launchops.store import make_engine
from tests.conftest import CONFIG_DIR
from tests.e2e.harness import SLACK_SECRET, running_app, slack_settings
from tests.fakes.slack_api import UPLOAD_METHOD, FakeSlackAPI, RecordedCall
from tests.fakes.slack_requests import FORM, sign, slash_command_body
from tests.pii import NEEDLES, pii_case, raw_store
from tests.pii import PII as PII_FORMS

TOKEN = {"Authorization": "Bearer test-api-token"}
PII = ["jane.doe@example.com", "010-9876-5432", "4111 1111 1111 1111", "900101-1234567"]


def _cases() -> list[dict[str, str]]:
    timeouts = [
        {"component": "answer-model", "kind": "error",
         "summary": f"Timeout after {n}s answering {PII[n % len(PII)]}"}
        for n in range(6)
    ]  # fmt: skip
    refusals = [
        {"component": "prompts", "kind": "negative_feedback",
         "summary": "Refused a harmless billing question"}
        for _ in range(3)
    ]  # fmt: skip
    other = [
        {"component": "answer-model", "kind": "low_confidence", "summary": "Wrong language"},
        {"component": "rag", "kind": "other", "summary": "Stale index page for 010-9876-5432"},
    ]
    return [*timeouts, *refusals, *other]


def _digest(db_url: str, slack: FakeSlackAPI, tmp_path: Path, *flags: str) -> str:
    env = {
        **os.environ,
        "LAUNCHOPS_DATABASE_URL": db_url,
        "LAUNCHOPS_CONFIG_DIR": str(CONFIG_DIR),
        "LAUNCHOPS_CHAT_PLATFORMS": "slack",
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SLACK_SECRET,
        "SLACK_API_URL": slack.url,
    }
    env.pop("MicrosoftAppId", None)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "launchops"), "digest", "send", *flags],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr  # what it printed, its log lines included


def _text(call: RecordedCall) -> str:
    return str(call.params.get("text", "")) + str(call.params.get("blocks", ""))


def test_digest_send_now_posts_each_team_its_digest(
    db_url: str, slack: FakeSlackAPI, tmp_path: Path
) -> None:
    with running_app(slack_settings(db_url, slack.url)) as app, app.client() as client:
        answer = client.post("/api/v1/failures", json={"cases": _cases()}, headers=TOKEN)
        assert answer.status_code == 201, answer.text
        # Every listed form of personal data, glued to Korean text too, for the data team.
        every_form = pii_case(component="retriever")
        answer = client.post("/api/v1/failures", json=every_form, headers=TOKEN)
        assert answer.status_code == 201, answer.text
        typed = f"failure retriever: cited the wrong doc, mail me at {PII_FORMS['email']}"
        body = slash_command_body(
            "/launchops", typed, "U0CAROL", "C0GENERAL", slack.response_url("fb")
        )
        headers = sign(SLACK_SECRET, body, content_type=FORM)
        said = client.post("/slack/events", content=body, headers=headers)
        assert "Recorded failure case" in said.text, said.text
    slack.clear()

    out = _digest(db_url, slack, tmp_path, "--now")
    assert "ml → slack:C0MLTEAM" in out and "data → slack:C0DATA" in out

    posts = slack.calls("chat.postMessage")
    tops = [c for c in posts if "thread_ts" not in c.params]
    by_channel = {c.params["channel"]: c for c in tops}
    assert len(by_channel) == len(tops)  # one top-level message per channel
    ml = _text(by_channel["C0MLTEAM"])
    assert "10 failure cases" in ml
    assert "3 failure cases" in _text(by_channel["C0DATA"])  # one typed in chat
    assert "a quiet week" in _text(by_channel["C0PLATFORM"])

    ml_thread = [c for c in posts if c.params["channel"] == "C0MLTEAM" and "thread_ts" in c.params]
    [thread_ts] = {c.params["thread_ts"] for c in ml_thread}  # one thread: the digest's
    thread_text = " ".join(_text(c) for c in ml_thread)
    assert "6× e.g." in thread_text and "[email]" in thread_text
    assert "3× e.g. “Refused a harmless billing question”" in thread_text
    assert "Answer model · error: 6" in thread_text

    [done] = [
        c
        for c in slack.calls("files.completeUploadExternal")
        if c.params["channel_id"] == "C0MLTEAM"
    ]
    assert done.params["thread_ts"] == thread_ts
    file_id = done.json_param("files")[0]["id"]
    assert slack.uploads[file_id].startswith(b"\x89PNG")
    assert len(slack.calls(UPLOAD_METHOD)) == len(slack.calls("files.completeUploadExternal"))

    everything = " ".join(str(c.params) for c in slack.calls()) + out
    engine = make_engine(db_url)
    stored = raw_store(engine)  # every table
    engine.dispose()
    for needle in (*PII, *NEEDLES):
        assert needle not in everything, needle
        assert needle not in stored, needle

    # --now again: this week's digests are sent already.
    sent_before = len(slack.calls("chat.postMessage"))
    assert "nothing to send" in _digest(db_url, slack, tmp_path, "--now")
    assert len(slack.calls("chat.postMessage")) == sent_before
    # --force: again, on purpose.
    forced = _digest(db_url, slack, tmp_path, "--force", "--team", "ml")
    assert "ml → slack:C0MLTEAM" in forced and "round 1" in forced
    again = [
        c
        for c in slack.calls("chat.postMessage")
        if c.params["channel"] == "C0MLTEAM" and "thread_ts" not in c.params
    ]
    assert len(again) == 2
