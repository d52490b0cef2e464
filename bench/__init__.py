"""Performance figures for `make bench`, each beside a baseline measured in the same run.

A latency alone says little about an unknown machine. DESIGN.md §7 asks for the ratio to the
cheapest comparable operation, measured minutes apart on the same store, because that ratio
is what stays comparable across laptops, CI runners and time. Timings are printed, never
asserted: a slow neighbour on a shared runner must not fail a build.

Every public module here is a benchmark: it exposes `run(options) -> str` and is picked up
by `python -m bench` just by existing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Options:
    """How big a run is; the defaults are the full run `make bench` prints."""

    components: int = 10_000
    lookups: int = 2_000
    # A miss scores every name in rapidfuzz (~30 ms at 10,000 components on a 2-core box), so
    # 2,000 of them would make the run too long to wait for; 500 still give a readable p99.
    fuzzy_lookups: int = 500
    # slack_ack: signed slash commands per case, and how many are in flight at once.
    ack_requests: int = 2_000
    ack_concurrency: int = 16
    # page_fanout: the people one P0 pages (on-call rotas of five).
    responders: int = 200
    page_rounds: int = 5  # P0s declared, each a row's candidate: the median one is shown
    # digest: one team's week of failure cases, then that plus older history (0 = skip it),
    # and the failures API batches (of 1,000 cases) timed for ingestion.
    digest_week: int = 10_000
    digest_history: int = 990_000
    ingest_batches: int = 20
    postgres_url: str | None = None  # an admin URL; a throwaway database is made on it
    # load and faults: signed Slack requests (declarations, clicks, owner lookups, gate
    # decisions) sent open-loop at `load_rate` a second to each replica, on PostgreSQL.
    load_seconds: float = 60.0
    load_rate: float = 8.0
    load_replicas: int = 3
    fault_seconds: float = 60.0  # the same load while a replica is SIGKILLed and restarted
    fault_kill_every: float = 10.0
    results_dir: str | None = "bench/results"  # under the repository; None writes no file


QUICK = Options(
    components=1_000,
    lookups=200,
    fuzzy_lookups=100,
    ack_requests=200,
    responders=20,
    page_rounds=3,
    digest_week=2_000,
    digest_history=0,
    ingest_batches=4,
    load_seconds=8.0,
    fault_seconds=12.0,
    fault_kill_every=4.0,
)
