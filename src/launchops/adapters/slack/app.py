"""Slack wiring: a slack-bolt App over HTTP (`POST /slack/events`) or Socket Mode."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

import structlog
from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.context import BoltContext
from slack_bolt.request.internals import build_context
from slack_sdk import WebClient
from sqlalchemy.engine import make_url
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from launchops.adapters.slack.after_ack import PENDING, AfterAck, RecentKeys, run_pending
from launchops.adapters.slack.forms import IncidentForms
from launchops.adapters.slack.gate_actions import GateActions
from launchops.adapters.slack.guard import Accepted, RequestGuard
from launchops.adapters.slack.handlers import SlackHandlers
from launchops.adapters.slack.lane import DispatchLane
from launchops.adapters.slack.link_buttons import register_link_buttons
from launchops.adapters.slack.roadmap_actions import RoadmapActions
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
        # Answers never go through the outbox (`messaging` is kept for the wiring's sake):
        # a slash command's rides in the ack, the others follow it (after_ack.py).
        del messaging
        self.sender = SlackSender(self.client)
        after_ack, seen = AfterAck(self.sender), RecentKeys()
        forms = IncidentForms(
            chat=chat, ownership=ownership, client=self.client, after_ack=after_ack, seen=seen
        )
        gates = GateActions(
            chat=chat, client=self.client, after_ack=after_ack, locale=settings.locale, seen=seen
        )
        SlackHandlers(
            chat=chat,
            forms=forms,
            after_ack=after_ack,
            locale=settings.locale,
            seen=seen,
            gates=gates,
        ).register(self.app)
        RoadmapActions(  # the roadmap nudge's buttons and modals
            chat=chat, client=self.client, after_ack=after_ack, locale=settings.locale, seen=seen
        ).register(self.app)
        register_link_buttons(self.app)  # Roll back and other link buttons: ack only
        self._guard = RequestGuard(signing_secret.get_secret_value()) if signing_secret else None
        single_process_store = make_url(settings.database_url).get_backend_name() == "sqlite"
        self._lane = DispatchLane(on_loop=single_process_store)
        self._app_token = settings.slack_app_token
        self._socket_mode: object | None = None

    async def handle(self, request: Request) -> Response:
        """One HTTP request from Slack: the guard (signature, then shape), then bolt, which
        checks the signature and the 5-minute window again and runs the listener."""
        if self._guard is None:
            # Socket Mode only: without a signing secret no HTTP request can be trusted.
            return Response(status_code=401, content="SLACK_SIGNING_SECRET is not set")
        raw = await request.body()
        headers = dict(request.headers.items())  # names arrive lower-cased
        pending: list[Callable[[], None]] = []
        # On the event loop (SQLite) or a few threads, in order (PostgreSQL): lane.py. The
        # guard checks the signature before it parses anything (body cap 1 MiB).
        answer = await self._lane.run(self._dispatch, raw, headers, request.url.query, pending)
        return Response(
            status_code=answer.status,
            content=answer.body,
            headers=answer.first_headers_without_set_cookie(),
            # Answers Slack does not show in an ack body: sent once the 200 is out.
            background=BackgroundTask(run_pending, pending) if pending else None,
        )

    def _dispatch(
        self,
        raw: bytes,
        headers: Mapping[str, str],
        query: str,
        pending: list[Callable[[], None]],
    ) -> BoltResponse:
        assert self._guard is not None
        verdict = self._guard.check(raw, headers)
        if not isinstance(verdict, Accepted):
            log.warning("slack.request_refused", status=verdict.status, reason=verdict.reason)
            # 401 as bolt words it; a 400 says what is wrong, in FastAPI's error shape.
            refusal = (
                {"error": "invalid request"}
                if verdict.status == 401
                else {"detail": verdict.reason}
            )
            return BoltResponse(
                status=verdict.status,
                body=json.dumps(refusal),
                headers={"content-type": "application/json"},
            )
        # The body as the guard parsed it, not parsed again by bolt (whose parser also loses
        # a form body that merely mentions "payload", see guard.py); the raw text stays for
        # bolt's own signature check.
        bolt_request = BoltRequest(
            body="", query=query, headers={k: [v] for k, v in headers.items()}
        )
        bolt_request.raw_body = verdict.text
        bolt_request.body = verdict.body
        bolt_request.context = build_context(BoltContext(), verdict.body)
        bolt_request.context[PENDING] = pending
        return self.app.dispatch(bolt_request)

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
