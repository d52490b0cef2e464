"""The Helm chart in deploy/helm/launchops: its metadata, values and templates, read as text.

Rendering and linting the chart with Helm itself is test_deploy_tools.py's job; here the
chart's values must hold a valid organisation config and name real routes, and its templates
may use only the helpers and values the chart defines.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from launchops.config import load_config
from tests.deploy.deploy_kit import CHART, TEMPLATES, _route_paths, _yaml

VALUES_PATH = re.compile(r"\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def test_chart_metadata_and_values() -> None:
    chart = _yaml(CHART / "Chart.yaml")
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "launchops"
    assert re.fullmatch(r"\d+\.\d+\.\d+", str(chart["version"]))
    values = _yaml(CHART / "values.yaml")
    assert values["replicaCount"] == 2
    assert values["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert values["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "LAUNCHOPS_DATABASE_URL" in values["secret"]["keys"]
    assert {values["readinessProbe"]["httpGet"]["path"], "/healthz"} <= _route_paths()


def test_chart_default_config_is_valid(tmp_path: Path) -> None:
    config = _yaml(CHART / "values.yaml")["config"]
    (tmp_path / "catalog.yaml").write_text(config["catalog"], encoding="utf-8")
    (tmp_path / "policy.yaml").write_text(config["policy"], encoding="utf-8")
    org = load_config(tmp_path)  # raises ConfigError naming file, line and key
    assert "launchops" in {c.id for c in org.catalog.components}


def _template_texts() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(TEMPLATES.iterdir())}


def test_chart_templates_include_only_defined_helpers() -> None:
    # Rendering the chart for real (helm, or a renderer of Go templates) is the job of the
    # deploy-kit work; counting braces proved nothing and is gone.
    texts = _template_texts()
    defined = set(re.findall(r'\{\{-?\s*define\s+"([^"]+)"', texts["_helpers.tpl"]))
    for name, text in texts.items():
        for used in re.findall(r'\binclude\s+"([^"]+)"', text):
            if not used.startswith("launchops."):
                continue  # e.g. include (print $.Template.BasePath "/configmap.yaml")
            assert used in defined, f"{name} includes undefined {used}"


def test_chart_templates_use_only_existing_values() -> None:
    values = _yaml(CHART / "values.yaml")
    for name, text in _template_texts().items():
        for dotted in VALUES_PATH.findall(text):
            node: Any = values
            for key in dotted.strip(".").split("."):
                assert isinstance(node, dict), f"{name}: .Values{dotted} is not a mapping"
                assert key in node, f"{name}: .Values{dotted} is not in values.yaml"
                node = node[key]


def test_chart_runs_migrations_as_a_hook_and_probes_health() -> None:
    texts = _template_texts()
    hooks = [t for t in texts.values() if "kind: Job" in t]
    assert len(hooks) == 1
    (job,) = hooks
    assert "helm.sh/hook: pre-install,pre-upgrade" in job
    assert 'command: ["launchops", "db", "upgrade"]' in job
    deployment = texts["deployment.yaml"]
    assert "kind: Deployment" in deployment
    assert ".Values.readinessProbe" in deployment
    assert ".Values.livenessProbe" in deployment
    assert "mountPath: /app/config" in deployment
    assert "kind: Service" in texts["service.yaml"]
    configmap = texts["configmap.yaml"]
    assert "catalog.yaml:" in configmap
    assert "policy.yaml:" in configmap
    secret = texts["secret.yaml"]
    assert "kind: Secret" in secret
    assert ".Values.secret.existingSecret" in secret
