"""The gate in front of bolt: signature first, then only bodies Slack could have sent.

bolt parses a body in `BoltRequest.__init__`, before its own signature check runs, and then
indexes what it parsed without looking (`body["event"]["type"]`, `body["actions"][0]`, …).
So a body Slack would never send (a `payload=` that is not JSON, JSON nested thousands deep,
an event that is a string) raised inside bolt and answered 500 with a traceback in the log,
and an unsigned one did so before anyone had checked who sent it. This module runs first:

1. the signature, over the exact bytes received (a forged or stale request → 401, before a
   single byte is parsed; only bolt's unsigned `ssl_check` ping passes, as bolt intends);
2. the envelope: UTF-8, a form or JSON content type whose body really is that, nesting at
   most `MAX_DEPTH` deep (measured by a scan, before any recursive parser sees it);
3. the shape of every field bolt or our listeners read: each must have the type Slack gives it.

Anything else answers 400 with a one-line reason and a warning without a traceback
(DESIGN.md §5 "Bad input"). What passes is handed to bolt, with the body parsed here: bolt's
own parser takes any form body that merely contains the word "payload" (a slash command
`/owner payload api`) for an interactivity payload and loses it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl

__all__ = ["MAX_DEPTH", "Accepted", "Refusal", "RequestGuard", "shape_problem", "too_deep"]

SIGNATURE_WINDOW: Final = 300  # seconds, as bolt and Slack's documentation allow
MAX_DEPTH: Final = 64  # Slack's deepest payloads (views with blocks in state) stay near 10
FORM: Final = "application/x-www-form-urlencoded"
JSON: Final = "application/json"

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str  # one line, safe to show and to log


@dataclass(frozen=True)
class Accepted:
    text: str  # the body as received, for bolt's own signature check
    body: dict[str, Any]  # the body as bolt should see it


def too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """True when JSON `text` nests objects or arrays more than `limit` deep.

    Strings are blanked out first, so brackets inside texts do not count; for invalid JSON
    the figure may be off, but only past the point where the parser itself stops.
    """
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub('""', text))
    depth = 0
    for bracket in brackets:
        if bracket in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _json_object(text: str, what: str) -> dict[str, Any] | str:
    """The parsed object, or the reason it is not one."""
    if too_deep(text):
        return f"{what} nests deeper than {MAX_DEPTH} levels"
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return f"{what} is not valid JSON"
    if not isinstance(value, dict):
        return f"{what} is not a JSON object"
    return value


class RequestGuard:
    def __init__(self, signing_secret: str) -> None:
        self._secret = signing_secret.encode()

    def check(self, raw: bytes, headers: Mapping[str, str]) -> Accepted | Refusal:
        """Accepted with the parsed body, or the refusal to answer. `headers` lower-cased."""
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        if not self._signed(raw, headers) and not _ssl_check(raw, media):
            return Refusal(401, "invalid request signature")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return Refusal(400, "body is not UTF-8")
        if not text:
            return Refusal(400, "empty body")
        parsed = _parse(text, media)
        if isinstance(parsed, str):
            return Refusal(400, parsed)
        problem = shape_problem(parsed)
        if problem is not None:
            return Refusal(400, problem)
        return Accepted(text, parsed)

    def _signed(self, raw: bytes, headers: Mapping[str, str]) -> bool:
        """Slack's v0 signature over the raw bytes. Not slack_sdk's SignatureVerifier: it
        raises on a body that is not UTF-8, a timestamp that is not a number and a
        non-ASCII signature, each of which a stranger can send."""
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        if not timestamp.isdigit() or not signature.isascii():
            return False
        if abs(time.time() - int(timestamp)) > SIGNATURE_WINDOW:
            return False
        base = b"v0:" + timestamp.encode() + b":" + raw
        expected = "v0=" + hmac.new(self._secret, base, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)


def _ssl_check(raw: bytes, media: str) -> bool:
    """Slack's `ssl_check=1` ping, which bolt answers without a signature by design."""
    if media != FORM or len(raw) > 1024 or b"payload" in raw:
        return False
    fields = dict(parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True))
    return fields.get("ssl_check") == "1"


def _parse(text: str, media: str) -> dict[str, Any] | str:
    if media == JSON:
        return _json_object(text, "JSON body")
    if media != FORM:
        return f"unsupported content type {media or '(none)'!r}"
    if text.lstrip().startswith(("{", "[")):
        return "JSON body sent with a form content type"
    fields = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in fields:
        return _json_object(fields["payload"], "payload")
    return dict(fields)


