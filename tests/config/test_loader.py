"""Config validation: every problem is reported with its file, line and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from launchops.config import ConfigError, load_config
from tests.conftest import CONFIG_DIR


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"fixture text {old!r} not found in {path.name}"
    path.write_text(text.replace(old, new, 1))


def _problems(directory: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(directory)
    return [str(p) for p in caught.value.problems]


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


def test_the_shipped_example_is_valid() -> None:
    config = load_config(CONFIG_DIR)
    assert {t.id for t in config.catalog.teams} >= {"ml", "platform", "data", "product", "legal"}
    assert set(config.policy.gates.stakeholders) == {"legal", "security", "cs", "business"}
    areas = {c.area for c in config.catalog.components}
    assert areas == {"model", "infra", "data", "ux", "policy"}


def test_unknown_person_in_oncall_names_file_line_and_key(config_dir: Path) -> None:
    catalog = config_dir / "catalog.yaml"
    _edit(catalog, "oncall: [chris]", "oncall: [chirs]")
    problems = _problems(config_dir)
    line = _line_of(catalog, "oncall: [chirs]")
    assert problems == [f"catalog.yaml:{line}: teams[2].oncall[0]: unknown person 'chirs'"]


def test_unknown_raci_party(config_dir: Path) -> None:
    catalog = config_dir / "catalog.yaml"
    _edit(
        catalog,
        "responsible: data, accountable: carol, consulted: [ml]",
        "responsible: dta, accountable: carol, consulted: [ml]",
    )
    problems = _problems(config_dir)
    assert any("raci.responsible: unknown team or person 'dta'" in p for p in problems)


def test_bad_area_lists_the_choices(config_dir: Path) -> None:
    catalog = config_dir / "catalog.yaml"
    _edit(catalog, "area: ux", "area: frontend")
    line = _line_of(catalog, "area: frontend")
    problems = _problems(config_dir)
    assert any(
        p.startswith(f"catalog.yaml:{line}: components[6].area: Input should be") for p in problems
    ), problems


def test_alias_clash_between_components(config_dir: Path) -> None:
    catalog = config_dir / "catalog.yaml"
    _edit(catalog, "aliases: [widget, frontend, ui, 채팅 위젯]", "aliases: [widget, RAG, ui]")
    problems = _problems(config_dir)
    assert any("'RAG' already names component 'retriever'" in p for p in problems), problems


def test_misspelt_key_is_an_error_not_ignored(config_dir: Path) -> None:
    policy = config_dir / "policy.yaml"
    _edit(policy, "expire_after: 7d", "expire_afetr: 7d")
    problems = _problems(config_dir)
    line = _line_of(policy, "expire_afetr")
    assert f"policy.yaml:{line}: gates.expire_afetr: Extra inputs are not permitted" in problems


def test_bad_duration_and_unknown_page_target(config_dir: Path) -> None:
    policy = config_dir / "policy.yaml"
    _edit(policy, "ack_within: 1h,", "ack_within: soon,")
    problems = _problems(config_dir)
    assert any("severities.p1.ack_within" in p and "not a duration" in p for p in problems)
    _edit(policy, "ack_within: soon,", "ack_within: 1h,")
    _edit(policy, "page: [responsible_oncall]", "page: [the_boss]")
    problems = _problems(config_dir)
    assert any("severities.p2.page[0]: unknown paging target 'the_boss'" in p for p in problems)


def test_invalid_yaml_reports_the_line(config_dir: Path) -> None:
    catalog = config_dir / "catalog.yaml"
    catalog.write_text("people:\n  - id: a\n    name: [unclosed\n")
    problems = _problems(config_dir)
    assert len(problems) == 1
    assert problems[0].startswith("catalog.yaml:")
    assert "invalid YAML" in problems[0]


def test_duplicate_keys_and_ids(config_dir: Path) -> None:
    catalog = config_dir / "catalog.yaml"
    _edit(catalog, "  - id: platform\n", "  - id: ml\n")
    problems = _problems(config_dir)
    assert any("teams[1].id: duplicate id 'ml'" in p for p in problems), problems


def test_missing_file(tmp_path: Path) -> None:
    problems = _problems(tmp_path)
    assert "catalog.yaml: file not found" in problems
    assert "policy.yaml: file not found" in problems


def test_stakeholder_group_must_exist(config_dir: Path) -> None:
    policy = config_dir / "policy.yaml"
    _edit(policy, "scale:      {approvers: {business: all}}", "scale: {approvers: {finance: 1}}")
    problems = _problems(config_dir)
    assert any(
        "gates.stages.scale.approvers.finance: unknown stakeholder group" in p for p in problems
    )


def test_roadmap_slo_and_sponsor_from_the_design_are_read() -> None:
    config = load_config(CONFIG_DIR)
    roadmap = config.policy.roadmap
    assert (roadmap["poc"].timebox, roadmap["poc"].limit) == ("4w", "6w")
    assert config.policy.slo.overrides["inference-gateway"].latency_p95 == "2s"
    project = next(p for p in config.catalog.projects if p.id == "support-assistant")
    assert project.sponsor == "dan"
    assert str(project.stage_entered) == "2026-10-01"


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        (
            "poc:     {timebox: 4w, limit: 6w}",
            "poc:     {timebox: -1d, limit: 6w}",
            "roadmap.poc.timebox",
            "is not a duration",
        ),
        (
            "poc:     {timebox: 4w, limit: 6w}",
            "poc:     {timebox: 0d, limit: 6w}",
            "roadmap.poc.timebox",
            "longer than zero",
        ),
        (
            "poc:     {timebox: 4w, limit: 6w}",
            "poc:     {timebox: 4w, limit: 3w}",
            "roadmap.poc",
            "limit 3w is shorter than the timebox 4w",
        ),
        (
            "overrides: {inference-gateway:",
            "overrides: {ranker:",
            "slo.overrides.ranker",
            "no component or project 'ranker'",
        ),
        ("success_rate: 0.995", "success_rate: 1.5", "slo.success_rate", "less than or equal to 1"),
    ],
)
def test_bad_roadmap_or_slo_names_file_line_and_key(
    config_dir: Path, old: str, new: str, key: str, message: str
) -> None:
    policy = config_dir / "policy.yaml"
    _edit(policy, old, new)
    [problem] = _problems(config_dir)
    assert problem.startswith(f"policy.yaml:{_line_of(policy, new)}:")
    assert f" {key}: " in problem and message in problem, problem


def test_an_unknown_sponsor_is_named(config_dir: Path) -> None:
    catalog = config_dir / "catalog.yaml"
    _edit(catalog, "sponsor: dan", "sponsor: dna")
    line = _line_of(catalog, "sponsor: dna")
    assert _problems(config_dir) == [
        f"catalog.yaml:{line}: projects[0].sponsor: unknown person 'dna'"
    ]
