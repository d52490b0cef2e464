"""The weekly digest's build time against the size of the history, and failure ingestion.

1. One team's digest (the ML team of the example organisation) is built with a week of
   `digest_week` failure cases in the store, then again after `digest_history` more cases
   of older weeks (years back, every team's components) are added: the digest reads the
   week by indexed ranges, so the second build should cost about what the first did
   (ratio ≤ 1.5). History is bulk-loaded (SQLite executemany, PostgreSQL COPY), then
   ANALYZEd, as a long-lived store would be.
2. `POST /api/v1/failures` throughput, batches of 1,000 through the real app (masking,
   component resolution, trace de-duplication), beside a bare bulk INSERT of the same rows.

The quick mode skips the million-row history (it still prints the small build).
"""

from __future__ import annotations

import logging
import random
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from bench import Options
from bench.owner_lookup import postgres_database
from launchops.config import load_config
from launchops.services.config_sync import sync_config
from launchops.services.digest import DigestService
from launchops.store import make_engine, upgrade_schema

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
SEED = 20261201
BUILDS = 9  # builds timed per size, after one warm-up: the best and the median are shown
BATCH = 1_000
ML = ("answer-model", "prompts")
EVERY = ML + ("retriever", "indexing", "inference-gateway", "deploy-pipeline")
KINDS = ("low_confidence", "negative_feedback", "error", "safety", "other")
TEMPLATES = (
    "Timeout after {n}s calling the model for [email]",
    "Refused a harmless question about invoice {n}",
    "Answered in the wrong language (ticket {n})",
    "Hallucinated a refund policy, case {n}",
    "Low confidence {n}% on a billing answer",
    "Quoted a stale price list page {n}",
    "Empty answer for a long prompt of {n} tokens",
    "Leaked an internal URL in answer {n}",
)
COLUMNS = ("component_id", "kind", "summary", "occurred_at", "recorded_at", "source")


def _rows(
    count: int, components: tuple[str, ...], start: datetime, span: timedelta
) -> Iterator[tuple[str, str, str, datetime, datetime, str]]:
    rng = random.Random(SEED + count)
    seconds = span.total_seconds()
    for _ in range(count):
        at = start + timedelta(seconds=rng.random() * seconds)
        summary = rng.choice(TEMPLATES).format(n=rng.randint(1, 99))
        yield (rng.choice(components), rng.choice(KINDS), summary, at, at, "api")


def _bulk_insert(engine: Engine, rows: Iterable[tuple[Any, ...]], *, analyze: bool = True) -> None:
    """The fastest plain load each backend offers: COPY on PostgreSQL, executemany on SQLite."""
    names = ", ".join(COLUMNS)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY failurecase ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            if analyze:
                cursor.execute("ANALYZE failurecase")
        else:
            chunk: list[tuple[Any, ...]] = []
            sql = f"INSERT INTO failurecase ({names}) VALUES (?, ?, ?, ?, ?, ?)"
            for component, kind, summary, at, recorded, source in rows:
                stamp = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
                recorded_stamp = recorded.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
                chunk.append((component, kind, summary, stamp, recorded_stamp, source))
                if len(chunk) >= 50_000:
                    cursor.executemany(sql, chunk)
                    chunk.clear()
            if chunk:
                cursor.executemany(sql, chunk)
            raw.commit()
            if analyze:  # as a long-lived store is: planner statistics, WAL checkpointed
                cursor.execute("ANALYZE")
                raw.commit()
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        raw.commit()
    finally:
        raw.close()


def _builds(digests: DigestService) -> tuple[float, float, int]:
    """(best, median) seconds of `BUILDS` builds of the ML team's digest, and its case count.
    The best is what the work costs; the median shows what a busy shared box adds."""
    total = digests.build("ml").total  # warm-up: caches, first rapidfuzz call
    times = []
    for _ in range(BUILDS):
        started = time.perf_counter()
        digests.build("ml")
        times.append(time.perf_counter() - started)
    return min(times), statistics.median(times), total


