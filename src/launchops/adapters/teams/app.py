"""Teams wiring: `POST /api/messages` → authenticated Bot Framework turn → LaunchOpsBot.

Botbuilder's `BotFrameworkAdapter` validates the Bot Framework JWT on every request when an
app id is set. An empty app id is its anonymous mode: any caller is accepted, which is only
for local tests, so a warning is logged at start-up.

Two botbuilder behaviours are worked around here:
- its token validation fetches the OpenID metadata with blocking `requests.get` inside a
  coroutine (once a day per key set), which would stall the event loop: the validation runs
  on its own loop in a worker thread;
- `process_activity` raises the same way for a forged token and for a bug in the turn, so
  authentication and the turn are run as two steps, to answer 401 for the first and 500 for
  the second. No response ever carries a stack trace.
"""

from __future__ import annotations

import asyncio
import json
from functools import partial
from typing import Any, Final

import requests
import structlog
from botbuilder.core import BotFrameworkAdapter, BotFrameworkAdapterSettings
from botbuilder.schema import Activity, ActivityTypes
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from launchops.adapters.teams.forms import MAX_COMPONENT_CHOICES
from launchops.adapters.teams.handlers import LaunchOpsBot
from launchops.adapters.teams.sender import TeamsSender, channel_auth_tenant
from launchops.chat.commands import ChatCore
from launchops.services.messaging import MessagingService
from launchops.services.ownership import OwnershipService
from launchops.settings import Settings

__all__ = ["MAX_BODY_BYTES", "TeamsAdapter"]

log = structlog.get_logger(__name__)

MAX_BODY_BYTES: Final = 256 * 1024  # Teams messages are at most 28 KB; cards and invokes less
# Activities the bot acts on: each needs a conversation and a serviceUrl to answer to.
_ADDRESSED_TYPES: Final = frozenset(
    {
        ActivityTypes.message,
        ActivityTypes.invoke,
        ActivityTypes.conversation_update,
        ActivityTypes.installation_update,
    }
)


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


class _Adapter(BotFrameworkAdapter):  # type: ignore[misc]  # botbuilder is untyped
    async def _authenticate_request(self, request: Activity, auth_header: str) -> Any:
        """Validate the token off the event loop (botbuilder fetches keys with `requests`)."""
        if not auth_header:
            # No I/O on this path: anonymous mode accepts, otherwise PermissionError.
            return await super()._authenticate_request(request, auth_header)
        validate = super()._authenticate_request(request, auth_header)
        return await asyncio.to_thread(asyncio.run, validate)


class TeamsAdapter:
    """The Teams side of the bot: handles `/api/messages`, and owns the outbox `sender`."""

    def __init__(
        self,
        settings: Settings,
        *,
        chat: ChatCore,
        messaging: MessagingService,
        ownership: OwnershipService | None = None,
    ) -> None:
        adapter_settings = BotFrameworkAdapterSettings(
            app_id=settings.microsoft_app_id,
            app_password=settings.microsoft_app_password.get_secret_value(),
            channel_auth_tenant=channel_auth_tenant(settings),
        )
        self._adapter = _Adapter(adapter_settings)
        # One more than the form lists, to tell "all of them" from "too many to list".
        choices = (
            partial(ownership.search_components, "", MAX_COMPONENT_CHOICES + 1)
            if ownership is not None
            else None
        )
        self.bot = LaunchOpsBot(
            chat=chat,
            messaging=messaging,
            default_locale=settings.locale,
            component_choices=choices,
        )
        self.sender = TeamsSender(settings, messaging)
        if not settings.microsoft_app_id:
            log.warning(
                "teams.anonymous_mode",
                detail="MicrosoftAppId is empty: /api/messages accepts unauthenticated "
                "activities. Use this only for local tests.",
            )

    async def handle(self, request: Request) -> Response:
        """One Bot Framework activity: 200 (or the invoke's own response), 400, 401 or 500."""
        declared = request.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return _problem(413, f"activity larger than {MAX_BODY_BYTES} bytes")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _problem(413, f"activity larger than {MAX_BODY_BYTES} bytes")
        activity = _parse_activity(body)
        if isinstance(activity, str):
            return _problem(400, activity)

        auth_header = request.headers.get("Authorization", "")
        try:
            identity = await self._adapter._authenticate_request(activity, auth_header)
        except requests.RequestException as exc:
            # The Bot Framework key endpoint is unreachable: our problem, and worth a retry.
            log.warning("teams.auth_unavailable", error=type(exc).__name__)
            return _problem(503, "cannot verify the token right now")
        except Exception as exc:
            log.warning("teams.unauthorized", error=type(exc).__name__, reason=str(exc)[:200])
            return _problem(401, "unauthorized")

        try:
            response = await self._adapter.process_activity_with_identity(
                activity, identity, self.bot.on_turn
            )
        except Exception:
            log.exception("teams.turn_failed", activity_type=activity.type, activity_id=activity.id)
            return _problem(500, "internal error")
        if response is None:
            return Response(status_code=200)
        if response.body is None:
            return Response(status_code=int(response.status))
        return JSONResponse(response.body, status_code=int(response.status))


def _parse_activity(body: bytes) -> Activity | str:
    """The activity in `body`, or the short reason it is not one."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "malformed JSON"
    if not isinstance(payload, dict):
        return "not a Bot Framework activity: expected a JSON object"
    kind = payload.get("type")
    if not isinstance(kind, str) or not kind:
        return "not a Bot Framework activity: missing type"
    try:
        activity = Activity().deserialize(payload)
    except Exception:  # msrest's DeserializationError, or a wrong shape it chokes on
        return "not a Bot Framework activity: a field has the wrong type"
    if kind in _ADDRESSED_TYPES:
        conversation = activity.conversation
        if conversation is None or not conversation.id or not activity.service_url:
            return "activity lacks conversation.id or serviceUrl"
    return activity
