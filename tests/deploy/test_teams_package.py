"""The Teams app manifest against Microsoft's v1.17 schema, and `make teams-package`.

The manifest in deploy/teams/ holds `{{...}}` placeholders, so it is validated filled in, with
the values a real deployment has (GUIDs, a host name, a company), both by hand and through
deploy/teams/package.py, the script behind `make teams-package`, whose zip is opened and
checked the way Teams would: three files at the top level, a manifest valid against the
schema, the two icons at their sizes.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import zipfile
from io import BytesIO
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from PIL import Image

from tests.deploy.teams_schema import SCHEMA_URL, teams_manifest_problems
from tests.required_tools import missing_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
TEAMS = REPO_ROOT / "deploy" / "teams"
SCRIPT = TEAMS / "package.py"
APP_ID = "5c0f3a2e-7d41-4b8e-9a63-2f1d8e6b4c90"
TEAMS_APP_ID = "e2a9b7c4-1f36-4d58-8b0e-6a7c3d9f2e15"
ENV = {
    "MicrosoftAppId": APP_ID,
    "TeamsAppId": TEAMS_APP_ID,
    "PublicHostname": "launchops.acme-ai.example",
    "CompanyName": "Acme AI",
}


def _package_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("teams_package_script", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


package = _package_module()


def _template() -> str:
    return (TEAMS / "manifest.json").read_text(encoding="utf-8")


def _filled(values: dict[str, str]) -> Any:
    text = _template()
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    return json.loads(text)


# --- the manifest against the schema ------------------------------------------------------


def test_the_manifest_names_the_vendored_schema() -> None:
    manifest = json.loads(_template())
    assert manifest["$schema"] == SCHEMA_URL
    assert manifest["manifestVersion"] == "1.17"


def test_the_filled_manifest_is_valid_against_the_schema() -> None:
    manifest = _filled(ENV)
    assert "{{" not in json.dumps(manifest)
    assert teams_manifest_problems(manifest) == []


def test_the_schema_refuses_what_teams_would_refuse() -> None:
    """The validator bites: the placeholders themselves, a missing key, a long short name."""
    raw = teams_manifest_problems(json.loads(_template()))
    assert any(p.startswith("$.id:") for p in raw), raw
    assert any(p.startswith("$.bots[0].botId:") for p in raw), raw
    broken = _filled(ENV)
    del broken["developer"]["privacyUrl"]
    broken["name"]["short"] = "L" * 31
    broken["bots"][0]["commandLists"][0]["commands"].append({"title": "x"})
    problems = teams_manifest_problems(broken)
    assert any("privacyUrl" in p for p in problems), problems
    assert any(p.startswith("$.name.short:") for p in problems), problems
    assert any("description" in p and "commands" in p for p in problems), problems


# --- package.py: the values -----------------------------------------------------------------


def test_teams_app_id_defaults_to_the_bot_app_id() -> None:
    values = package.placeholder_values({**ENV, "TeamsAppId": ""})
    assert values["TeamsAppId"] == APP_ID
    values = package.placeholder_values({**ENV, "PublicHostname": "https://bot.example.com/"})
    assert values["PublicHostname"] == "bot.example.com"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"MicrosoftAppId": ""}, "MicrosoftAppId is not set"),
        ({"PublicHostname": " "}, "PublicHostname is not set"),
        ({"CompanyName": ""}, "CompanyName is not set"),
        ({"MicrosoftAppId": "my-bot"}, "MicrosoftAppId must be a GUID"),
        ({"TeamsAppId": "12345"}, "TeamsAppId must be a GUID"),
        ({"PublicHostname": "bot example.com"}, "PublicHostname must be a host name"),
        ({"CompanyName": "C" * 33}, "CompanyName must be at most 32"),
    ],
)
def test_a_bad_value_is_named(change: dict[str, str], named: str) -> None:
    with pytest.raises(package.PackageError, match=re.escape(named)):
        package.placeholder_values({**ENV, **change})


def test_a_quote_in_the_company_name_stays_json() -> None:
    manifest = package.filled_manifest(_template(), {**ENV, "CompanyName": 'Acme "AI"'})
    assert manifest["developer"]["name"] == 'Acme "AI"'


# --- the zip --------------------------------------------------------------------------------


def _run(out: Path, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=cwd,  # no .env there
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_package_holds_a_valid_manifest_and_the_icons(tmp_path: Path) -> None:
    out = tmp_path / "var" / "launchops-teams.zip"
    result = _run(out, ENV, tmp_path)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        text = archive.read("manifest.json").decode("utf-8")
        color = Image.open(BytesIO(archive.read("color.png")))
        outline = Image.open(BytesIO(archive.read("outline.png")))
    assert "{{" not in text
    manifest = json.loads(text)
    assert teams_manifest_problems(manifest) == []
    assert manifest["id"] == TEAMS_APP_ID
    assert manifest["bots"][0]["botId"] == APP_ID
    assert manifest["validDomains"] == ["launchops.acme-ai.example"]
    assert manifest["developer"]["privacyUrl"] == "https://launchops.acme-ai.example/privacy"
    assert (color.format, color.size) == ("PNG", (192, 192))
    assert color.mode in {"RGB", "RGBA"}
    assert len(color.getcolors(maxcolors=192 * 192) or []) > 2  # full colour, not a mask
    assert (outline.format, outline.size, outline.mode) == ("PNG", (32, 32), "RGBA")
    pixels = [colour for _, colour in outline.getcolors(maxcolors=32 * 32) or []]
    assert isinstance(pixels[0], tuple)
    assert {p[:3] for p in pixels if isinstance(p, tuple) and p[3]} == {(255, 255, 255)}
    assert any(isinstance(p, tuple) and p[3] == 0 for p in pixels), "no transparent pixels"


def test_a_missing_variable_writes_no_zip(tmp_path: Path) -> None:
    out = tmp_path / "launchops-teams.zip"
    env = {k: v for k, v in ENV.items() if k != "PublicHostname"}
    result = _run(out, env, tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "teams-package: PublicHostname is not set"
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_the_env_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"MicrosoftAppId={APP_ID}\nPublicHostname=from-dotenv.example\nCompanyName=Acme AI\n",
        encoding="utf-8",
    )
    out = tmp_path / "app.zip"
    result = _run(out, {"PublicHostname": "from-env.example"}, tmp_path)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["validDomains"] == ["from-env.example"]
    assert manifest["id"] == APP_ID


@pytest.mark.parametrize(
    ("name", "image", "named"),
    [
        ("color.png", Image.new("RGB", (96, 96), "navy"), "color.png must be 192x192 px"),
        ("outline.png", Image.new("RGB", (32, 32), "white"), "must have transparency"),
        ("outline.png", Image.new("RGBA", (32, 32), (0, 0, 255, 255)), "white on transparent"),
    ],
)
def test_an_icon_teams_would_refuse_is_named(
    tmp_path: Path, name: str, image: Image.Image, named: str
) -> None:
    for file in ("manifest.json", "color.png", "outline.png"):
        (tmp_path / file).write_bytes((TEAMS / file).read_bytes())
    image.save(tmp_path / name, format="PNG")
    out = tmp_path / "out" / "app.zip"
    with pytest.raises(package.PackageError, match=re.escape(named)):
        package.build(out, ENV, source=tmp_path)
    assert not out.exists()


def test_make_teams_package_runs_the_script() -> None:
    make = shutil.which("make")
    if make is None:
        missing_tool("make is not installed")
    assert make is not None
    result = subprocess.run(
        [make, "-n", "--always-make", "teams-package", "TEAMS_PACKAGE=/tmp/x.zip"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "deploy/teams/package.py --out /tmp/x.zip" in result.stdout
