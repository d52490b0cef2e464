"""THE console renderer: a `Reply` as terminal text."""

from __future__ import annotations

from launchops.messages.reply import Reply


def render(reply: Reply) -> str:
    card = reply.card
    if card is None:
        return reply.text
    lines = [card.title, "─" * min(len(card.title), 60)]
    if card.text:
        lines.append(card.text)
    width = max((len(f.label) for f in card.fields), default=0)
    for field in card.fields:
        value = (
            f"{field.value} <{field.url}>"
            if field.url and field.url != field.value
            else field.value
        )
        lines.append(f"{field.label.ljust(width)}  {value}")
    if card.note:
        lines.append(f"({card.note})")
    for number, action in enumerate(card.actions, start=1):
        where = f"open: {action.url}" if action.url else f"type: {action.value}"
        lines.append(f"  [{number}] {action.label}  → {where}")
    return "\n".join(lines)
