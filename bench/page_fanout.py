"""A P0 page to 200 responders through the outbox, beside the same messages sent directly.

A P0 pages everyone on call plus the Accountable owner: one DM each (conversations.open, then
chat.postMessage) and a post in the responsible team's channel. The declaration writes those
messages as outbox rows in its own transaction; the dispatcher, wired and configured exactly as
`build_context` wires it, claims them in batches and sends them with the real SlackSender to a
loopback Slack Web API. The clock starts at the declaration's commit and stops when the fake
has received the last page. The baseline sends the same rendered messages with slack_sdk's
WebClient in a plain loop, no store at all, to the same fake in the same run: the ratio is
what durability (claim, send, record) costs on top of the HTTP calls.

This module builds the org, measures and reports; the bot, the fake (in a process of its
own) and the logging they run under are in bench/_fanout_bot.py.
"""

from __future__ import annotations

import math
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from slack_sdk import WebClient

from bench import Options
from bench._fanout_bot import (
    BOT_TOKEN,
    COMPONENT,
    LiveBot,
    Message,
    RemoteFake,
    call_counts,
    json_logs_to,
    plural,
    post_arrivals,
)
from bench._slack_fake import Call
from bench.owner_lookup import postgres_database, sig3
from launchops.adapters.slack.render import render as render_slack
from launchops.config.models import OrgConfig
from launchops.messages.reply import Reply
from launchops.services.config_sync import sync_config
from launchops.store import make_engine, upgrade_schema

ON_CALL = 5  # people per team rota
DELIVERY_TIMEOUT = 120.0  # seconds for every page to reach the fake
WARMUP_TIMEOUT = 30.0
ROUND_GAP = 1.0  # seconds between rounds (see measure)
THROUGHPUT_TARGET = 0.8  # issue 8: the outbox delivers at least 0.8× the direct loop's rate


@dataclass(frozen=True)
class Round:
    """One P0 (or one loop): each page's arrival, ms after the start, and every call made."""

    arrivals_ms: tuple[float, ...]
    calls: list[Call]


