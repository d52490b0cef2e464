"""The load of bench/load.py: a mix of signed Slack requests, sent open-loop, failing over.

Each slot of a fixed schedule (`rate` a second to each target, round robin) becomes one
request, chosen by its place in a cycle of twenty (`MIX`): `/owner rag` (a question), `/incident
p3 …` (a declaration that pages nobody), `/incident p1|p2 …` (a declaration that pages), an
Acknowledge click on the page of an earlier P1/P2 (`block_actions` as Slack posts it, the
card's `run_command` button), or the next step of a gate cycle on the example org's Ticket
summarizer: Bob's `/gate request ticket-summarizer pilot`, Grace's Approve button on it
(`gate_approve`, `<id>:1`), Erin's `/gate reject <id> …`, and again. A click or gate step
with nothing to act on yet is an owner lookup instead, so the rate holds.

Open loop: a slot is sent at its time whatever the answers before it, so a slow server
meets the same arrivals as a fast one and its queueing shows in the latencies. Like a load
balancer in front of Slack's retries, a request whose connection fails (a replica killed) is
sent again, the same body, to the next target with `X-Slack-Retry-Num` 1, 2, 3; a request's
latency runs from its first attempt to its answer. What every answered request did is kept
(`Ledger`) so bench/_load_check.py can find it in the store and in the fake Web API.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bench._ack_driver import REQUEST_TIMEOUT
from bench.slack_ack import Commands

TEAM = "T0BENCH"
CHANNEL = "C0GENERAL"
# A cycle of twenty slots: owner 40%, p3 25%, gate 15%, page 10%, ack 10%, interleaved so
# that even a few seconds' run has a gate cycle and an acknowledgement in it.
MIX = (
    "owner", "p3", "gate", "owner", "page", "owner", "p3", "ack", "gate", "owner",
    "p3", "owner", "page", "gate", "owner", "p3", "ack", "owner", "p3", "owner",
)  # fmt: skip
# (severity, component, who acknowledges: one of its Responsible team, whom the service lets)
PAGING = (("p1", "retriever", "U0CHRIS"), ("p2", "inference-gateway", "U0IVY"))
GATE_PROJECT = "ticket-summarizer"  # in `poc`; its pilot gate asks Grace and Erin
RETRIES = 3  # Slack redelivers a request up to three times
_CONNECTION = (aiohttp.ClientConnectionError, TimeoutError)
_INCIDENT = re.compile(r"INC-(\d+)")
_GATE = re.compile(r"gate #(\d+)")


@dataclass(frozen=True)
class Request:
    kind: str  # owner | p3 | page | ack | gate-request | gate-approve | gate-reject
    body: bytes
    key: str = ""  # the declaration's title, the incident or gate id acted on


@dataclass
class Ledger:
    """What was asked and what came of it: the load's side of the exactly-once check."""

    declared: dict[str, int | None] = field(default_factory=dict)  # title → INC id, acked
    unanswered_declarations: list[str] = field(default_factory=list)
    acknowledged: list[int] = field(default_factory=list)  # incidents whose click got a 200
    gates: list[int] = field(default_factory=list)  # requests opened
    decisions: list[tuple[int, str, str]] = field(default_factory=list)  # (gate, person, verdict)
    bad_answers: list[str] = field(default_factory=list)  # 200s that said something wrong


@dataclass
class Result:
    label: str
    targets: int
    rate: float  # a second, per target
    seconds: float
    samples_ms: list[float] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)  # final outcome per request
    attempt_errors: Counter[str] = field(default_factory=Counter)  # failed attempts, retried
    retried: int = 0  # requests answered only after a retry
    lag_ms: float = 0.0  # how late the driver sent its latest slot
    wall_s: float = 0.0
    ledger: Ledger = field(default_factory=Ledger)

    @property
    def sent(self) -> int:
        return sum(self.outcomes.values())

    @property
    def errors(self) -> int:
        return sum(n for outcome, n in self.outcomes.items() if outcome != "200")


