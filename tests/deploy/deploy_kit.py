"""Where the deploy kit lives, and what its file tests share.

test_deploy_files.py, test_alert_rules.py and test_chart_files.py all read files under
deploy/ and check some of them against the routes `launchops serve` really has; the paths,
the YAML reader and that (cached) list of routes are here so that each is defined once.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

import yaml

from launchops.main import build_context
from launchops.store import upgrade_schema
from launchops.web import create_app
from tests.e2e.harness import make_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
CHART = DEPLOY / "helm" / "launchops"
TEMPLATES = CHART / "templates"


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@functools.cache
def _route_paths() -> frozenset[str]:
    """Every path of the app `launchops serve` builds (over an empty SQLite store): the
    routes themselves, not a reading of web.py's source."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/launchops.db"
        upgrade_schema(url)
        ctx = build_context(make_settings(url), with_chat_adapters=False)
        try:
            app = create_app(ctx, run_dispatcher=False)
            return frozenset(getattr(route, "path", "") for route in app.routes)
        finally:
            ctx.close()
