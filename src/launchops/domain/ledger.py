"""The change ledger as people see it: one deployment or rollback, named, ready for a card."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal
from urllib.parse import urlsplit

__all__ = ["DEPLOYMENT_KINDS", "DeploymentKind", "DeploymentLine", "web_url"]

DeploymentKind = Literal["deploy", "rollback"]
DEPLOYMENT_KINDS: Final[tuple[DeploymentKind, ...]] = ("deploy", "rollback")


@dataclass(frozen=True)
class DeploymentLine:
    """`ranker v1.4.2 to production 40 min ago by Minji`: what an incident card lists."""

    id: int
    component_id: str
    component_name: str
    version: str
    environment: str
    kind: str  # deploy | rollback
    by: str | None
    at: datetime
    rollback_url: str | None = None
    url: str | None = None
    ago: timedelta | None = None  # how long before the moment it was read


def web_url(value: str) -> bool:
    """True for an absolute http(s) URL with a host (what a link button may open)."""
    if not value or value != value.strip() or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)
