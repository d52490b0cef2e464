"""The cases of bench/load.py interleaved in short slices, so the machine's drift hits each alike.

On a shared box the background load drifts by the minute (other builds, other benchmarks), and
cases run one after the other meet different machines. Here every case's servers are started
first and kept running; then each case gets one warm-up slice (its samples dropped: first
connections, cold caches, the JIT-less interpreter's first paths) and the measured slices
follow in rounds, the order reversed every round (A B C, C B A, A B C …) so no case always
follows the same one. After each slice the driver waits until that case's outbox is empty
(bounded), so its posts are delivered before the next case's slice starts rather than during
it. Pooled percentiles are over the measured slices; each slice's own figures are kept beside
them so the spread shows: the CPU its servers used, how busy the whole machine was, the
1-minute load average when it began.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench._ack_driver import cpu_seconds
from bench._load_driver import Result, Stream, Workload, merge
from launchops.scheduler import MONTHLY_REPORT_CHECK_SECONDS
from launchops.store.models import OutboxMessage

SLICE_SECONDS = 12.0  # a full run's slice: 60 s per case in five
WARMUP_SECONDS = 5.0  # at most; a quick run's is its slice length
SETTLE_TIMEOUT = 5.0  # how long a case's outbox may take to empty after its slice
# The schedulers' longest first interval (a minute) and autovacuum's naptime, and a margin.
STARTUP_JOBS_SECONDS = MONTHLY_REPORT_CHECK_SECONDS + 15.0
FULL_RUN_SECONDS = 30.0  # quick runs (the smoke tests) check outcomes, not ratios: no wait


@dataclass
class Target:
    """A set of servers under the load: its sessions, its pooled result, how to watch it."""

    label: str
    urls: list[str]
    workload: Workload
    sign: Callable[[bytes], dict[str, str]]
    rate: float
    pids: Callable[[], list[int]]  # the server processes, for their CPU time
    database_url: str | None = None  # its store (None: the bare endpoint, no outbox)
    fake: str = ""  # its own fake Web API's origin (bot cases)
    result: Result = field(init=False)

    def __post_init__(self) -> None:
        self.result = Result(self.label, len(self.urls), self.rate, 0.0)


@dataclass(frozen=True)
class Plan:
    slices: int  # measured slices per case
    slice_s: float
    warmup_s: float
    settle_s: float  # the longest wait for a case's outbox to empty after its slice
    # A full run measures from a minute after the servers started, not before: in two runs
    # the one slice of five with twice the others' p99, which decided its case's pooled p99
    # (replicas 1.56x one process in one run, 0.81x in the next), was the first measured
    # slice, about 60 s in, once in each case. The first minute is not the steady state:
    # the schedulers' first runs of their minute-long jobs, and PostgreSQL's autovacuum,
    # which first analyses a new database's tables within its one-minute naptime.
    startup_jobs_s: float = 0.0

    @classmethod
    def for_seconds(cls, seconds: float) -> Plan:
        """`seconds` per case in slices of about SLICE_SECONDS (at least two)."""
        slices = max(2, round(seconds / SLICE_SECONDS))
        slice_s = seconds / slices
        first_runs = STARTUP_JOBS_SECONDS if seconds >= FULL_RUN_SECONDS else 0.0
        return cls(
            slices,
            slice_s,
            min(WARMUP_SECONDS, slice_s),
            min(SETTLE_TIMEOUT, slice_s),
            first_runs,
        )

    def rounds(self, cases: int) -> list[tuple[int, list[int]]]:
        """(slice index, case order) for the warm-up (index 0) and each measured round."""
        order = list(range(cases))
        return [(i, order if i % 2 == 0 else order[::-1]) for i in range(self.slices + 1)]


@dataclass
class Slice:
    case: str
    index: int  # 0: the warm-up, not pooled
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    driver_lag_max_ms: float
    server_cpu_ms_per_request: float  # its own server processes' CPU over its requests
    machine_busy: float  # share of all cores busy during the slice (/proc/stat)
    load_average_1m: float  # at the slice's start
    settle_s: float  # until its outbox was empty after the slice (at most Plan.settle_s)
    outbox_left: int  # rows still pending or sending then (paced or waiting for a turn)

    def as_dict(self) -> dict[str, Any]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in self.__dict__.items()}


def percentile(samples: Sequence[float], p: int) -> float:
    if len(samples) < 2:
        return samples[0] if samples else float("nan")
    return statistics.quantiles(samples, n=100, method="inclusive")[p - 1]


def _cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of all cores since boot; (0, 0) without /proc."""
    try:
        fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already in user
    return total - idle, total


