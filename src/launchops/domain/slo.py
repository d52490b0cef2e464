"""Service-level objectives: which targets apply, when an SLI sample breaches, error budgets.

The objectives are the guide's (success ≥ 99.5 %, p95 ≤ 3 s, monthly cost within budget),
overridable per component or project in `policy.yaml`. Alerts do not fire on the objective
itself but on the guide's alert lines, which sit further out so that a team is told when
users notice, not at every wobble: success below 99 %, p95 above 5 s, a day spending more
than its share of the month's budget, and a warning when 80 % of the month's budget is gone.
A stricter or looser objective moves its alert line with it (never inside the objective).

Error-budget burn follows the Google SRE Workbook (ch. 5): the budget is 1 − objective, and
the burn rate over a window is the window's error ratio divided by that budget, so 1.0 spends
the budget exactly over the objective's period and 14.4 over one hour spends 2 % of a
30-day budget in that hour.

Pure: no I/O, no clock; `now` is always given.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final, Literal, Protocol

from launchops.config.models import SloPolicy, SloTargets, parse_duration

__all__ = [
    "BURN_WINDOWS",
    "LATENCY_ALERT_SECONDS",
    "MONTHLY_WARNING_SHARE",
    "SUCCESS_ALERT_RATE",
    "BurnRates",
    "Check",
    "Objectives",
    "SampleLike",
    "SloKind",
    "burn_rate",
    "burn_rates",
    "check_daily_cost",
    "check_latency",
    "check_monthly_budget",
    "check_success",
    "daily_budget",
    "objectives_for",
    "success_rate",
]

SloKind = Literal["success_rate", "latency_p95", "daily_cost", "monthly_budget"]

SUCCESS_ALERT_RATE: Final = 0.99
LATENCY_ALERT_SECONDS: Final = 5.0
MONTHLY_WARNING_SHARE: Final = 0.8
BURN_WINDOWS: Final = (timedelta(hours=1), timedelta(hours=6))


class SampleLike(Protocol):
    """What the rules read of an SLI sample (a stored row or a request's item)."""

    @property
    def period_start(self) -> datetime: ...
    @property
    def period_end(self) -> datetime: ...
    @property
    def requests(self) -> int: ...
    @property
    def successes(self) -> int: ...
    @property
    def latency_p95(self) -> float | None: ...
    @property
    def cost(self) -> float: ...


@dataclass(frozen=True)
class Objectives:
    success_rate: float
    latency_p95: float  # seconds
    monthly_cost_budget: float | None


@dataclass(frozen=True)
class Check:
    """One objective judged on one sample (or one day or month of samples)."""

    kind: SloKind
    breached: bool
    value: float
    threshold: float


@dataclass(frozen=True)
class BurnRates:
    one_hour: float | None  # None: no requests in the window
    six_hours: float | None


def objectives_for(
    policy: SloPolicy, component_id: str, project_ids: Sequence[str] = ()
) -> Objectives:
    """The policy's defaults, then each of the component's projects' overrides, then the
    component's own: the most specific key set wins."""
    layers: list[SloTargets] = [policy]
    layers += [policy.overrides[p] for p in project_ids if p in policy.overrides]
    if component_id in policy.overrides:
        layers.append(policy.overrides[component_id])
    success, latency, budget = 0.995, 3.0, None
    for layer in layers:
        if layer.success_rate is not None:
            success = layer.success_rate
        if layer.latency_p95 is not None:
            latency = parse_duration(layer.latency_p95).total_seconds()
        if layer.monthly_cost_budget is not None:
            budget = layer.monthly_cost_budget
    return Objectives(success, latency, budget)


def success_rate(samples: Iterable[SampleLike]) -> float | None:
    """Successes over requests, summed; None when nothing was requested."""
    requests = successes = 0
    for sample in samples:
        requests += sample.requests
        successes += sample.successes
    return successes / requests if requests else None


def check_success(sample: SampleLike, objectives: Objectives) -> Check | None:
    """Below 99 % (or below the objective, if that is looser): users are noticing."""
    rate = success_rate([sample])
    if rate is None:
        return None
    threshold = min(SUCCESS_ALERT_RATE, objectives.success_rate)
    return Check("success_rate", rate < threshold, rate, threshold)


def check_latency(sample: SampleLike, objectives: Objectives) -> Check | None:
    """p95 above 5 s (or above the objective, if that is looser)."""
    if sample.latency_p95 is None:
        return None
    threshold = max(LATENCY_ALERT_SECONDS, objectives.latency_p95)
    return Check("latency_p95", sample.latency_p95 > threshold, sample.latency_p95, threshold)


def daily_budget(monthly: float, day: date) -> float:
    """The day's even share of its month's budget."""
    return monthly / calendar.monthrange(day.year, day.month)[1]


def check_daily_cost(spent_today: float, day: date, objectives: Objectives) -> Check | None:
    if objectives.monthly_cost_budget is None:
        return None
    threshold = daily_budget(objectives.monthly_cost_budget, day)
    return Check("daily_cost", spent_today > threshold, spent_today, threshold)


def check_monthly_budget(spent_this_month: float, objectives: Objectives) -> Check | None:
    """80 % of the month's budget spent: a warning while there is still room to act."""
    if objectives.monthly_cost_budget is None:
        return None
    threshold = MONTHLY_WARNING_SHARE * objectives.monthly_cost_budget
    return Check("monthly_budget", spent_this_month >= threshold, spent_this_month, threshold)


def burn_rate(
    samples: Iterable[SampleLike], objective: float, window: timedelta, now: datetime
) -> float | None:
    """The error ratio of samples that ended within `window` before `now`, over the error
    budget (1 − objective). None when no request fell in the window."""
    budget = 1.0 - objective
    rate = success_rate(s for s in samples if now - window < s.period_end <= now)
    if rate is None:
        return None
    if budget <= 0:  # a 100 % objective: any error burns without bound
        return float("inf") if rate < 1.0 else 0.0
    return (1.0 - rate) / budget


def burn_rates(samples: Sequence[SampleLike], objective: float, now: datetime) -> BurnRates:
    """Burn over the last hour and the last six hours, the Workbook's two alert windows."""
    one, six = (burn_rate(samples, objective, window, now) for window in BURN_WINDOWS)
    return BurnRates(one_hour=one, six_hours=six)
