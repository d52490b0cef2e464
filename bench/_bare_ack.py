"""The baseline of bench/slack_ack.py: a bare slack_bolt endpoint, the least bolt can do.

bolt verifies the signature, routes the slash command to its listener and returns what the
listener acks with: for `/owner` a fixed ephemeral answer, for `/incident` the same after
committing one row to a WAL SQLite file (what any bot that records a declaration before its
ack must do at least). No guard, no store layer, no chat core, no middleware. Served the way
`launchops serve` serves the bot (`uvicorn.run`, one process, `log_level="info"`), so the
ratio is what LaunchOps adds to bolt itself.

Two ways to run bolt, chosen by BENCH_BOLT_MODE: `async` (bolt's AsyncApp on uvicorn's event
loop, through bolt's own Starlette adapter: the default, and the cheaper) and `sync` (the sync
App in Starlette's thread pool, the way LaunchOps runs it on PostgreSQL), so the choice is
measured.

`python -m bench._bare_ack` reads BENCH_SIGNING_SECRET, BENCH_DATABASE, BENCH_BOLT_MODE,
LAUNCHOPS_HOST and LAUNCHOPS_PORT.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

OWNER_ANSWER = "Retriever: responsible Data team, accountable Carol Jones."


class Ledger:
    """One WAL SQLite file, one connection, one row per declaration."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS incident (id INTEGER PRIMARY KEY, text TEXT)")
        self._lock = threading.Lock()

    def record(self, text: str) -> int:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            cursor = self._db.execute("INSERT INTO incident (text) VALUES (?)", (text,))
            self._db.execute("COMMIT")
            return int(cursor.lastrowid or 0)


def _answer(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text}


def create_async_app(signing_secret: str, ledger: Ledger) -> Starlette:
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncAck, AsyncApp
    from slack_bolt.authorization import AuthorizeResult

    async def authorize(**_: Any) -> AuthorizeResult:
        # What auth.test would say, without calling it: there is no Web API to ask here.
        return AuthorizeResult(
            enterprise_id=None, team_id="T0BENCH", bot_token="xoxb-bare", bot_user_id="U0BOT"
        )

    bolt = AsyncApp(signing_secret=signing_secret, authorize=authorize)

    @bolt.command("/owner")
    async def owner(ack: AsyncAck) -> None:
        await ack(**_answer(OWNER_ANSWER))

    @bolt.command("/incident")
    async def incident(ack: AsyncAck, command: dict[str, Any]) -> None:
        number = ledger.record(str(command.get("text", "")))
        await ack(**_answer(f"Declared INC-{number}."))

    handler = AsyncSlackRequestHandler(bolt)

    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)

    return _starlette(slack_events)


def create_sync_app(signing_secret: str, ledger: Ledger) -> Starlette:
    from slack_bolt import Ack, App, BoltRequest
    from slack_bolt.authorization import AuthorizeResult
    from slack_sdk import WebClient

    def authorize(**_: Any) -> AuthorizeResult:
        # As the AsyncApp's: without it bolt asks auth.test, and there is no Web API here.
        return AuthorizeResult(
            enterprise_id=None, team_id="T0BENCH", bot_token="xoxb-bare", bot_user_id="U0BOT"
        )

    bolt = App(
        client=WebClient(token="xoxb-bare"),
        signing_secret=signing_secret,
        authorize=authorize,
        token_verification_enabled=False,
        process_before_response=True,
    )

    @bolt.command("/owner")
    def owner(ack: Ack) -> None:
        ack(**_answer(OWNER_ANSWER))

    @bolt.command("/incident")
    def incident(ack: Ack, command: dict[str, Any]) -> None:
        number = ledger.record(str(command.get("text", "")))
        ack(**_answer(f"Declared INC-{number}."))

    async def slack_events(request: Request) -> Response:
        body = (await request.body()).decode("utf-8")
        headers = {k: [v] for k, v in request.headers.items()}
        bolt_request = BoltRequest(body=body, query=request.url.query, headers=headers)
        answer = await run_in_threadpool(bolt.dispatch, bolt_request)
        return Response(
            status_code=answer.status,
            content=answer.body,
            headers=answer.first_headers_without_set_cookie(),
        )

    return _starlette(slack_events)


def _starlette(slack_events: Any) -> Starlette:
    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def main() -> None:
    secret = os.environ["BENCH_SIGNING_SECRET"]
    ledger = Ledger(os.environ["BENCH_DATABASE"])
    mode = os.environ.get("BENCH_BOLT_MODE", "async")
    app = (create_sync_app if mode == "sync" else create_async_app)(secret, ledger)
    host = os.environ.get("LAUNCHOPS_HOST", "127.0.0.1")
    uvicorn.run(app, host=host, port=int(os.environ["LAUNCHOPS_PORT"]), log_level="info")


if __name__ == "__main__":
    main()
