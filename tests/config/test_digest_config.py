"""The digest schedule in config: the policy's `digest:` and a team's own override."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from launchops.config import ConfigError, load_config
from launchops.config.models import Policy
from tests.conftest import CONFIG_DIR


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target)
    return target


def _team_digest(directory: Path, team: str, digest: str) -> Path:
    catalog = directory / "catalog.yaml"
    text = catalog.read_text()
    anchor = f"  - id: {team}\n"
    assert anchor in text
    catalog.write_text(text.replace(anchor, f"{anchor}    digest: {digest}\n", 1))
    return catalog


def test_the_example_schedules_every_team_on_monday_morning_in_seoul() -> None:
    digest = load_config(CONFIG_DIR).policy.digest
    assert (digest.when, digest.timezone, digest.teams) == ("mon 09:00", "Asia/Seoul", {})
    assert digest.for_team("ml") == ("mon 09:00", "Asia/Seoul")


def test_a_team_overrides_its_time_zone_and_keeps_the_policy_day(config_dir: Path) -> None:
    _team_digest(config_dir, "platform", "{timezone: America/New_York}")
    _team_digest(config_dir, "data", '{when: "fri 16:30", timezone: Europe/London}')
    policy = load_config(config_dir).policy
    assert policy.digest.for_team("platform") == ("mon 09:00", "America/New_York")
    assert policy.digest.for_team("data") == ("fri 16:30", "Europe/London")
    assert policy.digest.for_team("ml") == ("mon 09:00", "Asia/Seoul")
    # The overrides ride in the policy a config revision stores.
    stored = Policy.model_validate(policy.model_dump(mode="json"))
    assert stored.digest.for_team("data") == ("fri 16:30", "Europe/London")


def test_a_bad_team_digest_names_file_line_and_key(config_dir: Path) -> None:
    catalog = _team_digest(config_dir, "ml", '{when: "monday 9am", timezone: Mars/Olympus}')
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir)
    problems = " ".join(str(p) for p in caught.value.problems)
    assert "catalog.yaml:" in problems and "digest" in problems
    assert "mon 09:00" in problems and "Mars/Olympus" in problems
    assert catalog.name in problems


def test_a_bad_policy_time_zone_is_refused(config_dir: Path) -> None:
    policy = config_dir / "policy.yaml"
    policy.write_text(policy.read_text().replace("timezone: Asia/Seoul", "timezone: Asia/Nowhere"))
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir)
    assert "unknown time zone 'Asia/Nowhere'" in " ".join(str(p) for p in caught.value.problems)
