"""Logging set up while another stream stood in for stderr (a CLI runner's, a test's) keeps
working once that stream is closed: a log line never fails the code that logs it."""

from __future__ import annotations

import io
import logging
import sys

import pytest
import structlog

from launchops.logging_setup import _CLEAN, _CLEAN_MAX, configure, mask_event


@pytest.mark.parametrize("json", [True, False])
def test_logging_after_the_configuring_stream_closed_writes_to_the_current_stderr(
    json: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    borrowed = io.StringIO()
    monkeypatch.setattr(sys, "stderr", borrowed)
    configure(json=json)
    borrowed.close()  # as CliRunner does when its command returns
    now = io.StringIO()
    monkeypatch.setattr(sys, "stderr", now)
    structlog.get_logger("test").warning("outbox.claim_lost", outbox_id=1)
    logging.getLogger("test").warning("plain stdlib line")
    assert "outbox.claim_lost" in now.getvalue()
    assert "plain stdlib line" in now.getvalue()


def test_masking_remembers_only_what_it_left_unchanged() -> None:
    """Values seen clean are not masked again; a value with something to mask always is."""

    def masked(**fields: object) -> dict[str, object]:
        return dict(mask_event(None, "info", dict(fields)))

    for _ in range(3):  # the second and third pass go through the memo
        line = masked(
            event="incident.declared",
            request_id="0f3a9c2e71b4d5a8",
            who="carol@example.com",
            card=4111111111111111,
            incident=42,
            paged=True,
        )
        assert line["event"] == "incident.declared"
        assert line["request_id"] == "0f3a9c2e71b4d5a8"
        assert "carol@example.com" not in str(line["who"])
        assert "4111111111111111" not in str(line["card"])
        assert line["incident"] == 42
        assert line["paged"] is True


def test_the_memo_stays_bounded() -> None:
    for n in range(_CLEAN_MAX + 10):
        mask_event(None, "info", {"event": f"event-{n}"})
    assert len(_CLEAN) <= _CLEAN_MAX
