"""A policy that leaves out a severity level gets the guide's defaults for it (DESIGN.md §4).

Before, `config check` passed such a policy and the first declaration (or alert) of the missing
level crashed on a KeyError. These tests check the loader, the CLI and the incident service.
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select
from typer.testing import CliRunner

from launchops.cli import app as cli_app
from launchops.config import ConfigError, load_config
from launchops.config.models import DEFAULT_SEVERITIES, Policy
from launchops.services.config_sync import sync_config
from launchops.services.incidents import Actor, IncidentService
from launchops.store import session_scope
from launchops.store.models import AuditEntry, OutboxMessage
from tests.conftest import CONFIG_DIR

P2_P3 = re.compile(r"^  p[23]:.*\n", re.MULTILINE)


def only_p0_and_p1(tmp_path: Path) -> Path:
    """The example config with the p2 and p3 lines taken out of policy.yaml."""
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target)
    policy = target / "policy.yaml"
    text, removed = P2_P3.subn("", policy.read_text())
    assert removed == 2
    policy.write_text(text)
    return target


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_missing_levels_get_the_defaults(tmp_path: Path) -> None:
    config = load_config(only_p0_and_p1(tmp_path))
    severities = config.policy.severities
    assert list(severities) == ["p0", "p1", "p2", "p3"]
    assert severities["p2"] == DEFAULT_SEVERITIES["p2"]
    assert severities["p3"] == DEFAULT_SEVERITIES["p3"]
    assert (severities["p2"].ack_within, severities["p2"].page) == ("4h", ["responsible_oncall"])
    assert severities["p3"].backlog
    # What the file says still wins over the defaults.
    assert severities["p0"].escalate_to == ["accountable", "team:leadership"]


def test_an_empty_severities_table_is_all_defaults() -> None:
    policy = Policy.model_validate({"severities": {}})
    assert policy.severities == dict(DEFAULT_SEVERITIES)
    assert DEFAULT_SEVERITIES["p0"].escalate_to == ["accountable", "team:leadership"]


def test_config_check_passes_a_policy_with_only_p0_and_p1(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli_app, ["config", "check", str(only_p0_and_p1(tmp_path))])
    assert result.exit_code == 0, result.output
    assert ": ok" in result.output


def test_real_errors_in_a_partial_policy_still_name_file_line_and_key(tmp_path: Path) -> None:
    directory = only_p0_and_p1(tmp_path)
    policy = directory / "policy.yaml"
    policy.write_text(policy.read_text().replace("page: [responsible]", "page: [respnsible]", 1))
    line = next(
        n for n, text in enumerate(policy.read_text().splitlines(), 1) if "respnsible" in text
    )
    with pytest.raises(ConfigError) as caught:
        load_config(directory)
    [problem] = [str(p) for p in caught.value.problems]
    assert problem.startswith(f"policy.yaml:{line}: severities.p1.page[0]: unknown paging target")

    result = CliRunner().invoke(cli_app, ["config", "check", str(directory)])
    assert result.exit_code == 1
    assert f"policy.yaml:{line}: severities.p1.page[0]" in result.output


def test_a_written_level_naming_an_unknown_team_is_still_an_error(tmp_path: Path) -> None:
    """Only the built-in defaults are exempt from the catalog check, not what a file says."""
    directory = only_p0_and_p1(tmp_path)
    policy = directory / "policy.yaml"
    policy.write_text(policy.read_text().replace('"team:leadership"', '"team:leadershp"'))
    with pytest.raises(ConfigError) as caught:
        load_config(directory)
    assert [p.key for p in caught.value.problems] == ["severities.p0.escalate_to[1]"]


def test_p2_and_p3_are_declared_with_the_defaults(engine: Engine, tmp_path: Path) -> None:
    sync_config(engine, load_config(only_p0_and_p1(tmp_path)), source="test", actor="test")
    clock = Clock()
    incidents = IncidentService(engine, platforms=("slack",), clock=clock)
    who = Actor.system_actor("test")

    p2 = incidents.declare(level="p2", title="slow answers", component_query="rag", actor=who)
    assert p2.created
    assert p2.paged == ("Chris Novak",)  # responsible_oncall: the data team's first on call
    assert p2.incident.ack_deadline == clock.now + timedelta(hours=4)

    p3 = incidents.declare(level="p3", title="typo in a card", component_query="rag", actor=who)
    assert p3.created
    assert p3.paged == ()
    assert p3.incident.ack_deadline is None


def test_default_p0_escalation_to_a_missing_leadership_team_reaches_nobody_and_moves_on(
    engine: Engine, tmp_path: Path
) -> None:
    """The default P0 escalates to `team:leadership`; an organisation without that team gets a
    step that pages nobody, not a crash, and escalation then runs out as usual."""
    directory = only_p0_and_p1(tmp_path)
    catalog = directory / "catalog.yaml"
    text, removed = re.subn(r"  - id: leadership\n(    .*\n)+", "", catalog.read_text())
    assert removed == 1
    catalog.write_text(text)
    policy = directory / "policy.yaml"
    policy.write_text(re.sub(r"^  p0:.*\n", "", policy.read_text(), flags=re.MULTILINE))
    config = load_config(directory)  # the defaulted p0 names a team the catalog lacks
    assert "leadership" not in {t.id for t in config.catalog.teams}
    sync_config(engine, config, source="test", actor="test")
    clock = Clock()
    incidents = IncidentService(engine, platforms=("slack",), clock=clock)
    declared = incidents.declare(
        level="p0", title="everything is down", component_query="rag", actor=Actor.system_actor("t")
    )
    assert declared.paged  # on-call people and the accountable person

    for _ in range(3):  # step 1 (accountable), step 2 (team:leadership), then exhausted
        clock.now += timedelta(minutes=15)
        incidents.escalate_due()
    with session_scope(engine) as session:
        actions = [
            (a.action, a.detail.get("target"), a.detail.get("paged"))
            for a in session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
            if a.action.startswith("incident.escalat")
        ]
        rows = session.exec(select(OutboxMessage)).all()
    assert [(action, target) for action, target, _ in actions] == [
        ("incident.escalated", "accountable"),
        ("incident.escalated", "team:leadership"),
        ("incident.escalation_exhausted", None),
    ]
    assert actions[1][2] == []  # the leadership step paged nobody
    assert not any(m.destination.get("channel") == "C0LEADERS" for m in rows)
    assert incidents.get(declared.incident.id).status == "open"
