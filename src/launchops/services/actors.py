"""Who acts on an incident: shared by the incident service and its messenger.

It lives apart so that neither of those modules has to import the other to name it.
"""

from __future__ import annotations

from dataclasses import dataclass

from launchops.services.people import Viewer

__all__ = ["Actor"]


@dataclass(frozen=True)
class Actor:
    """Who acts: the catalog person if known, and a label for the timeline either way."""

    viewer: Viewer
    label: str
    system: bool = False  # Alertmanager and the scheduler act without a person

    @classmethod
    def system_actor(cls, label: str) -> Actor:
        return cls(Viewer(None, None, None, frozenset()), label, system=True)
