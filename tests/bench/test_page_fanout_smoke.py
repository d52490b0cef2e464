"""`make bench` still runs the P0 fan-out benchmark: its smallest run, on SQLite.

Only the report's shape and the outcome are checked — every page delivered, by the outbox
and by the baseline alike. Timings are never asserted (DESIGN.md §7).
"""

from __future__ import annotations

import re

import pytest

from bench import Options, page_fanout

ROWS = ("baseline: WebClient loop, no outbox", "outbox: commit → dispatcher → Slack")


def test_page_fanout_report_has_both_rows_and_every_page_delivered() -> None:
    report = page_fanout.run(Options(responders=5, page_rounds=1))

    lines = report.splitlines()
    assert lines[0] == "P0 page fan-out — 5 responders in 1 on-call rota of 5, SQLite"
    for label in ROWS:
        [row] = [line for line in lines if line.startswith(label)]
        numbers = [
            float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*\.?\d*", row[len(label) :])
        ]
        # msgs, first, p50, p99, total, p50×base, p99×base, total×base
        assert numbers[0] == 6, row  # five DMs and the responsible team's channel post
        assert len(numbers) == 8, row
        assert all(n > 0 for n in numbers), row
    assert "each P0: 5 paged, 0 unreachable, 5 DMs + 1 channel post queued" in report
    assert "delivered through the outbox: 5 of 5 DMs, 1 of 1 channel post" in report
    assert "Slack calls a round, both cases: 6 chat.postMessage, 5 conversations.open" in report
    assert re.search(
        r"^throughput through the outbox: [\d.]+× the direct loop's "
        r"\(target ≥ 0\.8×: (met|NOT met)\)$",
        report,
        re.M,
    )
    assert "batch_size=" in report
    assert "poll_interval=" in report


def test_catalog_pages_everyone_on_call_once() -> None:
    config = page_fanout.build_org(200)

    assert len(config.catalog.teams) == 40
    assert {len(team.oncall) for team in config.catalog.teams} == {5}
    assert all(person.slack for person in config.catalog.people)
    assert config.policy.severities["p0"].page == ["oncall_all", "accountable"]
    with pytest.raises(ValueError, match="at least one responder"):
        page_fanout.build_org(0)
