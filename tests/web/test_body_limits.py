"""The body cap runs before any route: over the cap → 413 and the route never sees a byte."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from launchops.body_limits import (
    BODY_LIMITS,
    DEFAULT_LIMIT,
    DRAIN_LIMIT,
    BodyLimitMiddleware,
    limit_for,
)

KIB = 1024
MIB = 1024 * KIB


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/slack/events", 1 * MIB),
        ("/api/messages", 256 * KIB),
        ("/api/v1/alerts/alertmanager", 4 * MIB),
        ("/api/v1/incidents", 2 * MIB),
        ("/api/v1/failures", 2 * MIB),
        ("/healthz", DEFAULT_LIMIT),
    ],
)
def test_each_endpoint_has_its_contract_cap(path: str, limit: int) -> None:
    assert limit_for(path) == limit
    assert limit_for(path, BODY_LIMITS) == limit


class _Route:
    """Records what reached the route behind the middleware."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


class _Client:
    """Feeds the middleware a body in chunks and counts how many chunks it pulled."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks
        self.pulled = 0
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        if self.pulled < len(self._chunks):
            chunk = self._chunks[self.pulled]
            self.pulled += 1
            more = self.pulled < len(self._chunks)
            return {"type": "http.request", "body": chunk, "more_body": more}
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])


def _scope(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {"type": "http", "path": path, "method": "POST", "headers": headers or []}


async def _run(path: str, chunks: list[bytes], headers: Any = None) -> tuple[_Route, _Client]:
    route = _Route()
    client = _Client(chunks)
    await BodyLimitMiddleware(route)(_scope(path, headers), client.receive, client.send)
    return route, client


@pytest.mark.anyio
async def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    headers = [(b"content-length", str(2 * MIB).encode())]
    route, client = await _run("/slack/events", [b"x" * 10], headers)
    assert client.status == 413
    assert client.pulled == 0  # not one byte read
    assert route.bodies == []
    assert b"1048576" in client.sent[1]["body"]


@pytest.mark.anyio
async def test_a_chunked_body_stops_being_read_at_the_cap() -> None:
    chunk = b"y" * (64 * KIB)
    route, client = await _run("/api/messages", [chunk] * 100)  # 6.4 MiB offered
    assert client.status == 413
    # 256 KiB fits in 4 chunks, the 5th passes the cap, 4 more are drained and dropped.
    assert client.pulled == 5 + DRAIN_LIMIT // len(chunk)
    assert route.bodies == []


@pytest.mark.anyio
async def test_a_body_within_the_cap_reaches_the_route_unchanged() -> None:
    chunks = [b"a" * 1000, b"b" * 1000, b"c"]
    route, client = await _run("/api/v1/incidents", chunks)
    assert client.status == 200
    assert route.bodies == [b"".join(chunks)]


@pytest.mark.anyio
async def test_exactly_the_cap_is_accepted() -> None:
    route, client = await _run("/api/messages", [b"z" * (256 * KIB)])
    assert client.status == 200
    assert len(route.bodies[0]) == 256 * KIB


@pytest.mark.anyio
async def test_a_body_a_little_over_the_cap_is_read_to_its_end_and_dropped() -> None:
    """So the client finishes sending and reads the 413 rather than a connection reset."""
    chunks = [b"q" * (64 * KIB)] * 5  # 320 KiB against a 256 KiB cap
    headers = [(b"content-length", str(5 * 64 * KIB).encode())]
    route, client = await _run("/api/messages", chunks, headers)
    assert client.status == 413
    assert client.pulled == 5
    assert route.bodies == []
