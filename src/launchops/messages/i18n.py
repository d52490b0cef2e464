"""The message catalogue: every user-facing sentence, in English and Korean.

Texts live in `locales/<lang>.yaml` as flat dotted keys. A missing Korean text falls back to
English rather than failing, but the test suite insists both files carry the same keys and
the same placeholders.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from string import Formatter
from typing import Any

import yaml

LOCALES = ("en", "ko")
DEFAULT_LOCALE = "en"


@cache
def catalogue(locale: str) -> dict[str, str]:
    """`<lang>.yaml` plus any `<lang>.<part>.yaml` (one part per feature area, so each area
    keeps its sentences together); a key defined twice is a mistake and fails loudly."""
    folder = resources.files("launchops.messages") / "locales"
    names = sorted(
        entry.name
        for entry in folder.iterdir()
        if entry.name == f"{locale}.yaml"
        or (entry.name.startswith(f"{locale}.") and entry.name.endswith(".yaml"))
    )
    merged: dict[str, str] = {}
    for name in names:
        data = yaml.safe_load((folder / name).read_text("utf-8")) or {}
        for key, value in _flatten(data).items():
            if key in merged:
                raise ValueError(f"message key {key!r} is defined twice ({name})")
            merged[str(key)] = str(value)
    return merged


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(template) if name}


def t(key: str, locale: str = DEFAULT_LOCALE, /, **params: Any) -> str:
    """The text for `key` in `locale`, with `{placeholders}` filled from `params`."""
    template = catalogue(locale if locale in LOCALES else DEFAULT_LOCALE).get(key)
    if template is None:
        template = catalogue(DEFAULT_LOCALE).get(key, key)
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        return template