class Workload:
    """Chooses each slot's request from the mix and reads what its answer says."""

    def __init__(self, response_base: str, *, bot: bool = True) -> None:
        self.bot = bot  # False: the bare endpoint, which only knows /owner and /incident
        self.tag = uuid.uuid4().hex[:6]
        self.commands = Commands(response_base, tag=self.tag)
        self._response_base = response_base
        self._n = itertools.count()
        self._to_ack: deque[tuple[int, str]] = deque()  # (incident, who clicks)
        self._clicker: dict[str, str] = {}  # a paging declaration's title → who clicks
        self._gate: int | None = None  # the open request of the cycle
        self._gate_step = 0  # 0 request, 1 approve, 2 reject
        self._gate_busy = False
        self.ledger = Ledger()

    # choosing -----------------------------------------------------------------------------
    def next(self, slot: int) -> Request:
        kind = MIX[slot % len(MIX)]
        n = next(self._n)
        if kind in ("p3", "page"):
            severity, component, clicker = (
                PAGING[n % 2] if kind == "page" else ("p3", "retriever", "")
            )
            title = f"load {self.tag} {n:06d} {severity}"
            text = f"{severity} {component}: {title}" if self.bot else f"p3 retriever: {title}"
            self._clicker[title] = clicker
            return Request(kind, self._slash("/incident", text, "U0ALICE", n), title)
        if not self.bot:
            return Request("owner", self._slash("/owner", "rag", "U0CAROL", n))
        if kind == "ack" and self._to_ack:
            incident, clicker = self._to_ack.popleft()
            value = f"incident ack {incident}"
            return Request("ack", self._click("run_command:0", value, clicker, n), str(incident))
        if kind == "gate" and not self._gate_busy:
            step = self._gate_step_request(n)
            if step is not None:
                self._gate_busy = True
                return step
        return Request("owner", self._slash("/owner", "rag", "U0CAROL", n))

    def _gate_step_request(self, n: int) -> Request | None:
        if self._gate_step == 0:
            text = f"request {GATE_PROJECT} pilot"
            return Request("gate-request", self._slash("/gate", text, "U0BOB", n))
        assert self._gate is not None
        if self._gate_step == 1:
            body = self._click("gate_approve:0", f"{self._gate}:1", "U0GRACE", n)
            return Request("gate-approve", body, str(self._gate))
        text = f"reject {self._gate} load bench {self.tag} cycle {n}"
        return Request("gate-reject", self._slash("/gate", text, "U0ERIN", n), str(self._gate))

    def _slash(self, command: str, text: str, user: str, n: int) -> bytes:
        fields = {
            "token": "legacy-verification-token",
            "team_id": TEAM,
            "channel_id": CHANNEL,
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0LAUNCHOPS",
            "response_url": f"{self._response_base}{self.tag}-{n}",
            "trigger_id": f"{int(time.time())}.{n}.{self.tag}{uuid.uuid4().hex}",
        }
        return urlencode(fields).encode()

    def _click(self, action_id: str, value: str, user: str, n: int) -> bytes:
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
            "api_app_id": "A0LAUNCHOPS",
            "token": "legacy-verification-token",
            "container": {"type": "message", "message_ts": "1700000000.000100",
                          "channel_id": f"D{user}", "is_ephemeral": False},
            "trigger_id": f"{int(time.time())}.{n}.{self.tag}{uuid.uuid4().hex}",
            "team": {"id": TEAM, "domain": "launchops-bench"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": f"D{user}", "name": "directmessage"},
            "message": {"type": "message", "user": "UBOT", "ts": "1700000000.000100", "text": ""},
            "state": {"values": {}},
            "response_url": f"{self._response_base}{self.tag}-{n}",
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": "actions",
                    "text": {"type": "plain_text", "text": "Button", "emoji": True},
                    "value": value,
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }  # fmt: skip
        return urlencode({"payload": json.dumps(payload)}).encode()

    # reading answers ------------------------------------------------------------------------
    def answered(self, request: Request, status: int | None, body: bytes) -> None:
        """Note what a request's final answer (None: no answer at all) did."""
        text = body.decode("utf-8", "replace")
        ok = status == 200
        if request.kind in ("p3", "page"):
            found = _INCIDENT.search(text) if ok else None
            if found is None:
                self.ledger.unanswered_declarations.append(request.key)
                if ok:
                    self.ledger.bad_answers.append(f"{request.kind}: {text[:200]}")
                return
            self.ledger.declared[request.key] = int(found.group(1))
            if request.kind == "page" and self.bot:
                self._to_ack.append((int(found.group(1)), self._clicker[request.key]))
        elif request.kind == "owner":
            if ok and "Retriever" not in text:
                self.ledger.bad_answers.append(f"owner: {text[:200]}")
        elif request.kind == "ack":
            if ok:
                self.ledger.acknowledged.append(int(request.key))
        else:
            self._gate_answered(request, ok, text)

    def _gate_answered(self, request: Request, ok: bool, text: str) -> None:
        self._gate_busy = False
        if not ok:
            return  # the same step again at the next gate slot (its retry, as a person would)
        if request.kind == "gate-request":
            found = _GATE.search(text)
            if found is None or not any(w in text for w in ("Requested", "already")):
                self.ledger.bad_answers.append(f"gate request: {text[:200]}")
                return
            self._gate = int(found.group(1))
            self.ledger.gates.append(self._gate)
            self._gate_step = 1
        elif request.kind == "gate-approve":  # its answer goes to the response_url
            self.ledger.decisions.append((int(request.key), "grace", "approve"))
            self._gate_step = 2
        else:
            if "You rejected" not in text and "already recorded" not in text:
                self.ledger.bad_answers.append(f"gate reject: {text[:200]}")
            self.ledger.decisions.append((int(request.key), "erin", "reject"))
            self._gate_step, self._gate = 0, None


