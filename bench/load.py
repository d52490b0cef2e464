"""Slack acks under a steady mixed load: three replicas on PostgreSQL, one process, bare bolt.

Issue 12, item 6. A fixed open-loop rate of signed Slack requests (`load_rate` a second to
each server) for `load_seconds` per case: `/owner rag` lookups, `/incident p3 …`
declarations, P1/P2 declarations that page, Acknowledge clicks on their pages and gate
decisions (a request, Grace's Approve button, Erin's `gate reject`, again) —
bench/_load_driver.py has the mix. Three cases in one run on the same machine:

- the bare signed endpoint (bench/_bare_ack.py: bolt's AsyncApp, acking `/owner` and
  committing one SQLite row for `/incident`), the baseline;
- one `launchops serve` on a throwaway PostgreSQL database;
- three `launchops serve` replicas on one such database, the load spread round robin, so
  each replica sees the same rate the one process did.

All three are started first and kept running; the load goes to them in turn, in slices of
about 12 s (bench/_load_slices.py: a warm-up slice each, not counted, then rounds in
alternating order), so a drift in the machine's background load meets every case alike.
The table pools the measured slices; each slice's p99 is listed beside it.

Each bot case delivers its pages and posts through the outbox to its own loopback fake Web
API (bench/_slack_fake.py, its own process). After the load and the outbox's drain, every
declaration, acknowledgement and decision that was answered 200 must be in the store once,
and every post and page the outbox holds must have reached the fake once
(bench/_load_check.py). The ratio printed is the three replicas' p99 over the one
process's (issue 12: ≤ 1.2); it is printed, never asserted.
"""

from __future__ import annotations

import statistics
import time
from contextlib import ExitStack
from typing import Any

from bench import Options
from bench._load_cases import (
    HEADER,
    Case,
    admin_url,
    bare_target,
    bot_target,
    checked,
    elapsed_since,
    machine,
    now_iso,
    workdir,
    write_results,
)
from bench._load_driver import MIX
from bench._load_slices import Plan, Slice, run_interleaved, spread
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


def slice_lines(slices: list[Slice], labels: list[str]) -> list[str]:
    """Each case's measured slices' p99s in the order they ran, and what the box was doing."""
    lines = ["p99 per slice, ms (in the order run; a warm-up slice each before, not counted):"]
    for label in labels:
        own = [s for s in slices if s.case == label and s.index]
        cpu = statistics.median(s.server_cpu_ms_per_request for s in own)
        p99s = " ".join(f"{sig3(s.p99_ms):>6}" for s in own)
        lines.append(f"  {label:<32} {p99s}   server CPU {sig3(cpu)} ms/request")
    busy = [s.machine_busy * 100 for s in slices if s.index]
    loads = [s.load_average_1m for s in slices if s.index]
    lines.append(
        f"  machine: {min(busy):.0f}–{max(busy):.0f}% of all cores busy per slice, 1-minute "
        f"load average {min(loads):.2f}–{max(loads):.2f} at the slices' starts"
    )
    return lines


def run(options: Options) -> str:
    started = time.perf_counter()
    host = machine()
    admin = admin_url(options)
    if admin is None:
        return "load: skipped — no PostgreSQL server (give --postgres URL)"
    mix = ", ".join(f"{kind} {MIX.count(kind) * 100 // len(MIX)}%" for kind in dict.fromkeys(MIX))
    plan = Plan.for_seconds(options.load_seconds)
    n = options.load_replicas
    with workdir() as where, ExitStack() as stack:
        targets = [
            bare_target(options, where, stack),
            bot_target(options, admin, where, stack, "LaunchOps, one process", 1, "one"),
            bot_target(options, admin, where, stack, f"LaunchOps, {n} replicas", n, "replica"),
        ]
        slices = run_interleaved(targets, plan)
        bare, one, three = (checked(t) for t in targets)
    cases = [bare, one, three]
    replicas_ratio = ratio(three, one)
    met = "met" if replicas_ratio <= P99_TARGET else "NOT met"
    labels = [t.label for t in targets]
    lines = [
        f"Slack acks under load — {options.load_rate:g} signed requests/s per server, open loop, "
        f"{options.load_seconds:g} s per case in {plan.slices} slices of {plan.slice_s:g} s, "
        f"interleaved; mix: {mix} (ack = Acknowledge clicks, gate = gate request / Approve "
        "button / gate reject)",
        *table(cases),
        f"p99, {n} replicas ÷ one process: {sig3(replicas_ratio)} "
        f"(target ≤ {P99_TARGET}: {met}); one process ÷ bare bolt: {sig3(ratio(one, bare))}, "
        f"{n} replicas ÷ bare bolt: {sig3(ratio(three, bare))}",
        *slice_lines(slices, labels),
    ]
    lines += outcome_lines(one) + outcome_lines(three)
    payload: dict[str, Any] = {
        "benchmark": "load",
        "at": now_iso(),
        "machine": host,
        "options": {
            "load_seconds": options.load_seconds,
            "load_rate_per_server": options.load_rate,
            "replicas": n,
            "mix": {kind: MIX.count(kind) / len(MIX) for kind in dict.fromkeys(MIX)},
            "interleaved": {
                "slices_per_case": plan.slices,
                "slice_s": plan.slice_s,
                "warmup_s": plan.warmup_s,
                "order": "warm-up slice per case, then rounds alternating forward and reverse",
            },
        },
        "cases": [case.summary() for case in cases],
        "p99_ratio_replicas_vs_one": round(replicas_ratio, 3),
        "p99_ratio_target": P99_TARGET,
        "p99_ratio_one_vs_bare": round(ratio(one, bare), 3),
        "p99_per_slice_ms": {
            label: [round(p, 1) for p in spread(slices, label)] for label in labels
        },
        "slices": [s.as_dict() for s in slices],
        "took_s": elapsed_since(started),
    }
    path = write_results(options, "load", payload)
    lines += [
        "latency: from a request's first byte sent to its answer read, by an aiohttp client in "
        "the bench process; store PostgreSQL (a throwaway database per bot case); Web API: a "
        "loopback fake per bot case, own process",
        f"machine: {host['cpu']}, {host['cores']} cores, load average "
        f"{host['load_average_at_start'][0]:.2f} at start",
    ]
    if path:
        lines.append(f"written to {path}")
    return "\n".join(lines)
