"""`make bench` still runs the load benchmark (bench/load.py): its smallest run, on PostgreSQL.

Only the outcome is checked — every request answered 200 in each case, and every
declaration, acknowledgement, gate decision, page and post once in the store and once at the
fake Web API. Timings are never asserted (DESIGN.md §7). The checker itself is tested too, on
made-up rows, so that a checker that finds nothing cannot pass for a clean run.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from bench._load_check import Check, compare_deliveries

from bench import Options, load
from tests.conftest import require_postgres

pytestmark = pytest.mark.e2e  # real `launchops serve` processes on loopback


def tiny(tmp_path: Path, **sizes: Any) -> Options:
    return Options(
        postgres_url=require_postgres(),
        load_seconds=4.0,
        load_rate=6.0,
        load_replicas=2,
        results_dir=str(tmp_path),
        **sizes,
    )


def assert_exactly_once(check: dict[str, Any]) -> None:
    assert check["lost"] == 0 and check["duplicated"] == 0, check
    assert check["drained"] is True, check
    assert check["declared_acked"] == check["incidents"] > 0, check
    assert check["decisions_acked"] == check["decisions"] > 0, check
    assert check["pages"] > 0 and check["pages_delivered"] == check["pages"], check
    assert check["gate_messages"] > 0, check
    assert check["gate_messages_delivered"] == check["gate_messages"], check
    assert check["outbox_posts"] == check["fake_posts"], check
    assert check["bad_answers"] == [], check


def test_load_report_and_results_file_show_every_request_answered_and_kept_once(
    tmp_path: Path,
) -> None:
    report = load.run(tiny(tmp_path))

    assert report.startswith("Slack acks under load — 6 signed requests/s per server")
    assert "4 s per case in 2 slices of 2 s, interleaved" in report
    assert "p99, 2 replicas ÷ one process: " in report
    assert "p99 per slice, ms" in report
    results = json.loads((tmp_path / "load-quick.json").read_text())
    assert results["machine"]["cores"] and results["machine"]["cpu"]
    assert len(results["machine"]["load_average_at_start"]) == 3
    labels = [case["label"] for case in results["cases"]]
    assert labels == [
        "bare slack_bolt (AsyncApp)",
        "LaunchOps, one process",
        "LaunchOps, 2 replicas",
    ]
    for case, targets in zip(results["cases"], (1, 1, 2), strict=True):
        assert case["targets"] == targets
        assert case["requests"] == int(4.0 * 6.0 * targets), case  # every slot sent
        assert case["errors"] == 0 and case["outcomes"] == {"200": case["requests"]}, case
    assert results["cases"][0]["check"] is None  # the bare endpoint keeps no Slack state
    for case in results["cases"][1:]:
        assert_exactly_once(case["check"])
    assert results["p99_ratio_replicas_vs_one"] > 0
    # interleaved: a warm-up slice per case, then rounds in alternating order
    order = [(s["index"], s["case"]) for s in results["slices"]]
    assert order == [
        (0, labels[0]), (0, labels[1]), (0, labels[2]),
        (1, labels[2]), (1, labels[1]), (1, labels[0]),
        (2, labels[0]), (2, labels[1]), (2, labels[2]),
    ]  # fmt: skip
    for case, targets in zip(results["cases"], (1, 1, 2), strict=True):
        own = [s for s in results["slices"] if s["case"] == case["label"]]
        assert [s["requests"] for s in own] == [int(2.0 * 6.0 * targets)] * 3, own
        assert len(results["p99_per_slice_ms"][case["label"]]) == 2  # the warm-up not counted
    assert all(s["errors"] == 0 for s in results["slices"]), results["slices"]


def _row(
    n: int, ts: str | None, status: str = "sent", key: str = "incident:1:page:chris:slack"
) -> SimpleNamespace:
    return SimpleNamespace(id=n, dedupe_key=key, status=status, result={"ts": ts} if ts else None)


def test_the_check_counts_a_post_sent_twice_and_a_page_never_sent() -> None:
    rows = [
        _row(1, "1.000001"),
        _row(2, "1.000002", key="gate:1:ask:grace:slack"),
        _row(3, None, status="sending", key="incident:2:page:ivy:slack"),
    ]
    messages = [
        ["chat.postMessage", "DU0CHRIS", "1.000001", None, "aaa"],
        ["chat.postMessage", "DU0GRACE", "1.000002", None, "bbb"],
        ["chat.postMessage", "DU0GRACE", "1.000003", None, "bbb"],  # the same post again
        ["chat.update", "DU0CHRIS", "1.000001", None, "ccc"],  # an edit is no post
    ]
    found = Check()
    compare_deliveries(rows, messages, found)

    assert (found.pages, found.pages_delivered) == (2, 1)
    assert (found.gate_messages, found.gate_messages_delivered) == (1, 1)
    assert found.not_sent == ["incident:2:page:ivy:slack (sending)"]
    assert found.posts_unrecorded == ["DU0GRACE ts 1.000003 (thread None)"]
    assert len(found.posts_identical) == 1
    assert (found.lost, found.duplicated) == (1, 2)
