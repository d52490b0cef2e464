"""The load of bench/load.py on three replicas while one of them is SIGKILLed every 10 s.

Issue 12, item 6 ("faults"). The same mix at the same per-replica rate, for `fault_seconds`;
every `fault_kill_every` seconds the next replica in turn gets SIGKILL (no shutdown hook: a
crash) and is started again at once, on the same port. The driver stands where a load
balancer and Slack's retries stand: a request whose connection is refused or cut is sent,
the same signed body, to the next replica with `X-Slack-Retry-Num`, up to three times. What
the driver saw (failed attempts, requests answered only on a retry, requests never
answered) is reported beside the outcome, which is what matters: after the outbox has
drained (a dead replica's claims come back after 30 s), no declaration, acknowledgement or
decision answered 200 is missing from the store or there twice, and every page and post the
outbox holds reached the fake Web API exactly once.
"""

from __future__ import annotations

import time
from typing import Any

from bench import Options
from bench._load_cases import (
    admin_url,
    bot_case,
    elapsed_since,
    machine,
    now_iso,
    workdir,
    write_results,
)
from bench._load_driver import MIX
from bench.load import outcome_lines, table


def run(options: Options) -> str:
    started = time.perf_counter()
    host = machine()
    admin = admin_url(options)
    if admin is None:
        return "faults: skipped — no PostgreSQL server (give --postgres URL)"
    label = f"{options.load_replicas} replicas, one killed/{options.fault_kill_every:g} s"
    with workdir() as where:
        case = bot_case(
            options, admin, where, label, options.load_replicas,
            name="replica", kill_every=options.fault_kill_every,
        )  # fmt: skip
    result, found = case.result, case.check
    assert found is not None
    failed = sum(result.attempt_errors.values())
    kinds = ", ".join(f"{k}×{v:,}" for k, v in sorted(result.attempt_errors.items())) or "none"
    kills = ", ".join(f"{name} (ready again in {s:.1f} s)" for name, s in case.kills) or "none"
    verdict = "met" if found.lost == 0 and found.duplicated == 0 else "NOT met"
    lines = [
        f"Faults — the load mix at {options.load_rate:g} requests/s per replica for "
        f"{options.fault_seconds:g} s, a replica SIGKILLed and restarted every "
        f"{options.fault_kill_every:g} s",
        *table([case]),
        f"kills: {len(case.kills)}: {kills}",
        *(f"  restart failed: {e}" for e in case.kill_errors),
        f"driver: {failed:,} attempts failed and were sent on to another replica ({kinds}); "
        f"{result.retried:,} requests answered on a retry; {result.errors:,} requests without "
        "a 200 in the end",
        *outcome_lines(case),
        f"0 lost and 0 duplicated (target): {verdict} — lost {found.lost}, "
        f"duplicated {found.duplicated}",
        f"machine: {host['cpu']}, {host['cores']} cores, load average "
        f"{host['load_average_at_start'][0]:.2f} at start",
    ]
    payload: dict[str, Any] = {
        "benchmark": "faults",
        "at": now_iso(),
        "machine": host,
        "options": {
            "fault_seconds": options.fault_seconds,
            "kill_every_s": options.fault_kill_every,
            "load_rate_per_replica": options.load_rate,
            "replicas": options.load_replicas,
            "mix": {kind: MIX.count(kind) / len(MIX) for kind in dict.fromkeys(MIX)},
        },
        "case": case.summary(),
        "lost": found.lost,
        "duplicated": found.duplicated,
        "took_s": elapsed_since(started),
    }
    path = write_results(options, "faults", payload)
    if path:
        lines.append(f"written to {path}")
    return "\n".join(lines)
