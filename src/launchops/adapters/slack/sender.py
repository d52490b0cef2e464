"""Delivers outbox rows to Slack: Web API calls, or the response_url of a slash command."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from launchops.adapters.slack.render import render
from launchops.delivery.sender import Delivery, PermanentFailure, RetryLater

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


def _classify(status: int, error: str, headers: Any) -> Exception:
    if status == 429 or error == "ratelimited":
        return RetryLater(f"rate limited ({error or status})", _retry_after(headers))
    if status >= 500 or error in _TRANSIENT_ERRORS:
        return RetryLater(f"Slack answered {status} {error}".strip())
    return PermanentFailure(f"Slack answered {status} {error}".strip())


class SlackSender:
    platform = "slack"

    def __init__(self, client: WebClient) -> None:
        self._client = client

    def send(self, delivery: Delivery) -> dict[str, Any]:
        try:
            return self._send(delivery)
        except SlackApiError as exc:
            response = exc.response
            raise _classify(
                response.status_code, str(response.get("error") or ""), response.headers
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
        raise PermanentFailure(f"unknown delivery kind {delivery.kind!r}")

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
