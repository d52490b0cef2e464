"""The Slack renderer: valid Block Kit for every reply, user text never becomes markup."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from launchops.adapters.slack.render import escape, render
from launchops.messages.reply import Action, Card, Field, Reply
from tests.fakes.slack_api import block_problems


def _round_trip(blocks: list[dict[str, object]]) -> None:
    parsed = Block.parse_all(blocks)
    assert [b.to_dict() for b in parsed] == blocks
    for block in parsed:
        block.validate_json()
    assert block_problems(blocks, "test") == []


def _text_objects(node: object) -> list[dict[str, str]]:
    if isinstance(node, list):
        return [t for item in node for t in _text_objects(item)]
    if isinstance(node, dict):
        found = [node] if node.get("type") in ("mrkdwn", "plain_text") else []
        return found + [t for value in node.values() for t in _text_objects(value)]
    return []


def test_card_with_everything_is_valid_block_kit() -> None:
    reply = Reply(
        text="fallback",
        card=Card(
            title="Retriever — who owns it",
            text="Finds articles",
            fields=tuple(Field(label=f"L{i}", value=f"v{i}") for i in range(12))
            + (Field(label="Runbook", value="link", url="https://wiki.example/r"),),
            note="small print",
            actions=(
                Action(
                    id="run_command",
                    label="Who owns Retriever?",
                    value="who owns r",
                    style="primary",
                ),
                Action(id="run_command", label="Other", value="who owns x"),
            ),
        ),
    )
    message = render(reply)
    _round_trip(message["blocks"])
    sections = [b for b in message["blocks"] if b["type"] == "section" and "fields" in b]
    assert [len(s["fields"]) for s in sections] == [10, 3]  # Slack allows ten per section
    buttons = message["blocks"][-1]["elements"]
    assert [b["action_id"] for b in buttons] == ["run_command:0", "run_command:1"]
    assert buttons[0]["style"] == "primary" and "style" not in buttons[1]


def test_oversized_text_is_clipped_to_block_kit_limits() -> None:
    reply = Reply(
        text="t" * 5000,
        card=Card(
            title="T" * 400,
            text="x" * 5000,
            fields=(Field(label="l", value="v" * 3000),),
            actions=(Action(id="a", label="b" * 200, value="v"),),
        ),
    )
    message = render(reply)
    _round_trip(message["blocks"])
    assert len(message["text"]) <= 3000


def test_user_text_cannot_broadcast_or_link() -> None:
    hostile = "<!channel> <!here> <@U0ALICE> <https://evil.example|click> & @here"
    message = render(
        Reply(
            text=hostile,
            card=Card(title=hostile, text=hostile, fields=(Field(label=hostile, value=hostile),)),
        )
    )
    # plain_text objects (the header) are never parsed for mentions or links; everything
    # Slack does parse (mrkdwn and the fallback text) must be escaped.
    parsed = [message["text"]] + [
        node["text"] for node in _text_objects(message["blocks"]) if node["type"] == "mrkdwn"
    ]
    assert len(parsed) == 3  # fallback, card text, one field
    for forbidden in ("<!channel>", "<!here>", "<@U0ALICE>", "<https://evil"):
        assert all(forbidden not in text for text in parsed)
    assert escape("a<b>&c") == "a&lt;b&gt;&amp;c"


def test_unsafe_urls_are_not_linked() -> None:
    field = Field(label="Runbook", value="x", url="javascript:alert(1)|<!channel>")
    text = render(Reply(text="t", card=Card(title="t", fields=(field,))))["blocks"][1]
    assert "javascript" not in str(text)


def test_plain_reply_has_no_blocks() -> None:
    assert render(Reply(text="hello")) == {"text": "hello"}
