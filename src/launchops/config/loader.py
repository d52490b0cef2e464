"""Read and check the config files, tying every problem to a file, line and key.

A config is all-or-nothing: `load_config` either returns a fully cross-checked `OrgConfig` or
raises `ConfigError` with every problem found, so a broken file can never half-replace a good
one in the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from launchops.config.models import Catalog, OrgConfig, Policy
from launchops.text import normalize_key

CATALOG_FILE = "catalog.yaml"
POLICY_FILE = "policy.yaml"

PAGE_TARGETS = {
    "oncall_all",
    "responsible",
    "responsible_oncall",
    "responsible_team",
    "accountable",
    "consulted",
    "informed",
}

Path_ = tuple[str | int, ...]
_M = TypeVar("_M", bound=BaseModel)


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(Exception):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class _Document:
    """One YAML file: its data plus the line each key path starts on."""

    def __init__(self, path: Path) -> None:
        self.name = path.name
        self.lines: dict[Path_, int] = {}
        self.problems: list[ConfigProblem] = []
        self.data: Any = None
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self.problems.append(ConfigProblem(self.name, None, "", "file not found"))
            return
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(ConfigProblem(self.name, None, "", f"cannot read: {exc}"))
            return
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            self.data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            reason = getattr(exc, "problem", None) or str(exc)
            self.problems.append(ConfigProblem(self.name, line, "", f"invalid YAML: {reason}"))
            return
        if node is not None:
            self._index(node, ())
        if self.data is None:
            self.data = {}
        if not isinstance(self.data, dict):
            self.problems.append(ConfigProblem(self.name, 1, "", "expected a mapping of keys"))
            self.data = {}

    def _index(self, node: yaml.Node, path: Path_) -> None:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                if key in seen:
                    self.problem(path + (key,), "duplicate key", key_node.start_mark.line + 1)
                seen.add(key)
                self._index(value_node, path + (key,))
                self.lines[path + (key,)] = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._index(item, path + (index,))

    def line_of(self, path: Path_) -> int | None:
        # The deepest known ancestor: a missing key is reported on its parent's line.
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.lines:
                return self.lines[path[:cut]]
        return None

    def problem(self, path: Path_, message: str, line: int | None = None) -> None:
        self.problems.append(
            ConfigProblem(self.name, line or self.line_of(path), _dotted(path), message)
        )


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _validate(doc: _Document, model: type[_M]) -> _M | None:
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        for error in exc.errors():
            path = tuple(p for p in error["loc"] if isinstance(p, str | int))
            doc.problem(path, error["msg"])
        return None


def located(directory: Path, file: str, path: Path_, message: str) -> ConfigProblem:
    """A remark about `file` in `directory` at a key path, with the line that key is on (for
    warnings found after loading, e.g. against the store)."""
    doc = _Document(directory / file)
    return ConfigProblem(doc.name, doc.line_of(path), _dotted(path), message)


def load_config(directory: Path) -> OrgConfig:
    """Parse, validate and cross-check `catalog.yaml` and `policy.yaml` in `directory`."""
    catalog_doc = _Document(directory / CATALOG_FILE)
    policy_doc = _Document(directory / POLICY_FILE)
    catalog = _validate(catalog_doc, Catalog) if not catalog_doc.problems else None
    policy = _validate(policy_doc, Policy) if not policy_doc.problems else None
    if catalog is not None:
        _check_catalog(catalog, catalog_doc)
        if policy is not None:
            _check_policy(policy, catalog, policy_doc)
    problems = catalog_doc.problems + policy_doc.problems
    if problems or catalog is None or policy is None:
        raise ConfigError(sorted(problems, key=lambda p: (p.file, p.line or 0)))
    return OrgConfig(catalog=catalog, policy=policy)


def _duplicates(ids: list[str]) -> Iterator[tuple[int, str]]:
    seen: set[str] = set()
    for index, ident in enumerate(ids):
        if ident in seen:
            yield index, ident
        seen.add(ident)


def resolve_party(reference: str, people: set[str], teams: set[str]) -> tuple[str, str] | str:
    """A RACI party → `("team"|"person", id)`, or an error message."""
    kind, _, ident = reference.partition(":")
    if ident:
        if kind == "team" and ident in teams:
            return ("team", ident)
        if kind == "person" and ident in people:
            return ("person", ident)
        return (
            f"unknown {kind} '{ident}'"
            if kind in ("team", "person")
            else (f"'{reference}' should be a team id, a person id, team:<id> or person:<id>")
        )
    in_teams, in_people = reference in teams, reference in people
    if in_teams and in_people:
        return (
            f"'{reference}' is both a team and a person: "
            f"write team:{reference} or person:{reference}"
        )
    if in_teams:
        return ("team", reference)
    if in_people:
        return ("person", reference)
    return f"unknown team or person '{reference}'"


def _check_catalog(catalog: Catalog, doc: _Document) -> None:
    for section, items in (
        ("people", catalog.people),
        ("teams", catalog.teams),
        ("components", catalog.components),
        ("projects", catalog.projects),
    ):
        for index, ident in _duplicates([item.id for item in items]):
            doc.problem((section, index, "id"), f"duplicate id '{ident}'")
    people = {p.id for p in catalog.people}
    teams = {t.id for t in catalog.teams}
    for path_key, field in (("slack", "slack"), ("teams", "teams")):
        for index, chat_id in _duplicates(
            [getattr(p, field) or f"-{i}" for i, p in enumerate(catalog.people)]
        ):
            doc.problem(("people", index, path_key), f"chat id '{chat_id}' is used twice")
    for t_index, team in enumerate(catalog.teams):
        for field in ("oncall", "members"):
            for m_index, person in enumerate(getattr(team, field)):
                if person not in people:
                    doc.problem(("teams", t_index, field, m_index), f"unknown person '{person}'")
    names: dict[str, str] = {}
    for c_index, component in enumerate(catalog.components):
        keys = [("id", component.id), ("name", component.name)]
        keys += [(f"aliases[{i}]", alias) for i, alias in enumerate(component.aliases)]
        for where, text in keys:
            key = normalize_key(text)
            if not key:
                doc.problem(("components", c_index), f"{where} '{text}' has no letters or digits")
                continue
            owner = names.setdefault(key, component.id)
            if owner != component.id:
                path: Path_ = ("components", c_index, *_split(where))
                doc.problem(path, f"'{text}' already names component '{owner}'")
        raci = component.raci
        refs: list[tuple[Path_, str]] = [
            (("raci", "responsible"), raci.responsible),
            (("raci", "accountable"), raci.accountable),
        ]
        refs += [(("raci", "consulted", i), r) for i, r in enumerate(raci.consulted)]
        refs += [(("raci", "informed", i), r) for i, r in enumerate(raci.informed)]
        for sub, ref in refs:
            resolved = resolve_party(ref, people, teams)
            if isinstance(resolved, str):
                doc.problem(("components", c_index, *sub), resolved)
    components = {c.id for c in catalog.components}
    for p_index, project in enumerate(catalog.projects):
        if project.owner not in people:
            doc.problem(("projects", p_index, "owner"), f"unknown person '{project.owner}'")
        if project.sponsor is not None and project.sponsor not in people:
            doc.problem(("projects", p_index, "sponsor"), f"unknown person '{project.sponsor}'")
        for i, component_id in enumerate(project.components):
            if component_id not in components:
                doc.problem(
                    ("projects", p_index, "components", i), f"unknown component '{component_id}'"
                )


def _split(where: str) -> Path_:
    if "[" in where:
        name, _, rest = where.partition("[")
        return (name, int(rest.rstrip("]")))
    return (where,)


def _check_policy(policy: Policy, catalog: Catalog, doc: _Document) -> None:
    people = {p.id for p in catalog.people}
    teams = {t.id for t in catalog.teams}
    written = _written_levels(doc)
    for level, severity in policy.severities.items():
        if level not in written:
            # A built-in default (DESIGN.md §4) is not checked against the catalog: its
            # `team:leadership` step reaches nobody in an organisation without that team, and
            # an escalation step that reaches nobody moves on at once and says so in the
            # thread. Only what the file says can be wrong in the file.
            continue
        for field in ("page", "escalate_to"):
            for index, target in enumerate(getattr(severity, field)):
                problem = _page_target_problem(target, people, teams)
                if problem:
                    doc.problem(("severities", level, field, index), problem)
    for group, members in policy.gates.stakeholders.items():
        for index, person in enumerate(members):
            if person not in people:
                doc.problem(("gates", "stakeholders", group, index), f"unknown person '{person}'")
    for stage, stage_policy in policy.gates.stages.items():
        for group, count in stage_policy.approvers.items():
            if group not in policy.gates.stakeholders:
                doc.problem(
                    ("gates", "stages", stage, "approvers", group),
                    f"unknown stakeholder group '{group}'",
                )
            elif isinstance(count, int) and not 1 <= count <= len(policy.gates.stakeholders[group]):
                doc.problem(
                    ("gates", "stages", stage, "approvers", group),
                    f"needs between 1 and {len(policy.gates.stakeholders[group])} "
                    "approvals, or 'all'",
                )
        if stage_policy.checklist not in (None, "launch"):
            doc.problem(
                ("gates", "stages", stage, "checklist"),
                f"unknown checklist '{stage_policy.checklist}' (built in: launch)",
            )
    fallback = policy.alerts.fallback_team
    if fallback is not None and fallback not in teams:
        doc.problem(("alerts", "fallback_team"), f"unknown team '{fallback}'")
    targets = {c.id for c in catalog.components} | {p.id for p in catalog.projects}
    for ident in policy.slo.overrides:
        if ident not in targets:
            doc.problem(("slo", "overrides", ident), f"no component or project '{ident}'")


def _written_levels(doc: _Document) -> set[str]:
    """The severity levels policy.yaml itself defines (the others get the defaults)."""
    severities = doc.data.get("severities") if isinstance(doc.data, dict) else None
    return {str(level) for level in severities} if isinstance(severities, dict) else set()


def _page_target_problem(target: str, people: set[str], teams: set[str]) -> str | None:
    if target in PAGE_TARGETS:
        return None
    kind, _, ident = target.partition(":")
    if kind == "team" and ident:
        return None if ident in teams else f"unknown team '{ident}'"
    if kind == "person" and ident:
        return None if ident in people else f"unknown person '{ident}'"
    return (
        f"unknown paging target '{target}' (use {', '.join(sorted(PAGE_TARGETS))}, "
        "team:<id> or person:<id>)"
    )