def _pending_outbox(engine: sa.Engine) -> int:
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    query = sa.select(sa.func.count()).where(table.c.status.in_(("pending", "sending")))
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _settle(engine: sa.Engine | None, timeout: float) -> tuple[float, int]:
    """Wait (at most `timeout` s) until the case's outbox has nothing pending or sending;
    (seconds waited, rows left)."""
    started = time.perf_counter()
    if engine is None:
        return 0.0, 0
    deadline = started + timeout
    while (left := _pending_outbox(engine)) and time.perf_counter() < deadline:
        time.sleep(0.05)
    return time.perf_counter() - started, left


async def _one_slice(target: Target, stream: Stream, index: int, seconds: float) -> Slice:
    part = Result(target.label, len(target.urls), target.rate, seconds)
    load_1m = os.getloadavg()[0]
    pids = target.pids()
    cpu_before = sum(cpu_seconds(pid) for pid in pids)
    busy_before, total_before = _cpu_times()
    await stream.run(part, seconds)
    busy_after, total_after = _cpu_times()
    cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
    if index:
        merge(target.result, part)
    else:
        target.result.ledger = part.ledger
    samples = part.samples_ms
    span = total_after - total_before
    return Slice(
        case=target.label,
        index=index,
        requests=part.sent,
        errors=part.errors,
        p50_ms=percentile(samples, 50),
        p95_ms=percentile(samples, 95),
        p99_ms=percentile(samples, 99),
        max_ms=max(samples, default=float("nan")),
        driver_lag_max_ms=part.lag_ms,
        server_cpu_ms_per_request=cpu * 1000 / part.sent if part.sent else float("nan"),
        machine_busy=(busy_after - busy_before) / span if span > 0 else float("nan"),
        load_average_1m=load_1m,
        settle_s=0.0,
        outbox_left=0,
    )


async def _interleave(targets: Sequence[Target], plan: Plan) -> list[Slice]:
    engines = [sa.create_engine(t.database_url) if t.database_url else None for t in targets]
    slices: list[Slice] = []
    try:
        async with AsyncExitStack() as stack:
            streams = [
                await stack.enter_async_context(Stream(t.urls, t.workload, t.sign, t.rate))
                for t in targets
            ]
            started = time.monotonic()  # the servers are up: they started just before
            for index, order in plan.rounds(len(targets)):
                if index == 1:  # after the warm-up, before the first measured slice
                    await asyncio.sleep(max(0.0, started + plan.startup_jobs_s - time.monotonic()))
                seconds = plan.slice_s if index else plan.warmup_s
                for i in order:
                    done = await _one_slice(targets[i], streams[i], index, seconds)
                    # nothing else runs meanwhile: its deliveries stay out of the next slice
                    done.settle_s, done.outbox_left = _settle(engines[i], plan.settle_s)
                    slices.append(done)
    finally:
        for engine in engines:
            if engine is not None:
                engine.dispose()
    return slices


def run_interleaved(targets: Sequence[Target], plan: Plan) -> list[Slice]:
    """Every target's slices in turn (see the module's docstring); each target's `result`
    ends up with its measured slices pooled, its `ledger` with every request, warm-up too."""
    return asyncio.run(_interleave(targets, plan))


def spread(slices: Sequence[Slice], label: str) -> list[float]:
    """The measured slices' p99s of one case, in the order they ran."""
    return [s.p99_ms for s in slices if s.case == label and s.index]
