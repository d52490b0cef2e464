"""Requests exactly as Slack sends them to the app's `POST /slack/events`, signed.

The app must enforce Slack request signing (DESIGN.md §5), so e2e tests send real signed
bodies: `sign()` computes the v0 signature the same way Slack does (checked against
slack_sdk's own `SignatureVerifier` in tests/fakes/test_fakes.py), and the builders produce
the bodies Slack posts: form-encoded slash commands, `payload=<json>` form bodies for
interactivity, and JSON Events API envelopes.
Sign the exact bytes you send; re-encoding them breaks the signature, as it would with Slack.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

__all__ = [
    "API_APP_ID",
    "BOT_USER_ID",
    "FORM",
    "JSON",
    "TEAM_DOMAIN",
    "TEAM_ID",
    "app_mention_event",
    "block_actions_body",
    "event_callback_body",
    "message_im_event",
    "retry_headers",
    "sign",
    "slash_command_body",
    "url_verification_body",
    "view_submission_body",
]

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
TEAM_ID = "T0TEST"
TEAM_DOMAIN = "launchops-test"
API_APP_ID = "A0LAUNCHOPS"
BOT_USER_ID = "UBOT"  # the user id FakeSlackAPI's auth.test reports for the bot
VERIFICATION_TOKEN = "legacy-verification-token"  # deprecated by Slack, still sent


def sign(
    secret: str,
    body: bytes,
    timestamp: int | None = None,
    *,
    content_type: str | None = None,
) -> dict[str, str]:
    """The signature headers Slack adds to `body` (and Content-Type, when given).

    `timestamp` defaults to now; pass an old one to test replay protection (> 5 minutes).
    """
    ts = str(int(time.time()) if timestamp is None else timestamp)
    if not secret:
        raise ValueError("a signing secret is needed to sign")
    # Over the raw bytes, as Slack does: slack_sdk's generate_signature cannot sign a body
    # that is not UTF-8, and the odd-input tests send such bodies.
    base = b"v0:" + ts.encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return headers


def retry_headers(num: int = 1, reason: str = "http_timeout") -> dict[str, str]:
    """The headers of Slack's redelivery of an event (it retries up to 3 times)."""
    return {"X-Slack-Retry-Num": str(num), "X-Slack-Retry-Reason": reason}


def _trigger_id() -> str:
    return f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}"


def slash_command_body(
    command: str,
    text: str,
    user_id: str,
    channel_id: str,
    response_url: str,
    trigger_id: str | None = None,
    team_id: str = TEAM_ID,
    *,
    user_name: str | None = None,
    channel_name: str = "general",
) -> bytes:
    """A slash command POST body (form-encoded), with every field Slack sends."""
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name or user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": API_APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or _trigger_id(),
    }
    return urlencode(fields).encode()


def event_callback_body(
    event: Mapping[str, Any],
    event_id: str | None = None,
    team_id: str = TEAM_ID,
    *,
    event_time: int | None = None,
) -> bytes:
    """An Events API `event_callback` envelope (JSON) around `event`.

    Give a fixed `event_id` to send the same event twice (Slack retries reuse it).
    """
    envelope = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": API_APP_ID,
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()) if event_time is None else event_time,
        "authed_users": [BOT_USER_ID],  # legacy, truncated to one by Slack, still sent
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{uuid.uuid4().hex}",
    }
    return json.dumps(envelope).encode()


def _ts() -> str:
    return f"{time.time():.6f}"


def app_mention_event(
    user: str, channel: str, text: str, ts: str | None = None, *, team_id: str = TEAM_ID
) -> dict[str, Any]:
    """An `app_mention` event. Slack's text always holds the mention: it is prepended if absent."""
    mention = f"<@{BOT_USER_ID}>"
    ts = ts or _ts()
    return {
        "type": "app_mention",
        "user": user,
        "text": text if mention in text else f"{mention} {text}",
        "ts": ts,
        "client_msg_id": str(uuid.uuid4()),
        "team": team_id,
        "channel": channel,
        "event_ts": ts,
    }


def message_im_event(
    user: str,
    text: str,
    channel: str | None = None,
    ts: str | None = None,
    *,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """A `message` event in the bot's DM with `user` (channel defaults to "D" + user)."""
    ts = ts or _ts()
    return {
        "type": "message",
        "channel_type": "im",
        "user": user,
        "text": text,
        "ts": ts,
        "client_msg_id": str(uuid.uuid4()),
        "team": team_id,
        "channel": channel or f"D{user}",
        "event_ts": ts,
    }


def _interaction_user(user_id: str, team_id: str) -> dict[str, str]:
    return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": team_id}


def _payload_body(payload: Mapping[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def block_actions_body(
    action_id: str,
    value: str,
    user_id: str,
    channel_id: str,
    message_ts: str,
    response_url: str,
    block_id: str = "actions",
    *,
    trigger_id: str | None = None,
    team_id: str = TEAM_ID,
    message: Mapping[str, Any] | None = None,
    button_text: str = "Button",
) -> bytes:
    """An interactivity POST body (`payload=<json>`) for a button click in a message."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _interaction_user(user_id, team_id),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id or _trigger_id(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": "general"},
        "message": dict(message)
        if message is not None
        else {"type": "message", "user": BOT_USER_ID, "ts": message_ts, "text": ""},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "text": {"type": "plain_text", "text": button_text, "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": _ts(),
            }
        ],
    }
    return _payload_body(payload)


def view_submission_body(
    callback_id: str,
    values: Mapping[str, Mapping[str, Mapping[str, Any]]],
    user_id: str,
    *,
    private_metadata: str = "",
    view_id: str = "V00000001",
    team_id: str = TEAM_ID,
) -> bytes:
    """A modal submission (`payload=<json>`); `values` is view.state.values, e.g.
    `{"title": {"v": {"type": "plain_text_input", "value": "DB down"}}}`."""
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": _interaction_user(user_id, team_id),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": _trigger_id(),
        "view": {
            "id": view_id,
            "team_id": team_id,
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "state": {"values": {k: {a: dict(v) for a, v in b.items()} for k, b in values.items()}},
            "hash": "h1",
            "app_id": API_APP_ID,
            "bot_id": "BBOT",
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _payload_body(payload)


def url_verification_body(challenge: str) -> bytes:
    """The handshake Slack sends when the Events API request URL is configured."""
    payload = {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
    return json.dumps(payload).encode()
