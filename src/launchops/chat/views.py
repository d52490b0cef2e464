"""Service results → neutral `Reply`s, with every sentence from the message catalogue."""

from __future__ import annotations

from launchops.chat.i18n import t
from launchops.chat.reply import Action, Card, Field, Reply
from launchops.services.ownership import Holdings, OwnerAnswer, PartyRef

ROLE_KEYS = {
    "R": "owner.responsible",
    "A": "owner.accountable",
    "C": "owner.consulted",
    "I": "owner.informed",
}


def help_reply(locale: str) -> Reply:
    return Reply(
        text=t("help.fallback", locale),
        card=Card(
            title=t("help.title", locale), text=t("help.text", locale), note=t("help.note", locale)
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
