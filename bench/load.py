"""Slack acks under a steady mixed load: three replicas on PostgreSQL, one process, bare bolt.

Issue 12, item 6. A fixed open-loop rate of signed Slack requests (`load_rate` a second to
each server) for `load_seconds`: `/owner rag` lookups, `/incident p3 …` declarations, P1/P2
declarations that page, Acknowledge clicks on their pages and gate decisions (a request,
Grace's Approve button, Erin's `gate reject`, again) — bench/_load_driver.py has the mix.
Three cases in one run, one after the other on the same machine:

- the bare signed endpoint (bench/_bare_ack.py: bolt's AsyncApp, acking `/owner` and
  committing one SQLite row for `/incident`), the baseline;
- one `launchops serve` on a throwaway PostgreSQL database;
- three `launchops serve` replicas on one such database, the load spread round robin, so
  each replica sees the same rate the one process did.

Each bot case delivers its pages and posts through the outbox to the loopback fake Web API
(bench/_slack_fake.py, its own process). After the load and the outbox's drain, every
declaration, acknowledgement and decision that was answered 200 must be in the store once,
and every post and page the outbox holds must have reached the fake once
(bench/_load_check.py). The ratio printed is the three replicas' p99 over the one
process's (issue 12: ≤ 1.2); it is printed, never asserted.
"""

from __future__ import annotations

import time
from typing import Any

from bench import Options
from bench._load_cases import (
    HEADER,
    Case,
    admin_url,
    bare_case,
    bot_case,
    elapsed_since,
    machine,
    now_iso,
    workdir,
    write_results,
)
from bench._load_driver import MIX
from bench.owner_lookup import sig3

P99_TARGET = 1.2  # three replicas' p99 over one process's, at the same per-replica load


def outcome_lines(case: Case) -> list[str]:
    """What the exactly-once check found for a bot case, in a few lines."""
    found = case.check
    if found is None:
        return []
    label = case.result.label
    lines = [
        f"{label}: {found.declared_acked:,} declarations acked → {found.incidents:,} incidents "
        f"({len(found.declarations_lost)} lost, {len(found.incidents_twice)} twice); "
        f"{found.decisions_acked} gate decisions acked → {found.decisions} rows "
        f"({len(found.decisions_lost)} lost, {len(found.decisions_twice)} twice); "
        f"{len(case.result.ledger.acknowledged)} acknowledgements ({len(found.acks_lost)} lost)",
        f"  outbox drained: {'yes' if found.drained else 'NO'}; {found.outbox_posts:,} posts "
        f"and DMs queued, {found.fake_posts:,} chat.postMessage at the fake; pages "
        f"{found.pages_delivered:,} of {found.pages:,} delivered once, gate messages "
        f"{found.gate_messages_delivered} of {found.gate_messages}; "
        f"lost {found.lost}, duplicated {found.duplicated}",
    ]
    for name in ("declarations_lost", "incidents_twice", "acks_lost", "decisions_lost",
                 "decisions_twice", "not_sent", "posts_lost", "posts_unrecorded",
                 "posts_identical", "bad_answers"):  # fmt: skip
        items = getattr(found, name)
        if items:
            lines.append(f"  {name}: {len(items)}, e.g. {'; '.join(map(str, items[:3]))}")
    return lines


def table(cases: list[Case]) -> list[str]:
    lines = [HEADER]
    for case in cases:
        lines.append(case.row())
        outcomes = case.result.outcomes
        if case.result.errors:
            shown = ", ".join(f"{k}×{v:,}" for k, v in sorted(outcomes.items()))
            lines.append(f"  {case.result.label}: answers {shown}")
    return lines


def ratio(numerator: Case, denominator: Case) -> float:
    return numerator.percentile(99) / denominator.percentile(99)


def run(options: Options) -> str:
    started = time.perf_counter()
    host = machine()
    admin = admin_url(options)
    if admin is None:
        return "load: skipped — no PostgreSQL server (give --postgres URL)"
    mix = ", ".join(f"{kind} {MIX.count(kind) * 100 // len(MIX)}%" for kind in dict.fromkeys(MIX))
    with workdir() as where:
        bare = bare_case(options, where)
        one = bot_case(options, admin, where, "LaunchOps, one process", 1, name="one")
        three = bot_case(
            options, admin, where, f"LaunchOps, {options.load_replicas} replicas",
            options.load_replicas, name="replica",
        )  # fmt: skip
    cases = [bare, one, three]
    replicas_ratio = ratio(three, one)
    met = "met" if replicas_ratio <= P99_TARGET else "NOT met"
    lines = [
        f"Slack acks under load — {options.load_rate:g} signed requests/s per server, open loop, "
        f"{options.load_seconds:g} s per case; mix: {mix} (ack = Acknowledge clicks, gate = "
        "gate request / Approve button / gate reject)",
        *table(cases),
        f"p99, {options.load_replicas} replicas ÷ one process: {sig3(replicas_ratio)} "
        f"(target ≤ {P99_TARGET}: {met}); one process ÷ bare bolt: {sig3(ratio(one, bare))}, "
        f"{options.load_replicas} replicas ÷ bare bolt: {sig3(ratio(three, bare))}",
    ]
    lines += outcome_lines(one) + outcome_lines(three)
    payload: dict[str, Any] = {
        "benchmark": "load",
        "at": now_iso(),
        "machine": host,
        "options": {
            "load_seconds": options.load_seconds,
            "load_rate_per_server": options.load_rate,
            "replicas": options.load_replicas,
            "mix": {kind: MIX.count(kind) / len(MIX) for kind in dict.fromkeys(MIX)},
        },
        "cases": [case.summary() for case in cases],
        "p99_ratio_replicas_vs_one": round(replicas_ratio, 3),
        "p99_ratio_target": P99_TARGET,
        "p99_ratio_one_vs_bare": round(ratio(one, bare), 3),
        "took_s": elapsed_since(started),
    }
    path = write_results(options, "load", payload)
    lines += [
        "latency: from a request's first byte sent to its answer read, by an aiohttp client in "
        "the bench process; store PostgreSQL (a throwaway database per case); Web API: the "
        "loopback fake, own process",
        f"machine: {host['cpu']}, {host['cores']} cores, load average "
        f"{host['load_average_at_start'][0]:.2f} at start",
    ]
    if path:
        lines.append(f"written to {path}")
    return "\n".join(lines)
