"""The Teams renderer: every real reply is a valid Adaptive Card 1.5, user text stays text.

Escaping is checked by rendering the escaped markdown with a CommonMark renderer
(markdown-it-py) and asserting that no markup came out and the visible text is what the user
typed: that catches both a missed escape (a link appears) and an over-escape (a backslash
shows).
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from botbuilder.schema import Activity
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from launchops.adapters.teams.render import (
    ADAPTIVE_CARD_CONTENT_TYPE,
    escape_markdown,
    render,
    to_activity,
)
from launchops.chat import views
from launchops.chat.commands import error_reply
from launchops.domain.errors import BadCommand, NotFound
from launchops.messages.reply import Action, Card, Field, Reply
from launchops.services.ownership import OwnerAnswer, PartyRef, PersonRef
from tests.fakes.cards import assert_adaptive_card

MARKDOWN = MarkdownIt("commonmark")
INJECTIONS = [
    "[click](http://evil)",
    "**bold**",
    "<at>everyone</at>",
    "&lt;at&gt;everyone&lt;/at&gt;",
    "# heading",
    "> quote",
    "- item",
    "1. item",
    "`code`",
    "~~gone~~",
    "| a | b |",
    "![img](http://evil/x.png)",
    "_under_ and back\\slash",
    "    indented code",
]


def _retriever(*, redacted: bool = False) -> OwnerAnswer:
    return OwnerAnswer(
        component_id="retriever",
        component_name="Retriever",
        area="data",
        classification="internal",
        aliases=("rag", "search index"),
        raci={
            "R": (PartyRef("team", "data", "Data team"),),
            "A": (PartyRef("person", "carol", "Carol Jones"),),
            "C": (PartyRef("team", "ml", "ML team"),),
            "I": (PartyRef("team", "product", "Product team"), PartyRef("team", "cs", "CS")),
        },
        oncall=PersonRef("chris", "Chris Novak", slack_id="U0CHRIS", teams_id="29:1chris"),
        runbook=None if redacted else "https://wiki.example/runbooks/retriever",
        description="Finds the help-centre articles the answer model cites.",
        redacted=redacted,
    )


def _markdown_strings(card: dict[str, Any]) -> list[str]:
    """Every string Teams renders as markdown: TextBlock texts, fact titles and values."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "TextBlock":
                found.append(node["text"])
            if "title" in node and "value" in node and "type" not in node:  # a Fact
                found.extend((node["title"], node["value"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card.get("body", []))
    return found


def _shown(markdown: str) -> tuple[str, str]:
    """(rendered HTML without paragraph tags, the visible text)."""
    rendered = MARKDOWN.render(markdown).strip()
    inner = re.sub(r"</?p>", "", rendered)
    return inner, html.unescape(inner)


def _fact(card: dict[str, Any], title: str) -> str:
    for block in card["body"]:
        for fact in block.get("facts", []):
            if fact["title"] == title:
                return str(fact["value"])
    raise AssertionError(f"no fact {title!r} in {json.dumps(card)[:500]}")


@pytest.mark.parametrize("locale", ["en", "ko"])
def test_owner_answer_is_a_valid_card_with_the_raci(locale: str) -> None:
    card = render(views.owner_reply(_retriever(), locale, shared=False), locale)
    assert_adaptive_card(card)
    assert card["version"] == "1.5"
    assert card["msteams"] == {"width": "Full"}
    assert card["lang"] == locale
    title = card["body"][0]
    assert title["weight"] == "Bolder"
    assert title["size"] == "Medium"
    assert title["wrap"] is True
    if locale == "en":
        assert title["text"] == "Retriever — who owns it"
        assert _fact(card, "Responsible") == "Data team"
        assert _fact(card, "Accountable") == "Carol Jones"
        assert _fact(card, "On call") == "Chris Novak"
        runbook = _fact(card, "Runbook")
        assert runbook.endswith("](https://wiki.example/runbooks/retriever)")
        assert '<a href="https://wiki.example/runbooks/retriever">' in MARKDOWN.render(runbook)
    else:
        assert title["text"] == "Retriever — 담당 정보"


def test_redacted_owner_answer_has_no_runbook_and_a_subtle_note() -> None:
    card = render(views.owner_reply(_retriever(redacted=True), "en", shared=True), "en")
    assert_adaptive_card(card)
    assert "runbooks" not in json.dumps(card)
    note = card["body"][-1]
    assert note["type"] == "TextBlock"
    assert note["isSubtle"] is True
    assert note["size"] == "Small"
    assert note["text"].startswith("Confidential component")


@pytest.mark.parametrize("locale", ["en", "ko"])
def test_help_card_is_valid_with_one_block_per_line(locale: str) -> None:
    reply = views.help_reply(locale)
    card = render(reply, locale)
    assert_adaptive_card(card)
    assert reply.card is not None
    assert reply.card.text is not None
    lines = reply.card.text.splitlines()
    texts = [b["text"] for b in card["body"][1 : 1 + len(lines)]]
    assert [_shown(t)[1] for t in texts] == lines  # `<component>` survives, not as a tag
    assert all(b.get("spacing") == "None" for b in card["body"][2 : 1 + len(lines)])


def test_unknown_component_error_has_execute_buttons() -> None:
    error = NotFound(
        "error.unknown_component",
        query="retreiver",
        suggestions=[("retriever", "Retriever"), ("indexing", "Indexing pipeline")],
    )
    reply = error_reply(error, "en")
    card = render(reply, "en")
    assert_adaptive_card(card)
    assert "Did you mean" in json.dumps(card)
    assert card["actions"] == [
        {
            "type": "Action.Execute",
            "title": "Who owns Retriever?",
            "verb": "run_command",
            "data": {"action": "run_command", "value": "who owns retriever"},
        },
        {
            "type": "Action.Execute",
            "title": "Who owns Indexing pipeline?",
            "verb": "run_command",
            "data": {"action": "run_command", "value": "who owns indexing"},
        },
    ]


def test_action_styles_map_to_adaptive_card_styles() -> None:
    actions = (
        Action(id="approve", label="Approve", value="1", style="primary"),
        Action(id="reject", label="Reject", value="1", style="danger"),
        Action(id="later", label="Later", value="1"),
    )
    card = render(Reply(text="t", card=Card(title="Gate", actions=actions)))
    assert_adaptive_card(card)
    assert [a.get("style") for a in card["actions"]] == ["positive", "destructive", None]


def test_plain_reply_is_a_text_message_and_still_renders_as_a_card() -> None:
    reply = error_reply(BadCommand("error.unknown_command", word="frobnicate"), "en")
    assert reply.card is None
    activity = to_activity(reply, "en")
    assert activity.attachments is None
    assert _shown(activity.text)[1] == reply.text
    assert activity.text_format == "markdown"
    assert_adaptive_card(render(reply))


def test_card_activity_carries_the_card_and_an_escaped_summary() -> None:
    reply = Reply(text="**Retriever**: <at>x</at>", card=Card(title="Retriever"))
    wire = to_activity(reply, "en").serialize()
    assert wire["type"] == "message"
    assert "text" not in wire  # Teams would show it above the card: the summary carries it
    assert _shown(wire["summary"])[1] == reply.text
    [attachment] = wire["attachments"]
    assert attachment["contentType"] == ADAPTIVE_CARD_CONTENT_TYPE
    assert_adaptive_card(attachment["content"])
    # and it survives the Bot Framework wire format unchanged
    assert Activity().deserialize(wire).attachments[0].content == attachment["content"]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_in_every_text_slot_comes_out_as_text(payload: str) -> None:
    reply = Reply(
        text=payload,
        card=Card(
            title=payload,
            text=payload,
            fields=(
                Field(label=payload, value=payload),
                Field(label="Runbook", value=payload, url="https://wiki.example/r"),
            ),
            note=payload,
            actions=(Action(id="run_command", label=payload, value=payload),),
        ),
    )
    card = render(reply)
    assert_adaptive_card(card)
    strings = _markdown_strings(card)
    assert len(strings) == 7  # title, text, two (label, value) facts, note
    for markdown in strings:
        inner, visible = _shown(markdown)
        if markdown.endswith("](https://wiki.example/r)"):  # our own link, around the value
            assert inner.count("<a ") == 1
            assert 'href="https://wiki.example/r"' in inner
            visible = re.sub(r"<[^>]+>", "", inner)
            visible = html.unescape(visible)
        else:
            assert "<" not in inner.replace("&lt;", ""), inner  # no tag of any kind
        assert visible in (payload.strip(), "Runbook")
    assert "<at>" not in json.dumps([card["body"], card["fallbackText"]])
    assert _shown(to_activity(reply).serialize()["summary"])[1] == payload.strip()
    # Button titles are not markdown: shown as typed
    assert card["actions"][0]["title"] == payload[:75]


def test_only_http_and_mailto_links_are_linked() -> None:
    fields = (
        Field(label="a", value="bad", url="javascript:alert(1)"),
        Field(label="b", value="odd", url="https://wiki.example/a_(b) c<d>"),
        Field(label="c", value="mail", url="mailto:oncall@example.com"),
    )
    card = render(Reply(text="t", card=Card(title="Links", fields=fields)))
    assert_adaptive_card(card)
    assert _fact(card, "a") == "bad"
    odd = MARKDOWN.render(_fact(card, "b"))
    assert 'href="https://wiki.example/a_%28b%29%20c%3Cd%3E"' in odd
    assert 'href="mailto:oncall@example.com"' in MARKDOWN.render(_fact(card, "c"))


def test_oversized_reply_stays_under_the_teams_message_limit() -> None:
    big = "x" * 20_000
    reply = Reply(
        text=big,
        card=Card(
            title=big,
            text=big,
            fields=tuple(Field(label=big, value=big) for _ in range(100)),
            note=big,
            actions=tuple(Action(id="a", label=big, value=big) for _ in range(20)),
        ),
    )
    wire = to_activity(reply).serialize()
    assert_adaptive_card(wire["attachments"][0]["content"])
    assert len(json.dumps(wire).encode()) < 28 * 1024


@given(
    st.text(
        alphabet=st.characters(
            categories=("L", "N", "P", "S"), include_characters=" \t", exclude_characters="\x00"
        ),
        max_size=80,
    )
)
def test_escaped_text_always_renders_as_itself(text: str) -> None:
    escaped = escape_markdown(text)
    if not escaped:
        assert not text.strip()
        return
    inner, visible = _shown(escaped)
    assert "<" not in inner.replace("&lt;", ""), (text, escaped, inner)
    assert visible == text.strip(" \t"), (text, escaped, inner)
