"""Delivers outbox rows to Slack: Web API calls, or the response_url of a slash command.

Kinds (see delivery/sender.py): `post`, `dm`, `ephemeral`, `update`, `respond`, plus the
incident room's `channel` (create `destination["name"]`, invite `destination["users"]`, post
the card) and `invite` (more people into the channel its dependency created), and `upload`
(a file, base64 in `destination["png"]`, into the thread of the post it depends on: the weekly
digest's chart, through files upload v2).
"""

from __future__ import annotations

import base64
from typing import Any, Final

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from launchops.adapters.slack.render import render
from launchops.delivery.sender import Delivery, Limit, PermanentFailure, RetryLater, Route

log = structlog.get_logger(__name__)
MAX_LIST_PAGES = 20  # conversations.list pages searched for a channel we created earlier

# Slack answers these with HTTP 200 and ok=false, yet they are worth trying again.
_TRANSIENT_ERRORS = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}


def _retry_after(headers: Any) -> float | None:
    value = (headers or {}).get("Retry-After") or (headers or {}).get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


# Slack's documented pace for posting: about one message a second in a channel, short bursts
# allowed (https://api.slack.com/methods/chat.postMessage#rate_limiting). A DM is a channel of
# its own, so a fan-out of pages is not slowed; tiered methods are held back by 429s only.
LIMITS: Final = {"chat.postMessage": Limit(per_second=1.0, burst=4)}

# The Web API methods each outbox kind calls (a `respond` goes to a response_url instead).
_METHODS: Final = {
    "dm": ("conversations.open", "chat.postMessage"),
    "ephemeral": ("chat.postEphemeral",),
    "update": ("chat.update",),
    "channel": ("conversations.create", "conversations.invite", "chat.postMessage"),
    "invite": ("conversations.invite",),
    "post": ("chat.postMessage",),
    "upload": ("files.getUploadURLExternal", "files.completeUploadExternal"),
}


def _method_of(api_url: Any) -> str | None:
    """`https://slack.com/api/chat.postMessage` → `chat.postMessage`."""
    if not isinstance(api_url, str) or "/" not in api_url:
        return None
    return api_url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] or None


def _classify(status: int, error: str, headers: Any, method: str | None = None) -> Exception:
    if status == 429 or error == "ratelimited":
        return RetryLater(f"rate limited ({error or status})", _retry_after(headers), method=method)
    if status >= 500 or error in _TRANSIENT_ERRORS:
        return RetryLater(f"Slack answered {status} {error}".strip())
    return PermanentFailure(f"Slack answered {status} {error}".strip())


