"""HTTP routes only: Slack, Teams, health and metrics. The work happens in adapters/services."""

from __future__ import annotations

import os
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from launchops import __version__
from launchops.api import api_router
from launchops.body_limits import BodyLimitMiddleware
from launchops.delivery.outbox_metrics import OutboxCollector, register_outbox_metrics
from launchops.leader import Leadership
from launchops.main import AppContext
from launchops.metrics import HTTP_ERRORS, HTTP_LATENCY, HTTP_REQUESTS
from launchops.scheduler import build_scheduler

if TYPE_CHECKING:
    from launchops.adapters.slack.app import SlackAdapter

log = structlog.get_logger(__name__)


def _handler_name(request: Request) -> str:
    """The route template that served the request, never the raw path (ids in paths would
    explode label cardinality, and query strings may carry personal data). Routing records
    the route in the scope, included routers too; a request refused before routing (a body
    over its cap) is matched here by hand."""
    fastapi_scope = request.scope.get("fastapi")
    # A route of an included router knows only its own part of the path; FastAPI keeps the
    # full template in its effective route context.
    effective = (
        fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
    )
    for found in (effective, request.scope.get("route")):
        path = getattr(found, "path", None)
        if isinstance(path, str) and path.startswith("/"):
            return path
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match == Match.FULL and getattr(route, "path", None):
            return str(route.path)
    return "unmatched"


SLACK_EVENTS = "/slack/events"
_QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})  # probes: logged on failure only
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _request_id(request: Request) -> str:
    """The caller's X-Request-Id when it is a plain token (a proxy's), else a new one."""
    given = request.headers.get("x-request-id", "")
    return given if _REQUEST_ID.match(given) else os.urandom(8).hex()  # as uuid4().hex[:16]


# The metric children a request counts into, looked up once per label set: `.labels()` takes
# the metric's lock and builds a key every call. Label sets are as bounded as the metrics'.
_latency: dict[str, Any] = {}
_requests: dict[tuple[str, str, str], Any] = {}


def _count(handler: str, method: str, code: str, elapsed: float) -> None:
    latency = _latency.get(handler)
    if latency is None:
        latency = _latency[handler] = HTTP_LATENCY.labels(handler)
    key = (handler, method, code)
    requests = _requests.get(key)
    if requests is None:
        requests = _requests[key] = HTTP_REQUESTS.labels(handler, method, code)
    latency.observe(elapsed)
    requests.inc()


class MeasureMiddleware:
    """Metrics, the request log line (with its request id) and a JSON 500 for anything a
    route let escape. Pure ASGI rather than `@app.middleware("http")`: Starlette's
    BaseHTTPMiddleware streams every response through a task and a queue, which cost more
    CPU per request than a slash command's whole answer."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request = Request(scope)
        request_id = _request_id(request)
        started = time.perf_counter()
        status: int | None = None
        finished: float | None = None  # the last body byte sent: background work comes after
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status, finished
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message = {**message, "headers": [*message.get("headers", ()), header]}
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                finished = time.perf_counter()
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self._app(scope, receive, send_with_id)
            except Exception:
                handler = _handler_name(request)
                HTTP_ERRORS.labels(handler).inc()
                _count(handler, request.method, "500", time.perf_counter() - started)
                log.exception("web.unhandled", handler=handler)
                if status is None:  # nothing sent yet: the client still gets an answer
                    failure = JSONResponse({"detail": "internal error"}, status_code=500)
                    await failure(scope, receive, send_with_id)
                return
            elapsed = (finished or time.perf_counter()) - started
            handler = _handler_name(request)
            code = status if status is not None else 500
            _count(handler, request.method, str(code), elapsed)
            # Our access log, in place of uvicorn's: the route template, never the raw path
            # or query string (which may carry an email or a token), through the masked logger.
            if handler not in _QUIET_ROUTES or code >= 400:
                log.info(
                    "http.request",
                    method=request.method,
                    route=handler,
                    status=code,
                    ms=round(elapsed * 1000, 1),
                )


class SlackEventsRoute:
    """`POST /slack/events` handed straight to the Slack adapter, past FastAPI's exception
    middleware, router, request/response wrapping and dependency solving: about a tenth of
    a slash command's CPU. Inside the body cap and the measuring middleware, like every
    route; the route stays declared (for its template in metrics, and for an app without
    Slack, which it still answers)."""

    def __init__(self, app: ASGIApp, slack: SlackAdapter, routes: list[BaseRoute]) -> None:
        self._app = app
        self._slack = slack
        self._routes = routes  # the app's, declared after this middleware is
        self._route: BaseRoute | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != SLACK_EVENTS or scope["method"] != "POST":
            await self._app(scope, receive, send)
            return
        if self._route is None:
            self._route = next(r for r in self._routes if getattr(r, "path", "") == SLACK_EVENTS)
        scope["route"] = self._route
        response = await self._slack.handle(Request(scope, receive))
        await response(scope, receive, send)


def _outbox_lag(collector: OutboxCollector) -> dict[str, float] | None:
    """Pending outbox rows and the oldest one's age, as /metrics reports them (None: unread)."""
    samples = {family.name: family.samples for family in collector.collect()}
    depth, age = (
        samples.get("launchops_outbox_pending_messages"),
        samples.get("launchops_outbox_oldest_pending_age_seconds"),
    )
    if not depth or not age:
        return None
    return {"pending": int(depth[0].value), "oldest_pending_age_seconds": round(age[0].value, 3)}


