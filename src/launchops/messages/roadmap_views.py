"""Roadmap messages as neutral `Reply`s: nudges, stop and extension notes, the portfolio and
the monthly operations report; every sentence from the catalogue (`*.roadmap.yaml`).

Nudge buttons carry `<project_id>:<stage>:<clock version>` under the action ids
`roadmap_request_gate`, `roadmap_extend` and `roadmap_stop`; the version lets the service
refuse a click on a message about a clock that has since moved. The buttons are neutral
(default style): the guide asks for a decision, not for a particular one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from launchops.domain.roadmap import Clock, ClockRef
from launchops.messages.i18n import t
from launchops.messages.ledger_views import period_summary
from launchops.messages.reply import Action, Card, Field, Reply

if TYPE_CHECKING:
    from launchops.domain.portfolio import ProjectRow, ScaleView
    from launchops.domain.reports import MonthlyReport

__all__ = [
    "ACTION_IDS",
    "extended_note",
    "limit_notice",
    "monthly_report",
    "portfolio_reply",
    "span",
    "stopped_announcement",
    "timebox_nudge",
]

ACTION_IDS = ("roadmap_request_gate", "roadmap_extend", "roadmap_stop")


def stage_name(stage: str, locale: str) -> str:
    return t(f"gate.stage.{stage}", locale)


def span(delta: timedelta, locale: str) -> str:
    """A stay as people say it: days from one day on, else hours, minutes or seconds (test
    policies count in seconds)."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds >= 86400:
        return t("roadmap.span.days", locale, n=seconds // 86400)
    if seconds >= 3600:
        return t("roadmap.span.hours", locale, n=seconds // 3600)
    if seconds >= 60:
        return t("roadmap.span.minutes", locale, n=seconds // 60)
    return t("roadmap.span.seconds", locale, n=seconds)


def _date(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def _question(stage: str, locale: str) -> str:
    return t(f"roadmap.question.{stage}", locale)


def _actions(clock: Clock, locale: str) -> tuple[Action, ...]:
    value = ClockRef(clock.project_id, clock.stage, clock.version).value()
    return tuple(
        Action(id=action_id, label=t(f"roadmap.button.{action_id[8:]}", locale), value=value)
        for action_id in ACTION_IDS
    )


def timebox_nudge(project: str, clock: Clock, now: datetime, locale: str) -> Reply:
    """The owner's DM at the timebox: the stage, how long, the guide's question, a choice."""
    params = {
        "project": project,
        "stage": stage_name(clock.stage, locale),
        "for": span(now - clock.entered_at, locale),
        "question": _question(clock.stage, locale),
    }
    text = t("roadmap.nudge.timebox_text", locale, **params)
    return Reply(
        text=text,
        card=Card(
            title=t("roadmap.nudge.timebox_title", locale, **params),
            text=text,
            fields=_clock_fields(clock, locale),
            actions=_actions(clock, locale),
            note=t("roadmap.nudge.note", locale),
        ),
    )


def limit_notice(
    project: str, clock: Clock, now: datetime, owner: str, sponsor: str | None, locale: str
) -> Reply:
    """The same words to the sponsor and the owner at the hard limit, so they decide together."""
    params = {
        "project": project,
        "stage": stage_name(clock.stage, locale),
        "for": span(now - clock.entered_at, locale),
        "owner": owner,
        "sponsor": sponsor or t("roadmap.none", locale),
        "question": _question(clock.stage, locale),
    }
    text = t("roadmap.nudge.limit_text", locale, **params)
    return Reply(
        text=text,
        card=Card(
            title=t("roadmap.nudge.limit_title", locale, **params),
            text=text,
            fields=_clock_fields(clock, locale),
            actions=_actions(clock, locale),
            note=t("roadmap.nudge.note", locale),
        ),
    )


def _clock_fields(clock: Clock, locale: str) -> tuple[Field, ...]:
    fields = [
        Field(label=t("roadmap.field.stage", locale), value=stage_name(clock.stage, locale)),
        Field(label=t("roadmap.field.entered", locale), value=_date(clock.entered_at)),
    ]
    if clock.due_at is not None:
        fields.append(Field(label=t("roadmap.field.timebox", locale), value=_date(clock.due_at)))
    if clock.limit_at is not None:
        fields.append(Field(label=t("roadmap.field.limit", locale), value=_date(clock.limit_at)))
    return tuple(fields)


def stopped_announcement(project: str, stage: str, reason: str, by: str, locale: str) -> Reply:
    text = t(
        "roadmap.stopped.text",
        locale,
        project=project,
        stage=stage_name(stage, locale),
        reason=reason,
        by=by,
    )
    return Reply(
        text=text, card=Card(title=t("roadmap.stopped.title", locale, project=project), text=text)
    )


def extended_note(
    project: str, stage: str, due: datetime, reason: str, by: str, sponsor: bool, locale: str
) -> Reply:
    key = "roadmap.extended.by_sponsor" if sponsor else "roadmap.extended.by_owner"
    text = t(
        key,
        locale,
        project=project,
        stage=stage_name(stage, locale),
        due=_date(due),
        reason=reason,
        by=by,
    )
    return Reply(text=text)


def _row_line(row: ProjectRow, locale: str) -> str:
    limit = span(row.limit, locale) if row.limit else "—"
    timebox = span(row.timebox, locale) if row.timebox else "—"
    flags = ", ".join(t(f"roadmap.flag.{flag}", locale) for flag in row.flags)
    line = t(
        "roadmap.portfolio.line",
        locale,
        project=row.name,
        stage=stage_name(row.stage, locale),
        days=int(row.days_in_stage),  # whole days completed
        timebox=timebox,
        limit=limit,
        owner=row.owner_name,
        sponsor=row.sponsor_name or t("roadmap.none", locale),
    )
    return f"{line} — ⚠️ {flags}" if flags else line


def portfolio_reply(rows: Sequence[ProjectRow], locale: str, *, private: bool = True) -> Reply:
    """The `projects` answer (the chat command arrives with the adapters' next step)."""
    if not rows:
        return Reply(text=t("roadmap.portfolio.empty", locale), private=private)
    lines = "\n".join(_row_line(row, locale) for row in rows)
    title = t("roadmap.portfolio.title", locale, count=len(rows))
    return Reply(text=f"{title}\n{lines}", card=Card(title=title, text=lines), private=private)


def scale_lines(view: ScaleView, locale: str) -> str:
    medians = ", ".join(
        f"{stage_name(stage, locale)} {days:g}" for stage, days in view.median_days.items()
    )
    lines = [
        t(
            "roadmap.scale.production",
            locale,
            quarter=view.quarter,
            count=len(view.reached_production),
            goal=view.goal,
        ),
        t("roadmap.scale.medians", locale, medians=medians or "—"),
    ]
    lines += [
        t("roadmap.scale.stopped", locale, project=s.name, reason=s.reason) for s in view.stopped
    ]
    return "\n".join(lines)


def monthly_report(report: MonthlyReport, locale: str) -> Reply:
    """The guide's monthly operations report for one Production project."""
    percent = f"{report.success_rate * 100:.2f}%" if report.success_rate is not None else "—"
    target = f"{report.success_target * 100:.2f}%" if report.success_target else "—"
    cost = f"{report.cost:g}" if report.cost is not None else "—"
    budget = f"{report.budget:g}" if report.budget is not None else "—"
    incidents = (
        "; ".join(
            f"{level.upper()} {n} ({_minutes(report.times.get(level, (None, None))[0])} / "
            f"{_minutes(report.times.get(level, (None, None))[1])})"
            for level, n in report.incidents.items()
        )
        or "0"
    )
    fields = (
        Field(label=t("roadmap.report.slo", locale), value=f"{percent} / {target}"),
        Field(
            label=t("roadmap.report.latency", locale),
            value=f"{_ms(report.latency_p95_ms)} / {_ms(report.latency_target_ms)}",
        ),
        Field(label=t("roadmap.report.incidents", locale), value=incidents),
        Field(
            label=t("roadmap.report.ack_resolve", locale),
            value=f"{_minutes(report.mean_ack)} / {_minutes(report.mean_resolve)}",
        ),
        Field(label=t("roadmap.report.cost", locale), value=f"{cost} / {budget}"),
        Field(
            label=t("roadmap.report.failures", locale),
            value=f"{report.failures} ({report.failures_before})",
        ),
        Field(label=t("roadmap.report.gates", locale), value=str(report.gates_decided)),
        Field(
            label=t("ledger.period.title", locale),
            value=period_summary(report.deployments, locale),
        ),
    )
    title = t("roadmap.report.title", locale, project=report.project_name, month=report.month)
    text = "\n".join(f"{f.label}: {f.value}" for f in fields)
    return Reply(text=f"{title}\n{text}", card=Card(title=title, fields=fields))


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms"


def _minutes(value: timedelta | None) -> str:
    return "—" if value is None else f"{value.total_seconds() / 60:.0f} min"
