"""Request body caps, enforced before any route parses, verifies or stores a byte.

A pure ASGI middleware: a `Content-Length` over the cap is refused at once; a body without
one (chunked) is read up to the cap and refused as soon as it passes it. Either way the bot
never holds more than the cap of one request in memory, and the route behind it (bolt's
signature check, botbuilder's JWT check, FastAPI's JSON parsing) only ever sees a body that
fits. An accepted body is replayed to the route unchanged.

A refused body is read on, and thrown away, for at most `DRAIN_LIMIT` bytes past the cap:
closing a connection whose unread bytes are still arriving makes the kernel answer with a
reset, which can reach the client before it reads the 413 (as Go's net/http does, and for
the same reason). Nothing drained is kept, so memory stays bounded by the cap.

The caps are part of the contract (DESIGN.md §3): Slack 1 MiB, Teams 256 KiB, Alertmanager
4 MiB, the rest of `/api/v1` 2 MiB. Anything else (health, metrics, docs) takes 64 KiB.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BODY_LIMITS", "DEFAULT_LIMIT", "DRAIN_LIMIT", "BodyLimitMiddleware", "limit_for"]

log = structlog.get_logger(__name__)

KIB: Final = 1024
MIB: Final = 1024 * KIB

# Longest prefix first: the first match wins.
BODY_LIMITS: Final[tuple[tuple[str, int], ...]] = (
    ("/api/v1/alerts/alertmanager", 4 * MIB),
    ("/api/v1/failures", 2 * MIB),  # up to 1,000 cases
    ("/api/v1/sli", 2 * MIB),
    ("/api/v1/", 2 * MIB),
    ("/slack/events", 1 * MIB),
    ("/api/messages", 256 * KIB),
)
DEFAULT_LIMIT: Final = 64 * KIB
DRAIN_LIMIT: Final = 256 * KIB


def limit_for(path: str, limits: Sequence[tuple[str, int]] = BODY_LIMITS) -> int:
    """The cap for a request path."""
    for prefix, limit in limits:
        if path == prefix or path.startswith(prefix):
            return limit
    return DEFAULT_LIMIT


class BodyLimitMiddleware:
    """Answers 413 `{"detail": "request body larger than N bytes"}` past the path's cap."""

    def __init__(self, app: ASGIApp, limits: Sequence[tuple[str, int]] = BODY_LIMITS) -> None:
        self._app = app
        self._limits = tuple(limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        limit = limit_for(scope["path"], self._limits)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            if declared <= limit + DRAIN_LIMIT:  # else refused before a byte is read
                await _drain(receive, declared)
            await self._refuse(scope, send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                if message.get("more_body", False):
                    await _drain(receive, DRAIN_LIMIT)
                await self._refuse(scope, send, limit)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))

        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as Starlette does

        await self._app(scope, replay, send)

    @staticmethod
    async def _refuse(scope: Scope, send: Send, limit: int) -> None:
        log.warning("web.body_too_large", path=scope["path"], limit=limit)
        content = json.dumps({"detail": f"request body larger than {limit} bytes"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(content)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})


async def _drain(receive: Receive, budget: int) -> None:
    """Read and discard the rest of a refused body, `budget` bytes at most."""
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        budget -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None