def create_app(ctx: AppContext, *, run_dispatcher: bool = True) -> FastAPI:
    # The scheduler runs only on the leader among replicas (leader.py); without a scheduler
    # (run_dispatcher=False) this app takes no part in the election.
    leadership = Leadership(ctx.engine, interval=ctx.settings.leader_check_seconds)
    outbox = OutboxCollector()
    outbox.attach(ctx.engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        scheduler = (
            build_scheduler(
                ctx.config_reloader,
                ctx.incidents,
                ctx.messaging,
                ctx.gates,
                ctx.digests,
                nudges=ctx.nudges,
                monthly_reports=ctx.monthly_reports,
            )
            if run_dispatcher
            else None
        )
        stop_outbox_metrics = register_outbox_metrics(ctx.engine)
        if run_dispatcher:
            ctx.dispatcher.start()
        if scheduler is not None:
            await run_in_threadpool(leadership.start, scheduler)
        log.info(
            "web.started",
            version=__version__,
            slack=ctx.slack is not None,
            teams_auth=bool(ctx.settings.microsoft_app_id),
        )
        try:
            yield
        finally:
            if scheduler is not None:
                await run_in_threadpool(leadership.stop)
            ctx.dispatcher.stop()
            stop_outbox_metrics()

    app = FastAPI(title="LaunchOps", version=__version__, lifespan=lifespan)
    app.state.leadership = leadership
    # Innermost: only a body within its cap reaches the Slack adapter. Without Slack the
    # declared route answers 503.
    if ctx.slack is not None:
        app.add_middleware(SlackEventsRoute, slack=ctx.slack, routes=app.router.routes)
    # Added before MeasureMiddleware, so it runs inside it: a refused body is still counted.
    app.add_middleware(BodyLimitMiddleware)

    # Outermost: it sees every request, the refused and the failed included.
    app.add_middleware(MeasureMiddleware)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> JSONResponse:
        def ping() -> None:
            with ctx.engine.connect() as connection:
                connection.execute(text("SELECT 1"))

        leader = leadership.status().as_json()
        try:
            await run_in_threadpool(ping)
        except Exception as exc:
            log.warning("web.not_ready", error=str(exc))
            body = {"status": "unavailable", "store": "unreachable", "leader": leader}
            return JSONResponse(body, 503)
        lag = await run_in_threadpool(_outbox_lag, outbox)
        return JSONResponse({"status": "ready", "store": "ok", "leader": leader, "outbox": lag})

    @app.get(
        "/metrics",
        tags=["ops"],
        # Prometheus' text exposition format, so the OpenAPI document says text/plain.
        response_class=PlainTextResponse,
        responses={200: {"description": "Prometheus text exposition format"}},
    )
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.post(SLACK_EVENTS, tags=["chat"], include_in_schema=False)
    async def slack_events() -> Response:
        # Reached only without Slack: with it, SlackEventsRoute answers every POST here.
        return JSONResponse(
            {"detail": "Slack is not configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET"},
            status_code=503,
        )

    @app.post("/api/messages", tags=["chat"], include_in_schema=False)
    async def teams_messages(request: Request) -> Response:
        if ctx.teams is None:
            return JSONResponse({"detail": "Teams is not configured"}, status_code=503)
        return await ctx.teams.handle(request)

    app.include_router(api_router(ctx))
    return app
