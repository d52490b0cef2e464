"""Stage-gate cards and answers as neutral `Reply`s, every sentence from the catalogue.

Approval buttons carry `<request id>:<evidence version>` under their own action ids
(`gate_approve`, `gate_reject`, `gate_comment`) rather than a text command: a rejection needs
a reason the platform asks for (Slack modal, Teams card input), and the version lets the
service tell which message a click came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from launchops.domain.evidence import DELIVERABLE, EvidenceItem, resolve_item
from launchops.domain.gates import DecisionView, GateView
from launchops.messages.i18n import t
from launchops.messages.reply import Action, Card, Field, Reply

__all__ = [
    "announcement",
    "approval_request",
    "attested_reply",
    "decided_reply",
    "evidence_changed",
    "evidence_text",
    "incident_reason",
    "item_label",
    "reminder",
    "requested_reply",
    "status_reply",
    "summary_card",
]

STATUS_MARK = {"open": "🗳️", "passed": "✅", "rejected": "⛔", "expired": "⌛"}


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "—"


def ref(view: GateView, locale: str) -> str:
    return t("gate.ref", locale, id=view.id)


def stage_name(stage: str, locale: str) -> str:
    return t(f"gate.stage.{stage}", locale)


def _title(view: GateView, locale: str) -> str:
    return t(
        "gate.card_title",
        locale,
        mark=STATUS_MARK.get(view.status, ""),
        ref=ref(view, locale),
        project=view.project_name,
        from_stage=stage_name(view.from_stage, locale),
        to_stage=stage_name(view.to_stage, locale),
    )


def item_label(key: str, locale: str) -> str:
    """An evidence item's name; a deliverable's from the catalogue when it is one of the
    guide's, else its id as `roadmap:` wrote it (dashes read as spaces)."""
    if not key.startswith(DELIVERABLE):
        return t(f"gate.evidence.{key}", locale)
    ident = key.removeprefix(DELIVERABLE)
    known = t(f"gate.deliverable.{ident}", locale)
    return ident.replace("-", " ").capitalize() if known == f"gate.deliverable.{ident}" else known


def evidence_line(item: EvidenceItem, locale: str) -> str:
    if item.kind == "deliverable":
        # The link the requester attached, or ❌: nothing else counts as a deliverable.
        label = item_label(item.key, locale)
        if item.ok and item.detail:
            by = f" ({item.by})" if item.by else ""
            return f"{t('gate.mark.ok', locale)} {label}: {item.detail}{by}"
        return f"{t('gate.mark.failed', locale)} {label}"
    mark = {True: "gate.mark.ok", False: "gate.mark.failed", None: "gate.mark.waiting"}[item.ok]
    line = f"{t(mark, locale)} {item_label(item.key, locale)}"
    extra = ", ".join(part for part in (item.detail, item.by) if part)
    return f"{line} ({extra})" if extra else line


def evidence_text(items: Sequence[EvidenceItem], locale: str, leaving: str | None = None) -> str:
    """The items, the deliverables of the stage being left under their own heading."""
    lines = [evidence_line(item, locale) for item in items if item.kind != "deliverable"]
    deliverables = [evidence_line(item, locale) for item in items if item.kind == "deliverable"]
    if deliverables:
        stage = stage_name(leaving, locale) if leaving else ""
        lines += [t("gate.deliverables_heading", locale, stage=stage), *deliverables]
    return "\n".join(lines)


def attested_reply(view: GateView, given: str, ok: bool, locale: str) -> Reply:
    """`gate attest`'s answer: the item as the request now shows it (a deliverable with its
    link)."""
    item = resolve_item(view.evidence, given)
    if item is not None and item.kind == "deliverable":
        line = evidence_line(item, locale)
    else:
        mark = t("gate.mark.ok" if ok else "gate.mark.failed", locale)
        line = f"{mark} {item_label(item.key if item else given, locale)}"
    return Reply(text=t("gate.attested", locale, ref=ref(view, locale), item=line), private=True)


def decision_actions(view: GateView, locale: str) -> tuple[Action, ...]:
    value = f"{view.id}:{view.evidence_version}"
    return (
        Action(
            id="gate_approve", label=t("gate.button.approve", locale), value=value, style="primary"
        ),
        Action(
            id="gate_reject", label=t("gate.button.reject", locale), value=value, style="danger"
        ),
        Action(id="gate_comment", label=t("gate.button.comment", locale), value=value),
    )


