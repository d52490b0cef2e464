"""One case of the load benchmark: servers up, the load through them, the outcome checked.

Shared by bench/load.py (the bare endpoint, one process, three replicas) and bench/faults.py
(three replicas, one SIGKILLed every few seconds). Each bot case gets its own throwaway
PostgreSQL database and its own fake Web API process, so the check after it counts only its
own messages.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench import Options
from bench._ack_driver import REPO, serving, slack_fake_process
from bench._load_check import Check, check
from bench._load_driver import Result, Workload, run_load
from bench._load_slices import Target
from bench._replicas import Killer, replicas
from bench.owner_lookup import postgres_database, sig3
from bench.slack_ack import BARE, CONFIG_DIR, SECRET, Commands, _bot_env

LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"  # as tests/conftest.py


@dataclass
class Case:
    result: Result
    check: Check | None = None  # None for the bare endpoint, which keeps no Slack state
    kills: tuple[tuple[str, float], ...] = ()  # (replica, seconds until ready again)
    kill_errors: tuple[str, ...] = ()

    def percentile(self, p: int) -> float:
        samples = self.result.samples_ms
        if len(samples) < 2:
            return samples[0] if samples else float("nan")
        return statistics.quantiles(samples, n=100, method="inclusive")[p - 1]

    def summary(self) -> dict[str, Any]:
        r = self.result
        return {
            "label": r.label,
            "targets": r.targets,
            "rate_per_target": r.rate,
            "seconds": r.seconds,
            "requests": r.sent,
            "throughput_per_s": round(r.sent / r.wall_s, 1) if r.wall_s else None,
            "p50_ms": round(self.percentile(50), 1),
            "p95_ms": round(self.percentile(95), 1),
            "p99_ms": round(self.percentile(99), 1),
            "max_ms": round(max(r.samples_ms), 1) if r.samples_ms else None,
            "errors": r.errors,
            "outcomes": dict(r.outcomes),
            "failed_attempts_retried": dict(r.attempt_errors),
            "answered_after_retry": r.retried,
            "driver_lag_max_ms": round(r.lag_ms, 1),
            "by_kind": {
                kind: {
                    "n": len(v),
                    "p50_ms": round(statistics.median(v), 1),
                    "p99_ms": round(_p(v, 99), 1),
                }
                for kind, v in sorted(r.by_kind.items())
            },
            "kills": [{"replica": n, "ready_after_s": round(s, 1)} for n, s in self.kills],
            "kill_errors": list(self.kill_errors),
            "check": self.check.as_dict() if self.check else None,
        }

    def row(self) -> str:
        r = self.result
        rate = sig3(r.sent / r.wall_s) if r.wall_s else "—"
        return (
            f"{r.label:<34} {r.targets:>3} {r.sent:>6,} {rate:>7} {r.errors:>6,}"
            + "".join(f" {sig3(self.percentile(p)):>7}" for p in (50, 95, 99))
            + f" {sig3(max(r.samples_ms)) if r.samples_ms else '—':>7}"
        )


HEADER = (
    f"{'case':<34} {'n':>3} {'sent':>6} {'req/s':>7} {'errors':>6}"
    f" {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}"
)


def _p(values: list[float], p: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def machine() -> dict[str, Any]:
    """CPU model, cores and load average now: the figures mean little without them."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def admin_url(options: Options) -> str | None:
    """The PostgreSQL server to make throwaway databases on: the one given, else the local
    test server when it answers; None when there is none (the benchmark is skipped)."""
    url = options.postgres_url or os.environ.get("LAUNCHOPS_TEST_POSTGRES_URL") or LOCAL_POSTGRES
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception:  # no server: say so in the report rather than fail `make bench`
        return None
    return url


@contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="launchops-load-") as directory:
        yield Path(directory)


def bare_target(options: Options, where: Path, stack: ExitStack) -> Target:
    """The bare endpoint, running until `stack` closes, as a target of an interleaved run."""
    env = {"BENCH_SIGNING_SECRET": SECRET, "BENCH_DATABASE": str(where / "bare.db")}
    server = stack.enter_context(serving(BARE, env, where, "bare-load"))
    response = "http://127.0.0.1:9/response/"
    return Target(
        "bare slack_bolt (AsyncApp)",
        [server.url],
        Workload(response, bot=False),
        Commands(response).sign,
        options.load_rate,
        lambda: [server.pid],
    )


def bot_target(
    options: Options, admin: str, where: Path, stack: ExitStack, label: str, count: int, name: str
) -> Target:
    """`count` replicas on a throwaway database with their own fake Web API, running until
    `stack` closes, as a target of an interleaved run."""
    url = stack.enter_context(postgres_database(admin))
    fake = stack.enter_context(slack_fake_process())
    env = {**_bot_env(url, fake), "LAUNCHOPS_CONFIG_DIR": str(CONFIG_DIR)}
    running = stack.enter_context(replicas(sys.executable, env, where, count, name))
    return Target(
        label,
        [r.url for r in running],
        Workload(f"{fake}/response/"),
        Commands(f"{fake}/response/").sign,
        options.load_rate,
        lambda: [r.pid for r in running],
        database_url=url,
        fake=fake,
    )


def checked(target: Target) -> Case:
    """After the load: the exactly-once check of a bot target (none for the bare one)."""
    if target.database_url is None:
        return Case(target.result)
    ledger = target.workload.ledger
    return Case(target.result, check(target.database_url, target.fake, ledger, target.workload.tag))


def bot_case(
    options: Options,
    admin: str,
    where: Path,
    label: str,
    count: int,
    *,
    name: str,
    kill_every: float = 0,
) -> Case:
    """`count` replicas on a throwaway database under the load (for `fault_seconds` with a
    replica killed every `kill_every` s when that is > 0), then the exactly-once check."""
    seconds = options.fault_seconds if kill_every > 0 else options.load_seconds
    with postgres_database(admin) as url, slack_fake_process() as fake:
        env = {**_bot_env(url, fake), "LAUNCHOPS_CONFIG_DIR": str(CONFIG_DIR)}
        with replicas(sys.executable, env, where, count, name) as running:
            workload = Workload(f"{fake}/response/")
            commands = Commands(f"{fake}/response/")
            urls = [r.url for r in running]
            killer = Killer(running, kill_every) if kill_every > 0 else None
            with killer or nullcontext():
                result = run_load(label, urls, workload, commands.sign, options.load_rate, seconds)
            found = check(url, fake, result.ledger, workload.tag)
            if found.lost or found.duplicated:
                for replica in running:
                    (where / f"{replica.name}.kept.log").write_text(replica.log())
        kills = tuple((n, ready) for n, _, ready in killer.kills) if killer else ()
        errors = tuple(killer.errors) if killer else ()
    return Case(result, found, kills, errors)


def write_results(options: Options, name: str, payload: dict[str, Any]) -> str | None:
    """`bench/results/<name>-<UTC time>.json` (a full run) or `<name>-quick.json` (anything
    shorter, ignored by git); the path, or None when `results_dir` is None."""
    if options.results_dir is None:
        return None
    directory = Path(options.results_dir)
    if not directory.is_absolute():
        directory = REPO / directory
    directory.mkdir(parents=True, exist_ok=True)
    full = options.load_seconds >= 60 and options.fault_seconds >= 60
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%MZ") if full else "quick"
    path = directory / f"{name}-{stamp}.json"
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return str(path.relative_to(REPO) if path.is_relative_to(REPO) else path)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def elapsed_since(started: float) -> float:
    return round(time.perf_counter() - started, 1)
