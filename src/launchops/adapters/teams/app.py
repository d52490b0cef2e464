"""Teams wiring: `POST /api/messages` → authenticated Bot Framework turn → LaunchOpsBot.

Botbuilder's `BotFrameworkAdapter` validates the Bot Framework JWT on every request (keys
from `LAUNCHOPS_TEAMS_OPENID_METADATA_URL`, Bot Framework's by default). Without an app id
this adapter is only built when `LAUNCHOPS_TEAMS_ANONYMOUS` is on (the Emulator and tests):
then no token is checked, and so nothing vouches for an activity's `serviceUrl`, which is
therefore held to the configured service URL or loopback (guard.py). With an app id,
activities from tenants outside `Settings.teams_tenants` get 403.

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
from functools import partial
from typing import Any

import requests
import structlog
from botbuilder.core import BotFrameworkAdapter, BotFrameworkAdapterSettings
from botbuilder.schema import Activity
from botframework.connector.auth import AuthenticationConstants, ClaimsIdentity
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from launchops.adapters.teams.forms import MAX_COMPONENT_CHOICES
from launchops.adapters.teams.guard import activity_tenants, parse_activity, service_url_allowed
from launchops.adapters.teams.handlers import LaunchOpsBot
from launchops.adapters.teams.sender import TeamsSender, channel_auth_tenant
from launchops.chat.commands import ChatCore
from launchops.services.messaging import MessagingService
from launchops.services.ownership import OwnershipService
from launchops.settings import Settings

__all__ = ["TeamsAdapter"]

log = structlog.get_logger(__name__)


def _refuse(status: int, detail: str, event: str, **context: Any) -> JSONResponse:
    """A 4xx with its one-line reason, logged as a warning (never with a traceback)."""
    log.warning(event, status=status, detail=detail, **context)
    return JSONResponse({"detail": detail}, status_code=status)


class _Adapter(BotFrameworkAdapter):  # type: ignore[misc]  # botbuilder is untyped
    async def _authenticate_request(self, request: Activity, auth_header: str) -> Any:
        """Validate the token off the event loop (botbuilder fetches keys with `requests`)."""
        if not auth_header:
            # No I/O on this path: PermissionError, as an app id is set.
            return await super()._authenticate_request(request, auth_header)
        validate = super()._authenticate_request(request, auth_header)
        return await asyncio.to_thread(asyncio.run, validate)


class TeamsAdapter:
    """The Teams side of the bot: handles `/api/messages`, and owns the outbox `sender`.

    Build it only when `settings.teams_enabled`. Without an app id it runs in the anonymous
    mode's restrictions whatever the flag says: botbuilder would otherwise accept anyone.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        chat: ChatCore,
        messaging: MessagingService,
        ownership: OwnershipService | None = None,
    ) -> None:
        self._settings = settings
        self._anonymous = not settings.microsoft_app_id
        self._tenants = None if self._anonymous else settings.teams_tenants
        adapter_settings = BotFrameworkAdapterSettings(
            app_id=settings.microsoft_app_id,
            app_password=settings.microsoft_app_password.get_secret_value(),
            channel_auth_tenant=channel_auth_tenant(settings),
            # botbuilder's own hook: it points its channel token validation at these keys.
            open_id_metadata=settings.teams_openid_metadata_url,
        )
        self._adapter = _Adapter(adapter_settings)
        # One more than the form lists, to tell "all of them" from "too many to list".
        choices = (
            partial(ownership.search_components, "", MAX_COMPONENT_CHOICES + 1)
            if ownership is not None
            else None
        )
        self.sender = TeamsSender(settings, messaging)
        self.bot = LaunchOpsBot(
            chat=chat,
            messaging=messaging,
            default_locale=settings.locale,
            component_choices=choices,
            # Our own client, not TurnContext.send_activity: botbuilder's async client would
            # fetch the AAD token with blocking calls on the event loop, and this one keeps the
            # anonymous mode's serviceUrl guard, no hidden retries and a short timeout.
            reply_now=self.sender.send_now,
        )
        self._log_mode(settings)

    def _log_mode(self, settings: Settings) -> None:
        if self._anonymous:
            log.warning(
                "teams.anonymous_mode",
                detail="LAUNCHOPS_TEAMS_ANONYMOUS is on and MicrosoftAppId is empty: "
                "/api/messages accepts UNAUTHENTICATED activities from anyone, and the bot "
                f"calls only {settings.teams_service_url} or loopback. For the Bot Framework "
                "Emulator and tests only; never in production.",
            )
        elif settings.teams_anonymous:
            log.warning(
                "teams.anonymous_ignored",
                detail="LAUNCHOPS_TEAMS_ANONYMOUS is ignored: MicrosoftAppId is set, so every "
                "activity must carry a valid Bot Framework token.",
            )
        if not self._anonymous and self._tenants is None:
            log.info("teams.any_tenant", detail="no LAUNCHOPS_TEAMS_ALLOWED_TENANTS: any tenant")

    async def handle(self, request: Request) -> Response:
        """One Bot Framework activity: 200 (or the invoke's own response), 4xx, or 500.

        The body is already capped by body_limits.py before this runs.
        """
        activity = parse_activity(await request.body())
        if isinstance(activity, str):
            return _refuse(400, activity, "teams.bad_activity")
        if self._anonymous:
            identity = self._anonymous_identity(activity)
            if isinstance(identity, Response):
                return identity
        else:
            checked = await self._authenticate(activity, request.headers.get("Authorization", ""))
            if isinstance(checked, Response):
                return checked
            identity = checked
        if self._tenants is not None:
            tenants = activity_tenants(activity)
            if not tenants or not tenants <= self._tenants:
                return _refuse(
                    403, "tenant not allowed", "teams.tenant_refused", tenants=sorted(tenants)
                )

        try:
            response = await self._adapter.process_activity_with_identity(
                activity, identity, self.bot.on_turn
            )
        except Exception:
            log.exception("teams.turn_failed", activity_type=activity.type, activity_id=activity.id)
            return JSONResponse({"detail": "internal error"}, status_code=500)
        if response is None:
            return Response(status_code=200)
        if response.body is None:
            return Response(status_code=int(response.status))
        return JSONResponse(response.body, status_code=int(response.status))

    def _anonymous_identity(self, activity: Activity) -> ClaimsIdentity | Response:
        """Accept without a token, but never with a serviceUrl the bot may not call.

        An Authorization header is ignored rather than checked: checking it would fetch
        Bot Framework's keys, a call this mode promises not to make.
        """
        if activity.service_url and not service_url_allowed(self._settings, activity.service_url):
            return _refuse(
                403,
                "serviceUrl not allowed: without MicrosoftAppId the bot calls only "
                "LAUNCHOPS_TEAMS_SERVICE_URL or loopback",
                "teams.service_url_refused",
            )
        return ClaimsIdentity({}, True, AuthenticationConstants.ANONYMOUS_AUTH_TYPE)

    async def _authenticate(self, activity: Activity, auth_header: str) -> Any:
        """The token's claims, or the 401/503 response that refuses the request."""
        try:
            return await self._adapter._authenticate_request(activity, auth_header)
        except requests.RequestException as exc:
            # The Bot Framework key endpoint is unreachable: our problem, and worth a retry.
            log.warning("teams.auth_unavailable", error=type(exc).__name__)
            return JSONResponse({"detail": "cannot verify the token right now"}, status_code=503)
        except Exception as exc:
            return _refuse(
                401,
                "unauthorized",
                "teams.unauthorized",
                error=type(exc).__name__,
                reason=str(exc)[:200],
            )
