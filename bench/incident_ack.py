"""`/incident p1 …` ack latency in the real app, beside a bare signed endpoint that only acks.

Slack gives a slash command 3 seconds; LaunchOps commits the declaration and its outbox rows
before it acks (DESIGN.md §5), so the store's write path — SQLite's single writer included —
is part of this figure. The bot runs as `launchops serve` runs it, in its own process, with
its dispatcher and scheduler, and delivers its pages to a loopback Slack Web API (another
process, so the fake's CPU is not charged to the bot). The baseline is a Starlette endpoint
that verifies the same signature with slack_sdk and acks, served by uvicorn the same way and
driven by the same client at the same concurrency in the same run: the ratios show what the
bot adds to the cheapest possible ack on this machine.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import httpx
from slack_sdk.signature import SignatureVerifier
from sqlmodel import Session, col, func, select

from bench import Options
from bench.owner_lookup import postgres_database, sig3
from launchops.store import make_engine
from launchops.store.models import Incident

REPO = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO / "config"  # the example organisation `make run` loads
SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench-token"
COMPONENT = "retriever"  # a P1 on it pages the data team's on-call and posts in its channel
CHANNEL = "C0DATA"
USERS = ("U0CAROL", "U0CHRIS", "U0ALICE", "U0HENRY", "U0IVY")  # catalog people declare
FORM = "application/x-www-form-urlencoded"
SERVE = (sys.executable, "-c", "from launchops.cli import app; app()", "serve")
BARE = (sys.executable, "-m", "bench._bare_ack")
FAKE = (sys.executable, "-m", "bench._slack_fake")
START_TIMEOUT = 60.0  # migrations + config sync + imports, on a slow runner
PHASE_TIMEOUT = 300.0  # one case's requests; what is left unsent then counts as errors
REQUEST_TIMEOUT = 30.0
COMMIT_TIMEOUT = 180.0  # waiting for every declaration to be in the store
STALL_TIMEOUT = 30.0  # …unless the count stops growing for this long
SLACK_ACK_MS = 3000.0  # Slack shows the user an error when the ack takes longer


@dataclass(frozen=True)
class Case:
    """One row of the report: the ack latency of every answered request, and what came back."""

    label: str
    samples_ms: tuple[float, ...]
    outcomes: Mapping[str, int]  # HTTP status or exception name → count
    wall_s: float
    notes: tuple[str, ...] = ()
    command: str = ""  # what was sent, for the title

    @property
    def errors(self) -> int:
        return sum(n for outcome, n in self.outcomes.items() if outcome != "200")

    def percentile(self, p: int) -> float:
        if len(self.samples_ms) == 1:
            return self.samples_ms[0]
        return statistics.quantiles(self.samples_ms, n=100, method="inclusive")[p - 1]


@dataclass
class SlashCommands:
    """Distinct signed slash commands: own trigger_id, own title, signed when sent."""

    command: str
    prefix: str  # "" for /incident, "incident " for `/launchops incident …`
    response_base: str
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    _verifier: SignatureVerifier = field(default_factory=lambda: SignatureVerifier(SECRET))
    _numbers: Iterator[int] = field(default_factory=itertools.count)

    def title_prefix(self, batch: str) -> str:
        return f"ack bench {self.tag} {batch} request "

    def body(self, batch: str, index: int) -> bytes:
        number = next(self._numbers)
        title = f"{self.title_prefix(batch)}{index:05d} returns empty answers"
        fields = {
            "token": "legacy-verification-token",
            "team_id": "T0BENCH",
            "team_domain": "launchops-bench",
            "channel_id": CHANNEL,
            "channel_name": "data",
            "user_id": USERS[number % len(USERS)],
            "user_name": USERS[number % len(USERS)].lower(),
            "command": self.command,
            "text": f"{self.prefix}p1 {COMPONENT}: {title}",
            "api_app_id": "A0LAUNCHOPS",
            "is_enterprise_install": "false",
            "response_url": f"{self.response_base}{self.tag}-{number}",
            "trigger_id": f"{int(time.time())}.{number}.{self.tag}{uuid.uuid4().hex}",
        }
        return urlencode(fields).encode()

    def headers(self, body: bytes) -> dict[str, str]:
        """Signed now, as Slack signs each request it sends (the window is 5 minutes)."""
        ts = str(int(time.time()))
        signature = self._verifier.generate_signature(timestamp=ts, body=body)
        assert signature is not None
        return {
            "Content-Type": FORM,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature,
        }


# processes ---------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(extra: Mapping[str, str]) -> dict[str, str]:
    """Ours plus the parent's, minus any LaunchOps/Slack/Teams settings it happens to carry."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LAUNCHOPS_", "SLACK_", "Microsoft", "MICROSOFT"))
    }
    path = os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))
    return {**inherited, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1", **extra}


def _tail(log: Path, lines: int = 15) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:]) or "(no output)"


