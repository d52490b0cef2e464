"""Delivers outbox rows to Teams through the Bot Connector REST API (botframework-connector).

The dispatcher runs in a thread, so this uses the connector's synchronous client. Its built-in
retries are switched off: the outbox owns retrying (with `Retry-After`), and a sender that
sleeps inside `send` would only hold its claim longer.

Where a message goes (`destination["conversation"]`) may be:
- a key of a stored conversation reference (a conversation id, a channel id, or a user's
  Teams id / AAD object id for their personal chat) — see handlers.reference_keys;
- a stored reference itself (a dict with `serviceUrl` and `conversation`);
- a channel id ("19:…@thread.tacv2") or a user id with no reference yet: then the bot starts
  the conversation itself at `LAUNCHOPS_TEAMS_SERVICE_URL` (a new thread in the channel, or a
  personal chat, which is remembered for next time).
"""

from __future__ import annotations

import email.utils
import re
import time
from dataclasses import dataclass
from typing import Any, Final

import requests
import structlog
from botbuilder.schema import (
    Activity,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
)
from botframework.connector import ConnectorClient
from botframework.connector.auth import MicrosoftAppCredentials
from msrest.exceptions import ClientRequestError, HttpOperationError

from launchops import __version__
from launchops.adapters.teams.guard import service_url_allowed
from launchops.adapters.teams.render import to_activity
from launchops.delivery.sender import Delivery, PermanentFailure, RetryLater
from launchops.services.messaging import MessagingService
from launchops.settings import Settings

__all__ = ["TeamsSender", "channel_auth_tenant", "make_credentials"]

log = structlog.get_logger(__name__)

PLATFORM: Final = "teams"
TIMEOUT_SECONDS: Final = 15
# An answer sent in the turn holds up Teams' HTTP response (which Teams waits 15 s for); past
# this it is left to the outbox instead.
IN_TURN_TIMEOUT_SECONDS: Final = 5.0
TOKEN_RETRY_SECONDS: Final = 60.0
_CHANNEL_ID = re.compile(r"^19:.*@thread\.(?:tacv2|skype)$")
_PERMANENT_STATUSES: Final = frozenset({400, 401, 403, 404, 405, 409, 410, 413, 415, 422})


def channel_auth_tenant(settings: Settings) -> str | None:
    """The AAD tenant that issues the bot's tokens: its own for a SingleTenant app.

    A MultiTenant bot gets its tokens from botframework.com, botbuilder's default (None).
    """
    if settings.microsoft_app_type.lower() != "singletenant":
        return None
    return settings.microsoft_app_tenant_id or None


def make_credentials(settings: Settings) -> MicrosoftAppCredentials:
    """Credentials for calls to the Bot Connector; empty (no Authorization header) without an id.

    An empty app id is botbuilder's anonymous mode: `MicrosoftAppCredentials.empty()` makes
    `signed_session` drop the Authorization header instead of fetching a token.
    """
    if not settings.microsoft_app_id:
        return MicrosoftAppCredentials.empty()
    return MicrosoftAppCredentials(
        settings.microsoft_app_id,
        settings.microsoft_app_password.get_secret_value(),
        channel_auth_tenant(settings),
    )