def _fields(view: GateView, locale: str) -> list[Field]:
    fields = [
        Field(label=t("gate.field.status", locale), value=t(f"gate.status.{view.status}", locale)),
        Field(
            label=t("gate.field.requested", locale),
            value=f"{view.requested_by} · {_when(view.requested_at)}",
        ),
    ]
    if view.status == "open":
        fields.append(Field(label=t("gate.field.expires", locale), value=_when(view.expires_at)))
    for group in view.groups:
        params = {"approved": len(group.approved), "needed": group.needed}
        if group.pending and view.status == "open":
            value = t("gate.group_pending", locale, people=", ".join(group.pending), **params)
        else:
            value = t("gate.group", locale, **params)
        if group.approved:
            value = f"{value} ({', '.join(group.approved)})"
        fields.append(Field(label=group.group, value=value))
    if view.stale and view.status == "open":
        fields.append(Field(label=t("gate.field.stale", locale), value=", ".join(view.stale)))
    if view.rejected_by is not None:
        by = view.rejected_by
        fields.append(
            Field(label=t("gate.field.rejected", locale), value=f"{by.person}: {by.reason or ''}")
        )
    if view.changes:
        changes = "; ".join(
            t("gate.change_item", locale, version=c.version, reason=c.reason) for c in view.changes
        )
        fields.append(Field(label=t("gate.field.changed", locale), value=changes))
    fields.append(
        Field(label=t("gate.field.evidence_version", locale), value=str(view.evidence_version))
    )
    return fields


def summary_card(view: GateView, locale: str) -> Reply:
    """The card in the project's channel: who decided, who is pending; edited in place."""
    title = _title(view, locale)
    question = t(f"gate.question.{view.to_stage}", locale)
    text = f"{question}\n{evidence_text(view.evidence, locale, view.from_stage)}"
    return Reply(text=title, card=Card(title=title, text=text, fields=tuple(_fields(view, locale))))


def _decision_card(view: GateView, locale: str, intro: str) -> Reply:
    title = _title(view, locale)
    question = t(f"gate.question.{view.to_stage}", locale)
    text = f"{intro}\n{question}\n{evidence_text(view.evidence, locale, view.from_stage)}"
    return Reply(
        text=f"{intro} — {title}",
        card=Card(
            title=title,
            text=text,
            fields=tuple(_fields(view, locale)),
            actions=decision_actions(view, locale),
        ),
    )


def approval_request(view: GateView, locale: str, groups: Sequence[str]) -> Reply:
    """The direct message each required approver gets, with Approve / Reject / Comment."""
    intro = t(
        "gate.dm_intro",
        locale,
        requester=view.requested_by,
        project=view.project_name,
        stage=stage_name(view.to_stage, locale),
        groups=", ".join(groups),
    )
    return _decision_card(view, locale, intro)


def evidence_changed(view: GateView, locale: str, reason: str) -> Reply:
    """To an approver whose approval stopped counting: what changed, and the buttons again."""
    intro = t(
        "gate.changed_intro",
        locale,
        ref=ref(view, locale),
        project=view.project_name,
        stage=stage_name(view.to_stage, locale),
        reason=reason,
    )
    return _decision_card(view, locale, intro)


def reminder(view: GateView, locale: str) -> Reply:
    intro = t(
        "gate.reminder_intro",
        locale,
        ref=ref(view, locale),
        project=view.project_name,
        stage=stage_name(view.to_stage, locale),
        expires=_when(view.expires_at),
    )
    return _decision_card(view, locale, intro)


def announcement(view: GateView, locale: str) -> Reply:
    """Posted once when the gate closes: passed, rejected or expired."""
    params = {
        "ref": ref(view, locale),
        "project": view.project_name,
        "stage": stage_name(view.to_stage, locale),
        "current": stage_name(view.from_stage, locale),
    }
    if view.status == "rejected" and view.rejected_by is not None:
        params |= {"person": view.rejected_by.person, "reason": view.rejected_by.reason or ""}
    return Reply(text=t(f"gate.announce.{view.status}", locale, **params))


