"""Typed errors a service may raise; each adapter turns them into a friendly, private reply.

Every error carries a message-catalogue key and its parameters, never finished text, so the
reply comes out in the asker's language.
"""

from __future__ import annotations

from typing import Any


class LaunchOpsError(Exception):
    key = "error.generic"

    def __init__(self, key: str | None = None, /, **params: Any) -> None:
        self.key = key or type(self).key
        self.params = params
        super().__init__(f"{self.key} {params}")


class BadCommand(LaunchOpsError):
    key = "error.bad_command"


class NotFound(LaunchOpsError):
    key = "error.not_found"


class Forbidden(LaunchOpsError):
    key = "error.forbidden"


class InvalidTransition(LaunchOpsError):
    key = "error.invalid_transition"


# Roadmap (services/roadmap.py): subclasses, so every adapter already answers them privately,
# and a caller (or test) can tell one refusal from another without reading keys.
class ReasonRequired(BadCommand):
    key = "roadmap.error.reason.extend"


class StaleButton(BadCommand):
    """A nudge button about another stage or an older clock, or one we never made."""

    key = "roadmap.error.stale"


class NotOwnerOrSponsor(Forbidden):
    key = "roadmap.error.not_owner_or_sponsor"


class SponsorRequired(Forbidden):
    """The owner's one extension is spent, or a date past the hard limit was asked for."""

    key = "roadmap.error.sponsor_needed"


class ProjectStopped(InvalidTransition):
    key = "roadmap.error.stopped"
