"""Random-shaped, correctly signed Slack requests through the real endpoint (issue 6, item 9).

Hypothesis starts from real requests (slash commands, mentions, DMs, button clicks, form
opens, modal submissions, type-ahead queries), then deletes fields, gives them the wrong
type or a huge value, and sends them with the right, a swapped or no content type; beside
those it sends invalid JSON, deep nesting and raw bytes. Whatever arrives, the answer is
below 500 with no traceback in it or in the log, a refusal is logged as a warning, and the
bot answers `/owner rag` afterwards. One app serves every example (see slack_odd.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.e2e.slack_odd import OddInputBot, assert_refused_cleanly, odd_input_bot
from tests.fakes.slack_requests import (
    FORM,
    JSON,
    app_mention_event,
    block_actions_body,
    event_callback_body,
    message_im_event,
    slash_command_body,
    view_submission_body,
)

pytestmark = pytest.mark.e2e

FUZZ_URL = "http://127.0.0.1:9/response/fuzz"  # replaced by the fake's own URL per bot


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OddInputBot]:
    with odd_input_bot(tmp_path_factory) as running:
        yield running


def _payload_of(body: bytes) -> dict[str, Any]:
    return dict(json.loads(dict(parse_qsl(body.decode()))["payload"]))


def _templates() -> dict[str, tuple[str, dict[str, Any]]]:
    """(how Slack encodes it, body) for each kind of request the bot listens to. None asks
    about the Retriever: an answer naming it comes from the check that the bot still works."""
    form_values = {"severity": {"incident_severity": {"selected_option": {"value": "p3"}}}}
    return {
        "command": (
            "form",
            dict(
                parse_qsl(
                    slash_command_body("/owner", "llm", "U0ALICE", "C0GENERAL", FUZZ_URL).decode()
                )
            ),
        ),
        "mention": (
            "json",
            json.loads(
                event_callback_body(app_mention_event("U0BOB", "C0MLTEAM", "who owns prompts"))
            ),
        ),
        "dm": ("json", json.loads(event_callback_body(message_im_event("U0BOB", "help")))),
        "click": (
            "payload",
            _payload_of(
                block_actions_body(
                    "run_command", "who owns prompts", "U0ALICE", "C0X", "1.2", FUZZ_URL
                )
            ),
        ),
        "open_form": (
            "payload",
            _payload_of(
                block_actions_body("open_incident_form", "{}", "U0ALICE", "C0X", "1.2", FUZZ_URL)
            ),
        ),
        "submission": (
            "payload",
            _payload_of(view_submission_body("incident_form", form_values, "U0ALICE")),
        ),
        "suggestion": (
            "payload",
            {
                "type": "block_suggestion",
                "user": {"id": "U0ALICE"},
                "action_id": "incident_component",
                "block_id": "component",
                "value": "ret",
                "view": {"id": "V1", "type": "modal", "callback_id": "incident_form"},
            },
        ),
    }


TEMPLATES = _templates()
_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12)
)
JSON_VALUES = st.recursive(
    _leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
HUGE = st.sampled_from([10_000, 100_000, 250_000]).map(lambda n: "x" * n)
_DELETE = object()
MUTATION_VALUES = st.one_of(st.just(_DELETE), JSON_VALUES, HUGE)


def _containers(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects a mutation may touch: the body and the nested objects listeners read."""
    found = [body]
    for key in ("event", "user", "view", "container", "channel"):
        if isinstance(body.get(key), dict):
            found.append(body[key])
    actions = body.get("actions")
    if isinstance(actions, list) and actions and isinstance(actions[0], dict):
        found.append(actions[0])
    view = body.get("view")
    if isinstance(view, dict) and isinstance(view.get("state"), dict):
        found.append(view["state"])
    return found


@st.composite
def mutated_requests(draw: st.DrawFn) -> tuple[bytes, str | None]:
    name = draw(st.sampled_from(sorted(TEMPLATES)))
    encoding, template = TEMPLATES[name]
    body = json.loads(json.dumps(template))  # a deep copy
    for _ in range(draw(st.integers(1, 3))):
        container = draw(st.sampled_from(_containers(body)))
        key = draw(st.sampled_from(sorted(container) or ["type"]))
        value = draw(MUTATION_VALUES)
        if value is _DELETE:
            container.pop(key, None)
        else:
            container[key] = value
    if encoding == "form":
        data = urlencode({k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()})
    elif encoding == "payload":
        data = urlencode({"payload": json.dumps(body)})
    else:
        data = json.dumps(body)
    natural = JSON if encoding == "json" else FORM
    content_type = draw(
        st.sampled_from([natural, natural, natural, FORM, JSON, None, "text/plain"])
    )
    return data.encode(), content_type


@st.composite
def broken_envelopes(draw: st.DrawFn) -> tuple[bytes, str | None]:
    depth = draw(st.integers(40, 5000))
    deep = draw(
        st.sampled_from(["[" * depth, "{" * depth, '{"a":' * depth, "[" * depth + "]" * depth])
    )
    text = draw(
        st.one_of(
            st.just(deep),
            st.text(max_size=200),
            st.sampled_from(['{"type": "event_callback"', "{'a': 1}", "[]", "null", "1e999999"]),
        )
    )
    as_payload = draw(st.booleans())
    data = urlencode({"payload": text}).encode() if as_payload else text.encode()
    if draw(st.integers(0, 9)) == 0:
        data = draw(st.binary(max_size=200))
    return data, draw(st.sampled_from([FORM, JSON, None]))


REQUESTS = st.one_of(mutated_requests(), mutated_requests(), broken_envelopes())


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(request=REQUESTS)
def test_no_random_shape_gets_a_5xx_or_a_traceback(
    bot: OddInputBot, caplog: pytest.LogCaptureFixture, request: tuple[bytes, str | None]
) -> None:
    body, content_type = request
    for placeholder in (quote_plus(FUZZ_URL), FUZZ_URL):  # as a form value, or inside JSON
        body = body.replace(placeholder.encode(), quote_plus(bot.slack.response_url("f")).encode())
    caplog.clear()
    with caplog.at_level(logging.INFO):
        response = bot.post(body, content_type)
        event(f"HTTP {response.status_code}")
        assert_refused_cleanly(response, caplog.records, expect_warning=response.status_code >= 400)
    bot.assert_still_answers()
