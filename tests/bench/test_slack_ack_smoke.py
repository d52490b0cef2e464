"""`make bench` still runs the Slack ack benchmark: its smallest run, on SQLite.

Only the report's shape and the outcome are checked — every request answered with 200 in
both series, every declaration in the store. Timings are never asserted (DESIGN.md §7).
"""

from __future__ import annotations

import re

import pytest

from bench import Options, slack_ack

pytestmark = pytest.mark.e2e  # starts the real app (and the bare bolt baseline) on loopback

ROWS = (
    "bare slack_bolt (AsyncApp)",
    "LaunchOps, SQLite",
    "bare slack_bolt (sync App, thread pool)",
)


def _numbers(row: str, label: str) -> list[float]:
    return [float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*\.?\d*", row[len(label) :])]


def test_slack_ack_report_has_both_series_and_every_request_answered() -> None:
    report = slack_ack.run(Options(ack_requests=20, ack_concurrency=4))

    lines = report.splitlines()
    assert lines[0].startswith("Slack slash-command ack — 20 signed requests per case, 4 in")
    for command in ("/owner", "/incident"):
        start = next(i for i, line in enumerate(lines) if line.startswith(f"{command} — case"))
        rows = lines[start + 1 : start + 1 + len(ROWS)]
        for label, row in zip(ROWS, rows, strict=True):
            assert row.startswith(label), row
            # n, errors, >3 s, req/s, CPU, p50, p95, p99, max, p50×base, p99×base
            n, errors, _late, *figures = _numbers(row, label)
            assert (n, errors) == (20, 0), row
            assert len(figures) == 8, row
            assert all(f > 0 for f in figures), row
    assert "SQLite: 25 incidents in the store afterwards (expected 25" in report
    assert "answers" not in report  # only printed when something was not a 200
    # The table: bare bolt beside LaunchOps per series, the ratio, CPU, throughput.
    for series in ("`/owner rag` (SQLite)", "`/incident p3` (SQLite)"):
        [row] = [line for line in lines if line.startswith(f"| {series} |")]
        assert re.search(r"\| [\d.]+ \((met|NOT met)\) \|", row), row
    assert "bolt's sync App in a thread pool (as LaunchOps runs it on PostgreSQL" in report