def _digest_case(url: str, options: Options, now: datetime) -> list[str]:
    engine = make_engine(url)
    try:
        sync_config(engine, load_config(CONFIG_DIR), source="bench", actor="bench")
        digests = DigestService(engine, platforms=("slack",), clock=lambda: now)
        week = timedelta(days=7)
        _bulk_insert(engine, _rows(options.digest_week, ML, now - week, week))
        small, small_median, cases = _builds(digests)
        lines = [
            f"digest build, {options.digest_week:,} cases in the store"
            f"{'':>4}{small * 1000:9.1f} ms best, {small_median * 1000:.1f} ms median"
            f"  (the week's {cases:,} cases)"
        ]
        if options.digest_history:
            started = time.perf_counter()
            history_start = now - timedelta(days=3 * 365)
            history_span = timedelta(days=3 * 365) - 9 * week  # all older than the 8-week chart
            _bulk_insert(engine, _rows(options.digest_history, EVERY, history_start, history_span))
            loaded = time.perf_counter() - started
            large, large_median, _ = _builds(digests)
            total = options.digest_week + options.digest_history
            lines.append(
                f"digest build, {total:,} cases in the store"
                f"{'':>1}{large * 1000:9.1f} ms best, {large_median * 1000:.1f} ms median"
                f"  ×{large / small:.2f} (best), ×{large_median / small_median:.2f} (median)"
                f" of the small store; history loaded in {loaded:.1f} s"
            )
        return lines
    finally:
        engine.dispose()


def _ingest_case(url: str, options: Options) -> list[str]:
    """Batches of 1,000 through the real HTTP app, beside a bare INSERT of the same rows."""
    import httpx

    from launchops.logging_setup import configure
    from launchops.main import build_context
    from launchops.settings import Settings
    from launchops.web import create_app

    settings = Settings(
        _env_file=None,
        LAUNCHOPS_DATABASE_URL=url,
        LAUNCHOPS_CONFIG_DIR=str(CONFIG_DIR),
        LAUNCHOPS_API_TOKEN="bench-token",
        LAUNCHOPS_CHAT_PLATFORMS="console",
    )
    configure(json=False, level=logging.WARNING)  # not a line per request in the report
    ctx = build_context(settings, with_chat_adapters=False)
    now = datetime.now(UTC)
    batches = options.ingest_batches
    batches_rows = [
        list(_rows(BATCH, EVERY, now - timedelta(days=1, seconds=n), timedelta(hours=20)))
        for n in range(batches)
    ]
    bodies = [
        {
            "cases": [
                {
                    "component": component,
                    "kind": kind,
                    "summary": summary,
                    "occurred_at": at.isoformat(),
                    "trace_id": f"bench-{n}-{i}",
                }
                for i, (component, kind, summary, at, _r, _s) in enumerate(rows)
            ]
        }
        for n, rows in enumerate(batches_rows)
    ]
    try:
        with (
            _serving(create_app(ctx, run_dispatcher=False)) as base,
            httpx.Client(base_url=base, timeout=60) as client,
        ):
            headers = {"Authorization": "Bearer bench-token"}
            client.post("/api/v1/failures", json=bodies[0], headers=headers)  # warm-up
            started = time.perf_counter()
            for body in bodies[1:]:
                answer = client.post("/api/v1/failures", json=body, headers=headers)
                assert answer.status_code == 201, answer.text
            api_s = time.perf_counter() - started
        started = time.perf_counter()
        for rows in batches_rows[1:]:
            _bulk_insert(ctx.engine, rows, analyze=False)
        bare_s = time.perf_counter() - started
    finally:
        ctx.close()
    cases = BATCH * (batches - 1)
    api_rate, bare_rate = cases / api_s, cases / bare_s
    return [
        f"POST /api/v1/failures, batches of {BATCH:,}  {api_rate:10,.0f} cases/s"
        f"  ×{bare_rate / api_rate:.1f} slower than bare",
        f"baseline: bare bulk insert, same batches {bare_rate:10,.0f} cases/s",
    ]


@contextmanager
def _serving(app: Any) -> Iterator[str]:
    """The app on a loopback port under uvicorn, as `launchops serve` runs it."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the app did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _report(title: str, url: str, options: Options) -> str:
    upgrade_schema(url)
    now = datetime.now(UTC).replace(microsecond=0)
    lines = [title, *_digest_case(url, options, now), *_ingest_case(url, options)]
    if not options.digest_history:
        lines.append("(quick mode: the million-case history is skipped)")
    return "\n".join(lines)


def run(options: Options) -> str:
    reports = []
    with tempfile.TemporaryDirectory(prefix="launchops-bench-") as directory:
        url = f"sqlite:///{directory}/bench.db"
        reports.append(_report("weekly digest and failure ingestion — SQLite", url, options))
    if options.postgres_url:
        with postgres_database(options.postgres_url) as url:
            reports.append(
                _report("weekly digest and failure ingestion — PostgreSQL", url, options)
            )
    return "\n\n".join(reports)