def requested_reply(
    view: GateView, locale: str, *, asked: Sequence[str], unreachable: Sequence[str], created: bool
) -> Reply:
    if not created:
        return Reply(text=t("gate.already_requested", locale, ref=ref(view, locale)), private=True)
    lines = [
        t(
            "gate.requested",
            locale,
            ref=ref(view, locale),
            project=view.project_name,
            stage=stage_name(view.to_stage, locale),
            people=", ".join(asked) or "—",
        )
    ]
    if unreachable:
        lines.append(t("gate.unreachable", locale, people=", ".join(unreachable)))
    card = summary_card(view, locale).card
    assert card is not None
    text = " ".join(lines)
    return Reply(text=text, private=True, card=card.model_copy(update={"note": text}))


def decided_reply(view: GateView, locale: str, verdict: str, *, recorded: bool) -> Reply:
    """The outcome, with the gate's summary card as it now stands (who decided, who is
    pending) under it: a button click shows it in place of the card clicked."""
    gate = ref(view, locale)
    if not recorded:
        word = t(f"gate.verdict.{verdict}", locale)
        text = t("gate.decided.already", locale, ref=gate, verdict=word)
    else:
        text = t(f"gate.decided.{verdict}", locale, ref=gate)
    if recorded and view.status == "passed":
        stage = stage_name(view.to_stage, locale)
        text = f"{text} {t('gate.decided.passed', locale, project=view.project_name, stage=stage)}"
    card = summary_card(view, locale).card
    assert card is not None
    return Reply(text=text, private=True, card=card.model_copy(update={"note": text}))


def _decision_line(decision: DecisionView, locale: str) -> str:
    params = {
        "person": decision.person,
        "verdict": t(f"gate.verdict.{decision.verdict}", locale),
        "version": decision.evidence_version,
    }
    if decision.reason:
        return t("gate.show.decision_reason", locale, reason=decision.reason, **params)
    if decision.verdict == "approve" and not decision.current:
        return t("gate.show.decision_stale", locale, **params)
    return t("gate.show.decision", locale, **params)


def status_reply(
    project: str,
    stage: str,
    open_gate: GateView | None,
    past: Sequence[GateView],
    locale: str,
    flags: Sequence[str] = (),
) -> Reply:
    """`gate status`: `stage: <current>` first, then the portfolio's warnings (no sponsor,
    over its hard limit, …); any other stage under another label."""
    lines = [t("gate.show.current", locale, stage=stage)]
    if flags:
        warned = ", ".join(t(f"roadmap.flag.{flag}", locale) for flag in flags)
        lines.append(t("gate.show.flags", locale, flags=warned))
    fields: list[Field] = []
    if open_gate is None:
        lines.append(t("gate.show.no_open", locale))
    else:
        gate = ref(open_gate, locale)
        status = t(f"gate.status.{open_gate.status}", locale)
        expires = _when(open_gate.expires_at)
        lines.append(
            t(
                "gate.show.requested",
                locale,
                stage=open_gate.to_stage,
                ref=gate,
                status=status,
                expires=expires,
            )
        )
        lines += [_decision_line(d, locale) for d in open_gate.decisions]
        fields = _fields(open_gate, locale)
        fields.append(
            Field(
                label=t("gate.show.evidence_label", locale),
                value=evidence_text(open_gate.evidence, locale, open_gate.from_stage),
            )
        )
    history = [
        t(
            "gate.show.past",
            locale,
            ref=ref(view, locale),
            from_stage=view.from_stage,
            to_stage=view.to_stage,
            status=t(f"gate.status.{view.status}", locale),
            when=_when(view.decided_at),
        )
        for view in past
    ]
    lines.append(t("gate.show.past_label", locale) + ":")
    lines += history or [t("gate.show.no_past", locale)]
    for view in past:
        lines += [f"  {_decision_line(d, locale)}" for d in view.decisions]
    text = "\n".join(lines)
    title = t("gate.show.title", locale, project=project)
    return Reply(text=text, private=True, card=Card(title=title, text=text, fields=tuple(fields)))


def incident_reason(level: str, ref: str, component: str, title: str, locale: str) -> str:
    """Why the evidence changed, for `GateService.evidence_changed` when a P0/P1 is declared:
    kept as written (in the bot's language) on the request and shown to every approver."""
    return t(
        "gate.reason.incident",
        locale,
        level=level.upper(),
        ref=ref,
        component=component,
        title=title,
    )
