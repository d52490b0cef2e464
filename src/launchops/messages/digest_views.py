"""The weekly failure-review digest as neutral `Reply`s, every sentence from the catalogue.

A channel gets one top-level message (`summary`, or `quiet` for a week with nothing to
report) and the long content as thread replies (`sections`); `whole` puts everything in one
private reply for `digest preview` and the chat `digest` command. Texts shown are figures,
component and project names and masked failure summaries only: never an incident title or
anything a person typed unmasked.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from launchops.messages.i18n import t
from launchops.messages.ledger_views import period_lines
from launchops.messages.reply import Action, Card, Field, Image, Reply
from launchops.messages.roadmap_views import span, stage_name

if TYPE_CHECKING:  # the figures' shape only: messages/ never calls into services/
    from collections.abc import Sequence

    from launchops.domain.digests import DigestData
    from launchops.domain.portfolio import ProjectRow

__all__ = [
    "ASSIGN",
    "REVIEWED",
    "chart",
    "chart_comment",
    "quiet",
    "sections",
    "sponsor_line",
    "summary",
    "whole",
]

MAX_EXAMPLE = 200  # characters of a pattern's example shown
ASSIGN = "digest_assign"  # the follow-up buttons (services/digest_followup.py); value: row id
REVIEWED = "digest_reviewed"


def _change(now: int, before: int, locale: str) -> str:
    if before == 0 and now > 0:
        return t("digest.change.new", locale)
    if now > before:
        return t("digest.change.up", locale, n=now - before)
    if now < before:
        return t("digest.change.down", locale, n=before - now)
    return t("digest.change.same", locale)


def _percent(value: float) -> str:
    return f"{value * 100:.2f}%"


def _span(span: timedelta | None, locale: str) -> str:
    if span is None:
        return t("digest.not_yet", locale)
    minutes = int(span.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours < 48 else f"{hours // 24} d {hours % 24} h"


def quiet(data: DigestData, week: str, locale: str) -> Reply:
    return Reply(text=t("digest.quiet", locale, team=data.team_name, week=week))


def summary(data: DigestData, week: str, locale: str) -> Reply:
    """The channel's top-level message: the headline figures."""
    declared = sum(i.declared for i in data.incidents)
    text = t(
        "digest.summary",
        locale,
        team=data.team_name,
        week=week,
        cases=data.total,
        change=_change(data.total, data.total_before, locale),
        incidents=declared,
        open=len(data.still_open),
    )
    fields = (
        Field(
            label=t("digest.field.cases", locale),
            value=f"{data.total} ({_change(data.total, data.total_before, locale)})",
        ),
        Field(label=t("digest.field.incidents", locale), value=str(declared)),
        Field(label=t("digest.field.open", locale), value=str(len(data.still_open))),
        Field(
            label=t("digest.field.gates", locale),
            value=t(
                "digest.gates_summary",
                locale,
                decided=len(data.gates_decided),
                pending=len(data.gates_pending),
            ),
        ),
    )
    title = t("digest.title", locale, team=data.team_name, week=week)
    return Reply(text=text, card=Card(title=title, fields=fields))


def sections(data: DigestData, locale: str) -> list[Reply]:
    """The thread: cases, failure rates, patterns, incidents, SLOs and gates, in that order."""
    out = []
    for key, lines in (
        ("digest.cases.title", _cases(data, locale)),
        ("digest.rate.title", _rates(data, locale)),
        ("digest.patterns.title", _patterns(data, locale)),
        ("digest.incidents.title", _incidents(data, locale)),
        ("ledger.period.title", _deployments(data, locale)),
        ("digest.slo.title", _slo(data, locale)),
        ("digest.gates.title", _gates(data, locale)),
    ):
        if lines:
            title = t(key, locale)
            body = "\n".join(lines)
            actions = _pattern_actions(data, locale) if key == "digest.patterns.title" else ()
            note = t("digest.followup.actions_note", locale) if actions else None
            card = Card(title=title, text=body, actions=actions, note=note)
            out.append(Reply(text=f"{title}\n{body}", card=card))
        if key == "digest.patterns.title" and data.earlier:
            title = t("digest.followup.title", locale)
            body = "\n".join(_earlier(data, locale))
            out.append(Reply(text=f"{title}\n{body}", card=Card(title=title, text=body)))
    return out


def _pattern_actions(data: DigestData, locale: str) -> tuple[Action, ...]:
    """Assign and Mark reviewed for each pattern recorded with this round."""
    actions = []
    for n, row_id in enumerate(data.pattern_ids[: len(data.patterns)], start=1):
        actions.append(
            Action(
                id=ASSIGN,
                label=t("digest.followup.assign_button", locale, n=n),
                value=str(row_id),
            )
        )
        actions.append(
            Action(
                id=REVIEWED,
                label=t("digest.followup.reviewed_button", locale, n=n),
                value=str(row_id),
            )
        )
    return tuple(actions)


def _earlier(data: DigestData, locale: str) -> list[str]:
    lines = []
    for past in data.earlier:
        common = {"week": past.iso_week, "example": past.example[:MAX_EXAMPLE]}
        if past.assignee and past.reviewed_by:
            key = "digest.followup.line_assigned_reviewed"
        elif past.reviewed_by:
            key = "digest.followup.line_reviewed"
        elif past.assignee:
            key = "digest.followup.line_assigned"
        else:
            key = "digest.followup.line_open"
        lines.append(t(key, locale, owner=past.assignee, person=past.reviewed_by, **common))
    return lines


