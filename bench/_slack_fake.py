"""A loopback Slack Web API for the benchmarks: answers like Slack, records when calls arrive.

tests/fakes/slack_api.py checks every call against Slack's OpenAPI spec and round-trips Block
Kit through slack_sdk; that is right for tests and wrong here, where the fake's own CPU would
be counted as the bot's. This one only parses the arguments it needs to answer, records
(method, channel, arrival time) and replies, so what is timed is the sender, not the fake.

In-process: `with SlackFake() as fake: ... fake.url ...` (arrival times are `perf_counter()`).
As its own process, so it takes no GIL from a server under test: `python -m bench._slack_fake`
prints its port, serves until its stdin closes, and answers `GET /_stats` with call counts,
`GET /_calls` with every call (arrival times are `perf_counter()`, which on Linux is the
system-wide monotonic clock, comparable across processes), `POST /_clear`, and
`POST /_wait` `{"channels": [...], "timeout": s}` once each channel has had a post, and
`GET /_messages` with every chat.* call's channel, ts, thread_ts and a digest of its text (what
the load benchmark checks exactly-once delivery with: bench/_load_check.py).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs

LOOPBACK = "127.0.0.1"
RESPONSE_URL = "response_url"  # the pseudo-method of a POST to a response_url


@dataclass(frozen=True)
class Call:
    method: str
    channel: str | None  # `channel` of chat.*, or the D-id conversations.open returned
    at: float  # time.perf_counter() on arrival, after the body was read
    ts: str | None = None  # chat.*: the message's ts (the one answered, or the one edited)
    thread_ts: str | None = None  # chat.postMessage into a thread
    digest: str | None = None  # chat.*: sha1 of the message's `text`, its identity with `ts`


def _arguments(content_type: str, query: str, body: bytes) -> dict[str, Any]:
    params: dict[str, Any] = {k: v[0] for k, v in parse_qs(query).items()}
    if "json" in content_type:
        loaded = json.loads(body or b"{}")
        if isinstance(loaded, dict):
            params.update(loaded)
    else:
        params.update({k: v[0] for k, v in parse_qs(body.decode("utf-8")).items()})
    return params


class SlackFake:
    """The Slack Web API at `.url` (`http://127.0.0.1:PORT/api/`)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._calls: list[Call] = []
        self._ts = itertools.count(1)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle ------------------------------------------------------------------------------
    def start(self) -> Self:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="slack-fake"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        server.server_close()  # joins the handler threads (block_on_close)
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/api/"

    def response_url(self, key: str) -> str:
        return f"http://{LOOPBACK}:{self.port}/response/{key}"

    # records --------------------------------------------------------------------------------
    def calls(self, method: str | None = None) -> list[Call]:
        with self._cond:
            return [c for c in self._calls if method is None or c.method == method]

    def counts(self) -> dict[str, int]:
        with self._cond:
            return dict(Counter(c.method for c in self._calls))

    def clear(self) -> None:
        with self._cond:
            self._calls.clear()

    def wait_until(self, done: Callable[[list[Call]], bool], timeout: float) -> bool:
        """Block until `done(calls)` holds (True) or `timeout` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not done(self._calls):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 1.0))
            return True

    def wait_for_posts(self, channels: set[str], timeout: float) -> bool:
        """Block until every one of `channels` has had a chat.postMessage (True), or time out."""

        def done(calls: list[Call]) -> bool:
            return channels <= {c.channel for c in calls if c.method == "chat.postMessage"}

        return self.wait_until(done, timeout)

    def control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """The out-of-process fake's remote control: `/_clear`, and `/_wait` (blocks)."""
        if path == "/_clear":
            self.clear()
            return {"ok": True}
        channels = {str(c) for c in body.get("channels") or []}
        return {"ok": self.wait_for_posts(channels, float(body.get("timeout") or 10.0))}

    # answering ------------------------------------------------------------------------------
    def answer(self, path: str, content_type: str, query: str, body: bytes) -> dict[str, Any]:
        arrived = time.perf_counter()
        if path.startswith("/response/"):
            self._record(Call(RESPONSE_URL, None, arrived))
            return {"ok": True}
        method = path.removeprefix("/api/")
        params = _arguments(content_type, query, body)
        channel = params.get("channel")
        reply: dict[str, Any] = {"ok": True}
        if method == "conversations.open":
            channel = channel or "D" + str(params.get("users", "")).replace(",", "")
            reply["channel"] = {"id": channel}
        elif method in ("chat.postMessage", "chat.update", "chat.delete"):
            ts = params.get("ts") or f"1700000000.{next(self._ts):06d}"
            reply.update(channel=channel, ts=ts, message={"type": "message", "ts": ts})
        elif method == "chat.postEphemeral":
            reply["message_ts"] = f"1700000000.{next(self._ts):06d}"
        elif method == "auth.test":
            reply.update(team_id="T0BENCH", user_id="UBOT", bot_id="BBOT")
        where = str(channel) if channel else None
        if method.startswith("chat."):
            text = str(params.get("text") or "")
            self._record(
                Call(
                    method,
                    where,
                    arrived,
                    ts=str(reply.get("ts") or reply.get("message_ts") or "") or None,
                    thread_ts=str(params["thread_ts"]) if params.get("thread_ts") else None,
                    digest=hashlib.sha1(text.encode()).hexdigest(),
                )
            )
        else:
            self._record(Call(method, where, arrived))
        return reply

    def _record(self, call: Call) -> None:
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    # socketserver's default listen backlog is 5: a client with more connections opening at
    # once (the outbox's delivery workers) would see SYNs dropped and one-second retransmits
    # that Slack's own front end never causes.
    request_queue_size = 128

    def __init__(self, fake: SlackFake) -> None:
        self.fake = fake
        super().__init__((LOOPBACK, 0), _Handler)

    def server_bind(self) -> None:
        TCPServer.server_bind(self)  # no reverse DNS lookup of the loopback address
        self.server_name = LOOPBACK
        self.server_port = int(self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 5  # an idle kept-alive connection must not hold stop() up
    # The headers and the body leave in two writes: with Nagle on, the body could wait for
    # the client's delayed ACK (40 ms on Linux), a stall no real Web API front end adds.
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path in ("/_clear", "/_wait"):
            self._send(self.server.fake.control(path, json.loads(body or b"{}")))
            return
        content_type = self.headers.get("Content-Type", "")
        self._send(self.server.fake.answer(path, content_type, query, body))

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/_stats":
            self._send(self.server.fake.counts())
        elif path == "/_calls":
            calls = self.server.fake.calls()
            self._send({"calls": [[c.method, c.channel, c.at] for c in calls]})
        elif path == "/_messages":
            chat = [c for c in self.server.fake.calls() if c.method.startswith("chat.")]
            self._send(
                {"messages": [[c.method, c.channel, c.ts, c.thread_ts, c.digest] for c in chat]}
            )
        else:
            self._send(self.server.fake.answer(path, "", query, b""))

    def _send(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: thousands of calls would drown the report."""


def main() -> None:
    with SlackFake() as fake:
        print(fake.port, flush=True)
        sys.stdin.read()  # the parent closes our stdin to stop us


if __name__ == "__main__":
    main()
