"""Build the Teams app package: `make teams-package` (or `python deploy/teams/package.py`).

Teams installs an app as a zip of exactly three files at its top level: `manifest.json` with
every `{{...}}` placeholder filled in, `color.png` (192 x 192, full colour) and `outline.png`
(32 x 32, white on transparent). The placeholders come from the environment:

    MicrosoftAppId   the Azure Bot's app id (a GUID); the bot's botId          (required)
    TeamsAppId       the Teams app's own id (a GUID); default: MicrosoftAppId
    PublicHostname   the host that reaches the bot, without https://          (required)
    CompanyName      the publisher name shown in Teams                        (required)

A `.env` file in the current folder is read too (the bot reads the same file), the
environment winning over it.

A missing or malformed value stops it with one line naming the variable and exit status 2,
and no zip is written (an earlier zip at the same path is left as it was).

The icons are committed PNG files beside this script rather than drawn here at package time:
an organisation that brands the app replaces two pictures and touches no code, and the
pictures are checked at package time either way (size, mode, and the outline's white-only
pixels), so a replaced icon Teams would refuse is named here instead of at upload.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import zipfile
from collections.abc import Mapping
from io import BytesIO
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from PIL import Image

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE.parents[1] / "var" / "launchops-teams.zip"
MANIFEST = "manifest.json"
COLOR_ICON, OUTLINE_ICON = "color.png", "outline.png"
ICON_SIZES = {COLOR_ICON: (192, 192), OUTLINE_ICON: (32, 32)}
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
HOST_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
MAX_COMPANY_NAME = 32  # the v1.17 schema's developer.name maxLength

__all__ = ["PackageError", "build", "main", "placeholder_values"]


class PackageError(Exception):
    """A setting or file that stops the package; the message names it."""


def placeholder_values(env: Mapping[str, str]) -> dict[str, str]:
    """The manifest's placeholder values from `env`, each checked; PackageError names the
    first variable that is missing or malformed."""
    app_id = _required(env, "MicrosoftAppId")
    teams_id = env.get("TeamsAppId", "").strip() or app_id
    host = _required(env, "PublicHostname").removeprefix("https://").rstrip("/")
    company = _required(env, "CompanyName")
    for name, value in (("MicrosoftAppId", app_id), ("TeamsAppId", teams_id)):
        if not GUID.match(value):
            raise PackageError(f"{name} must be a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")
    if len(host) > 253 or not all(HOST_LABEL.match(label) for label in host.split(".")):
        raise PackageError("PublicHostname must be a host name such as launchops.example.com")
    if len(company) > MAX_COMPANY_NAME:
        raise PackageError(f"CompanyName must be at most {MAX_COMPANY_NAME} characters")
    return {
        "MicrosoftAppId": app_id,
        "TeamsAppId": teams_id,
        "PublicHostname": host,
        "CompanyName": company,
    }


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise PackageError(f"{name} is not set")
    return value


def filled_manifest(template: str, values: Mapping[str, str]) -> dict[str, Any]:
    """The manifest with every placeholder replaced (JSON-escaped, so a quote in the company
    name cannot break the document)."""
    unknown = sorted(set(PLACEHOLDER.findall(template)) - set(values))
    if unknown:
        raise PackageError(f"{MANIFEST} has placeholders with no value: {', '.join(unknown)}")
    text = PLACEHOLDER.sub(lambda m: json.dumps(values[m.group(1)])[1:-1], template)
    manifest: dict[str, Any] = json.loads(text)
    return manifest


def check_icon(name: str, data: bytes) -> None:
    """Teams' icon rules: the size, and for the outline white (any opacity) on transparent."""
    try:
        image = Image.open(BytesIO(data))
        image.load()
    except OSError as error:
        raise PackageError(f"{name} is not a readable PNG: {error}") from None
    if image.format != "PNG":
        raise PackageError(f"{name} must be a PNG, not {image.format}")
    if image.size != ICON_SIZES[name]:
        width, height = ICON_SIZES[name]
        raise PackageError(
            f"{name} must be {width}x{height} px, not {image.size[0]}x{image.size[1]}"
        )
    if name == OUTLINE_ICON:
        if image.mode != "RGBA":
            raise PackageError(f"{name} must have transparency (RGBA), not {image.mode}")
        colours = [c for _, c in image.getcolors(maxcolors=32 * 32) or [] if isinstance(c, tuple)]
        if any(c[3] != 0 and c[:3] != (255, 255, 255) for c in colours):
            raise PackageError(f"{name} must be white on transparent (only #FFFFFF pixels)")


def build(out: Path, env: Mapping[str, str], source: Path = HERE) -> Path:
    """Write the package to `out` (its folder made if needed); nothing is written on error."""
    values = placeholder_values(env)
    manifest = filled_manifest((source / MANIFEST).read_text(encoding="utf-8"), values)
    icons: dict[str, bytes] = {}
    for name in (COLOR_ICON, OUTLINE_ICON):
        if manifest["icons"][name.removesuffix(".png")] != name:
            raise PackageError(f"{MANIFEST} must name {name} as its icon")
        try:
            icons[name] = (source / name).read_bytes()
        except OSError:
            raise PackageError(f"{source / name} is missing") from None
        check_icon(name, icons[name])
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        for name, data in icons.items():
            archive.writestr(name, data)
    partial.replace(out)
    return out


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the zip to write")
    args = parser.parse_args(argv)
    try:
        if env is None:
            dotenv = {k: v for k, v in dotenv_values(".env").items() if v is not None}
            env = {**dotenv, **os.environ}
        path = build(args.out, env)
    except PackageError as error:
        print(f"teams-package: {error}", file=sys.stderr)  # noqa: T201
        return 2
    print(f"wrote {path} (upload it in Teams: Apps → Manage your apps → Upload an app)")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
