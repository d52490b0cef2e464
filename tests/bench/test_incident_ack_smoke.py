"""`make bench` still runs the declaration-ack benchmark: its smallest run, on SQLite.

Only the report's shape and the outcome are checked — every request acked with 200, one
incident per request. Timings are never asserted (DESIGN.md §7).
"""

from __future__ import annotations

import re

import pytest

from bench import Options, incident_ack

pytestmark = pytest.mark.e2e  # starts the real app (and the baseline) on loopback ports

ROWS = ("baseline: verify + ack", "LaunchOps, SQLite")


def _numbers(row: str, label: str) -> list[float]:
    return [float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*\.?\d*", row[len(label) :])]


def test_incident_ack_report_has_both_rows_and_every_request_acked() -> None:
    report = incident_ack.run(Options(ack_requests=20, ack_concurrency=4))

    lines = report.splitlines()
    assert lines[0].startswith("incident declaration ack — 20 signed `/")
    assert "4 in flight" in lines[0]
    for label in ROWS:
        [row] = [line for line in lines if line.startswith(label)]
        # n, errors, >3 s, req/s, p50, p95, p99, max, p50×base, p95×base, p99×base
        n, errors, _late, *timings = _numbers(row, label)
        assert (n, errors) == (20, 0), row
        assert len(timings) == 8, row
        assert all(t > 0 for t in timings), row
    assert "SQLite: 20 of 20 incidents created" in report
    assert "answers" not in report  # only printed when something was not a 200
