"""The digest's trend chart in a Teams card: an Adaptive Card 1.5 `Image` with a PNG data URL;
the picture survives the outbox's JSON round trip; Slack's renderer leaves it out (Slack gets
the file upload)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from launchops.adapters.slack.render import render as slack_render
from launchops.adapters.teams.render import CARD_BUDGET_BYTES, render, to_activity
from launchops.config import load_config
from launchops.messages import digest_views as views
from launchops.messages.reply import Card, Image, Reply
from launchops.services.component_index import ComponentIndex
from launchops.services.config_sync import sync_config
from launchops.services.digest import DigestService
from launchops.services.digest_chart import trend_png
from launchops.services.directory import DirectoryCache
from launchops.services.failures import FailureService, NewCase
from launchops.store.models import OutboxMessage
from tests.conftest import CONFIG_DIR
from tests.fakes.cards import assert_adaptive_card

PNG = trend_png([1, 2, 3, 4, 5, 6, 7, 8], [f"01-0{n}" for n in range(1, 9)], "Failure cases")


def _images(card: dict[str, object]) -> list[dict[str, object]]:
    return [b for b in card["body"] if isinstance(b, dict) and b.get("type") == "Image"]  # type: ignore[attr-defined]


def test_the_chart_is_an_image_with_a_png_data_url_in_a_valid_card() -> None:
    for locale in ("en", "ko"):
        card = render(views.chart(PNG, locale), locale)
        assert_adaptive_card(card)
        [image] = _images(card)
        url = str(image["url"])
        assert url.startswith("data:image/png;base64,")
        assert base64.b64decode(url.split(",", 1)[1]) == PNG
        assert image["altText"] == views.chart_comment(locale)
    assert to_activity(views.chart(PNG, "en")).attachments[0].content == render(
        views.chart(PNG, "en")
    )


def test_the_picture_survives_the_outbox_json_round_trip() -> None:
    reply = views.chart(PNG, "en")
    stored = reply.model_dump(mode="json")
    assert isinstance(stored["card"]["image"]["png"], str)  # base64 in the row
    assert Reply.model_validate(stored) == reply


def test_a_picture_too_big_for_a_teams_message_is_left_out_not_the_card() -> None:
    huge = Image(png=b"\x89PNG" + bytes(range(256)) * (CARD_BUDGET_BYTES // 128), alt="big")
    card = render(Reply(text="chart", card=Card(title="Trend", text="words", image=huge)))
    assert_adaptive_card(card)
    assert _images(card) == [] and "Trend" in str(card["body"])


def test_slack_ignores_the_picture() -> None:
    blocks = slack_render(views.chart(PNG, "en"))
    assert "image" not in str(blocks).lower() or "base64" not in str(blocks)
    assert base64.b64encode(PNG).decode()[:40] not in str(blocks)


@pytest.fixture
def synced(engine: Engine) -> Engine:
    sync_config(engine, load_config(CONFIG_DIR), source="config", actor="test")
    return engine


def test_a_teams_channel_digest_gets_the_chart_card_in_its_thread(synced: Engine) -> None:
    now = datetime(2027, 1, 4, 1, 0, tzinfo=UTC)
    failures = FailureService(synced, ComponentIndex(DirectoryCache(synced)))
    failures.record(
        [
            NewCase(
                component="answer-model",
                kind="error",
                summary="Timeout",
                occurred_at=now - timedelta(days=1),
            )
        ]
    )
    DigestService(synced, platforms=("teams",), clock=lambda: now).send(team_id="ml")
    with Session(synced) as session:
        rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
    [chart] = [r for r in rows if r.dedupe_key and r.dedupe_key.endswith(":chart")]
    assert chart.kind == "respond" and chart.depends_on is not None
    reply = Reply.model_validate(chart.payload)
    assert reply.card is not None and reply.card.image is not None
    assert reply.card.image.png.startswith(b"\x89PNG")
    assert_adaptive_card(render(reply))