# shapes ----------------------------------------------------------------------------------
_TEXT_FIELDS: Final = (
    "type",
    "token",
    "team_id",
    "user_id",
    "channel_id",
    "enterprise_id",
    "api_app_id",
    "event_id",
    "trigger_id",
    "response_url",
    "callback_id",
    "action_id",
    "block_id",
    "command",
    "value",
    "challenge",
    "subtype",
    "channel_type",
    "bot_id",
    "ts",
    "thread_ts",
    "event_ts",
    "user_team",
    "private_metadata",
    "message_ts",
    "action_ts",
    "view_id",
)
_OBJECT_FIELDS: Final = (
    "event",
    "view",
    "container",
    "message",
    "previous_message",
    "function_data",
    "item",
    "assistant_thread",
    "state",
)
_OBJECT_LIST_FIELDS: Final = ("authorizations", "response_urls", "actions")
# Slack sends these as an id, an object with an `id`, or (team, enterprise) null.
_ENTITY_FIELDS: Final = ("user", "team", "channel", "enterprise")
_NEEDS_USER: Final = frozenset(
    {"block_actions", "view_submission", "view_closed", "block_suggestion"}
)


def _common_problem(data: dict[str, Any], where: str) -> str | None:
    """Type errors in the fields bolt or our listeners read, at one level of an object."""
    for key in _TEXT_FIELDS:
        if key in data and data[key] is not None and not isinstance(data[key], str):
            return f"`{where}{key}` is not a string"
    for key in _OBJECT_FIELDS:
        if key in data and not isinstance(data[key], dict):
            return f"`{where}{key}` is not an object"
    for key in _OBJECT_LIST_FIELDS:
        value = data.get(key)
        if key in data and not (
            isinstance(value, list) and all(isinstance(item, dict) for item in value)
        ):
            return f"`{where}{key}` is not a list of objects"
    for key in _ENTITY_FIELDS:
        value = data.get(key)
        if value is None or isinstance(value, str):
            continue
        if not isinstance(value, dict) or not isinstance(value.get("id", ""), str):
            return f"`{where}{key}` is neither an id nor an object with a string `id`"
    return None


def shape_problem(body: dict[str, Any]) -> str | None:
    """Why `body` is not something Slack sends, or None when bolt and the listeners can take it.

    Only what is read is checked, and by Slack's documented types; unknown fields and unknown
    request types pass (bolt answers 404 to a type nobody listens for).
    """
    problem = _common_problem(body, "")
    if problem is not None:
        return problem
    for key in ("event", "view", "container", "message", "previous_message", "item"):
        nested = body.get(key)
        if isinstance(nested, dict):
            problem = _common_problem(nested, f"{key}.")
            if problem is not None:
                return problem
    problem = _url_problem(body)
    if problem is not None:
        return problem
    kind = body.get("type")
    if "command" in body:
        return _command_problem(body)
    if kind == "event_callback":
        return _event_problem(body)
    if kind == "url_verification" and not body.get("challenge"):
        return "url_verification without a `challenge`"
    if kind in _NEEDS_USER and not _id_of(body.get("user")):
        return f"{kind} without a `user`"
    if kind == "block_actions":
        return _actions_problem(body)
    if kind in ("view_submission", "view_closed"):
        return _view_problem(body.get("view"))
    if kind == "block_suggestion" and not body.get("action_id"):
        return "block_suggestion without an `action_id`"
    return None


def _id_of(entity: object) -> str | None:
    if isinstance(entity, str):
        return entity or None
    value = entity.get("id") if isinstance(entity, dict) else None
    return value if isinstance(value, str) and value else None


def _command_problem(body: dict[str, Any]) -> str | None:
    for key in ("command", "user_id", "response_url"):
        if not body.get(key):
            return f"slash command without `{key}`"
    if not str(body["command"]).startswith("/"):
        return "slash command name does not start with /"
    return None


def _url_problem(body: dict[str, Any]) -> str | None:
    """The bot posts its answer to `response_url`: only ever an HTTP(S) URL from Slack."""
    url = body.get("response_url")
    if url is not None and not str(url).startswith(("https://", "http://")):
        return "`response_url` is not an HTTP(S) URL"
    return None


def _event_problem(body: dict[str, Any]) -> str | None:
    event = body.get("event")
    if not isinstance(event, dict):
        return "event_callback without an `event` object"
    if not event.get("type"):
        return "event without a `type`"
    if not isinstance(event.get("text", ""), str):  # in actions `text` is an object
        return "`event.text` is not a string"
    if not body.get("event_id"):
        return "event_callback without an `event_id`"
    return None


def _actions_problem(body: dict[str, Any]) -> str | None:
    actions = body.get("actions")
    if not actions:
        return "block_actions without `actions`"
    for action in actions:
        problem = _common_problem(action, "actions[].")
        if problem is not None:
            return problem
        if not action.get("action_id"):
            return "an action without an `action_id`"
    return None


def _view_problem(view: object) -> str | None:
    if not isinstance(view, dict):
        return "view payload without a `view` object"
    for key in ("type", "callback_id"):
        if not view.get(key):
            return f"view without `{key}`"
    values = view.get("state", {}).get("values", {})
    if not isinstance(values, dict) or not all(
        isinstance(block, dict) and all(isinstance(element, dict) for element in block.values())
        for block in values.values()
    ):
        return "`view.state.values` is not blocks of elements"
    return None
