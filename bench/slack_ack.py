"""Slack slash-command ack latency: LaunchOps beside a bare slack_bolt endpoint, same run.

Two series, each signed slash commands over keep-alive connections with 16 in flight:
`/owner rag`, a question (answered in the ack body, writing nothing), and `/incident p3 …`,
a declaration (committed, with its audit line, before the ack; P3 pages nobody, so the
figure is the declaration's own path). The baseline is bolt itself (bench/_bare_ack.py):
the same command routed by slack_bolt to a listener that acks with an ephemeral answer,
after committing one row to a WAL SQLite file for `/incident`. Both servers run as
`launchops serve` runs the bot (uvicorn.run, one process); the bot has its dispatcher,
scheduler and a loopback Slack Web API (its own process). CPU per request is the server
process's own CPU time over the timed requests, read from /proc.

All the servers are started first and kept running, and the requests go in slices, the cases
taking turns (the order reversed every round), so a baseline and the bot it is compared
with meet the same machine: on a shared box the background load drifts by the minute, and
run one after the other the same code measured 2.5 to 5 ms of CPU per declaration.
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier
from sqlmodel import Session, col, func, select

from bench import Options
from bench._ack_driver import REPO, Server, cpu_seconds, drive, serving, slack_fake_process
from bench.owner_lookup import postgres_database, sig3
from launchops.store import make_engine
from launchops.store.models import Incident

CONFIG_DIR = REPO / "config"  # the example organisation `make run` loads
SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench-token"
USERS = ("U0CAROL", "U0CHRIS", "U0ALICE", "U0HENRY", "U0IVY")  # catalog people
SERVE = (sys.executable, "-c", "from launchops.cli import app; app()", "serve")
BARE = (sys.executable, "-m", "bench._bare_ack")
FORM = "application/x-www-form-urlencoded"
SLACK_ACK_MS = 3000.0  # Slack shows the user an error when the ack takes longer
BARE_ASYNC = "bare slack_bolt (AsyncApp)"
BARE_SYNC = "bare slack_bolt (sync App, thread pool)"
P99_TARGET = 3.0  # issue 8: LaunchOps' p99 at most 3× bare bolt's, for both series
SERIES = {"/owner": "rag", "/incident": "p3 retriever: ack bench {tag} {n:06d} slow answers"}


@dataclass(frozen=True)
class Case:
    label: str
    samples_ms: tuple[float, ...]
    outcomes: Mapping[str, int]  # HTTP status or exception name → count
    wall_s: float
    cpu_s: float

    @property
    def errors(self) -> int:
        return sum(n for outcome, n in self.outcomes.items() if outcome != "200")

    def percentile(self, p: int) -> float:
        if len(self.samples_ms) == 1:
            return self.samples_ms[0]
        return statistics.quantiles(self.samples_ms, n=100, method="inclusive")[p - 1]


@dataclass
class Commands:
    """Distinct signed slash commands: own trigger_id, own response_url, signed when sent."""

    response_base: str
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    _numbers: itertools.count[int] = field(default_factory=itertools.count)
    _verifier: SignatureVerifier = field(default_factory=lambda: SignatureVerifier(SECRET))

    def body(self, command: str) -> bytes:
        n = next(self._numbers)
        user = USERS[n % len(USERS)]
        fields = {
            "token": "legacy-verification-token",
            "team_id": "T0BENCH",
            "channel_id": "C0DATA",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": SERIES[command].format(tag=self.tag, n=n),
            "api_app_id": "A0LAUNCHOPS",
            "response_url": f"{self.response_base}{self.tag}-{n}",
            "trigger_id": f"{int(time.time())}.{n}.{self.tag}{uuid.uuid4().hex}",
        }
        return urlencode(fields).encode()

    def sign(self, body: bytes) -> dict[str, str]:
        ts = str(int(time.time()))
        signature = self._verifier.generate_signature(timestamp=ts, body=body)
        assert signature is not None
        return {
            "Content-Type": FORM,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature,
        }


def _warmup(options: Options) -> int:
    return min(100, max(5, options.ack_requests // 10))


def _slices(options: Options) -> int:
    """Slices per case: a few hundred requests each, at least two so the cases interleave."""
    return max(2, min(5, options.ack_requests // 300))


@dataclass
class Tally:
    """One case's measured slices so far, pooled."""

    samples: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    wall_s: float = 0.0
    cpu_s: float = 0.0

    def case(self, label: str) -> Case:
        return Case(label, tuple(self.samples), self.outcomes, self.wall_s, self.cpu_s)


