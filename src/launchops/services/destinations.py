"""Where a direct message to a person goes on each platform: one rule for pages, escalations
and gate requests alike."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["ChatIdentity", "dm_destination"]


class ChatIdentity(Protocol):
    """A person as a catalog row or as the in-memory directory knows them."""

    @property
    def id(self) -> str: ...
    @property
    def slack_id(self) -> str | None: ...
    @property
    def teams_id(self) -> str | None: ...


def dm_destination(platform: str, person: ChatIdentity) -> tuple[str, dict[str, Any]] | None:
    """(outbox kind, destination) of a DM to `person`, or None when they have no id there."""
    if platform == "slack" and person.slack_id:
        return "dm", {"user": person.slack_id}
    if platform == "teams" and person.teams_id:
        return "post", {"conversation": person.teams_id}
    if platform == "console":
        return "post", {"user": person.id}
    return None
