"""Pure roadmap rules: clocks moved by extensions, flags, button values, quarters, medians."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from launchops.config.models import StageClock
from launchops.domain.errors import BadCommand
from launchops.domain.roadmap import (
    ClockRef,
    Extension,
    Pass,
    clock_of,
    flags_of,
    median_days_per_stage,
    parse_clock_ref,
    quarter_of,
    quarter_start,
    reached_production,
    to_deadline,
)

T0 = datetime(2026, 1, 5, tzinfo=UTC)
POLICY = {
    "explore": StageClock(timebox="2w"),
    "poc": StageClock(timebox="4w", limit="6w"),
}


def test_clock_from_policy_and_extensions() -> None:
    plain = clock_of("p", "poc", T0, POLICY, [])
    assert (plain.version, plain.due_at, plain.limit_at) == (
        1,
        T0 + timedelta(weeks=4),
        T0 + timedelta(weeks=6),
    )
    owner = Extension(2, T0 + timedelta(weeks=5), approved_by_sponsor=False)
    moved = clock_of("p", "poc", T0, POLICY, [owner])
    assert (moved.version, moved.due_at, moved.limit_at, moved.unsponsored) == (
        2,
        owner.due_at,
        T0 + timedelta(weeks=6),
        1,
    )
    sponsor = Extension(3, T0 + timedelta(weeks=9), approved_by_sponsor=True)
    past = clock_of("p", "poc", T0, POLICY, [owner, sponsor])
    assert past.due_at == past.limit_at == sponsor.due_at and past.version == 3
    none = clock_of("p", "production", T0, POLICY, [])
    assert none.due_at is None and none.limit_at is None


def test_flags() -> None:
    clock = clock_of("p", "poc", T0, POLICY, [])
    assert flags_of(clock, T0, sponsor="dan", stopped=False) == []
    assert flags_of(clock, T0, sponsor=None, stopped=False) == ["no_sponsor"]
    assert flags_of(clock, T0 + timedelta(weeks=4), sponsor="dan", stopped=False) == [
        "over_timebox"
    ]
    assert flags_of(clock, T0 + timedelta(weeks=7), sponsor="dan", stopped=False) == ["over_limit"]
    assert flags_of(clock, T0 + timedelta(weeks=7), sponsor=None, stopped=True) == ["stopped"]
    explore = clock_of("p", "explore", T0, POLICY, [])
    assert flags_of(explore, T0, sponsor=None, stopped=False) == []


@given(
    st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
    st.sampled_from(["explore", "poc", "pilot"]),
    st.integers(1, 999_999),
)
def test_button_values_round_trip(project: str, stage: str, version: int) -> None:
    ref = ClockRef(project, stage, version)
    assert parse_clock_ref(ref.value()) == ref


@pytest.mark.parametrize(
    "value", ["", "p:poc", "p:poc:0", "p:poc:-1", "p:poc:x", "p:poc:１", ":poc:1", "p::1"]
)
def test_malformed_buttons_are_refused(value: str) -> None:
    with pytest.raises(BadCommand):
        parse_clock_ref(value)


def test_quarters_and_deadlines() -> None:
    assert quarter_of(datetime(2026, 12, 31, 23, tzinfo=UTC)) == "2026-Q4"
    assert quarter_start(datetime(2026, 2, 10, tzinfo=UTC), back=1) == datetime(
        2025, 10, 1, tzinfo=UTC
    )
    assert to_deadline("2w", T0) == T0 + timedelta(weeks=2)
    assert to_deadline("2026-02-01", T0).date().isoformat() == "2026-02-01"
    with pytest.raises(BadCommand):
        to_deadline("next friday", T0)


def test_production_this_quarter_and_medians() -> None:
    now = datetime(2026, 11, 15, tzinfo=UTC)
    passes = [
        Pass("a", "poc", "pilot", datetime(2026, 3, 1, tzinfo=UTC)),
        Pass("a", "pilot", "production", datetime(2026, 9, 30, 23, 59, tzinfo=UTC)),
        Pass("b", "poc", "pilot", datetime(2026, 8, 1, tzinfo=UTC)),
        Pass("b", "pilot", "production", datetime(2026, 10, 1, tzinfo=UTC)),
    ]
    assert [p.project_id for p in reached_production(passes, now)] == ["b"]
    medians = median_days_per_stage(passes, now)
    assert set(medians) == {"pilot"}
    assert medians["pilot"] == pytest.approx((213.999 + 61) / 2, abs=0.1)