def measure_slice(server: Server, command: str, count: int, tally: Tally, concurrency: int) -> None:
    commands = Commands("http://127.0.0.1:9/response/")
    bodies = [commands.body(command) for _ in range(count)]
    cpu = cpu_seconds(server.pid)
    samples, outcomes, wall = drive(server.url, bodies, commands.sign, concurrency)
    tally.cpu_s += cpu_seconds(server.pid) - cpu
    tally.samples += samples
    tally.outcomes.update(outcomes)
    tally.wall_s += wall


def measure_interleaved(
    servers: Mapping[str, Server], options: Options
) -> dict[str, dict[str, Case]]:
    """{command: {label: Case}}: a warm-up slice per server and command (not counted), then
    the measured slices in rounds, each round's order the last one's reversed."""
    slices = _slices(options)
    share, rest = divmod(options.ack_requests, slices)
    sizes = [share + (i < rest) for i in range(slices)]
    tallies = {command: {label: Tally() for label in servers} for command in SERIES}
    for command in SERIES:
        for server in servers.values():
            measure_slice(server, command, _warmup(options), Tally(), options.ack_concurrency)
    labels = list(servers)
    for round_number, size in enumerate(sizes):
        order = labels if round_number % 2 == 0 else labels[::-1]
        for command in SERIES:
            for label in order:
                measure_slice(
                    servers[label], command, size, tallies[command][label], options.ack_concurrency
                )
    return {
        command: {label: tally.case(label) for label, tally in found.items()}
        for command, found in tallies.items()
    }


def _bot_env(database_url: str, fake: str) -> dict[str, str]:
    return {
        "LAUNCHOPS_DATABASE_URL": database_url,
        "LAUNCHOPS_CONFIG_DIR": str(CONFIG_DIR),
        "LAUNCHOPS_CHAT_PLATFORMS": "slack",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": f"{fake}/api/",
    }


def _declared(database_url: str) -> int:
    """Incidents the /incident series declared: each must be committed by its ack."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            query = select(func.count()).where(col(Incident.title).startswith("ack bench "))
            return int(session.exec(query).one())
    finally:
        engine.dispose()


def render(command: str, cases: Sequence[Case]) -> list[str]:
    base = cases[0]
    width = max(len(c.label) for c in cases)
    points = (50, 95, 99)
    lines = [
        f"{command} — {'case':<{width - len(command) - 3}} {'n':>6} {'errors':>6} {'>3 s':>4}"
        f" {'req/s':>6} {'CPU ms/req':>10}"
        + "".join(f" {f'p{p} ms':>7}" for p in points)
        + f" {'max ms':>7} {'p50×base':>8} {'p99×base':>8}"
    ]
    for case in cases:
        n = len(case.samples_ms)
        values = [sig3(case.percentile(p)) if n else "—" for p in points]
        ratios = [
            sig3(case.percentile(p) / base.percentile(p)) if n and base.samples_ms else "—"
            for p in (50, 99)
        ]
        rate = sig3(n / case.wall_s) if case.wall_s > 0 else "—"
        cpu = sig3(case.cpu_s * 1000 / n) if n and case.cpu_s > 0 else "—"
        late = sum(1 for ms in case.samples_ms if ms > SLACK_ACK_MS)
        slowest = sig3(max(case.samples_ms)) if n else "—"
        lines.append(
            f"{case.label:<{width}} {n:>6,} {case.errors:>6,} {late:>4,} {rate:>6} {cpu:>10}"
            + "".join(f" {v:>7}" for v in values)
            + f" {slowest:>7}"
            + "".join(f" {r:>8}" for r in ratios)
        )
        if case.errors:
            shown = ", ".join(f"{k}×{v:,}" for k, v in sorted(case.outcomes.items()))
            lines.append(f"  {case.label}: answers {shown}")
    return lines


def summary(cases: Mapping[str, Sequence[Case]]) -> list[str]:
    """The issue's table, as the README quotes it: per series and store, bare bolt (AsyncApp)
    beside LaunchOps, the p99 ratio against its target, CPU per request and throughput; and
    what bolt's sync App in a thread pool costs against its AsyncApp."""
    lines = [
        "",
        "| series | bare bolt p50 / p99 | LaunchOps p50 / p99 | p99 ratio (target ≤ 3) "
        "| CPU ms/request (bolt / bot) | req/s (bolt / bot) |",
        "|---|---|---|---|---|---|",
    ]
    sync_notes = []
    for command, found in cases.items():
        base = next((c for c in found if c.label == BARE_ASYNC and c.samples_ms), None)
        if base is None:
            continue
        for case in found:
            if not case.label.startswith("LaunchOps") or not case.samples_ms:
                continue
            ratio = case.percentile(99) / base.percentile(99)
            met = "met" if ratio <= P99_TARGET else "NOT met"
            store = case.label.removeprefix("LaunchOps, ")
            lines.append(
                f"| `{command} {SERIES[command].split(' ')[0]}` ({store}) "
                f"| {_ms(base, 50)} / {_ms(base, 99)} ms | {_ms(case, 50)} / {_ms(case, 99)} ms "
                f"| {sig3(ratio)} ({met}) | {_cpu(base)} / {_cpu(case)} "
                f"| {_rate(base)} / {_rate(case)} |"
            )
        sync = next((c for c in found if c.label == BARE_SYNC and c.samples_ms), None)
        if sync is not None:
            sync_notes.append(
                f"{command}: p50 {_ms(sync, 50)} / p99 {_ms(sync, 99)} ms, "
                f"{_cpu(sync)} ms CPU, {_rate(sync)} req/s "
                f"(p99 {sig3(sync.percentile(99) / base.percentile(99))}× the AsyncApp's)"
            )
    if sync_notes:
        lines.append(
            "bolt's sync App in a thread pool (as LaunchOps runs it on PostgreSQL; on SQLite it "
            "runs it on the event loop) vs its AsyncApp:"
        )
        lines += [f"  {note}" for note in sync_notes]
    return lines


