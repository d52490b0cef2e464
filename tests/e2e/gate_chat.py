"""Gates through the real Slack endpoint in text: `/launchops gate …` signed as Slack signs it,
the answer read from the ack, and the store read directly to count what changed."""

from __future__ import annotations

import html
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy import or_
from sqlmodel import Session, col, select

from launchops.store.gate_models import GateDecision, GateRequest, ProjectStage
from launchops.store.models import AuditEntry, OutboxMessage
from tests.conftest import CONFIG_DIR
from tests.e2e.slack_ack import ack_answer
from tests.fakes.slack_api import FakeSlackAPI, RecordedCall
from tests.fakes.slack_requests import FORM, sign, slash_command_body

SECRET = "gate-e2e-secret"
CHANNEL = "C0GENERAL"
APPROVERS = {"legal": "U0DAN", "security": "U0ERIN", "cs": "U0FRANK", "business": "U0GRACE"}
EVERYONE = ("U0DAN", "U0ERIN", "U0FRANK", "U0GRACE", "U0MIA")


def env(database_url: str, slack: FakeSlackAPI, config: Path = CONFIG_DIR) -> dict[str, str]:
    """The environment of a `launchops serve` (or `launchops config …`) for these tests."""
    return {
        "LAUNCHOPS_DATABASE_URL": database_url,
        "LAUNCHOPS_CONFIG_DIR": str(config),
        "SLACK_BOT_TOKEN": "xoxb-gates",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.url,
        "LAUNCHOPS_API_TOKEN": "t",
    }


def gate_config(tmp_path: Path, *, expire: str = "7d", remind: str = "1d") -> Path:
    """The example config, with a gate's expiry and reminder interval as given (seconds ok:
    the policy's durations take s, m, h, d, w)."""
    target = tmp_path / "gate-config"
    target.mkdir(exist_ok=True)
    (target / "catalog.yaml").write_text((CONFIG_DIR / "catalog.yaml").read_text())
    policy = (CONFIG_DIR / "policy.yaml").read_text()
    assert "expire_after: 7d" in policy and "remind_every: 1d" in policy
    policy = policy.replace("expire_after: 7d", f"expire_after: {expire}")
    (target / "policy.yaml").write_text(
        policy.replace("remind_every: 1d", f"remind_every: {remind}")
    )
    return target


def say(url: str, slack: FakeSlackAPI, user: str, text: str, *, secret: str = SECRET) -> str:
    """`/launchops <text>` by `user`; the ephemeral answer in the ack, as Slack shows it."""
    body = slash_command_body("/launchops", text, user, CHANNEL, slack.response_url("g"))
    response = httpx.post(
        f"{url}/slack/events",
        content=body,
        headers=sign(secret, body, content_type=FORM),
        timeout=15,
    )
    return html.unescape(str(ack_answer(response).params["text"]))


@dataclass(frozen=True)
class Counts:
    requests: int
    decisions: int
    outbox: int
    audit: int
    stages: tuple[tuple[str, str], ...]
    statuses: tuple[str, ...]


class Store:
    """Reads the bot's database from the test, as an operator with psql would."""

    def __init__(self, database_url: str) -> None:
        self.engine = sa.create_engine(database_url)

    def close(self) -> None:
        self.engine.dispose()

    def session(self) -> Session:
        return Session(self.engine)

    def counts(self) -> Counts:
        with self.session() as s:
            return Counts(
                requests=len(s.exec(select(GateRequest)).all()),
                decisions=len(s.exec(select(GateDecision)).all()),
                # The scheduler's roadmap nudges (the example Pilot is past its timebox) come
                # and go on their own clock: not what a gate command may change.
                outbox=len(
                    s.exec(
                        select(OutboxMessage).where(
                            or_(
                                col(OutboxMessage.dedupe_key).is_(None),
                                ~col(OutboxMessage.dedupe_key).startswith("roadmap:"),
                            )
                        )
                    ).all()
                ),
                audit=len(
                    s.exec(
                        select(AuditEntry).where(~col(AuditEntry.action).startswith("roadmap."))
                    ).all()
                ),
                stages=tuple(
                    (r.project_id, r.stage)
                    for r in s.exec(select(ProjectStage).order_by(col(ProjectStage.project_id)))
                ),
                statuses=tuple(
                    r.status for r in s.exec(select(GateRequest).order_by(col(GateRequest.id)))
                ),
            )

    def stage(self, project: str) -> str:
        with self.session() as s:
            row = s.get(ProjectStage, project)
            assert row is not None
            return row.stage

    def request(self, gate: int) -> GateRequest:
        with self.session() as s:
            row = s.get(GateRequest, gate)
            assert row is not None
            return row

    def decisions(self, gate: int) -> list[tuple[str, str, int]]:
        with self.session() as s:
            rows = s.exec(
                select(GateDecision)
                .where(GateDecision.request_id == gate)
                .order_by(col(GateDecision.id))
            ).all()
            return [(r.person_id, r.verdict, r.evidence_version) for r in rows]

    def audit(self, action: str) -> int:
        with self.session() as s:
            return len(s.exec(select(AuditEntry).where(AuditEntry.action == action)).all())

    def outbox(self, key_prefix: str) -> list[OutboxMessage]:
        with self.session() as s:
            return list(
                s.exec(
                    select(OutboxMessage)
                    .where(col(OutboxMessage.dedupe_key).startswith(key_prefix))
                    .order_by(col(OutboxMessage.id))
                ).all()
            )


def posts(slack: FakeSlackAPI, *, channel: str | None = None, text: str = "") -> list[RecordedCall]:
    """chat.postMessage calls to `channel` (a user's DM is "D" + their id) containing `text`."""
    return [
        c
        for c in slack.calls("chat.postMessage")
        if (channel is None or c.params.get("channel") == channel)
        and text in html.unescape(str(c.params.get("text", "")))
    ]


def dm_to(user: str) -> Callable[[RecordedCall], bool]:
    """A `wait_for` predicate: a message in `user`'s DM with the bot."""
    return lambda call: call.params.get("channel") == f"D{user}"


def updates(slack: FakeSlackAPI, *, channel: str | None = None) -> list[RecordedCall]:
    return [
        c
        for c in slack.calls("chat.update")
        if channel is None or c.params.get("channel") == channel
    ]


def launchops(
    args: list[str], environment: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """`launchops <args>` as its own process (e.g. `config sync` while a bot runs)."""
    executable = Path(sys.executable).parent / "launchops"
    return subprocess.run(
        [str(executable), *args],
        env={**os.environ, **environment},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