def _retry_after(headers: Any) -> float | None:
    """Seconds to wait from a `Retry-After` header: a number of seconds or an HTTP date."""
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_code(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code") or "") if isinstance(error, dict) else ""


def _classify(exc: HttpOperationError) -> Exception:
    response = exc.response
    status = int(getattr(response, "status_code", 0) or 0)
    reason = f"Bot Connector answered {status} {_error_code(response)}".strip()
    if status == 429:
        return RetryLater(reason, _retry_after(response.headers))
    if status >= 500 or status == 408 or status == 0:
        return RetryLater(reason, _retry_after(response.headers) if response is not None else None)
    if status in _PERMANENT_STATUSES or 400 <= status < 500:
        return PermanentFailure(reason)
    return RetryLater(reason)


@dataclass(frozen=True)
class _Target:
    service_url: str
    conversation_id: str
    reference: dict[str, Any] | None

    @property
    def conversation_type(self) -> str | None:
        if self.reference is None:
            return None
        return (self.reference.get("conversation") or {}).get("conversationType")

    @property
    def is_channel_root(self) -> bool:
        """A channel itself (not a thread in it): a post there starts a new thread."""
        if ";messageid=" in self.conversation_id:
            return False
        if self.conversation_type is not None:
            return self.conversation_type == "channel"
        return bool(_CHANNEL_ID.match(self.conversation_id))

    @property
    def is_unknown_user(self) -> bool:
        """A person we have no personal chat with yet (a Teams user id or an AAD object id)."""
        return self.reference is None and not self.conversation_id.startswith(("19:", "a:"))


class TeamsSender:
    """The `Sender` for platform "teams" (see delivery/sender.py)."""

    platform = PLATFORM

    def __init__(self, settings: Settings, messaging: MessagingService) -> None:
        self._settings = settings
        self._messaging = messaging
        self._credentials = make_credentials(settings)
        self._bot_id = f"28:{settings.microsoft_app_id or 'launchops'}"

    # the Sender protocol -------------------------------------------------------------------
    def send(self, delivery: Delivery) -> dict[str, Any]:
        return self.send_now(delivery, timeout=TIMEOUT_SECONDS)

    def send_now(
        self, delivery: Delivery, *, timeout: float = IN_TURN_TIMEOUT_SECONDS
    ) -> dict[str, Any]:
        """`send`, for an answer in the turn itself (not an outbox row): a shorter timeout,
        and the same RetryLater / PermanentFailure for the caller to fall back on."""
        try:
            return self._send(delivery, timeout)
        except HttpOperationError as exc:  # ErrorResponseException: an HTTP error status
            raise _classify(exc) from exc
        except (ClientRequestError, requests.RequestException, OSError) as exc:
            raise RetryLater(f"network error: {exc}") from exc
        except PermissionError as exc:
            # botframework raises this when AAD refuses a token (wrong secret, or AAD down):
            # retried slowly so nothing is lost while an operator fixes the credentials.
            raise RetryLater(f"no Bot Framework token: {exc}", TOKEN_RETRY_SECONDS) from exc

    def _send(self, delivery: Delivery, timeout: float) -> dict[str, Any]:
        where = delivery.destination
        activity = to_activity(delivery.reply, delivery.locale)
        match delivery.kind:
            case "respond":
                # {"thread": True}: reply in the thread started by the row this depends on.
                previous = delivery.extra.get("depends_on_result") or {}
                conversation = where.get("conversation") or previous.get("conversation")
                service_url = where.get("service_url") or previous.get("service_url")
                target = self._target(conversation, service_url)
                return self._reply(target, activity, where.get("reply_to_id"), timeout)
            case "post":
                target = self._target(where.get("conversation"), where.get("service_url"))
                return self._post(target, activity, where.get("tenant_id"), timeout)
            case "ephemeral":
                # Teams has no ephemeral messages: the closest is the person's personal chat.
                target = self._target(where.get("user"), where.get("service_url"))
                return self._post(target, activity, where.get("tenant_id"), timeout)
            case "update":
                previous = delivery.extra.get("depends_on_result") or {}
                activity_id = where.get("activity_id") or previous.get("activity_id")
                conversation = where.get("conversation") or previous.get("conversation")
                if not activity_id or not conversation:
                    raise PermanentFailure("update without an activity id and conversation")
                service_url = where.get("service_url") or previous.get("service_url")
                target = self._target(conversation, service_url)
                return self._update(target, activity, str(activity_id), timeout)
        raise PermanentFailure(f"unknown delivery kind {delivery.kind!r}")

    # operations ----------------------------------------------------------------------------
    def _reply(
        self, target: _Target, activity: Activity, reply_to_id: str | None, timeout: float
    ) -> dict[str, Any]:
        self._address(activity, target)
        conversations = self._client(target.service_url, timeout).conversations
        if reply_to_id:
            activity.reply_to_id = reply_to_id
            sent = conversations.reply_to_activity(target.conversation_id, reply_to_id, activity)
        else:
            sent = conversations.send_to_conversation(target.conversation_id, activity)
        return self._result(target.conversation_id, sent.id, target.service_url)

    def _post(
        self, target: _Target, activity: Activity, tenant_id: str | None, timeout: float
    ) -> dict[str, Any]:
        if target.is_channel_root:
            return self._start_thread(target, activity, tenant_id, timeout)
        if target.is_unknown_user:
            target = self._open_personal_chat(target, tenant_id, timeout)
        return self._reply(target, activity, None, timeout)

    def _update(
        self, target: _Target, activity: Activity, activity_id: str, timeout: float
    ) -> dict[str, Any]:
        self._address(activity, target)
        activity.id = activity_id
        conversations = self._client(target.service_url, timeout).conversations
        conversations.update_activity(target.conversation_id, activity_id, activity)
        return self._result(target.conversation_id, activity_id, target.service_url)

    def _start_thread(
        self, target: _Target, activity: Activity, tenant_id: str | None, timeout: float
    ) -> dict[str, Any]:
        """A new top-level post in a channel; its thread id comes back for later replies."""
        tenant = self._tenant(target, tenant_id)
        channel_data: dict[str, Any] = {"channel": {"id": target.conversation_id}}
        if tenant:
            channel_data["tenant"] = {"id": tenant}
        parameters = ConversationParameters(
            is_group=True,
            bot=self._bot(target),
            channel_data=channel_data,
            activity=activity,
            tenant_id=tenant,
        )
        created = self._client(target.service_url, timeout).conversations.create_conversation(
            parameters
        )
        service_url = getattr(created, "service_url", None) or target.service_url
        return self._result(created.id, created.activity_id, service_url)

    def _open_personal_chat(
        self, target: _Target, tenant_id: str | None, timeout: float
    ) -> _Target:
        """Create the 1:1 chat with a user we never talked to, and remember it."""
        tenant = self._tenant(target, tenant_id)
        parameters = ConversationParameters(
            is_group=False,
            bot=self._bot(target),
            members=[ChannelAccount(id=target.conversation_id)],
            channel_data={"tenant": {"id": tenant}} if tenant else None,
            tenant_id=tenant,
        )
        created = self._client(target.service_url, timeout).conversations.create_conversation(
            parameters
        )
        service_url = getattr(created, "service_url", None) or target.service_url
        reference: dict[str, Any] = {
            "user": {"id": target.conversation_id},
            "bot": {"id": self._bot(target).id},
            "conversation": {"id": created.id, "conversationType": "personal"},
            "channelId": "msteams",
            "serviceUrl": service_url,
        }
        if tenant:
            reference["conversation"]["tenantId"] = tenant
        self._messaging.remember_conversation(PLATFORM, target.conversation_id, reference)
        return _Target(service_url, str(created.id), reference)

    # helpers -------------------------------------------------------------------------------
    def _target(self, conversation: Any, service_url: Any) -> _Target:
        if isinstance(conversation, dict):
            reference: dict[str, Any] | None = conversation
        elif isinstance(conversation, str) and conversation:
            reference = self._messaging.conversation(PLATFORM, conversation)
        else:
            raise PermanentFailure("no Teams conversation to send to")
        conversation_id = conversation if isinstance(conversation, str) else ""
        if reference is not None:
            conversation_id = str((reference.get("conversation") or {}).get("id") or "")
            if not conversation_id:
                raise PermanentFailure("stored conversation reference has no conversation id")
        url = (
            (service_url if isinstance(service_url, str) and service_url else None)
            or (reference or {}).get("serviceUrl")
            or self._settings.teams_service_url
        )
        return _Target(str(url), conversation_id, reference)

    def _tenant(self, target: _Target, tenant_id: str | None) -> str | None:
        stored = ((target.reference or {}).get("conversation") or {}).get("tenantId")
        return tenant_id or stored or self._settings.microsoft_app_tenant_id or None

    def _bot(self, target: _Target) -> ChannelAccount:
        bot = (target.reference or {}).get("bot") or {}
        return ChannelAccount(id=bot.get("id") or self._bot_id, name=bot.get("name"))

    def _address(self, activity: Activity, target: _Target) -> None:
        """Fill in what botbuilder's TurnContext would: who speaks, to whom, where."""
        reference = target.reference or {}
        activity.conversation = ConversationAccount(id=target.conversation_id)
        activity.service_url = target.service_url
        activity.channel_id = reference.get("channelId") or "msteams"
        activity.from_property = self._bot(target)
        user = reference.get("user")
        if isinstance(user, dict) and user.get("id"):
            activity.recipient = ChannelAccount(id=user["id"], name=user.get("name"))

    def _client(self, service_url: str, timeout: float) -> ConnectorClient:
        """A fresh client per call: cheap, and no session is shared between threads.

        Every Bot Connector call comes through here, so this is where the unauthenticated
        mode's promise is kept: without an app id nothing vouched for a stored serviceUrl,
        so only the configured one or loopback is called (a forged one could aim the bot at
        any host, a server-side request forgery).
        """
        if not self._settings.microsoft_app_id and not service_url_allowed(
            self._settings, service_url
        ):
            raise PermanentFailure(
                "serviceUrl not allowed without MicrosoftAppId: only "
                "LAUNCHOPS_TEAMS_SERVICE_URL or loopback"
            )
        client = ConnectorClient(self._credentials, base_url=service_url)
        # The session's adapters already hold this Retry object (msrest mounts it when the
        # client is built), so it is changed in place; assigning a new policy does nothing.
        client.config.retry_policy.retries = 0
        client.config.retry_policy.policy.status_forcelist = frozenset()
        client.config.retry_policy.policy.raise_on_status = False
        client.config.connection.timeout = timeout
        client.config.add_user_agent(f"LaunchOps/{__version__}")
        return client

    @staticmethod
    def _result(conversation_id: str, activity_id: Any, service_url: str) -> dict[str, Any]:
        return {
            "activity_id": str(activity_id) if activity_id else None,
            "conversation": conversation_id,
            "service_url": service_url,
        }
