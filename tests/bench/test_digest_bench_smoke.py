"""`make bench` still runs the digest benchmark: a tiny run on SQLite, history included.

Only the report's shape is checked; timings are never asserted (DESIGN.md §7).
"""

from __future__ import annotations

from bench import Options, digest


def test_digest_report_has_both_builds_and_both_ingestion_rows() -> None:
    report = digest.run(
        Options(digest_week=300, digest_history=3_000, ingest_batches=2, postgres_url=None)
    )
    lines = report.splitlines()
    assert lines[0] == "weekly digest and failure ingestion — SQLite"
    assert any(line.startswith("digest build, 300 cases in the store") for line in lines)
    [large] = [line for line in lines if line.startswith("digest build, 3,300 cases")]
    assert "(best)" in large and "of the small store" in large
    assert any(line.startswith("POST /api/v1/failures, batches of 1,000") for line in lines)
    assert any(line.startswith("baseline: bare bulk insert") for line in lines)
