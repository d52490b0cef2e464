"""The Teams app manifest's JSON schema (v1.17, draft-04), vendored in tests/specs/.

Loaded the way tests/fakes/cards.py loads the Adaptive Card schema: from `specs_dir()`
(`$LAUNCHOPS_SPECS_DIR`, else tests/specs/), the schema itself checked first. Errors come back
as one line each, `$.bots[0].botId: '…' does not match '…'`, so a failure says where.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, FormatChecker

from tests.fakes import specs_dir

__all__ = ["SCHEMA_FILE", "SCHEMA_URL", "teams_manifest_problems"]

SCHEMA_FILE = "teams-manifest-1.17.schema.json"
SCHEMA_URL = (
    "https://developer.microsoft.com/en-us/json-schemas/teams/v1.17/MicrosoftTeams.schema.json"
)


@lru_cache(maxsize=4)
def _validator(schema_path: Path) -> Draft4Validator:
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema, format_checker=FormatChecker())


def teams_manifest_problems(manifest: Any) -> list[str]:
    """Every way `manifest` breaks the v1.17 schema (empty when it is valid)."""
    validator = _validator(specs_dir() / SCHEMA_FILE)
    errors = sorted(validator.iter_errors(manifest), key=lambda e: e.json_path)
    return [f"{error.json_path}: {error.message}" for error in errors]
