"""What a team's weekly digest says, read from the store: figures only, no sentences.

Every query is a range over an indexed time column restricted to the team's components
(`failurecase (component_id, occurred_at)`, `slisample (component_id, period_end)`,
`incident.declared_at`), so building a digest costs what the week holds, not what the
history holds. Failure summaries are grouped in SQL first (identical masked texts), then the
few hundred most frequent distinct texts are clustered with rapidfuzz: the fuzzy step never
sees more than `MAX_DISTINCT_SUMMARIES` texts whatever the week's volume.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Final

from rapidfuzz import fuzz, process
from sqlalchemy import and_, func, or_, select
from sqlmodel import Session

from launchops.domain.digests import (
    ComponentRate,
    DigestData,
    IncidentFigures,
    PastPattern,
    Pattern,
)
from launchops.domain.slo import objectives_for
from launchops.services.directory import Directory
from launchops.services.ledger import deployments_between
from launchops.store.feedback_models import FailureCase, SliSample, SloAlert
from launchops.store.gate_models import GateRequest
from launchops.store.models import Incident

__all__ = [
    "MAX_DISTINCT_SUMMARIES",
    "TREND_WEEKS",
    "ComponentRate",
    "DigestData",
    "IncidentFigures",
    "PastPattern",
    "Pattern",
    "collect",
    "team_components",
]

WEEK: Final = timedelta(days=7)
TREND_WEEKS: Final = 8
MAX_DISTINCT_SUMMARIES: Final = 300  # the most frequent distinct texts that are clustered
PATTERN_SIMILARITY: Final = 82.0  # rapidfuzz token_set_ratio for "the same pattern"
TOP_PATTERNS: Final = 3

_cases = FailureCase.__table__  # type: ignore[attr-defined]
_samples = SliSample.__table__  # type: ignore[attr-defined]
_alerts = SloAlert.__table__  # type: ignore[attr-defined]
_incidents = Incident.__table__  # type: ignore[attr-defined]
_gates = GateRequest.__table__  # type: ignore[attr-defined]
_NUMBERS = re.compile(r"\d+")


def team_components(directory: Directory, team_id: str) -> list[str]:
    """The components whose Responsible party is `team_id`, in catalog order."""
    return [
        c.id
        for c in directory.components.values()
        if any(kind == "team" and party == team_id for kind, party in c.raci.get("R", ()))
    ]


def collect(session: Session, directory: Directory, team_id: str, end: datetime) -> DigestData:
    """The figures of the seven days before `end` for `team_id` (and the seven before)."""
    team = directory.teams[team_id]
    components = team_components(directory, team_id)
    start = end - WEEK
    data = DigestData(team_id=team_id, team_name=team.name, start=start, end=end)
    if components:
        names = {c: directory.components[c].name for c in components}
        _case_counts(session, data, components, names)
        data.patterns.extend(_patterns(session, components, start, end))
        data.rates.extend(_rates(session, directory, data, components, names))
        data.trend.extend(_trend(session, components, end))
        _gates_of(session, directory, data, components)
        data.deployments.extend(deployments_between(session, names, components, start, end))
    _incidents_of(session, data, team_id)
    return data


def _case_counts(
    session: Session, data: DigestData, components: list[str], names: dict[str, str]
) -> None:
    previous = data.start - WEEK
    rows = session.execute(
        select(
            _cases.c.component_id,
            _cases.c.kind,
            func.count().filter(_cases.c.occurred_at >= data.start),
            func.count().filter(_cases.c.occurred_at < data.start),
        )
        .where(
            _cases.c.component_id.in_(components),
            _cases.c.occurred_at >= previous,
            _cases.c.occurred_at < data.end,
        )
        .group_by(_cases.c.component_id, _cases.c.kind)
    ).all()
    for component, kind, now, before in sorted(rows, key=lambda r: (components.index(r[0]), r[1])):
        data.cases[(names[component], kind)] = (int(now), int(before))


def _patterns(
    session: Session, components: list[str], start: datetime, end: datetime
) -> list[Pattern]:
    counted = func.count().label("n")
    rows = session.execute(
        select(_cases.c.summary, counted)
        .where(
            _cases.c.component_id.in_(components),
            _cases.c.occurred_at >= start,
            _cases.c.occurred_at < end,
        )
        .group_by(_cases.c.summary)
        .order_by(counted.desc(), _cases.c.summary)
        .limit(MAX_DISTINCT_SUMMARIES)
    ).all()
    patterns = cluster([(str(summary), int(n)) for summary, n in rows])
    return [
        replace(p, component=_component_of(session, components, p.example, start, end))
        for p in patterns
    ]


def _component_of(
    session: Session, components: list[str], summary: str, start: datetime, end: datetime
) -> str:
    counted = func.count().label("n")
    row = session.execute(
        select(_cases.c.component_id, counted)
        .where(
            _cases.c.component_id.in_(components),
            _cases.c.occurred_at >= start,
            _cases.c.occurred_at < end,
            _cases.c.summary == summary,
        )
        .group_by(_cases.c.component_id)
        .order_by(counted.desc(), _cases.c.component_id)
        .limit(1)
    ).first()
    return str(row[0]) if row else ""


def cluster(counted: Sequence[tuple[str, int]], top: int = TOP_PATTERNS) -> list[Pattern]:
    """Group similar masked summaries (most frequent first): each text joins the first group
    whose example it resembles (digits ignored), else starts one. The `top` biggest groups,
    each with its most frequent text as the example."""
    keys: list[str] = []  # normalised example of each group
    groups: list[list[Any]] = []  # [count, example]
    for summary, n in sorted(counted, key=lambda item: (-item[1], item[0])):
        key = _NUMBERS.sub("#", summary.lower())
        found = process.extractOne(
            key, keys, scorer=fuzz.token_set_ratio, score_cutoff=PATTERN_SIMILARITY
        )
        if found is None:
            keys.append(key)
            groups.append([n, summary])
        else:
            groups[found[2]][0] += n
    ranked = sorted(groups, key=lambda g: -int(g[0]))[:top]
    return [Pattern(count=int(n), example=str(example)) for n, example in ranked]


def _rates(
    session: Session,
    directory: Directory,
    data: DigestData,
    components: list[str],
    names: dict[str, str],
) -> list[ComponentRate]:
    sums = {
        component: (int(requests or 0), int(successes or 0))
        for component, requests, successes in session.execute(
            select(
                _samples.c.component_id,
                func.sum(_samples.c.requests),
                func.sum(_samples.c.successes),
            )
            .where(
                _samples.c.component_id.in_(components),
                _samples.c.period_end > data.start,
                _samples.c.period_end <= data.end,
            )
            .group_by(_samples.c.component_id)
        ).all()
    }
    open_alerts = dict(
        session.execute(
            select(_alerts.c.subject, func.count())
            .where(_alerts.c.subject.in_(components), _alerts.c.open_key.is_not(None))
            .group_by(_alerts.c.subject)
        ).all()
    )
    per_component: dict[str, int] = defaultdict(int)
    for (name, _kind), (now, _before) in data.cases.items():
        per_component[name] += now
    rates = []
    for component in components:
        projects = [p.id for p in directory.projects.values() if component in p.components]
        objective = objectives_for(directory.policy.slo, component, projects).success_rate
        requests, successes = sums.get(component, (0, 0))
        cases = per_component.get(names[component], 0)
        alerts = int(open_alerts.get(component, 0))
        if not (cases or requests or alerts):
            continue
        rates.append(
            ComponentRate(
                component=names[component],
                cases=cases,
                requests=requests or None,
                allowed=1.0 - objective,
                success_rate=successes / requests if requests else None,
                objective=objective,
                open_alerts=alerts,
            )
        )
    return rates


def _trend(session: Session, components: list[str], end: datetime) -> list[int]:
    """Cases per week for the last `TREND_WEEKS` weeks, oldest first: one indexed range scan,
    counted into weeks by FILTER clauses."""
    occurred = _cases.c.occurred_at
    weeks = [end - back * WEEK for back in range(TREND_WEEKS - 1, -1, -1)]
    counts = session.execute(
        select(
            *(func.count().filter(occurred >= upper - WEEK, occurred < upper) for upper in weeks)
        ).where(
            _cases.c.component_id.in_(components),
            occurred >= end - TREND_WEEKS * WEEK,
            occurred < end,
        )
    ).one()
    return [int(n) for n in counts]


def _incidents_of(session: Session, data: DigestData, team_id: str) -> None:
    rows = session.execute(
        select(
            _incidents.c.id,
            _incidents.c.severity,
            _incidents.c.status,
            _incidents.c.declared_at,
            _incidents.c.acknowledged_at,
            _incidents.c.resolved_at,
        )
        .where(
            _incidents.c.team_id == team_id,
            or_(
                and_(_incidents.c.declared_at >= data.start, _incidents.c.declared_at < data.end),
                _incidents.c.status != "resolved",
            ),
        )
        .order_by(_incidents.c.id)
    ).all()
    by_level: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        if row.status != "resolved":
            data.still_open.append((int(row.id), str(row.severity)))
        if data.start <= _aware(row.declared_at, data.end) < data.end:
            by_level[str(row.severity)].append(row)
    for level in sorted(by_level):
        found = by_level[level]
        data.incidents.append(
            IncidentFigures(
                severity=level,
                declared=len(found),
                mean_ack=_mean([(r.acknowledged_at, r.declared_at) for r in found]),
                mean_resolve=_mean([(r.resolved_at, r.declared_at) for r in found]),
            )
        )


def _aware(moment: datetime, like: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=like.tzinfo)


def _mean(pairs: list[tuple[datetime | None, datetime]]) -> timedelta | None:
    spans = [later - earlier for later, earlier in pairs if later is not None]
    if not spans:
        return None
    return sum(spans, timedelta(0)) / len(spans)


def _gates_of(
    session: Session, directory: Directory, data: DigestData, components: list[str]
) -> None:
    """Gates of the projects built on the team's components: decided this week, and open."""
    projects = {
        p.id: p.name for p in directory.projects.values() if set(p.components) & set(components)
    }
    if not projects:
        return
    rows = session.execute(
        select(_gates.c.project_id, _gates.c.to_stage, _gates.c.status, _gates.c.decided_at)
        .where(
            _gates.c.project_id.in_(list(projects)),
            or_(
                _gates.c.status == "open",
                and_(_gates.c.decided_at >= data.start, _gates.c.decided_at < data.end),
            ),
        )
        .order_by(_gates.c.id)
    ).all()
    for project, stage, status, _decided in rows:
        if status == "open":
            data.gates_pending.append((projects[project], str(stage)))
        else:
            data.gates_decided.append((projects[project], str(stage), str(status)))
