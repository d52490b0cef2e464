"""SLO rules: targets per component, the guide's alert lines, and error-budget burn."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from launchops.config.models import SloPolicy, SloTargets
from launchops.domain.slo import (
    Objectives,
    burn_rate,
    burn_rates,
    check_daily_cost,
    check_latency,
    check_monthly_budget,
    check_success,
    daily_budget,
    objectives_for,
    success_rate,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
GUIDE = Objectives(success_rate=0.995, latency_p95=3.0, monthly_cost_budget=3100.0)


@dataclass(frozen=True)
class Sample:
    period_end: datetime
    requests: int = 1000
    successes: int = 1000
    latency_p95: float | None = 1.0
    cost: float = 0.0

    @property
    def period_start(self) -> datetime:
        return self.period_end - timedelta(minutes=5)


def ago(minutes: int, **fields: object) -> Sample:
    return Sample(NOW - timedelta(minutes=minutes), **fields)  # type: ignore[arg-type]


# targets ------------------------------------------------------------------------------------
def test_the_guide_defaults_apply_without_overrides() -> None:
    assert objectives_for(SloPolicy(), "retriever") == Objectives(0.995, 3.0, None)


def test_component_overrides_beat_project_overrides_beat_defaults() -> None:
    policy = SloPolicy(
        monthly_cost_budget=2000,
        overrides={
            "support-assistant": SloTargets(latency_p95="4s", success_rate=0.99),
            "ranker": SloTargets(latency_p95="2s"),
        },
    )
    assert objectives_for(policy, "ranker", ["support-assistant"]) == Objectives(0.99, 2.0, 2000)
    assert objectives_for(policy, "other", ["support-assistant"]) == Objectives(0.99, 4.0, 2000)
    assert objectives_for(policy, "other") == Objectives(0.995, 3.0, 2000)


# alert lines ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("successes", "breached"), [(1000, False), (990, False), (989, True), (0, True)]
)
def test_success_alerts_below_99_percent_not_at_the_objective(
    successes: int, breached: bool
) -> None:
    check = check_success(ago(0, successes=successes), GUIDE)
    assert check is not None
    assert check.breached is breached
    assert check.threshold == 0.99


def test_a_looser_success_objective_moves_the_alert_line() -> None:
    check = check_success(ago(0, successes=960), Objectives(0.95, 3.0, None))
    assert check is not None and not check.breached and check.threshold == 0.95


def test_no_requests_judges_nothing() -> None:
    assert check_success(ago(0, requests=0, successes=0), GUIDE) is None
    assert success_rate([]) is None


@pytest.mark.parametrize(("p95", "breached"), [(3.5, False), (5.0, False), (5.01, True)])
def test_latency_alerts_above_five_seconds(p95: float, breached: bool) -> None:
    check = check_latency(ago(0, latency_p95=p95), GUIDE)
    assert check is not None and check.breached is breached and check.threshold == 5.0


def test_latency_without_a_p95_judges_nothing() -> None:
    assert check_latency(ago(0, latency_p95=None), GUIDE) is None


def test_the_daily_budget_is_the_month_shared_by_its_days() -> None:
    assert daily_budget(3100, date(2026, 12, 5)) == 100
    assert daily_budget(2800, date(2026, 2, 5)) == 100
    check = check_daily_cost(100.5, date(2026, 12, 5), GUIDE)
    assert check is not None and check.breached
    check = check_daily_cost(100.0, date(2026, 12, 5), GUIDE)
    assert check is not None and not check.breached


def test_the_monthly_warning_comes_at_80_percent() -> None:
    below = check_monthly_budget(2479, GUIDE)
    at = check_monthly_budget(2480, GUIDE)
    assert below is not None and not below.breached
    assert at is not None and at.breached and at.threshold == 2480


def test_no_budget_no_cost_checks() -> None:
    no_budget = Objectives(0.995, 3.0, None)
    assert check_daily_cost(1e9, date(2026, 12, 5), no_budget) is None
    assert check_monthly_budget(1e9, no_budget) is None


# burn rate ------------------------------------------------------------------------------------
def test_burn_rate_is_error_ratio_over_the_budget() -> None:
    # 0.5 % errors against a 99.5 % objective spends the budget exactly on schedule.
    assert burn_rate([ago(10, successes=995)], 0.995, timedelta(hours=1), NOW) == pytest.approx(1)
    # 7.2 % errors: the Workbook's 14.4x page line.
    samples = [ago(10, requests=1000, successes=928)]
    assert burn_rate(samples, 0.995, timedelta(hours=1), NOW) == pytest.approx(14.4)


def test_burn_rate_windows_count_only_their_samples() -> None:
    samples = [
        ago(30, successes=900),  # inside both windows
        ago(120, successes=1000),  # six-hour window only
        ago(300, successes=1000),
        ago(400, successes=0),  # outside both
    ]
    rates = burn_rates(samples, 0.99, NOW)
    assert rates.one_hour == pytest.approx(10.0)  # 10 % errors / 1 % budget
    assert rates.six_hours == pytest.approx((100 / 3000) / 0.01)


def test_burn_rate_without_requests_is_none() -> None:
    assert burn_rates([], 0.995, NOW).one_hour is None
    assert burn_rates([ago(500)], 0.995, NOW).six_hours is None


def test_a_perfect_objective_burns_without_bound_on_any_error() -> None:
    assert burn_rate([ago(1, successes=999)], 1.0, timedelta(hours=1), NOW) == math.inf
    assert burn_rate([ago(1)], 1.0, timedelta(hours=1), NOW) == 0.0