async def _send(
    sessions: Sequence[aiohttp.ClientSession],
    first: int,
    request: Request,
    sign: Callable[[bytes], dict[str, str]],
    result: Result,
) -> tuple[int | None, bytes]:
    """One request, failed over to the next target on a connection error; (status, body)."""
    for attempt in range(RETRIES + 1):
        headers = sign(request.body)
        if attempt:
            headers |= {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_error"}
        session = sessions[(first + attempt) % len(sessions)]
        try:
            async with session.post("/slack/events", data=request.body, headers=headers) as r:
                body = await r.read()
        except _CONNECTION as exc:
            result.attempt_errors[type(exc).__name__] += 1
            continue
        if attempt:
            result.retried += 1
        return r.status, body
    return None, b""


class Stream:
    """One target's keep-alive sessions and its place in the schedule, kept across the slices
    of an interleaved run (bench/_load_slices.py): a slice opens no connection anew, and the
    mix and the round robin go on where the previous slice left them."""

    def __init__(
        self,
        urls: Sequence[str],
        workload: Workload,
        sign: Callable[[bytes], dict[str, str]],
        rate: float,
    ) -> None:
        self.urls = list(urls)
        self.workload = workload
        self.rate = rate  # a second, per target
        self._sign = sign
        self._slot = 0
        self._sessions: list[aiohttp.ClientSession] = []

    async def __aenter__(self) -> Stream:
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        self._sessions = [
            aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=64), timeout=timeout)
            for url in self.urls
        ]
        return self

    async def __aexit__(self, *_: object) -> None:
        for session in self._sessions:
            await session.close()

    async def run(self, result: Result, seconds: float) -> None:
        """Send the next `seconds` of slots, open loop, into `result`; wait for every answer."""
        total_rate = self.rate * len(self.urls)
        slots = round(seconds * total_rate)
        first = self._slot
        self._slot += slots
        workload, sessions, sign = self.workload, self._sessions, self._sign

        async def one(slot: int, request: Request) -> None:
            started = time.perf_counter()
            status, body = await _send(sessions, slot % len(sessions), request, sign, result)
            elapsed = (time.perf_counter() - started) * 1000
            workload.answered(request, status, body)
            result.outcomes["no answer after retries" if status is None else str(status)] += 1
            if status is not None:
                result.samples_ms.append(elapsed)
                result.by_kind.setdefault(request.kind, []).append(elapsed)

        tasks = []
        begun = time.perf_counter()
        for n in range(slots):
            due = begun + n / total_rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                result.lag_ms = max(result.lag_ms, -delay * 1000)
            slot = first + n
            tasks.append(asyncio.create_task(one(slot, workload.next(slot))))
        await asyncio.gather(*tasks)
        result.wall_s += time.perf_counter() - begun
        result.ledger = workload.ledger


def merge(into: Result, part: Result) -> None:
    """Add a slice's requests to a pooled result."""
    into.seconds += part.seconds
    into.samples_ms += part.samples_ms
    for kind, values in part.by_kind.items():
        into.by_kind.setdefault(kind, []).extend(values)
    into.outcomes.update(part.outcomes)
    into.attempt_errors.update(part.attempt_errors)
    into.retried += part.retried
    into.lag_ms = max(into.lag_ms, part.lag_ms)
    into.wall_s += part.wall_s
    into.ledger = part.ledger


async def _run(
    label: str,
    urls: Sequence[str],
    workload: Workload,
    sign: Callable[[bytes], dict[str, str]],
    rate: float,
    seconds: float,
) -> Result:
    result = Result(label, len(urls), rate, seconds)
    async with Stream(urls, workload, sign, rate) as stream:
        await stream.run(result, seconds)
    return result


def run_load(
    label: str,
    urls: Sequence[str],
    workload: Workload,
    sign: Callable[[bytes], dict[str, str]],
    rate: float,
    seconds: float,
) -> Result:
    """Send `rate` requests a second to each of `urls` for `seconds`; wait for every answer."""
    return asyncio.run(_run(label, urls, workload, sign, rate, seconds))
