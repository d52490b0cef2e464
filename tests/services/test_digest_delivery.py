"""Digest rows through the real dispatcher and SlackSender into the loopback Web API.

- the chart goes out with files upload v2 (`files.getUploadURLExternal`, the bytes to the
  upload URL, `files.completeUploadExternal` with the channel and the post's thread);
- a P0 page enqueued behind 500 pending digest rows reaches Slack before any of them.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from launchops.adapters.slack.sender import SlackSender
from launchops.delivery import outbox
from launchops.delivery.dispatcher import Dispatcher
from launchops.delivery.sender import Delivery, PermanentFailure
from launchops.messages.reply import Reply
from launchops.services.actors import Actor
from launchops.services.digest import DigestService
from launchops.services.incidents import IncidentService
from launchops.store.models import OutboxMessage
from tests.fakes.slack_api import UPLOAD_METHOD, FakeSlackAPI

NOW = datetime(2027, 1, 4, 1, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\nrest-of-a-png"


@pytest.fixture
def slack() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as fake:
        yield fake
        fake.assert_valid()


def _sender(slack: FakeSlackAPI) -> SlackSender:
    return SlackSender(WebClient(token="xoxb-test", base_url=slack.url, retry_handlers=[]))


def test_upload_shares_the_chart_into_the_thread(slack: FakeSlackAPI) -> None:
    delivery = Delivery(
        id=9,
        platform="slack",
        kind="upload",
        destination={
            "thread": True,
            "filename": "failure-trend-2027-W01.png",
            "title": "Failure cases per week",
            "png": base64.b64encode(PNG).decode(),
        },
        reply=Reply(text="Trend of failure cases, last 8 weeks"),
        attempt=1,
        extra={"depends_on_result": {"channel": "C0MLTEAM", "ts": "1700000000.000100"}},
    )
    result = _sender(slack).send(delivery)
    [asked] = slack.calls("files.getUploadURLExternal")
    assert asked.params["filename"] == "failure-trend-2027-W01.png"
    assert int(asked.params["length"]) == len(PNG)
    [upload] = slack.calls(UPLOAD_METHOD)
    assert slack.uploads[upload.params["file_id"]] == PNG
    [done] = slack.calls("files.completeUploadExternal")
    assert done.params["channel_id"] == "C0MLTEAM"
    assert done.params["thread_ts"] == "1700000000.000100"
    assert done.json_param("files")[0]["id"] == upload.params["file_id"]
    assert result == {"channel": "C0MLTEAM", "file_id": upload.params["file_id"]}
    orphan = Delivery(
        id=10,
        platform="slack",
        kind="upload",
        destination={"thread": True, "png": delivery.destination["png"]},
        reply=delivery.reply,
        attempt=1,
        extra={},
    )
    with pytest.raises(PermanentFailure):
        _sender(slack).send(orphan)


def _digest_rows(engine: Engine, at_least: int) -> int:
    digests = DigestService(engine, platforms=("slack",), clock=lambda: NOW)
    while True:
        digests.send(force=True, by="test")
        with Session(engine) as session:
            total = session.exec(select(func.count()).select_from(OutboxMessage)).one()
        if total >= at_least:
            return int(total)


def test_a_p0_page_behind_500_digest_rows_goes_first(synced: Engine, slack: FakeSlackAPI) -> None:
    queued = _digest_rows(synced, 500)
    incidents = IncidentService(synced, platforms=("slack",))
    incidents.declare(
        level="p0", title="everything is down", component_query="retriever",
        actor=Actor.system_actor("test"),
    )  # fmt: skip
    with Session(synced) as session:
        pages = session.exec(
            select(OutboxMessage.id)
            .where(OutboxMessage.kind == "dm", OutboxMessage.priority != outbox.PRIORITY_BULK)
            .order_by(col(OutboxMessage.id))
        ).all()
    assert pages and min(pages) > queued  # enqueued after every digest row
    clock = lambda: datetime.now(UTC) + timedelta(minutes=1)  # noqa: E731  (rows are due)
    # One worker: the order calls reach Slack is the order rows were claimed in.
    dispatcher = Dispatcher(synced, {"slack": _sender(slack)}, clock=clock, workers=1)
    dispatcher.run_once()
    opened = slack.calls("conversations.open")
    assert len(opened) >= len(pages)  # pages, and each sponsor's weekly line (a digest DM)
    posts = slack.calls("chat.postMessage")
    with Session(synced) as session:
        digest_texts = {
            row.payload["text"]
            for row in session.exec(select(OutboxMessage).where(OutboxMessage.priority == 0))
        }
    kinds = [
        "digest" if call.params.get("text") in digest_texts
        else "page" if str(call.params["channel"]).startswith("D")
        else "incident card"
        for call in posts
    ]  # fmt: skip
    assert kinds.count("page") == len(pages)
    assert "digest" not in kinds[: len(pages)]
    pages_done = max(n for n, kind in enumerate(kinds) if kind == "page")
    assert all(kind != "digest" for kind in kinds[:pages_done])
