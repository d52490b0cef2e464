"""`launchops report --month YYYY-MM [--project P] [--send]`: prints the monthly operations
report from the store, refuses a bad month or project with exit 1, resends on --send."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from launchops.cli import app as cli_app
from tests.conftest import CONFIG_DIR


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LAUNCHOPS_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("LAUNCHOPS_CONFIG_DIR", str(CONFIG_DIR))
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "MicrosoftAppId"):
        monkeypatch.delenv(name, raising=False)


def test_report_prints_refuses_and_sends(env: None) -> None:
    runner = CliRunner()
    nothing = runner.invoke(cli_app, ["report", "--month", "2026-11"])
    assert nothing.exit_code == 0, nothing.output
    assert "no project is in Production" in nothing.output
    named = runner.invoke(
        cli_app, ["report", "--month", "2026-11", "--project", "support-assistant"]
    )
    assert named.exit_code == 0, named.output
    assert "Monthly operations report: Support assistant, 2026-11" in named.output
    assert "Incidents by severity (mean time to acknowledge / resolve): 0" in named.output
    bad = runner.invoke(cli_app, ["report", "--month", "2026-13"])
    assert bad.exit_code == 1 and "not a month" in bad.output
    unknown = runner.invoke(cli_app, ["report", "--month", "2026-11", "--project", "nope"])
    assert unknown.exit_code == 1
    sent = runner.invoke(
        cli_app,
        ["report", "--month", "2026-11", "--project", "support-assistant", "--send", "--wait", "0"],
    )
    assert sent.exit_code == 0, sent.output
    assert "sent 1 report(s) for 2026-11" in sent.output
