"""The change ledger in words: `ranker v1.4.2 to production 40 min ago by Minji`, the Roll
back link button, the `deploy` confirmation and the digest's and report's lines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Literal

from launchops.domain.ledger import DeploymentLine
from launchops.messages.i18n import t
from launchops.messages.reply import LINK_ACTION, Action, Card, Field, Reply

__all__ = [
    "deployment_text",
    "period_lines",
    "period_summary",
    "recorded_reply",
    "rollback_action",
]

_DATE = "%Y-%m-%d %H:%M UTC"


def span_text(span: timedelta, locale: str) -> str:
    """`40 min`, `2 h 5 min`, `3 s`, `2 d 4 h`: rounded down, as a person would say it."""
    seconds = max(0, int(span.total_seconds()))
    if seconds < 60:
        return t("incident.duration.seconds", locale, n=seconds)
    if seconds < 3600:
        return t("incident.duration.minutes", locale, n=seconds // 60)
    if seconds < 86400:
        return t("incident.duration.hours", locale, h=seconds // 3600, m=seconds % 3600 // 60)
    return t("ledger.days", locale, d=seconds // 86400, h=seconds % 86400 // 3600)


def deployment_text(
    line: DeploymentLine, locale: str, *, relative: Literal["ago", "before", "date"] = "ago"
) -> str:
    """One deployment as a sentence; `relative` says how its time is told: `40 min ago`
    (a card), `40 min before` (the incident, for `incident status`) or its date (a digest)."""
    if relative == "date" or line.ago is None:
        when = line.at.strftime(_DATE)
    else:
        when = t(f"ledger.{relative}", locale, span=span_text(line.ago, locale))
    by = t("ledger.by", locale, person=line.by) if line.by else ""
    key = "ledger.line.rollback" if line.kind == "rollback" else "ledger.line.deploy"
    return t(
        key,
        locale,
        component=line.component_name,
        version=line.version,
        environment=line.environment,
        when=when,
        by=by,
    )


def rollback_action(lines: Sequence[DeploymentLine], locale: str) -> Action | None:
    """A link button to the newest deployment's rollback, when one was given."""
    for line in lines:
        if line.kind == "deploy" and line.rollback_url:
            return Action(
                id=LINK_ACTION,
                label=t("ledger.button.rollback", locale),
                value=str(line.id),
                url=line.rollback_url,
            )
    return None


def recorded_reply(line: DeploymentLine, locale: str, *, duplicate: bool) -> Reply:
    """`deploy …` answered: what went into the ledger (or that it was there already)."""
    key = "ledger.already_recorded" if duplicate else "ledger.recorded"
    text = t(key, locale, id=line.id, line=deployment_text(line, locale, relative="date"))
    fields = (
        Field(label=t("ledger.field.component", locale), value=line.component_name),
        Field(label=t("ledger.field.version", locale), value=line.version),
        Field(label=t("ledger.field.environment", locale), value=line.environment),
    )
    title = t("ledger.title", locale, id=line.id)
    note = t("ledger.note", locale)
    return Reply(text=text, card=Card(title=title, fields=fields, note=note), private=True)


def period_lines(lines: Sequence[DeploymentLine], locale: str) -> list[str]:
    """The period's deployments and rollbacks for a digest or a report: a count, then one
    line each (the latest 10)."""
    if not lines:
        return [t("ledger.period.none", locale)]
    rollbacks = sum(1 for line in lines if line.kind == "rollback")
    out = [t("ledger.period.count", locale, deploys=len(lines) - rollbacks, rollbacks=rollbacks)]
    out += ["• " + deployment_text(line, locale, relative="date") for line in list(lines)[-10:]]
    return out


def period_summary(lines: Sequence[DeploymentLine], locale: str) -> str:
    """The same on one line, for a report's field: `2 deployment(s), 1 rollback(s) — …`."""
    first, *rest = period_lines(lines, locale)
    return f"{first} — {'; '.join(line.removeprefix('• ') for line in rest)}" if rest else first
