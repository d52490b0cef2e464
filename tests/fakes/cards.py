"""Adaptive Card validation against the official 1.5 JSON schema (DESIGN.md §6).

Teams renders Adaptive Cards up to 1.5, so every card the bot sends must validate against
`<specs>/adaptive-card-1.5.0.schema.json`. That schema is strict (`additionalProperties: false`)
and knows nothing of Teams' host extension key `msteams` (full width, mentions), so those keys
are set aside first. The schema's `anyOf` over element types gives useless messages ("is not
valid under any of the given schemas"), so errors are explained against the branch whose
`type` matched: "body/0: 'text' is a required property", or "body/1: unknown type 'TextBlok'".
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft6Validator
from jsonschema.exceptions import ValidationError

from tests.fakes import specs_dir

__all__ = ["ADAPTIVE_CARD_CONTENT_TYPE", "assert_adaptive_card", "validate_adaptive_card"]

ADAPTIVE_CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA_FILE = "adaptive-card-1.5.0.schema.json"
MAX_VERSION = (1, 5)
HOST_EXTENSION_KEY = "msteams"


@lru_cache(maxsize=4)
def _validator(schema_path: Path) -> Draft6Validator:
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    Draft6Validator.check_schema(schema)
    return Draft6Validator(schema)


def without_host_extension(value: Any) -> Any:
    """A copy of `value` with every `msteams` key removed, at any depth."""
    if isinstance(value, dict):
        return {k: without_host_extension(v) for k, v in value.items() if k != HOST_EXTENSION_KEY}
    if isinstance(value, list):
        return [without_host_extension(v) for v in value]
    return value


def validate_adaptive_card(card: Any) -> list[str]:
    """Every problem with `card` (empty when it is a valid Adaptive Card 1.5 or lower)."""
    if not isinstance(card, dict):
        return [f"an Adaptive Card must be a JSON object, got {type(card).__name__}"]
    problems = _top_level_problems(card)
    validator = _validator(specs_dir() / SCHEMA_FILE)
    errors = sorted(
        validator.iter_errors(without_host_extension(card)),
        key=lambda e: [str(p) for p in e.absolute_path],
    )
    for error in errors:
        problems.extend(_explain(error))
    return problems


def assert_adaptive_card(card: Any) -> None:
    """Raise AssertionError listing the problems when `card` is not a valid card."""
    problems = validate_adaptive_card(card)
    if problems:
        raise AssertionError(
            "invalid Adaptive Card:\n"
            + "\n".join(f"- {p}" for p in problems)
            + f"\ncard: {json.dumps(card)[:2000]}"
        )


def _top_level_problems(card: dict[str, Any]) -> list[str]:
    """What the schema leaves optional but a top-level card sent to Teams needs."""
    problems = []
    if card.get("type") != "AdaptiveCard":
        problems.append(f"type must be 'AdaptiveCard', got {card.get('type')!r}")
    version = card.get("version")
    if not isinstance(version, str):
        problems.append(f"a top-level card needs a version string, got {version!r}")
    else:
        try:
            parsed = tuple(int(part) for part in version.split("."))
        except ValueError:
            problems.append(f"version {version!r} is not a number like '1.5'")
        else:
            if parsed > MAX_VERSION:
                problems.append(f"version {version} is newer than 1.5, which Teams renders")
    return problems


def _where(error: ValidationError) -> str:
    return "/".join(str(p) for p in error.absolute_path) or "(card)"


def _is_type_mismatch(error: ValidationError) -> bool:
    """Whether a branch error says "this is not that element type" (wrong or missing type)."""
    path = list(error.relative_path)
    if path == ["type"] and error.validator in ("enum", "const"):
        return True
    return not path and error.validator == "required" and "'type'" in error.message


def _explain(error: ValidationError) -> list[str]:
    instance = error.instance
    if error.validator != "anyOf" or not error.context or not isinstance(instance, dict):
        return [f"{_where(error)}: {error.message}"]
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    matching = [errs for errs in branches.values() if not any(map(_is_type_mismatch, errs))]
    if matching:
        # The element's type matched a branch: its own errors are the real ones.
        return [message for sub in min(matching, key=len) for message in _explain(sub)]
    if "type" not in instance:
        return [f"{_where(error)}: missing 'type'"]
    return [f"{_where(error)}: unknown type {instance['type']!r} here"]