@dataclass(frozen=True)
class Case:
    """Per round, when each page's chat.postMessage reached the fake (ms after the start).

    A round is one P0 (or one loop over its messages); the row shows the median round by
    total time, so one hiccup of a shared runner does not make the figure.
    """

    label: str
    rounds: tuple[tuple[float, ...], ...]

    @property
    def arrivals_ms(self) -> tuple[float, ...]:
        ranked = sorted((r for r in self.rounds if r), key=max)
        return ranked[(len(ranked) - 1) // 2] if ranked else ()

    def percentile(self, p: int) -> float:
        arrivals = self.arrivals_ms
        if len(arrivals) == 1:
            return arrivals[0]
        return statistics.quantiles(arrivals, n=100, method="inclusive")[p - 1]

    @property
    def first(self) -> float:
        return min(self.arrivals_ms)

    @property
    def total(self) -> float:
        return max(self.arrivals_ms)

    def totals(self) -> str:
        return " / ".join(sig3(max(r)) if r else "—" for r in self.rounds)


def build_org(responders: int) -> OrgConfig:
    """`responders` people in on-call rotas of five; the P0's Accountable owner is one of them.

    Built in code and checked by the real config models, as `make run` would check YAML. The
    policy is the default one, whose P0 pages `oncall_all` and `accountable`.
    """
    if responders < 1:
        raise ValueError("a P0 needs at least one responder")
    teams_needed = math.ceil(responders / ON_CALL)
    people = [
        {"id": f"responder-{n:03d}", "name": f"Responder {n:03d}", "slack": f"U{n:06d}"}
        for n in range(responders)
    ]
    teams = []
    for number in range(teams_needed):
        rota = [p["id"] for p in people[number * ON_CALL : (number + 1) * ON_CALL]]
        teams.append(
            {
                "id": f"team-{number:02d}",
                "name": f"Team {number:02d}",
                "channel": {"slack": f"C{number:06d}"},
                "oncall": rota,
                "members": rota,
            }
        )
    component = {
        "id": COMPONENT,
        "name": "Checkout API",
        "area": "infra",
        "runbook": "https://wiki.example/runbooks/checkout-api",
        "raci": {"responsible": "team-00", "accountable": "responder-000"},
    }
    return OrgConfig.model_validate(
        {"catalog": {"people": people, "teams": teams, "components": [component]}, "policy": {}}
    )


def send_directly(client: WebClient, messages: Sequence[Message], fake: RemoteFake) -> Round:
    """The same messages, rendered and sent by WebClient in a loop: no outbox, no store."""
    fake.clear()
    started = time.perf_counter()
    for message in messages:
        body = render_slack(Reply.model_validate(message.payload))
        channel = message.target
        if message.kind == "dm":
            channel = client.conversations_open(users=message.target)["channel"]["id"]
        client.chat_postMessage(channel=channel, **body)
    calls = fake.calls()
    return Round(post_arrivals(calls, {m.channel for m in messages}, started), calls)


def measure(url: str, rounds: int) -> tuple[list[Case], list[str]]:
    """`rounds` P0s through the outbox, each followed by its messages sent directly."""
    outbox: list[Round] = []
    direct: list[Round] = []
    commit_ms: list[float] = []
    expected = Counter[str]()
    delivered = Counter[str]()
    paged = unreachable = 0
    with RemoteFake() as fake:
        client = WebClient(token=BOT_TOKEN, base_url=fake.url, retry_handlers=[])
        with LiveBot(url, fake) as bot:
            # Untimed: a P2 (one DM, one channel post) and one direct DM warm both paths up.
            _, warm, _, _ = bot.declare("p2", "page fan-out warm-up")
            if not fake.wait_for_posts({m.channel for m in warm}, WARMUP_TIMEOUT):
                raise RuntimeError("the warm-up page did not arrive")
            client.conversations_open(users="UWARMUP")
            for number in range(rounds):
                fake.clear()
                declared, messages, committed, took_ms = bot.declare(
                    "p0", f"checkout is down for everyone (round {number + 1})"
                )
                channels = {m.channel for m in messages}
                fake.wait_for_posts(channels, DELIVERY_TIMEOUT)
                calls = fake.calls()
                outbox.append(Round(post_arrivals(calls, channels, committed), calls))
                commit_ms.append(took_ms)
                paged, unreachable = len(declared.paged), len(declared.unreachable)
                for kind in ("dm", "post"):
                    wanted = {m.channel for m in messages if m.kind == kind}
                    expected[kind] += len(wanted)
                    delivered[kind] += len(post_arrivals(calls, wanted, 0.0))
                direct.append(send_directly(client, messages, fake))
                # Each round DMs the same people: keep each DM under Slack's one message a
                # second a channel, as separate P0s would, or the bot rightly paces them.
                time.sleep(ROUND_GAP)
        settings = bot.settings() + ("" if bot.stopped else "; it did not stop in time")
    dms, posts = expected["dm"] // rounds, expected["post"] // rounds
    base = Case("baseline: WebClient loop, no outbox", tuple(r.arrivals_ms for r in direct))
    timed = Case("outbox: commit → dispatcher → Slack", tuple(r.arrivals_ms for r in outbox))
    outbox_calls, direct_calls = call_counts(outbox[-1].calls), call_counts(direct[-1].calls)
    notes = [
        f"each P0: {paged:,} paged, {unreachable:,} unreachable, "
        f"{plural(dms, 'DM')} + {plural(posts, 'channel post')} queued; "
        f"declare() took {' / '.join(sig3(ms) for ms in commit_ms)} ms",
        f"delivered through the outbox: {delivered['dm']:,} of {expected['dm']:,} DMs, "
        f"{delivered['post']:,} of {plural(expected['post'], 'channel post')}"
        + ("" if delivered == expected else f" (waited up to {DELIVERY_TIMEOUT:g} s a round)"),
        f"Slack calls a round, both cases: {outbox_calls}"
        if outbox_calls == direct_calls
        else f"Slack calls a round: outbox {outbox_calls}; baseline {direct_calls}",
        f"total ms of each round: outbox {timed.totals()}; baseline {base.totals()}",
        f"dispatcher as build_context wires it: {settings}",
    ]
    return [base, timed], notes


def render(title: str, cases: Sequence[Case], notes: Sequence[str]) -> str:
    base = cases[0]
    width = max(len(c.label) for c in cases)
    lines = [
        title,
        f"{'case':<{width}} {'msgs':>5} {'first ms':>9} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'total ms':>9} {'p50×base':>9} {'p99×base':>9} {'total×base':>11}",
    ]
    for case in cases:
        if not case.arrivals_ms:
            lines.append(f"{case.label:<{width}} {0:>5}  (nothing arrived)")
            continue
        lines.append(
            f"{case.label:<{width}} {len(case.arrivals_ms):>5,} {sig3(case.first):>9}"
            f" {sig3(case.percentile(50)):>8} {sig3(case.percentile(99)):>8}"
            f" {sig3(case.total):>9}"
            f" {sig3(case.percentile(50) / base.percentile(50)):>9}"
            f" {sig3(case.percentile(99) / base.percentile(99)):>9}"
            f" {sig3(case.total / base.total):>11}"
        )
    outbox = cases[-1]
    if base.arrivals_ms and outbox.arrivals_ms and len(cases) > 1:
        # Throughput over the same messages is the inverse of the time they all took.
        ratio = base.total / outbox.total
        met = "met" if ratio >= THROUGHPUT_TARGET else "NOT met"
        lines.append(
            f"throughput through the outbox: {sig3(ratio)}× the direct loop's "
            f"(target ≥ {THROUGHPUT_TARGET:g}×: {met})"
        )
    lines += notes
    return "\n".join(lines)


def run(options: Options) -> str:
    config = build_org(options.responders)
    rotas = len(config.catalog.teams)
    sizes = f"{options.responders:,} responders in {plural(rotas, 'on-call rota')} of {ON_CALL}"
    footer = [
        f"P0 policy pages {' + '.join(config.policy.severities['p0'].page)}; each row is the "
        f"median of {plural(options.page_rounds, 'round')} by total",
        "ms from the start (the commit; the loop's first call) to each page's chat.postMessage",
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at start",
    ]
    reports = []
    with (
        tempfile.TemporaryDirectory(prefix="launchops-bench-") as directory,
        json_logs_to(Path(directory) / "launchops.log"),
    ):
        url = f"sqlite:///{directory}/bench.db"
        title = f"P0 page fan-out — {sizes}, SQLite"
        reports.append(_one(url, config, title, footer, options.page_rounds))
        if options.postgres_url:
            with postgres_database(options.postgres_url) as url:
                title = f"P0 page fan-out — {sizes}, PostgreSQL"
                reports.append(_one(url, config, title, footer, options.page_rounds))
    return "\n\n".join(reports)


def _one(url: str, config: OrgConfig, title: str, footer: list[str], rounds: int) -> str:
    upgrade_schema(url)
    engine = make_engine(url)
    try:
        sync_config(engine, config, source="bench", actor="bench")
    finally:
        engine.dispose()
    cases, notes = measure(url, rounds)
    return render(title, cases, notes + footer)
