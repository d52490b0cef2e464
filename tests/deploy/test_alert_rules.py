"""deploy/prometheus/alert-rules.yml: fit for routing, on exported metrics, passing promtool.

Each rule carries what Alertmanager routing needs; every `launchops_*` metric it names is one
the process registers (read from prometheus_client's registry, and defined in src/launchops),
and every label value it matches on is a real route or a value the code sets.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY

import launchops.delivery.metrics
import launchops.delivery.outbox_metrics
import launchops.metrics
import launchops.scheduler
from launchops.config.models import AlertPolicy
from tests.deploy.deploy_kit import DEPLOY, REPO_ROOT, _route_paths, _yaml
from tests.required_tools import missing_tool

SRC = REPO_ROOT / "src" / "launchops"
METRIC_NAME = re.compile(r"\blaunchops_[a-z0-9_]+\b")
LABEL_MATCHER = re.compile(r'\b(handler|outcome|platform)\s*=~?\s*"([^"]*)"')


def _source_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(SRC.rglob("*.py")))


def _exported_metric_names() -> dict[str, str]:
    """Every sample name the process exposes for a launchops metric -> its family name."""
    assert launchops.metrics.HTTP_LATENCY is not None  # imported for their registration
    assert launchops.delivery.metrics.LAG_SECONDS is not None
    assert launchops.delivery.outbox_metrics.OUTBOX is not None
    assert launchops.scheduler.LAST_SWEEP is not None
    suffixes = {
        "counter": ["_total", "_created"],
        "histogram": ["_bucket", "_sum", "_count", "_created"],
        "summary": ["", "_sum", "_count", "_created"],
        "gauge": [""],
    }
    exported: dict[str, str] = {}
    for family in REGISTRY.collect():
        if family.name.startswith("launchops_"):
            for suffix in suffixes.get(family.type, [""]):
                exported[family.name + suffix] = family.name
    return exported


def _alert_rules() -> Iterator[dict[str, Any]]:
    document = _yaml(DEPLOY / "prometheus" / "alert-rules.yml")
    for group in document["groups"]:
        yield from group["rules"]


def test_alert_rules_have_what_alertmanager_routing_needs() -> None:
    rules = list(_alert_rules())
    assert len(rules) >= 4
    known_severities = set(AlertPolicy().severity_map)
    for rule in rules:
        name = rule.get("alert")
        assert name, rule
        assert isinstance(rule.get("expr"), str), name
        assert rule["expr"].strip(), name
        assert re.fullmatch(r"\d+[smh]", str(rule.get("for", ""))), name
        labels = rule.get("labels") or {}
        assert labels.get("severity") in known_severities, name
        assert labels.get("component") == "launchops", name


def test_alert_rules_use_only_exported_metrics() -> None:
    exported = _exported_metric_names()
    assert "launchops_outbox_deliveries_total" in exported  # the registry view works
    source = _source_text()
    referenced: set[str] = set()
    for rule in _alert_rules():
        names = set(METRIC_NAME.findall(rule["expr"]))
        assert names, f"{rule['alert']} uses no launchops metric"
        referenced |= names
    unknown = sorted(name for name in referenced if name not in exported)
    assert not unknown, f"metrics the code does not export: {unknown}"
    for name in referenced:
        # prometheus_client accepts a counter's name with or without its `_total`.
        family = exported[name]
        spellings = {f'"{family}"', f'"{family}_total"'}
        assert any(s in source for s in spellings), f"{family} is not defined in src/launchops"
    assert {
        "launchops_http_request_seconds_bucket",
        "launchops_http_errors_total",
        "launchops_outbox_deliveries_total",
        "launchops_outbox_lag_seconds_bucket",
        "launchops_escalation_sweep_last_success_timestamp_seconds",
        "launchops_outbox_oldest_pending_age_seconds",
    } <= referenced


def test_alert_rule_label_values_exist() -> None:
    source = _source_text()
    routes = _route_paths()
    for rule in _alert_rules():
        for label, value in LABEL_MATCHER.findall(rule["expr"]):
            if label == "handler":
                assert value in routes, f"{rule['alert']}: no route {value}"
            else:
                assert f'"{value}"' in source, f"{rule['alert']}: {label}={value!r} never set"


def test_alert_rules_with_promtool() -> None:
    """promtool checks the rules and runs their unit tests (alert-rules.test.yml); CI
    (LAUNCHOPS_REQUIRE_TOOLS=1) fails here without promtool rather than skipping."""
    promtool = shutil.which("promtool")
    if promtool is None:
        missing_tool("promtool is not installed (apt-get install prometheus)")
    assert promtool is not None
    folder = DEPLOY / "prometheus"
    for args in (["check", "rules", "alert-rules.yml"], ["test", "rules", "alert-rules.test.yml"]):
        result = subprocess.run(
            [promtool, *args], cwd=folder, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
    tested = set(re.findall(r"alertname: (\w+)", (folder / "alert-rules.test.yml").read_text()))
    assert {rule["alert"] for rule in _alert_rules()} <= tested, "a rule without a unit test"
