"""SLO alerts from SLI samples: one alert per breach, one recovery note, to the right people.

Runs on SQLite and PostgreSQL against the example organisation: the retriever's Responsible
team is `data` (Slack C0DATA, Teams 19:data@thread.tacv2) and its Accountable person is Carol
(U0CAROL / 29:1carol); policy.yaml gives a monthly budget of 2,000.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from launchops.delivery import outbox
from launchops.services.component_index import ComponentIndex
from launchops.services.directory import DirectoryCache
from launchops.services.failures import UnknownComponents
from launchops.services.slo_alerts import NewSample, SloAlerts
from launchops.store.feedback_models import SliSample, SloAlert
from launchops.store.models import OutboxMessage

DAY = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # December: a daily budget of 2000/31
TEAM_CHANNELS = [{"channel": "C0DATA"}, {"conversation": "19:data@thread.tacv2"}]
CAROL = [{"user": "U0CAROL"}, {"conversation": "29:1carol"}]


@pytest.fixture
def slo(synced: Engine) -> SloAlerts:
    index = ComponentIndex(DirectoryCache(synced))
    return SloAlerts(synced, index, platforms=("slack", "teams"), locale="en")


def sample(minute: int, *, ok: int = 1000, p95: float | None = 1.0, cost: float = 0.0,
           component: str = "retriever", start: datetime = DAY) -> NewSample:  # fmt: skip
    begin = start + timedelta(minutes=minute)
    return NewSample(
        component=component,
        period_start=begin,
        period_end=begin + timedelta(minutes=5),
        requests=1000,
        successes=ok,
        errors_5xx=1000 - ok,
        latency_p95=p95,
        cost=cost,
    )


def messages(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


def texts(engine: Engine) -> list[str]:
    return [m.payload["text"] for m in messages(engine)]


def destinations(engine: Engine) -> list[dict[str, Any]]:
    return [m.destination for m in messages(engine)]


# success rate ---------------------------------------------------------------------------------
def test_a_breach_alerts_once_and_its_recovery_notes_once(slo: SloAlerts, synced: Engine) -> None:
    first = slo.record([sample(0, ok=950)])
    assert [(a.kind, a.state) for a in first.alerts] == [("success_rate", "opened")]
    assert destinations(synced) == TEAM_CHANNELS
    [alert_text, _] = texts(synced)
    assert alert_text == "Retriever: success rate 95.00% is below 99.00%"
    card = messages(synced)[0].payload["card"]
    burn = {f["label"]: f["value"] for f in card["fields"]}["Error budget burn"]
    assert burn == "10.0× over 1 h, 10.0× over 6 h"
    assert {m.priority for m in messages(synced)} == {outbox.PRIORITY_NORMAL}

    for minute in (5, 10, 15):  # still breaching: nothing new
        assert slo.record([sample(minute, ok=900)]).alerts == []
    assert len(messages(synced)) == 2

    recovered = slo.record([sample(20, ok=999), sample(25, ok=1000)])
    assert [(a.kind, a.state) for a in recovered.alerts] == [("success_rate", "cleared")]
    assert len(messages(synced)) == 4
    assert texts(synced)[2] == "Retriever: success rate is back to 99.90% (alert line 99.00%)"
    assert destinations(synced)[2:] == TEAM_CHANNELS

    again = slo.record([sample(30, ok=980)])  # a new breach is a new alert
    assert [(a.kind, a.state) for a in again.alerts] == [("success_rate", "opened")]
    with Session(synced) as session:
        rows = session.exec(select(SloAlert).order_by(col(SloAlert.id))).all()
        assert [(r.kind, r.cleared_at is None) for r in rows] == [
            ("success_rate", False),
            ("success_rate", True),
        ]


def test_between_99_and_the_objective_is_no_alert(slo: SloAlerts, synced: Engine) -> None:
    assert slo.record([sample(0, ok=992)]).alerts == []
    assert messages(synced) == []


def test_a_batch_is_judged_in_period_order(slo: SloAlerts, synced: Engine) -> None:
    """Recovery sent before the breach in the same batch still reads breach, then recovery."""
    receipt = slo.record([sample(5, ok=1000), sample(0, ok=900)])
    assert [(a.kind, a.state) for a in receipt.alerts] == [
        ("success_rate", "opened"),
        ("success_rate", "cleared"),
    ]


def test_a_backfilled_sample_does_not_move_alerts(slo: SloAlerts, synced: Engine) -> None:
    slo.record([sample(60, ok=900)])
    assert slo.record([sample(0, ok=1000)]).alerts == []  # older than what is stored
    assert len(messages(synced)) == 2


def test_a_period_sent_again_is_stored_once_and_not_judged_again(
    slo: SloAlerts, synced: Engine
) -> None:
    first = slo.record([sample(0, ok=900)])
    slo.record([sample(5, ok=1000)])
    again = slo.record([sample(0, ok=900)])
    assert again.ids == first.ids and again.duplicates == 1
    assert again.alerts == []
    with Session(synced) as session:
        assert len(session.exec(select(SliSample)).all()) == 2


# latency ------------------------------------------------------------------------------------
def test_p95_over_five_seconds_alerts_the_responsible_team(slo: SloAlerts, synced: Engine) -> None:
    assert slo.record([sample(0, p95=4.9)]).alerts == []
    opened = slo.record([sample(5, p95=6.25), sample(10, p95=7.0)])
    assert [(a.kind, a.state) for a in opened.alerts] == [("latency_p95", "opened")]
    assert texts(synced)[0] == "Retriever: p95 latency 6.25 s is above 5.00 s"
    assert destinations(synced) == TEAM_CHANNELS
    cleared = slo.record([sample(15, p95=2.0)])
    assert [(a.kind, a.state) for a in cleared.alerts] == [("latency_p95", "cleared")]
    assert len(messages(synced)) == 4


# cost ---------------------------------------------------------------------------------------
def test_a_day_over_its_budget_tells_the_accountable_person_once(
    slo: SloAlerts, synced: Engine
) -> None:
    daily = 2000 / 31  # 64.52
    assert slo.record([sample(0, cost=40)]).alerts == []
    over = slo.record([sample(5, cost=30)])
    assert [(a.kind, a.state) for a in over.alerts] == [("daily_cost", "opened")]
    assert over.alerts[0].threshold == pytest.approx(daily)
    assert destinations(synced) == CAROL
    assert [m.kind for m in messages(synced)] == ["dm", "post"]
    assert texts(synced)[0] == "Retriever: today's cost 70.00 is over the daily budget 64.52"
    card = messages(synced)[0].payload["card"]
    assert {f["label"]: f["value"] for f in card["fields"]}["Objective"] == "≤ 2,000.00 a month"
    assert slo.record([sample(10, cost=30)]).alerts == []  # the same day: said already
    next_day = slo.record([sample(0, cost=70, start=DAY + timedelta(days=1))])
    assert [(a.kind, a.state) for a in next_day.alerts] == [("daily_cost", "opened")]
    assert len(messages(synced)) == 4


def test_80_percent_of_the_monthly_budget_warns_once(slo: SloAlerts, synced: Engine) -> None:
    days = [DAY + timedelta(days=n) for n in range(4)]
    changes = [slo.record([sample(0, cost=500, start=day)]).alerts for day in days]
    monthly = [(n, a.state) for n, found in enumerate(changes) for a in found
               if a.kind == "monthly_budget"]  # fmt: skip
    assert monthly == [(3, "opened")]  # 2,000 spent on the fourth day: past 1,600
    warning = [t for t in texts(synced) if "monthly budget" in t]
    assert (
        warning
        == ["Retriever: 2,000.00 spent this month, past 80% of the monthly budget (1,600.00)"] * 2
    )  # Slack DM and Teams chat


def test_korean_speakers_get_korean(synced: Engine) -> None:
    index = ComponentIndex(DirectoryCache(synced))
    slo = SloAlerts(synced, index, platforms=("console",), locale="ko")
    slo.record([sample(0, ok=900)])
    [message] = messages(synced)
    assert message.destination == {"channel": "#data"}
    assert message.payload["text"].startswith("Retriever: 성공률 90.00%")


def test_an_unknown_component_stores_nothing(slo: SloAlerts, synced: Engine) -> None:
    with pytest.raises(UnknownComponents) as raised:
        slo.record([sample(0), sample(5, component="nowhere")])
    assert [p.position for p in raised.value.problems] == [1]
    with Session(synced) as session:
        assert session.exec(select(SliSample)).all() == []


def test_replicas_racing_on_one_breach_alert_once(slo: SloAlerts, synced: Engine) -> None:
    """Several ingests at once (replicas, or one pipeline's parallel uploads) each see no
    open alert; the unique open key lets exactly one of them open it and queue messages."""
    with ThreadPoolExecutor(max_workers=6) as pool:
        receipts = list(pool.map(lambda n: slo.record([sample(5 * n, ok=900)]), range(6)))
    opened = [a for r in receipts for a in r.alerts if a.state == "opened"]
    assert len(opened) == 1
    assert destinations(synced) == TEAM_CHANNELS