@contextmanager
def serving(argv: Sequence[str], env: Mapping[str, str], workdir: Path, name: str) -> Iterator[str]:
    """Run a web server on a free loopback port until the block ends; yields its base URL."""
    port = _free_port()
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            cwd=workdir,  # no stray .env from the caller's directory
            env=_environment({**env, "LAUNCHOPS_HOST": "127.0.0.1", "LAUNCHOPS_PORT": str(port)}),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{_tail(log)}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start in {START_TIMEOUT:g} s:\n{_tail(log)}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()  # SIGTERM: uvicorn shuts down gracefully, the dispatcher stops
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def slack_fake_process() -> Iterator[str]:
    """The fake Web API in its own process; yields its origin (`http://127.0.0.1:PORT`)."""
    process = subprocess.Popen(
        FAKE,
        env=_environment({}),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        port = int(process.stdout.readline().strip() or 0)
        if not port:
            raise RuntimeError("the Slack fake did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stdin.close()  # its signal to stop
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


# driving ------------------------------------------------------------------------------------
async def _drive(
    url: str, bodies: Sequence[bytes], commands: SlashCommands, concurrency: int
) -> tuple[list[float], Counter[str], float]:
    """POST every body with `concurrency` in flight; (ack ms per answer, outcomes, wall s).

    aiohttp rather than httpx: httpx.AsyncClient spends 1-2 ms of CPU a request here, which
    made the client, not the bare endpoint, the baseline's bottleneck; aiohttp spends ~0.2.
    """
    samples: list[float] = []
    outcomes: Counter[str] = Counter()
    queue = iter(bodies)
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            for body in queue:  # one shared iterator: each body is sent once
                headers = commands.headers(body)
                started = time.perf_counter()
                try:
                    async with session.post("/slack/events", data=body, headers=headers) as answer:
                        await answer.read()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    outcomes[type(exc).__name__] += 1
                    continue
                samples.append((time.perf_counter() - started) * 1000)
                outcomes[str(answer.status)] += 1

        started = time.perf_counter()
        tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
        done, pending = await asyncio.wait(tasks, timeout=PHASE_TIMEOUT)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            task.result()  # a bug in the client must not pass as a fast run
        wall = time.perf_counter() - started
    unsent = len(bodies) - sum(outcomes.values())
    if unsent:
        outcomes[f"not sent within {PHASE_TIMEOUT:g} s"] += unsent
    return samples, outcomes, wall


def drive(
    url: str, commands: SlashCommands, batch: str, count: int, concurrency: int
) -> tuple[list[float], Counter[str], float]:
    bodies = [commands.body(batch, i) for i in range(count)]
    return asyncio.run(_drive(url, bodies, commands, concurrency))


def _warmup_count(options: Options) -> int:
    return min(50, max(5, options.ack_requests // 10))


def measure_baseline(options: Options, workdir: Path) -> Case:
    commands = SlashCommands("/incident", "", "http://127.0.0.1:9/response/")
    with serving(BARE, {"BENCH_SIGNING_SECRET": SECRET}, workdir, "bare-ack") as url:
        drive(url, commands, "warmup", _warmup_count(options), options.ack_concurrency)
        samples, outcomes, wall = drive(
            url, commands, "timed", options.ack_requests, options.ack_concurrency
        )
    return Case("baseline: verify + ack", tuple(samples), outcomes, wall)


def _pick_command(url: str, response_base: str) -> SlashCommands:
    """`/incident` once the Slack adapter handles it, else `/launchops incident` (same core)."""
    probe = SlashCommands("/incident", "", response_base)
    body = probe.body("probe", 0)
    status = httpx.post(
        f"{url}/slack/events", content=body, headers=probe.headers(body), timeout=REQUEST_TIMEOUT
    ).status_code
    if status == 200:
        return probe
    if status != 404:  # bolt answers 404 to a command no listener takes
        raise RuntimeError(f"probing /incident got HTTP {status}")
    return SlashCommands("/launchops", "incident ", response_base, tag=probe.tag)


def _count(database_url: str, prefix: str) -> int:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            query = select(func.count()).where(col(Incident.title).startswith(prefix))
            return int(session.exec(query).one())
    finally:
        engine.dispose()


def _wait_for_incidents(database_url: str, prefix: str, expected: int) -> tuple[int, str]:
    """How many incidents the timed requests made, and when the last was committed."""
    started = time.monotonic()
    found, grew_at, checks = -1, started, 0
    while True:
        count = _count(database_url, prefix)
        checks += 1
        now = time.monotonic()
        if count >= expected:
            if checks == 1:
                return count, "all committed when the last ack came back"
            return count, f"the last committed {now - started:.1f} s after the last ack"
        if count != found:
            found, grew_at = count, now
        if now - started > COMMIT_TIMEOUT or now - grew_at > STALL_TIMEOUT:
            return count, f"gave up waiting {now - started:.0f} s after the last ack"
        time.sleep(0.05)


def measure_app(
    options: Options, workdir: Path, database_url: str, backend: str, fake: str
) -> Case:
    env = {
        "LAUNCHOPS_DATABASE_URL": database_url,
        "LAUNCHOPS_CONFIG_DIR": str(CONFIG_DIR),
        "LAUNCHOPS_CHAT_PLATFORMS": "slack",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": f"{fake}/api/",
    }
    with serving(SERVE, env, workdir, f"launchops-{backend.lower()}") as url:
        commands = _pick_command(url, f"{fake}/response/")
        drive(url, commands, "warmup", _warmup_count(options), options.ack_concurrency)
        samples, outcomes, wall = drive(
            url, commands, "timed", options.ack_requests, options.ack_concurrency
        )
        created, when = _wait_for_incidents(
            database_url, commands.title_prefix("timed"), options.ack_requests
        )
        slack_calls = sum(httpx.get(f"{fake}/_stats", timeout=10).json().values())
    notes = (
        f"{backend}: {created:,} of {options.ack_requests:,} incidents created, {when}",
        f"{backend}: meanwhile the outbox made {slack_calls:,} Slack calls (pages, posts, replies)",
    )
    command = f"{commands.command} {commands.prefix}p1 {COMPONENT}: …"
    return Case(f"LaunchOps, {backend}", tuple(samples), outcomes, wall, notes, command)


# report -------------------------------------------------------------------------------------
def render(title: str, cases: Sequence[Case], notes: Sequence[str]) -> str:
    base = cases[0]
    width = max(len(c.label) for c in cases)
    points = (50, 95, 99)
    header = (
        f"{'case':<{width}} {'n':>6} {'errors':>6} {'>3 s':>4} {'req/s':>6}"
        + "".join(f" {f'p{p} ms':>8}" for p in points)
        + f" {'max ms':>8}"
        + "".join(f" {f'p{p}×base':>8}" for p in points)
    )
    lines = [title, header]
    for case in cases:
        values = ratios = ["—"] * len(points)
        slowest = "—"
        if case.samples_ms:
            values = [sig3(case.percentile(p)) for p in points]
            slowest = sig3(max(case.samples_ms))
            if base.samples_ms:
                ratios = [sig3(case.percentile(p) / base.percentile(p)) for p in points]
        rate = sig3(len(case.samples_ms) / case.wall_s) if case.wall_s > 0 else "—"
        late = sum(1 for ms in case.samples_ms if ms > SLACK_ACK_MS)
        lines.append(
            f"{case.label:<{width}} {len(case.samples_ms):>6,} {case.errors:>6,} {late:>4,}"
            f" {rate:>6}"
            + "".join(f" {v:>8}" for v in values)
            + f" {slowest:>8}"
            + "".join(f" {r:>8}" for r in ratios)
        )
    for case in cases:
        lines += case.notes
        if case.errors:
            shown = ", ".join(f"{k}×{v:,}" for k, v in sorted(case.outcomes.items()))
            lines.append(f"{case.label}: answers {shown}")
            if "404" in case.outcomes and case is not base:
                lines.append("  (bolt answers 404 when a listener has not called ack() within 3 s)")
    lines += notes
    return "\n".join(lines)


def run(options: Options) -> str:
    load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at start"
    cases: list[Case] = []
    with tempfile.TemporaryDirectory(prefix="launchops-bench-") as directory:
        workdir = Path(directory)
        cases.append(measure_baseline(options, workdir))
        with slack_fake_process() as fake:
            sqlite_url = f"sqlite:///{workdir}/bench.db"
            cases.append(measure_app(options, workdir, sqlite_url, "SQLite", fake))
            if options.postgres_url:
                with postgres_database(options.postgres_url) as url:
                    cases.append(measure_app(options, workdir, url, "PostgreSQL", fake))
    title = (
        f"incident declaration ack — {options.ack_requests:,} signed `{cases[-1].command}` "
        f"per case, {options.ack_concurrency} in flight"
    )
    notes = [
        f"ack = the HTTP response to a signed request, timed by the client, after "
        f"{_warmup_count(options)} untimed requests",
        "both servers: uvicorn.run, one process, log_level=info (as `launchops serve` runs)",
        "client: aiohttp, keep-alive; the bot's Slack Web API: a loopback fake, own process",
        load,
    ]
    return render(title, cases, notes)
