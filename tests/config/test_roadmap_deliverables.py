"""`roadmap:` deliverables per stage: the guide's unless written, and a bad entry named by
file, line and key in `config check`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from launchops.cli import app as cli_app
from launchops.config import ConfigError, load_config
from launchops.config.models import DEFAULT_DELIVERABLES, stage_deliverables
from tests.conftest import CONFIG_DIR

POC = "poc:     {timebox: 4w, limit: 6w}"


def _config(tmp_path: Path, poc: str) -> Path:
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target)
    policy = target / "policy.yaml"
    text = policy.read_text()
    assert POC in text
    policy.write_text(text.replace(POC, poc))
    return target


def _problems(directory: Path) -> list[str]:
    with pytest.raises(ConfigError) as failed:
        load_config(directory)
    return [str(p) for p in failed.value.problems]


def _line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_deliverables_default_to_the_guides_and_may_be_replaced_or_emptied(
    tmp_path: Path,
) -> None:
    roadmap = load_config(CONFIG_DIR).policy.roadmap
    assert stage_deliverables(roadmap, "poc") == DEFAULT_DELIVERABLES["poc"]
    assert stage_deliverables(roadmap, "production") == DEFAULT_DELIVERABLES["production"]
    assert stage_deliverables(roadmap, "scale") == ()
    written = _config(
        tmp_path, "poc:\n    timebox: 4w\n    limit: 6w\n    deliverables: [Demo video]"
    )
    assert stage_deliverables(load_config(written).policy.roadmap, "poc") == ("Demo video",)
    (tmp_path / "config").rename(tmp_path / "first")
    none = _config(tmp_path, "poc: {timebox: 4w, limit: 6w, deliverables: []}")
    assert stage_deliverables(load_config(none).policy.roadmap, "poc") == ()


@pytest.mark.parametrize(
    ("entries", "bad", "key", "message"),
    [
        (
            "      - Demo video\n      - '!!!'\n",
            "'!!!'",
            "roadmap.poc.deliverables[1]",
            "letters or digits",
        ),
        ("      - ''\n", "''", "roadmap.poc.deliverables[0]", "at least 1 character"),
        (f"      - {'x' * 60}\n", "xxxx", "roadmap.poc.deliverables[0]", "at most 50 characters"),
        ("      - {a: b}\n", "{a: b}", "roadmap.poc.deliverables[0]", "valid string"),
    ],
)
def test_a_bad_deliverable_is_named_by_file_line_and_key(
    tmp_path: Path, entries: str, bad: str, key: str, message: str
) -> None:
    directory = _config(
        tmp_path, f"poc:\n    timebox: 4w\n    limit: 6w\n    deliverables:\n{entries}"
    )
    [problem] = _problems(directory)
    line = _line_of(directory / "policy.yaml", bad)
    assert problem.startswith(f"policy.yaml:{line}: {key}: "), problem
    assert message in problem, problem


def test_a_deliverable_listed_twice_is_named(tmp_path: Path) -> None:
    directory = _config(
        tmp_path,
        "poc:\n    timebox: 4w\n    limit: 6w\n    deliverables:\n      - Demo video\n"
        "      - demo  video\n",
    )
    [problem] = _problems(directory)
    line = _line_of(directory / "policy.yaml", "deliverables:")
    assert problem.startswith(f"policy.yaml:{line}: roadmap.poc.deliverables: "), problem
    assert "'demo  video' is listed twice" in problem


@pytest.mark.parametrize(
    ("poc", "bad", "expected"),
    [
        (
            "poc:     {timebox: -1d, limit: 6w}",
            "-1d",
            "roadmap.poc.timebox: Value error, '-1d' is not a duration",
        ),
        (
            "poc:     {timebox: 4w, limit: 3w}",
            "limit: 3w",
            "roadmap.poc: Value error, limit 3w is shorter than the timebox 4w",
        ),
        (
            "poc:     {timebox: 4w, limit: 6w, deliverables: ['?']}",
            "deliverables",
            "roadmap.poc.deliverables[0]: Value error, a deliverable needs a name",
        ),
    ],
)
def test_config_check_exits_1_naming_file_and_line(
    tmp_path: Path, poc: str, bad: str, expected: str
) -> None:
    """What an operator runs: `launchops config check DIR`, exit 1, `policy.yaml:<line>`."""
    directory = _config(tmp_path, poc)
    result = CliRunner().invoke(cli_app, ["config", "check", str(directory)])
    assert result.exit_code == 1, result.output
    line = _line_of(directory / "policy.yaml", bad)
    assert f"policy.yaml:{line}: {expected}" in result.output, result.output
