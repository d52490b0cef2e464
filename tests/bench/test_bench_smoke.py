"""`make bench` still runs: the owner-lookup benchmark in its smallest mode, on SQLite.

Only the shape of the report is checked. Timings are never asserted (DESIGN.md §7): a busy
CI runner must not fail a build, and the figures are for people to read, not for tests.
"""

from __future__ import annotations

import re

from bench import Options, owner_lookup

ROWS = (
    "baseline: get by primary key",
    "who owns (exact)",
    "who owns (typo → suggestions)",
    "first fuzzy lookup (cold)",
)


def test_owner_lookup_report_has_every_row_with_positive_numbers() -> None:
    report = owner_lookup.run(Options(components=200, lookups=20, fuzzy_lookups=10))

    assert "200 components" in report
    assert "SQLite" in report
    assert "10 of 10 typos got suggestions" in report
    lines = report.splitlines()
    for label in ROWS:
        [row] = [line for line in lines if line.startswith(label)]
        numbers = [
            float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*\.?\d*", row[len(label) :])
        ]
        assert len(numbers) == (3 if "cold" in label else 6), row  # n, p50, p95, p99, ×base
        assert all(n > 0 for n in numbers), row
