"""`make bench` still runs the fault benchmark (bench/faults.py): its smallest run.

Two replicas on PostgreSQL under the load mix while one is SIGKILLed and restarted every few
seconds. Checked: a kill happened and the driver met it (attempts failed over to the other
replica), and still nothing answered 200 was lost or kept twice, and every page and post
reached the fake Web API exactly once. Timings are never asserted (DESIGN.md §7).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import Options, faults
from tests.bench.test_load_smoke import assert_exactly_once
from tests.conftest import require_postgres

pytestmark = pytest.mark.e2e  # real `launchops serve` processes, killed with SIGKILL


def test_killing_a_replica_under_load_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    options = Options(
        postgres_url=require_postgres(),
        load_rate=6.0,
        load_replicas=2,
        fault_seconds=7.0,
        fault_kill_every=3.0,
        results_dir=str(tmp_path),
    )
    report = faults.run(options)

    assert "0 lost and 0 duplicated (target): met — lost 0, duplicated 0" in report, report
    results = json.loads((tmp_path / "faults-quick.json").read_text())
    case = results["case"]
    assert case["kills"] and not case["kill_errors"], case
    assert sum(case["failed_attempts_retried"].values()) > 0, case  # the driver met a kill
    assert case["answered_after_retry"] > 0, case
    assert case["requests"] == int(7.0 * 6.0 * 2), case
    assert case["outcomes"] == {"200": case["requests"]}, case  # every one answered in the end
    assert_exactly_once(case["check"])
    assert (results["lost"], results["duplicated"]) == (0, 0)