class SlackSender:
    """Safe to call from several delivery workers at once: slack_sdk's WebClient keeps no
    per-call state, and a response_url gets a client of its own per call."""

    platform = "slack"
    limits = LIMITS

    def __init__(self, client: WebClient) -> None:
        self._client = client

    def route(self, delivery: Delivery) -> Route:
        """Where the row lands (a DM counts as its own channel) and the methods it calls."""
        where = delivery.destination
        previous = delivery.extra.get("depends_on_result") or {}
        if delivery.kind == "respond":
            return Route(f"response_url:{where.get('response_url')}")
        if delivery.kind == "dm":
            return Route(f"user:{where.get('user')}", _METHODS["dm"])
        if delivery.kind == "channel":
            return Route(f"room:{where.get('name')}", _METHODS["channel"])
        channel = where.get("channel") or previous.get("channel")
        conversation = f"channel:{channel}" if channel else f"outbox:{delivery.id}"
        return Route(conversation, _METHODS.get(delivery.kind, ()))

    def send(self, delivery: Delivery) -> dict[str, Any]:
        try:
            return self._send(delivery)
        except SlackApiError as exc:
            response = exc.response
            raise _classify(
                response.status_code,
                str(response.get("error") or ""),
                response.headers,
                _method_of(getattr(response, "api_url", None)),
            ) from exc
        except OSError as exc:  # connection refused/reset, timeouts
            raise RetryLater(f"network error: {exc}") from exc

    def _send(self, delivery: Delivery) -> dict[str, Any]:
        message = render(delivery.reply)
        where = delivery.destination
        if delivery.kind == "respond":
            return self._respond(where["response_url"], message, delivery)
        if delivery.kind == "dm":
            opened = self._client.conversations_open(users=where["user"])
            channel = opened["channel"]["id"]
            return self._post(channel, message, None)
        if delivery.kind == "ephemeral":
            response = self._client.chat_postEphemeral(
                channel=where["channel"],
                user=where["user"],
                thread_ts=where.get("thread_ts"),
                **message,
            )
            return {"channel": where["channel"], "message_ts": response.get("message_ts")}
        if delivery.kind == "update":
            previous = delivery.extra.get("depends_on_result") or {}
            channel = where.get("channel") or previous.get("channel")
            ts = where.get("ts") or previous.get("ts")
            if not channel or not ts:
                raise PermanentFailure("update without a channel and ts to edit")
            self._client.chat_update(channel=channel, ts=ts, **message)
            return {"channel": channel, "ts": ts}
        if delivery.kind == "channel":
            return self._open_channel(where["name"], where.get("users") or [], message)
        if delivery.kind == "invite":
            previous = delivery.extra.get("depends_on_result") or {}
            if not previous.get("channel"):
                raise PermanentFailure("invite without the channel it depends on")
            self._invite(previous["channel"], where.get("users") or [])
            return {"channel": previous["channel"]}
        if delivery.kind == "post":
            # {"thread": True}: reply in the thread of the message this row depends on.
            previous = delivery.extra.get("depends_on_result") or {}
            channel = where.get("channel") or previous.get("channel")
            thread_ts = where.get("thread_ts") or (
                previous.get("ts") if where.get("thread") else None
            )
            if not channel:
                raise PermanentFailure("post without a channel")
            return self._post(channel, message, thread_ts)
        if delivery.kind == "upload":
            return self._upload(delivery)
        raise PermanentFailure(f"unknown delivery kind {delivery.kind!r}")

    def _upload(self, delivery: Delivery) -> dict[str, Any]:
        """Files upload v2: `files.getUploadURLExternal`, the bytes POSTed to the URL it
        gives, then `files.completeUploadExternal` sharing the file into the thread. A retry
        starts over with a new URL (an unfinished upload is never shared)."""
        where = delivery.destination
        previous = delivery.extra.get("depends_on_result") or {}
        channel = where.get("channel") or previous.get("channel")
        thread_ts = where.get("thread_ts") or (previous.get("ts") if where.get("thread") else None)
        if not channel or not where.get("png"):
            raise PermanentFailure("upload without a channel or a file")
        response = self._client.files_upload_v2(
            content=base64.b64decode(where["png"]),
            filename=str(where.get("filename") or "chart.png"),
            title=where.get("title"),
            channel=channel,
            thread_ts=thread_ts,
            initial_comment=delivery.reply.text,
            request_file_info=False,
        )
        files = response.get("files") or [{}]
        return {"channel": channel, "file_id": files[0].get("id")}

    def _open_channel(self, name: str, users: list[str], message: dict[str, Any]) -> dict[str, Any]:
        """An incident's own channel: create it, invite its people, post the card there.

        Each step tolerates having been done by an earlier attempt that failed later (a 429
        on the post retries the whole row): a taken name is the channel we created then, and
        people already in it are skipped. Returns the card's channel and ts, which later
        `update` and thread `post` rows depend on.
        """
        try:
            channel = str(self._client.conversations_create(name=name)["channel"]["id"])
        except SlackApiError as exc:
            if exc.response.get("error") != "name_taken":
                raise
            found = self._find_channel(name)
            if found is None:
                raise PermanentFailure(f"channel name {name!r} is taken") from exc
            channel = found
        self._invite(channel, users)
        return self._post(channel, message, None)

    def _find_channel(self, name: str) -> str | None:
        cursor = None
        for _ in range(MAX_LIST_PAGES):
            page = self._client.conversations_list(
                types="public_channel", exclude_archived=True, limit=1000, cursor=cursor
            )
            for channel in page.get("channels") or []:
                if channel.get("name") == name:
                    return str(channel["id"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    def _invite(self, channel: str, users: list[str]) -> None:
        """Invite `users`; people who cannot be invited (already in, deactivated, a guest)
        are logged and skipped rather than holding the card back. Rate limits and outages
        still fail the row so it is retried."""
        if not users:
            return
        try:
            self._client.conversations_invite(channel=channel, users=",".join(users), force=True)
        except SlackApiError as exc:
            response = exc.response
            failure = _classify(
                response.status_code, str(response.get("error") or ""), response.headers
            )
            if isinstance(failure, RetryLater):
                raise
            log.warning("slack.invite_skipped", channel=channel, error=response.get("error"))

    def _post(self, channel: str, message: dict[str, Any], thread_ts: str | None) -> dict[str, Any]:
        response = self._client.chat_postMessage(channel=channel, thread_ts=thread_ts, **message)
        return {"channel": response.get("channel", channel), "ts": response.get("ts")}

    def _respond(self, url: str, message: dict[str, Any], delivery: Delivery) -> dict[str, Any]:
        body = {
            **message,
            "response_type": "ephemeral"
            if delivery.reply.private or delivery.destination.get("private", True)
            else "in_channel",
            "replace_original": bool(delivery.destination.get("replace_original", False)),
        }
        response = WebhookClient(url, timeout=10).send_dict(body)
        if response.status_code != 200:
            raise _classify(response.status_code, response.body, response.headers)
        return {"responded": True}
