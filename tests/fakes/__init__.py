"""Loopback fakes of the services LaunchOps talks to, for end-to-end tests (DESIGN.md §6).

The end-to-end tests start the real app and let it speak the real protocols; the far ends are
these fakes. Each fake is a stdlib HTTP server bound to 127.0.0.1 on an ephemeral port, so tests
need no network, no mocks inside the app and no extra dependencies:

- `tests.fakes.slack_api.FakeSlackAPI`: the Slack Web API and `response_url`s;
- `tests.fakes.teams_connector.FakeBotConnector`: a Bot Framework `serviceUrl`;
- `tests.fakes.cards`: the Adaptive Card validator both use;
- `tests.fakes.slack_requests`: signed requests as Slack sends them to the app.

This module holds what the two servers share: the threaded loopback server, the request and
response records, and the scripted-failure queue.
"""

from __future__ import annotations

import json
import os
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import TCPServer
from types import TracebackType
from typing import Any, Self, TypeVar

__all__ = [
    "FailureScript",
    "HttpRequest",
    "HttpResponse",
    "LoopbackServer",
    "ScriptedFailure",
    "specs_dir",
]

T = TypeVar("T")

LOOPBACK = "127.0.0.1"


def specs_dir() -> Path:
    """The spec files the fakes check against: `$LAUNCHOPS_SPECS_DIR`, else the copies vendored
    in `tests/specs/` (so a clone alone can run the tests)."""
    override = os.environ.get("LAUNCHOPS_SPECS_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[1] / "specs"


@dataclass(frozen=True)
class HttpRequest:
    """One request as the fake saw it: header names are lower-cased, the path is still raw."""

    verb: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON (an empty body reads as `{}`)."""
        return json.loads(self.body) if self.body.strip() else {}


@dataclass(frozen=True)
class HttpResponse:
    """What a fake answers."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of_json(
        cls, payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        merged = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        return cls(status, json.dumps(payload).encode(), merged)


@dataclass
class ScriptedFailure:
    """An error answer to give instead of the real one, `remaining` more times."""

    key: str | None
    status: int
    headers: dict[str, str]
    body: bytes
    remaining: int


class FailureScript:
    """A thread-safe queue of scripted failures, matched by key (`None` matches every key)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[ScriptedFailure] = []

    def add(self, failure: ScriptedFailure) -> None:
        if failure.remaining < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._pending.append(failure)

    def take(self, key: str) -> ScriptedFailure | None:
        """The first pending failure for `key`, counting one use of it."""
        with self._lock:
            for failure in self._pending:
                if failure.key is None or failure.key == key:
                    failure.remaining -= 1
                    if failure.remaining == 0:
                        self._pending.remove(failure)
                    return failure
        return None

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()


class _Server(ThreadingHTTPServer):
    # Non-daemon handler threads are joined by server_close(), so no test leaks a thread.
    daemon_threads = False
    block_on_close = True

    def __init__(self, owner: LoopbackServer) -> None:
        self.owner = owner
        super().__init__((LOOPBACK, 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind() resolves the host name (a DNS lookup); loopback needs none.
        TCPServer.server_bind(self)
        self.server_name = LOOPBACK
        self.server_port = int(self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # An idle kept-alive connection must not keep a handler thread (and stop()) waiting.
    timeout = 5

    def _dispatch(self) -> None:
        path, _, query = self.path.partition("?")
        request = HttpRequest(
            verb=self.command,
            path=path,
            query=query,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self._read_body(),
        )
        response = self.server.owner.dispatch(request)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():  # trailers, up to the blank line
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the fakes' records say what happened, stderr noise would not."""


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1:<ephemeral>, run in the background while in use.

    Subclasses implement `handle()`. An exception there becomes a 500 answer and a problem in
    `problems`, so a bug in a fake shows up in `assert_valid()` instead of vanishing in a thread.
    Use as a context manager, or call `start()` and `stop()`.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.problems: list[str] = []

    # lifecycle -------------------------------------------------------------------------------
    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}:{self.port}",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        server.server_close()
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
            raise RuntimeError(f"{type(self).__name__} is not running")
        return self._server.server_port

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:PORT`, without a trailing slash."""
        return f"http://{LOOPBACK}:{self.port}"

    # requests ---------------------------------------------------------------------------------
    def handle(self, request: HttpRequest) -> HttpResponse:
        raise NotImplementedError

    def dispatch(self, request: HttpRequest) -> HttpResponse:
        try:
            return self.handle(request)
        except Exception as exc:  # a bug in the fake: report it, never hang the client
            self.add_problem(
                f"fake {type(self).__name__} failed on {request.verb} {request.path}: {exc!r}\n"
                + traceback.format_exc()
            )
            return HttpResponse.of_json({"ok": False, "error": "fake_internal_error"}, 500)

    # records ----------------------------------------------------------------------------------
    def add_problem(self, problem: str) -> None:
        with self._cond:
            self.problems.append(problem)

    def assert_valid(self) -> None:
        """Raise AssertionError listing every problem found in what the app sent."""
        with self._cond:
            problems = list(self.problems)
        if problems:
            listing = "\n".join(f"- {p}" for p in problems)
            raise AssertionError(
                f"{type(self).__name__} found {len(problems)} problem(s):\n{listing}"
            )

    def _append(self, records: list[T], record: T) -> None:
        with self._cond:
            records.append(record)
            self._cond.notify_all()

    def _snapshot(self, records: list[T]) -> list[T]:
        with self._cond:
            return list(records)

    def _wait(
        self,
        records: list[T],
        matches: Callable[[T], bool],
        count: int,
        timeout: float,
        wanted: str,
        describe: Callable[[Sequence[T]], str],
    ) -> list[T]:
        """Block until `count` records match; else raise AssertionError showing what came."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [r for r in records if matches(r)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"waited {timeout:g}s for {count} x {wanted}, got {len(found)}; "
                        f"received:\n{describe(records) or '  (nothing)'}"
                    )
                self._cond.wait(left)
