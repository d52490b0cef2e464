"""Roadmap messages in both languages: the nudge's question and neutral buttons, the limit
notice naming owner and sponsor, spans in seconds for test policies, the portfolio lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from launchops.config.models import StageClock
from launchops.domain.roadmap import clock_of
from launchops.messages import roadmap_views as views

T0 = datetime(2026, 11, 2, tzinfo=UTC)
POLICY = {"poc": StageClock(timebox="4w", limit="6w"), "pilot": StageClock(timebox="30s")}


def test_timebox_nudge_in_english_and_korean() -> None:
    clock = clock_of("ticket-summarizer", "poc", T0, POLICY, [])
    english = views.timebox_nudge("Ticket summarizer", clock, T0 + timedelta(weeks=4), "en")
    assert "Does it work?" in english.text and "28 d" in english.text
    assert english.card is not None
    assert [a.label for a in english.card.actions] == ["Request gate", "Extend", "Stop"]
    assert {a.value for a in english.card.actions} == {"ticket-summarizer:poc:1"}
    korean = views.timebox_nudge("Ticket summarizer", clock, T0 + timedelta(weeks=4), "ko")
    assert "작동하나요?" in korean.text and "28일" in korean.text
    assert korean.card is not None
    assert [a.label for a in korean.card.actions] == ["게이트 요청", "연장", "중단"]


def test_limit_notice_names_both_and_short_spans() -> None:
    clock = clock_of("p", "pilot", T0, POLICY, [])
    notice = views.limit_notice("P", clock, T0 + timedelta(seconds=42), "Bob", None, "en")
    assert "Bob" in notice.text and "none" in notice.text and "42 s" in notice.text
    assert "Is it worth using?" in notice.text
    assert views.span(timedelta(hours=5), "ko") == "5시간"