def whole(data: DigestData, week: str, locale: str) -> Reply:
    """Everything in one private reply (preview, chat `digest`)."""
    if data.quiet:
        return quiet(data, week, locale).model_copy(update={"private": True})
    head = summary(data, week, locale)
    parts = [head.text, *(section.text for section in sections(data, locale))]
    title = t("digest.title", locale, team=data.team_name, week=week)
    body = "\n\n".join(parts[1:])
    card = Card(title=title, text=body, fields=head.card.fields if head.card else ())
    return Reply(text="\n\n".join(parts), card=card, private=True)


def chart_comment(locale: str) -> str:
    return t("digest.chart.comment", locale)


def chart(png: bytes, locale: str) -> Reply:
    """The trend chart as a card with the picture in it (Teams; Slack gets a file upload)."""
    comment = chart_comment(locale)
    image = Image(png=png, alt=comment)
    return Reply(text=comment, card=Card(title=t("digest.chart.title", locale), image=image))


def _cases(data: DigestData, locale: str) -> list[str]:
    if not data.cases:
        return [t("digest.cases.none", locale)]
    return [
        t(
            "digest.cases.line",
            locale,
            component=component,
            kind=t(f"digest.kind.{kind}", locale),
            now=now,
            change=_change(now, before, locale),
        )
        for (component, kind), (now, before) in data.cases.items()
    ]


def _rates(data: DigestData, locale: str) -> list[str]:
    lines = []
    for rate in data.rates:
        if not rate.cases and not rate.requests:
            continue
        value = rate.rate
        if value is None:
            lines.append(
                t(
                    "digest.rate.unknown",
                    locale,
                    component=rate.component,
                    cases=rate.cases,
                    allowed=_percent(rate.allowed),
                )
            )
            continue
        lines.append(
            t(
                "digest.rate.line",
                locale,
                component=rate.component,
                rate=_percent(value),
                requests=rate.requests,
                allowed=_percent(rate.allowed),
                mark="✅" if value <= rate.allowed else "⚠️",
            )
        )
    return lines


def _patterns(data: DigestData, locale: str) -> list[str]:
    return [
        t(
            "digest.patterns.line",
            locale,
            n=n,
            count=pattern.count,
            example=pattern.example[:MAX_EXAMPLE],
        )
        for n, pattern in enumerate(data.patterns, start=1)
    ]


def _incidents(data: DigestData, locale: str) -> list[str]:
    lines = [
        t(
            "digest.incidents.line",
            locale,
            severity=figures.severity.upper(),
            count=figures.declared,
            ack=_span(figures.mean_ack, locale),
            resolve=_span(figures.mean_resolve, locale),
        )
        for figures in data.incidents
    ] or [t("digest.incidents.none", locale)]
    if data.still_open:
        listed = ", ".join(f"{level.upper()} #{number}" for number, level in data.still_open)
        lines.append(t("digest.incidents.open", locale, list=listed))
    return lines


def _deployments(data: DigestData, locale: str) -> list[str]:
    """The week's deployments and rollbacks (the change ledger), only when there were any."""
    return period_lines(data.deployments, locale) if data.deployments else []


def _slo(data: DigestData, locale: str) -> list[str]:
    lines = []
    for rate in data.rates:
        objective = _percent(rate.objective)
        if rate.success_rate is None:
            line = t("digest.slo.no_data", locale, component=rate.component, objective=objective)
        else:
            line = t(
                "digest.slo.line",
                locale,
                component=rate.component,
                value=_percent(rate.success_rate),
                objective=objective,
                mark="✅" if rate.success_rate >= rate.objective else "⚠️",
            )
        if rate.open_alerts:
            line += " · " + t("digest.slo.alerts", locale, n=rate.open_alerts)
        lines.append(line)
    return lines


def _gates(data: DigestData, locale: str) -> list[str]:
    lines = [
        t(
            "digest.gates.decided",
            locale,
            project=project,
            stage=t(f"gate.stage.{stage}", locale),
            outcome=t(f"digest.outcome.{outcome}", locale),
        )
        for project, stage, outcome in data.gates_decided
    ]
    lines += [
        t("digest.gates.pending", locale, project=project, stage=t(f"gate.stage.{stage}", locale))
        for project, stage in data.gates_pending
    ]
    return lines or [t("digest.gates.none", locale)]


def sponsor_line(rows: Sequence[ProjectRow], week: str, locale: str) -> Reply:
    """A sponsor's weekly direct message: one short line per project they sponsor (stage,
    days against its timebox and limit, the portfolio's warnings, an open gate)."""
    lines = []
    for row in rows:
        parts = [
            t(
                "digest.sponsor.line",
                locale,
                project=row.name,
                stage=stage_name(row.stage, locale),
                days=int(row.days_in_stage),
                timebox=span(row.timebox, locale) if row.timebox else "—",
                limit=span(row.limit, locale) if row.limit else "—",
            )
        ]
        if row.open_gate is not None:
            gate = row.open_gate
            parts.append(
                t(
                    "digest.sponsor.gate",
                    locale,
                    id=gate.id,
                    stage=stage_name(gate.to_stage, locale),
                )
            )
        if row.open_incidents:
            parts.append(t("digest.sponsor.incidents", locale, count=row.open_incidents))
        if row.flags:
            flags = ", ".join(t(f"roadmap.flag.{flag}", locale) for flag in row.flags)
            parts.append(f"⚠️ {flags}")
        lines.append(" · ".join(parts))
    title = t("digest.sponsor.title", locale, week=week)
    return Reply(text="\n".join([title, *lines]))
