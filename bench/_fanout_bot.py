"""The processes and wiring the P0 fan-out benchmark (bench/page_fanout.py) drives.

Kept apart from the measurement so that page_fanout.py reads as what it measures and how it
reports it: here are the bot as `build_context` wires it (LiveBot), the loopback Slack Web API
it pages through (RemoteFake), the JSON logging `launchops serve` would do, and the helpers
that read the fake's record of calls.

The fake runs in its own process, as Slack does: in ours, its CPU would be charged to the
bot and it would hold the GIL the bot's delivery workers need, which no real deployment
pays. Arrival times are still the fake's `perf_counter()`, the system-wide monotonic clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import structlog
from sqlalchemy import select

from bench._slack_fake import Call
from launchops.delivery.outbox import outbox_table
from launchops.logging_setup import processors
from launchops.main import build_context
from launchops.services.incidents import Actor, Declared
from launchops.settings import Settings

COMPONENT = "checkout-api"
BOT_TOKEN = "xoxb-bench-token"


@dataclass(frozen=True)
class Message:
    """One outbox row of the P0, as the baseline re-sends it."""

    kind: str  # dm | post
    target: str  # the Slack user (dm) or channel (post)
    payload: dict[str, Any]

    @property
    def channel(self) -> str:
        """Where its chat.postMessage lands: the fake opens DMs as `D<user>`."""
        return f"D{self.target}" if self.kind == "dm" else self.target


@contextmanager
def json_logs_to(path: Path) -> Iterator[None]:
    """Log as `launchops serve` does (its processors, masking included: JSON lines) but into
    `path`, not over the report.

    The rendering stays in the measured path, as in production; the previous structlog
    configuration is restored afterwards (the test suite shares the process).
    """
    saved = structlog.get_config()
    with path.open("w", encoding="utf-8") as log:
        structlog.configure(
            processors=processors(structlog.processors.JSONRenderer()),
            logger_factory=structlog.WriteLoggerFactory(file=log),
            cache_logger_on_first_use=False,
        )
        try:
            yield
        finally:
            structlog.configure(**saved)


def post_arrivals(calls: Sequence[Call], channels: set[str], since: float) -> tuple[float, ...]:
    """Per expected channel, when its first chat.postMessage arrived (ms after `since`)."""
    first: dict[str, float] = {}
    for call in calls:
        if call.method == "chat.postMessage" and call.channel in channels:
            first.setdefault(call.channel, call.at)
    return tuple((at - since) * 1000 for at in first.values())


class RemoteFake:
    """bench/_slack_fake.py in a process of its own, driven over its control endpoints."""

    def __init__(self) -> None:
        root = Path(__file__).resolve().parent.parent
        path = os.pathsep.join(filter(None, (str(root), os.environ.get("PYTHONPATH"))))
        self._process = subprocess.Popen(
            (sys.executable, "-m", "bench._slack_fake"),
            env={**os.environ, "PYTHONPATH": path},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        port = int(self._process.stdout.readline().strip() or 0)
        if not port:
            self.close()
            raise RuntimeError("the Slack fake did not start")
        self._origin = f"http://127.0.0.1:{port}"

    @property
    def url(self) -> str:
        return f"{self._origin}/api/"

    def _call(self, path: str, body: dict[str, Any] | None = None, timeout: float = 10) -> Any:
        data = None if body is None else json.dumps(body).encode()
        with urllib.request.urlopen(f"{self._origin}{path}", data, timeout) as response:
            return json.loads(response.read())

    def calls(self) -> list[Call]:
        return [Call(m, c, at) for m, c, at in self._call("/_calls")["calls"]]

    def clear(self) -> None:
        self._call("/_clear", {})

    def wait_for_posts(self, channels: set[str], timeout: float) -> bool:
        """Until each channel has had a chat.postMessage: one blocking request, no polling."""
        body = {"channels": sorted(channels), "timeout": timeout}
        return bool(self._call("/_wait", body, timeout + 10)["ok"])

    def close(self) -> None:
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.close()  # its signal to stop
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process.stdout.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def call_counts(calls: Sequence[Call]) -> str:
    counts = Counter(call.method for call in calls)
    return ", ".join(f"{n:,} {method}" for method, n in sorted(counts.items())) or "none"


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


class LiveBot:
    """The bot's own wiring (`build_context`) over `url`, paging through the fake Web API."""

    def __init__(self, url: str, fake: RemoteFake) -> None:
        settings = Settings(
            _env_file=None,
            LAUNCHOPS_DATABASE_URL=url,
            LAUNCHOPS_CHAT_PLATFORMS="slack",
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET="bench-signing-secret",
            SLACK_API_URL=fake.url,
            MicrosoftAppId="",
        )
        self.ctx = build_context(settings)
        self.commits: list[float] = []
        self.ctx.incidents.set_wakeup(self._committed)
        self.stopped = False

    def _committed(self) -> None:
        """IncidentService calls this right after a transaction with outbox rows commits."""
        self.commits.append(time.perf_counter())
        self.ctx.dispatcher.wake()

    def __enter__(self) -> Self:
        self.ctx.dispatcher.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopped = self.ctx.dispatcher.stop()
        self.ctx.close()

    def settings(self) -> str:
        d = self.ctx.dispatcher
        return (
            f"{d._workers} workers, batch_size={d._batch_size}, "
            f"poll_interval={d._poll_interval:g} s\n"
            f"  (a commit wakes it at once), claim_ttl={d._claim_ttl.total_seconds():g} s, "
            f"max_attempts={d._max_attempts}"
        )

    def declare(self, level: str, title: str) -> tuple[Declared, list[Message], float, float]:
        """(declared, its outbox messages, perf_counter at commit, ms the declaration took)."""
        self.commits.clear()
        started = time.perf_counter()
        declared = self.ctx.incidents.declare(
            level=level, title=title, actor=Actor.system_actor("bench"), component_query=COMPONENT
        )
        committed = self.commits[0]
        return (
            declared,
            self._messages(declared.incident.id),
            committed,
            (committed - started) * 1000,
        )

    def _messages(self, incident_id: int) -> list[Message]:
        o = outbox_table
        with self.ctx.engine.connect() as conn:
            rows = conn.execute(
                select(o.c.kind, o.c.destination, o.c.payload)
                .where(o.c.dedupe_key.like(f"incident:{incident_id}:%"))
                .order_by(o.c.id)
            ).all()
        messages = []
        for kind, destination, payload in rows:
            if kind == "dm":
                messages.append(Message("dm", destination["user"], payload))
            elif kind == "post" and destination.get("channel"):
                messages.append(Message("post", destination["channel"], payload))
        return messages
