"""The digest follow-up: Assign and Mark reviewed on each pattern (issue 10 item 5), on SQLite
and PostgreSQL. Who may act, a retried click recorded once, a forged value refused with its
own message, the default owner (the component's Responsible team), every text in English and
Korean, and next week's digest saying what became of last week's patterns."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from launchops.messages import digest_views as views
from launchops.messages.i18n import catalogue
from launchops.services.digest_data import Pattern
from launchops.services.digest_followup import previous_week
from launchops.store.digest_models import DigestPattern
from launchops.store.models import AuditEntry, OutboxMessage
from launchops.store.types import utcnow
from tests.services.test_digest import NOW, Clock, record, service


@pytest.fixture
def week_of_cases(synced: Engine) -> Engine:
    """Three patterns for the ML team this week: timeouts, refusals, a wrong language."""
    this_week = NOW - timedelta(days=2)
    record(
        synced,
        [
            *[
                ("answer-model", "error", f"Timeout after {n}s calling the model", this_week)
                for n in range(5)
            ],
            *[("prompts", "negative_feedback", "Refused a billing question", this_week)] * 3,
            ("answer-model", "low_confidence", "Answered in the wrong language", this_week),
        ],
    )
    return synced


ALICE, BOB, CAROL, HENRY, MINJUN = "U0ALICE", "U0BOB", "U0CAROL", "U0HENRY", "U0MINJUN"


def _send(engine: Engine, when=NOW) -> list[int]:  # type: ignore[no-untyped-def]
    digests = service(engine, Clock(when))
    digests.send(team_id="ml")
    with Session(engine) as session:
        rows = session.exec(select(DigestPattern).order_by(DigestPattern.rank)).all()
        return [r.id for r in rows if r.iso_week == _week(when)]  # type: ignore[misc]


def _week(when) -> str:  # type: ignore[no-untyped-def]
    from launchops.services.digest import iso_week

    return iso_week(when + timedelta(hours=9))  # Asia/Seoul


def test_each_pattern_is_recorded_once_with_a_stable_key_and_gets_both_buttons(
    week_of_cases: Engine,
) -> None:
    ids = _send(week_of_cases)
    assert len(ids) == 3
    service(week_of_cases, Clock(NOW)).send(team_id="ml", force=True)  # same week again
    with Session(week_of_cases) as session:
        rows = session.exec(select(DigestPattern)).all()
        assert len(rows) == 3
        assert {r.component_id for r in rows} == {"answer-model", "prompts"}
        payloads = [m.payload for m in session.exec(select(OutboxMessage)).all()]
    buttons = [
        a
        for p in payloads
        if p.get("card")
        for a in p["card"].get("actions", [])
        if a["id"] in (views.ASSIGN, views.REVIEWED)
    ]
    assert {b["value"] for b in buttons} == {str(i) for i in ids}
    # The key ignores digits, case and spacing, and names the component.
    a = Pattern(count=1, example="Timeout after 5s", component="answer-model")
    assert a.key == Pattern(count=9, example="timeout  after 12s", component="answer-model").key
    assert a.key != Pattern(count=1, example="Timeout after 5s", component="prompts").key


def test_assign_defaults_to_the_responsible_team_and_a_retry_records_once(
    week_of_cases: Engine,
) -> None:
    first, second, _ = _send(week_of_cases)
    followup = service(week_of_cases, Clock(NOW)).followup
    done = followup.assign(str(first), "slack", (BOB,))
    assert done.ok and done.changed and "ML team" in done.reply.text and done.reply.private
    again = followup.assign(str(first), "slack", (BOB,))
    assert again.ok and not again.changed and "already" in again.reply.text
    # Another owner, picked or typed: a reassignment.
    moved = followup.assign(str(first), "teams", ("29:1alice",), "person:carol")
    assert moved.changed and "Carol Jones" in moved.reply.text
    assert followup.assign(str(second), "slack", (ALICE,), "Data team").changed
    with Session(week_of_cases) as session:
        row = session.get(DigestPattern, first)
        assert row is not None and (row.assignee_kind, row.assignee_id) == ("person", "carol")
        assert row.assigned_by == "alice"
        audits = session.exec(select(AuditEntry).where(AuditEntry.action == "digest.assign"))
        assert len(audits.all()) == 3


def test_mark_reviewed_records_once_and_says_who_did(week_of_cases: Engine) -> None:
    first, *_ = _send(week_of_cases)
    followup = service(week_of_cases, Clock(NOW)).followup
    assert followup.review(str(first), "slack", (ALICE,)).changed
    again = followup.review(str(first), "slack", (BOB,))
    assert again.ok and not again.changed and "Alice Kim" in again.reply.text
    with Session(week_of_cases) as session:
        audits = session.exec(select(AuditEntry).where(AuditEntry.action == "digest.review"))
        assert len(audits.all()) == 1


def test_who_may_act_and_what_is_refused(week_of_cases: Engine) -> None:
    first, *_ = _send(week_of_cases)
    followup = service(week_of_cases, Clock(NOW)).followup
    # Henry is neither in the ML team nor R/A of the answer model; strangers neither.
    for users in [(HENRY,), ("U0NOBODY",), ()]:
        refused = followup.review(str(first), "slack", users)
        assert not refused.ok and "Only members of ML team" in refused.reply.text
    for forged in ["", "abc", "999999", "1;drop", "-1", "1" * 40]:
        refused = followup.assign(forged, "slack", (BOB,))
        assert not refused.ok and "does not match any failure pattern" in refused.reply.text
    unknown = followup.assign(str(first), "slack", (BOB,), "nobody-like-this")
    assert not unknown.ok and "nobody-like-this" in unknown.reply.text
    korean = followup.review("999999", "slack", (MINJUN,))
    assert "실패 패턴" in korean.reply.text
    with Session(week_of_cases) as session:
        row = session.get(DigestPattern, first)
        assert row is not None and row.assignee_id is None and row.reviewed_at is None


def test_next_weeks_digest_lists_what_was_assigned_and_what_is_still_open(
    week_of_cases: Engine,
) -> None:
    first, second, _ = _send(week_of_cases)
    followup = service(week_of_cases, Clock(NOW)).followup
    followup.assign(str(first), "slack", (BOB,))
    followup.assign(str(second), "slack", (BOB,), "alice")
    followup.review(str(second), "slack", (ALICE,))
    next_week = NOW + timedelta(days=7)
    record(
        week_of_cases,
        [("answer-model", "error", "Timeout after 3s", next_week - timedelta(hours=1))],
    )
    service(week_of_cases, Clock(next_week)).send(team_id="ml")
    with Session(week_of_cases) as session:
        texts = [str(m.payload.get("text")) for m in session.exec(select(OutboxMessage)).all()]
    [section] = {x for x in texts if x.startswith("Follow-up from earlier weeks")}  # both channels
    week = _week(NOW)
    assert f"{week} “Timeout after" in section and "assigned to ML team, still open" in section
    assert "assigned to Alice Kim, reviewed by Alice Kim" in section
    assert "nobody assigned, still open" in section
    assert len(section.splitlines()) == 4
    assert previous_week(_week(next_week)) == week
    assert previous_week("2027-W01") == "2026-W53"


def test_english_and_korean_have_the_same_followup_keys() -> None:
    def keys(locale: str) -> set[str]:
        return {k for k in catalogue(locale) if k.startswith(("digest.followup.", "teams.digest."))}

    assert keys("en") == keys("ko") and len(keys("en")) > 15
    _ = utcnow
