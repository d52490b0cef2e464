"""Slack wiring: a slack-bolt App over HTTP (`POST /slack/events`) or Socket Mode."""

from __future__ import annotations

import structlog
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from launchops.adapters.slack.forms import IncidentForms
from launchops.adapters.slack.handlers import SlackHandlers
from launchops.adapters.slack.sender import SlackSender
from launchops.chat.commands import ChatCore
from launchops.services.messaging import MessagingService
from launchops.services.ownership import OwnershipService
from launchops.settings import Settings

log = structlog.get_logger(__name__)


class SlackAdapter:
    def __init__(
        self,
        settings: Settings,
        *,
        chat: ChatCore,
        messaging: MessagingService,
        ownership: OwnershipService,
    ) -> None:
        assert settings.slack_bot_token is not None
        token = settings.slack_bot_token.get_secret_value()
        # Retries belong to the outbox, which survives restarts; the client must not sleep.
        self.client = WebClient(
            token=token, base_url=settings.slack_api_url, retry_handlers=[], timeout=10
        )
        signing_secret = settings.slack_signing_secret
        self.app = App(
            client=self.client,
            signing_secret=signing_secret.get_secret_value() if signing_secret else None,
            # Answer Slack only once the listener has committed its work (see handlers.py).
            process_before_response=True,
            token_verification_enabled=False,
            request_verification_enabled=signing_secret is not None,
            logger=None,
        )
        forms = IncidentForms(
            chat=chat, messaging=messaging, ownership=ownership, client=self.client
        )
        SlackHandlers(chat=chat, messaging=messaging, forms=forms).register(self.app)
        self.sender = SlackSender(self.client)
        self._verifies_signatures = signing_secret is not None
        self._app_token = settings.slack_app_token
        self._socket_mode: object | None = None

    async def handle(self, request: Request) -> Response:
        """One HTTP request from Slack; bolt verifies the signature and the 5-minute window."""
        if not self._verifies_signatures:
            # Socket Mode only: without a signing secret no HTTP request can be trusted.
            return Response(status_code=401, content="SLACK_SIGNING_SECRET is not set")
        body = (await request.body()).decode("utf-8", errors="replace")
        bolt_request = BoltRequest(
            body=body,
            query=request.url.query,
            headers={k: [v] for k, v in request.headers.items()},
        )
        bolt_response = await run_in_threadpool(self.app.dispatch, bolt_request)
        return Response(
            status_code=bolt_response.status,
            content=bolt_response.body,
            headers=bolt_response.first_headers_without_set_cookie(),
        )

    def start_socket_mode(self) -> bool:
        """Connect over Socket Mode when SLACK_APP_TOKEN is set (no public URL needed)."""
        if self._app_token is None:
            return False
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        handler = SocketModeHandler(self.app, self._app_token.get_secret_value())
        handler.connect()  # type: ignore[no-untyped-call]
        self._socket_mode = handler
        log.info("slack.socket_mode_connected")
        return True
