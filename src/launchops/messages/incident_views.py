"""Incident cards and notes as neutral `Reply`s, every sentence from the message catalogue.

Buttons are `run_command` actions carrying the text command (`incident ack 12`), so every
platform handles a click exactly as if the person had typed it: one code path, one set of
permission checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from launchops.domain.incidents import LEVELS, IncidentView, Unreached
from launchops.domain.paging import PageReason
from launchops.messages.i18n import catalogue, t
from launchops.messages.ledger_views import deployment_text, rollback_action
from launchops.messages.reply import Action, Card, Field, Reply

LEVEL_MARK = {"p0": "🔴", "p1": "🟠", "p2": "🟡", "p3": "⚪"}


def _when(moment: datetime | None) -> str:
    """`2026-05-04 09:30:00 UTC`, as strftime("%Y-%m-%d %H:%M:%S UTC") wrote it, several
    times cheaper (strftime goes through the C library's time zone handling)."""
    return f"{moment.isoformat(' ', 'seconds')[:19]} UTC" if moment else "—"


def incident_actions(view: IncidentView, locale: str) -> tuple[Action, ...]:
    if view.status == "resolved":
        return ()
    actions = []
    if view.status == "open":
        actions.append(
            Action(
                id="run_command",
                label=t("incident.button.ack", locale),
                value=f"incident ack {view.id}",
                style="primary",
            )
        )
    actions += [
        Action(
            id="run_command",
            label=t("incident.button.escalate", locale),
            value=f"incident escalate {view.id}",
        ),
        Action(
            id="run_command",
            label=t("incident.button.resolve", locale),
            value=f"incident resolve {view.id}",
            style="danger",
        ),
        Action(
            id="run_command",
            label=t("incident.button.severity", locale),
            value=f"incident severity {view.id}",
        ),
    ]
    return tuple(actions)


def incident_card(
    view: IncidentView, locale: str, *, intro: str | None = None, for_responders: bool = False
) -> Reply:
    """The incident card: posted in the team channel, sent as a page, edited on every change.

    A confidential or pii component's runbook is only on cards `for_responders` (their
    pages and the Responsible team's channel): cards also go to other teams' channels."""
    headline = f"{view.component_name}: {view.title}" if view.component_name else view.title
    title = t(
        "incident.card_title",
        locale,
        mark=LEVEL_MARK.get(view.severity, ""),
        ref=view.reference,
        level=view.severity.upper(),
        title=headline,
    )
    fields = [
        Field(
            label=t("incident.field.severity", locale),
            value=f"{view.severity.upper()} — {view.meaning}",
        ),
        Field(
            label=t("incident.field.status", locale),
            value=t(f"incident.status.{view.status}", locale),
        ),
    ]
    if view.component_name:
        fields.append(Field(label=t("incident.field.component", locale), value=view.component_name))
    if view.team_name:
        fields.append(Field(label=t("incident.field.team", locale), value=view.team_name))
    fields.append(
        Field(
            label=t("incident.field.declared", locale),
            value=f"{view.declared_by} · {_when(view.declared_at)}",
        )
    )
    if view.status == "open" and view.ack_deadline:
        fields.append(
            Field(label=t("incident.field.ack_by", locale), value=_when(view.ack_deadline))
        )
    if view.acknowledged_by:
        fields.append(
            Field(
                label=t("incident.field.acknowledged", locale),
                value=f"{view.acknowledged_by} · {_when(view.acknowledged_at)}",
            )
        )
    if view.resolved_by:
        fields.append(
            Field(
                label=t("incident.field.resolved", locale),
                value=f"{view.resolved_by} · {_when(view.resolved_at)}",
            )
        )
    if view.responders:
        fields.append(
            Field(label=t("incident.field.responders", locale), value=", ".join(view.responders))
        )
    if view.postmortem_owner:
        fields.append(
            Field(label=t("incident.field.postmortem", locale), value=view.postmortem_owner)
        )
    if view.unreached:
        fields.append(
            Field(
                label=t("incident.field.unreached", locale),
                value=", ".join(unreached_text(u, locale) for u in view.unreached),
            )
        )
    if view.runbook and (for_responders or not view.confidential):
        fields.append(Field(label=t("owner.runbook", locale), value=view.runbook, url=view.runbook))
    fields += ledger_fields(view, locale)
    actions = incident_actions(view, locale)
    rollback = rollback_action(view.deployments, locale) if actions else None
    text = "\n".join(part for part in (intro, view.description) if part) or None
    return Reply(
        text=title if intro is None else f"{intro} — {title}",
        card=Card(
            title=title,
            text=text,
            fields=tuple(fields),
            actions=(*actions, rollback) if rollback else actions,
        ),
    )


def ledger_fields(view: IncidentView, locale: str) -> list[Field]:
    """The component's last deployments and, for `incident status`, the changes in the hour
    before the incident (services/ledger.py reads them)."""
    fields = []
    if view.deployments:
        lines = [deployment_text(line, locale) for line in view.deployments]
        fields.append(Field(label=t("ledger.field.deployments", locale), value="; ".join(lines)))
    if view.changes_before is not None:
        lines = [deployment_text(c, locale, relative="before") for c in view.changes_before]
        value = "; ".join(lines) or t("ledger.none", locale)
        fields.append(Field(label=t("ledger.field.changes", locale), value=value))
    return fields


def reason_text(reason: PageReason, team_names: Mapping[str, str], locale: str) -> str:
    """`on call for Data team, the Responsible team`, in the reader's language."""
    key = f"incident.reason.{reason.target}" + ("" if reason.team else "_you")
    if key not in catalogue(locale):
        key = "incident.reason.person"
    return t(key, locale, team=team_names.get(reason.team or "", reason.team or ""))


def page_card(
    view: IncidentView, locale: str, reason: PageReason, team_names: Mapping[str, str]
) -> Reply:
    why = reason_text(reason, team_names, locale)
    intro = t("incident.paged_you", locale, reason=why)
    return incident_card(view, locale, intro=intro, for_responders=True)


def escalation_card(
    view: IncidentView,
    locale: str,
    reason: PageReason,
    team_names: Mapping[str, str],
    *,
    waited: timedelta,
    by: str | None = None,
) -> Reply:
    """A page for an escalation step: it says so, so someone paged before sees it is new."""
    why = reason_text(reason, team_names, locale)
    level, ref = view.severity.upper(), view.reference
    if by is None:
        intro = t(
            "incident.escalation_intro",
            locale,
            level=level,
            ref=ref,
            waited=duration_text(waited, locale),
            reason=why,
        )
    else:
        intro = t(
            "incident.escalation_by_intro", locale, person=by, level=level, ref=ref, reason=why
        )
    return incident_card(view, locale, intro=intro, for_responders=True)


def duration_text(waited: timedelta, locale: str) -> str:
    """`15 min`, `2 h 5 min`, `3 s`: rounded down, as a person would say it."""
    seconds = max(0, int(waited.total_seconds()))
    if seconds < 60:
        return t("incident.duration.seconds", locale, n=seconds)
    if seconds < 3600:
        return t("incident.duration.minutes", locale, n=seconds // 60)
    return t("incident.duration.hours", locale, h=seconds // 3600, m=seconds % 3600 // 60)


def page_error_text(reason: str, code: str, locale: str) -> str:
    key = f"incident.page_error.{reason}"
    if key not in catalogue(locale):
        key = "incident.page_error.other"
    return t(key, locale, code=code or reason)


def unreached_text(unreached: Unreached, locale: str) -> str:
    why = page_error_text(unreached.reason, unreached.code, locale)
    return t("incident.unreached_item", locale, person=unreached.name, reason=why)


@dataclass(frozen=True)
class Localized:
    """A note parameter that is itself a catalogue text, read in each thread's language."""

    key: str
    params: Mapping[str, object]


def note(key: str, locale: str, **params: object) -> Reply:
    """A short line in the incident's thread (no card, so nobody is notified twice)."""
    filled = {
        name: t(value.key, locale, **value.params) if isinstance(value, Localized) else value
        for name, value in params.items()
    }
    return Reply(text=t(key, locale, **filled))


def declared_reply(
    view: IncidentView,
    locale: str,
    *,
    paged: list[str],
    channels: list[str],
    unreachable: list[str],
    created: bool,
) -> Reply:
    if not created:
        return Reply(text=t("incident.already_declared", locale, ref=view.reference), private=True)
    lines = [
        t(
            "incident.declared",
            locale,
            ref=view.reference,
            level=view.severity.upper(),
            title=view.title,
        )
    ]
    if view.severity == "p3" or not paged:
        lines.append(
            t("incident.backlog", locale)
            if view.severity == "p3"
            else t("incident.paged_nobody", locale)
        )
    else:
        lines.append(t("incident.paged", locale, people=", ".join(paged)))
    if channels:
        lines.append(t("incident.posted_in", locale, channels=", ".join(channels)))
    if unreachable:
        lines.append(t("incident.unreachable", locale, people=", ".join(unreachable)))
    card = incident_card(view, locale)
    assert card.card is not None
    return Reply(
        text=" ".join(lines),
        private=True,
        card=card.card.model_copy(update={"text": "\n".join(lines)}),
    )


def severity_choices(view: IncidentView, locale: str) -> Reply:
    actions = tuple(
        Action(
            id="run_command",
            label=level.upper(),
            value=f"incident severity {view.id} {level}",
            style="danger" if level == "p0" else "default",
        )
        for level in LEVELS
        if level != view.severity
    )
    text = t("incident.choose_severity", locale, ref=view.reference, level=view.severity.upper())
    return Reply(text=text, private=True, card=Card(title=text, actions=actions))


def incident_list(views: list[IncidentView], locale: str) -> Reply:
    if not views:
        return Reply(text=t("incident.none_open", locale), private=True)
    fields = tuple(
        Field(
            label=f"{v.reference} · {v.severity.upper()}",
            value=f"{t(f'incident.status.{v.status}', locale)} — {v.title}",
        )
        for v in views
    )
    title = t("incident.open_list", locale, count=len(views))
    return Reply(text=title, private=True, card=Card(title=title, fields=fields))


def resolved_reply(view: IncidentView, locale: str) -> Reply:
    """P0/P1 ask who owns the postmortem, with the runbook at hand."""
    text = t("incident.resolve_done", locale, ref=view.reference)
    if view.severity not in ("p0", "p1") or view.postmortem_owner:
        return Reply(text=text, private=True)
    question = t(
        "incident.resolve_postmortem", locale, ref=view.reference, level=view.severity.upper()
    )
    fields: tuple[Field, ...] = ()
    if view.runbook:
        fields = (Field(label=t("owner.runbook", locale), value=view.runbook, url=view.runbook),)
    action = Action(
        id="run_command",
        label=t("incident.button.postmortem", locale),
        value=f"incident postmortem {view.id}",
        style="primary",
    )
    return Reply(
        text=f"{text} {question}",
        private=True,
        card=Card(title=text, text=question, fields=fields, actions=(action,)),
    )
