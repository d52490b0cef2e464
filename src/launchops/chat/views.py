"""Service results → neutral `Reply`s, with every sentence from the message catalogue."""

from __future__ import annotations

from launchops.messages.i18n import t
from launchops.messages.reply import Action, Card, Field, Reply
from launchops.services.ownership import Holdings, OwnerAnswer, PartyRef

ROLE_KEYS = {
    "R": "owner.responsible",
    "A": "owner.accountable",
    "C": "owner.consulted",
    "I": "owner.informed",
}


# What people type after `help` → the catalogue section that answers it.
HELP_TOPICS = {
    "ownership": "ownership",
    "owner": "ownership",
    "owners": "ownership",
    "owns": "ownership",
    "who owns": "ownership",
    "who fixes": "ownership",
    "raci": "ownership",
    "담당": "ownership",
    "incident": "incidents",
    "incidents": "incidents",
    "severity": "incidents",
    "severities": "incidents",
    "page": "incidents",
    "paging": "incidents",
    "인시던트": "incidents",
    "장애": "incidents",
    "gate": "gates",
    "gates": "gates",
    "stage": "gates",
    "stages": "gates",
    "approval": "gates",
    "approvals": "gates",
    "게이트": "gates",
    "승인": "gates",
    "roadmap": "roadmap",
    "projects": "roadmap",
    "project": "roadmap",
    "portfolio": "roadmap",
    "timebox": "roadmap",
    "로드맵": "roadmap",
    "프로젝트": "roadmap",
    "feedback": "feedback",
    "failure": "feedback",
    "failures": "feedback",
    "digest": "feedback",
    "피드백": "feedback",
    "실패": "feedback",
    "다이제스트": "feedback",
    "deploy": "deploys",
    "deploys": "deploys",
    "deployment": "deploys",
    "deployments": "deploys",
    "rollback": "deploys",
    "ledger": "deploys",
    "배포": "deploys",
    "롤백": "deploys",
}


def help_reply(locale: str, topic: str | None = None) -> Reply:
    """Every command, grouped, with an example each; `help <topic>` gives one group in detail.

    An unknown topic gets the overview with a line naming the topics, never an error."""
    section = HELP_TOPICS.get(" ".join((topic or "").casefold().split()))
    if section is not None:
        title = t(f"help.{section}.title", locale)
        text = t(f"help.{section}.text", locale)
        return Reply(
            text=f"{title}\n{text}",
            card=Card(title=title, text=text, note=t(f"help.{section}.note", locale)),
            private=True,
        )
    intro = t("help.unknown_topic", locale, topic=topic) if topic else None
    fallback = t("help.fallback", locale)
    return Reply(
        text=f"{intro} {fallback}" if intro else fallback,
        card=Card(
            title=t("help.title", locale),
            text=f"{intro}\n\n{t('help.text', locale)}" if intro else t("help.text", locale),
            note=t("help.note", locale),
        ),
        private=True,
    )


def _names(parties: tuple[PartyRef, ...], locale: str) -> str:
    return ", ".join(p.name for p in parties) or t("owner.nobody", locale)


def owner_reply(answer: OwnerAnswer, locale: str, *, shared: bool) -> Reply:
    oncall = answer.oncall.name if answer.oncall else t("owner.no_oncall", locale)
    fields = [
        Field(label=t(ROLE_KEYS[role], locale), value=_names(answer.raci[role], locale))
        for role in ("R", "A", "C", "I")
    ]
    fields.append(Field(label=t("owner.oncall", locale), value=oncall))
    fields.append(Field(label=t("owner.area", locale), value=t(f"area.{answer.area}", locale)))
    if answer.aliases:
        fields.append(Field(label=t("owner.aliases", locale), value=", ".join(answer.aliases)))
    if answer.runbook:
        fields.append(
            Field(label=t("owner.runbook", locale), value=answer.runbook, url=answer.runbook)
        )
    note = None
    if answer.redacted:
        note = t("owner.redacted_shared" if shared else "owner.redacted_private", locale)
    return Reply(
        text=t(
            "owner.fallback",
            locale,
            component=answer.component_name,
            responsible=_names(answer.raci["R"], locale),
            accountable=_names(answer.raci["A"], locale),
            oncall=oncall,
        ),
        card=Card(
            title=t("owner.title", locale, component=answer.component_name),
            text=answer.description,
            fields=tuple(fields),
            note=note,
        ),
    )


def holdings_reply(result: Holdings, locale: str) -> Reply:
    party = result.party.name
    if not result.holdings:
        return Reply(text=t("owns.none", locale, party=party))
    fields = []
    for holding in result.holdings:
        role = t(f"owns.role_{holding.role}", locale)
        if holding.via_team:
            role = f"{role} ({t('owns.via', locale, team=holding.via_team)})"
        fields.append(Field(label=holding.component_name, value=role))
    items = ", ".join(f"{h.component_name} ({h.role})" for h in result.holdings)
    return Reply(
        text=t("owns.fallback", locale, party=party, items=items),
        card=Card(title=t("owns.title", locale, party=party), fields=tuple(fields)),
    )


def suggestion_actions(suggestions: list[tuple[str, str]], locale: str) -> tuple[Action, ...]:
    """Buttons that ask the question again with a name the bot knows."""
    return tuple(
        Action(
            id="run_command",
            label=t("action.ask_owner", locale, component=text)[:75],
            value=f"who owns {component_id}",
        )
        for component_id, text in suggestions
    )
