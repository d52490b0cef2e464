"""Text rules shared by config validation, lookups and chat input."""

from __future__ import annotations

import re
import unicodedata

_IGNORED_IN_KEYS = re.compile(r"[\s\-_.·]+")
_SPACES = re.compile(r"\s+")


def normalize_key(text: str) -> str:
    """The form names are compared in: `Search Index`, `search-index` and `searchindex` meet.

    NFKC folds full-width and compatibility forms (common in Korean input methods), casefold
    handles case beyond ASCII, and separators are dropped so spacing never decides a match.
    """
    return _IGNORED_IN_KEYS.sub("", unicodedata.normalize("NFKC", text).casefold())


def collapse_spaces(text: str) -> str:
    return _SPACES.sub(" ", text).strip()
