"""Reading Slack payloads without trusting their shape.

The HTTP guard (guard.py) refuses bodies Slack would never send, but Socket Mode hands bolt
its payloads directly, and Slack adds fields and event variants over time; so listeners read
every field through these helpers, which answer None for anything missing or mistyped
instead of raising inside the listener (and answering Slack with a 500).
"""

from __future__ import annotations

__all__ = ["channel_of", "text_at", "user_of"]


def text_at(data: object, *path: str) -> str | None:
    """The non-empty string found by walking `path` through nested objects, else None."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data if isinstance(data, str) and data else None


def user_of(body: object) -> str | None:
    """The acting user of an interactivity payload (`user.id`)."""
    return text_at(body, "user", "id")


def channel_of(body: object) -> str | None:
    """The channel a click came from: the payload's channel, else its message container's."""
    return text_at(body, "channel", "id") or text_at(body, "container", "channel_id")
