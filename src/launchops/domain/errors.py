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
