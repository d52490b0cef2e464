"""Logging set up while another stream stood in for stderr (a CLI runner's, a test's) keeps
working once that stream is closed: a log line never fails the code that logs it."""

from __future__ import annotations

import io
import logging
import sys

import pytest
import structlog

from launchops.logging_setup import configure


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