def _ms(case: Case, p: int) -> str:
    return sig3(case.percentile(p))


def _cpu(case: Case) -> str:
    return sig3(case.cpu_s * 1000 / len(case.samples_ms)) if case.cpu_s > 0 else "—"


def _rate(case: Case) -> str:
    return sig3(len(case.samples_ms) / case.wall_s) if case.wall_s > 0 else "—"


def run(options: Options) -> str:
    load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at start"
    with tempfile.TemporaryDirectory(prefix="launchops-bench-") as directory, ExitStack() as stack:
        workdir = Path(directory)
        bare_env = {"BENCH_SIGNING_SECRET": SECRET, "BENCH_DATABASE": str(workdir / "bare.db")}
        servers = {BARE_ASYNC: stack.enter_context(serving(BARE, bare_env, workdir, "bare-bolt"))}
        fake = stack.enter_context(slack_fake_process())
        stores = [("SQLite", f"sqlite:///{workdir}/bench.db")]
        if options.postgres_url:
            pg = stack.enter_context(postgres_database(options.postgres_url))
            stores.append(("PostgreSQL", pg))
        for backend, url in stores:
            env = _bot_env(url, fake)
            label = f"LaunchOps, {backend}"
            servers[label] = stack.enter_context(
                serving(SERVE, env, workdir, f"launchops-{backend.lower()}")
            )
        # Issue 8 item 4, measured rather than assumed: bolt's sync App in Starlette's thread
        # pool (as the bot runs it on PostgreSQL) beside its AsyncApp on the event loop.
        sync_env = {**bare_env, "BENCH_BOLT_MODE": "sync", "BENCH_DATABASE": str(workdir / "s.db")}
        servers[BARE_SYNC] = stack.enter_context(serving(BARE, sync_env, workdir, "bare-bolt-sync"))
        measured = measure_interleaved(servers, options)
        notes = [
            f"{backend}: {_declared(url):,} incidents in the store afterwards"
            for backend, url in stores
        ]
    cases = {command: list(found.values()) for command, found in measured.items()}
    lines = [
        f"Slack slash-command ack — {options.ack_requests:,} signed requests per case, "
        f"{options.ack_concurrency} in flight (`/owner rag`; `/incident p3 retriever: …`)"
    ]
    for command, found in cases.items():
        lines += render(command, found)
    lines += summary(cases)
    expected = options.ack_requests + _warmup(options)
    lines += [f"{note} (expected {expected:,}: every /incident request)" for note in notes]
    lines += [
        f"ack = the HTTP response to a signed request, timed by the client, after "
        f"{_warmup(options)} untimed requests; CPU = the server process's own; "
        f"the cases interleaved in {_slices(options)} slices each",
        "both servers: uvicorn.run, one process, log_level=info (as `launchops serve` runs)",
        "client: aiohttp, keep-alive; the bot's Slack Web API: a loopback fake, own process",
        load,
    ]
    return "\n".join(lines)
