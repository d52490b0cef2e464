"""What an activity must be before botbuilder, the store or the sender ever see it.

Teams never sends an unparseable, absurdly nested or wrongly shaped activity, so one that is
gets a 4xx with a one-line reason here, instead of a RecursionError deep inside msrest or a
database driver refusing a NUL byte (both used to surface as 500s with a traceback).

The service URL rule lives here too: an activity's `serviceUrl` is where the bot later POSTs
its replies, and without an app id nothing vouches for it (with one, botbuilder checks it
against the token's `serviceurl` claim). So the unauthenticated mode only ever talks to the
configured `LAUNCHOPS_TEAMS_SERVICE_URL` or to this machine.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any, Final
from urllib.parse import urlsplit

from botbuilder.schema import Activity, ActivityTypes

from launchops.settings import Settings

__all__ = ["MAX_DEPTH", "activity_tenants", "parse_activity", "service_url_allowed"]

# Real activities nest about six levels deep (an Action.Execute invoke's card data); the
# margin leaves room for other apps' cards without letting recursion anywhere near a limit.
MAX_DEPTH: Final = 64
# Activities the bot acts on: each needs a conversation and a serviceUrl to answer to.
_ADDRESSED_TYPES: Final = frozenset(
    {
        ActivityTypes.message,
        ActivityTypes.invoke,
        ActivityTypes.conversation_update,
        ActivityTypes.installation_update,
    }
)
# Teams ids are under 200 characters and display names under 256: anything longer is not
# from Teams, and would be echoed into replies (past the Connector's 28 KB) or into URL paths.
MAX_ID_CHARS: Final = 1024
_BOUNDED_FIELDS: Final = {  # wire name → attribute path on botbuilder's Activity
    "id": ("id",),
    "replyToId": ("reply_to_id",),
    "serviceUrl": ("service_url",),
    "channelId": ("channel_id",),
    "locale": ("locale",),
    "name": ("name",),
    "from.id": ("from_property", "id"),
    "from.name": ("from_property", "name"),
    "from.aadObjectId": ("from_property", "aad_object_id"),
    "from.role": ("from_property", "role"),
    "recipient.id": ("recipient", "id"),
    "recipient.name": ("recipient", "name"),
    "conversation.id": ("conversation", "id"),
    "conversation.name": ("conversation", "name"),
    "conversation.tenantId": ("conversation", "tenant_id"),
    "conversation.conversationType": ("conversation", "conversation_type"),
}
# A JSON string (skipped whole, escapes included) or a bracket.
_JSON_NESTING: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain"})


def parse_activity(body: bytes) -> Activity | str:
    """The activity in `body`, or the short reason it is not one."""
    if _too_deep(body):
        return f"activity nested deeper than {MAX_DEPTH} levels"
    try:
        payload = json.loads(body)
    except RecursionError:  # _too_deep missed it (it cannot, but the parser must not 500)
        return f"activity nested deeper than {MAX_DEPTH} levels"
    except (ValueError, UnicodeDecodeError):
        return "malformed JSON"
    if not isinstance(payload, dict):
        return "not a Bot Framework activity: expected a JSON object"
    problem = _shape_problem(payload)
    if problem is not None:
        return problem
    kind = payload.get("type")
    if not isinstance(kind, str) or not kind:
        return "not a Bot Framework activity: missing type"
    problem = _channel_data_problem(payload.get("channelData"))
    if problem is not None:
        return problem
    try:
        activity = Activity().deserialize(payload)
    except Exception:  # msrest's DeserializationError, or a wrong shape it chokes on
        return "not a Bot Framework activity: a field has the wrong type"
    too_long = _long_field(activity)
    if too_long is not None:
        return f"{too_long} longer than {MAX_ID_CHARS} characters"
    if kind in _ADDRESSED_TYPES:
        conversation = activity.conversation
        if (
            conversation is None
            or not isinstance(conversation.id, str)
            or not conversation.id
            or not isinstance(activity.service_url, str)
            or not activity.service_url
        ):
            return "activity lacks conversation.id or serviceUrl"
    return activity


def _too_deep(body: bytes) -> bool:
    """Nested deeper than MAX_DEPTH, judged on the raw bytes before any parser recurses.

    json.loads does refuse 5,000 levels with a RecursionError, but only after recursing to
    the interpreter's limit, where anything else that runs (a finalizer, a log handler) fails
    too. Brackets inside strings are skipped; a body with few brackets needs no scan at all.
    """
    if body.count(b"[") + body.count(b"{") <= MAX_DEPTH:
        return False
    depth = 0
    for token in _JSON_NESTING.finditer(body):
        bracket = token.group()
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif bracket in (b"]", b"}"):
            depth -= 1
    return False


def _shape_problem(payload: dict[str, Any]) -> str | None:
    """Too deep, or a string no database column takes (NUL, lone surrogates): without recursion."""
    stack: list[tuple[Any, int]] = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return "activity contains a NUL character"
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    return "activity contains invalid Unicode"
            continue
        if depth > MAX_DEPTH:
            return f"activity nested deeper than {MAX_DEPTH} levels"
        if isinstance(value, dict):
            stack.extend((key, depth) for key in value)
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return None


def _channel_data_problem(data: object) -> str | None:
    """botbuilder reads `channelData.tenant.id` with `.get` chains: both must be objects."""
    if data is None:
        return None
    if not isinstance(data, dict):
        return "channelData must be a JSON object"
    for key in ("tenant", "channel", "team"):
        if key in data and not isinstance(data[key], dict):
            return f"channelData.{key} must be a JSON object"
        value = data.get(key, {}).get("id")
        if isinstance(value, str) and len(value) > MAX_ID_CHARS:
            return f"channelData.{key}.id longer than {MAX_ID_CHARS} characters"
    return None


def _long_field(activity: Activity) -> str | None:
    """The first id or name longer than real ones ever are (they end up in replies and URLs)."""
    for wire_name, path in _BOUNDED_FIELDS.items():
        value: object = activity
        for attribute in path:
            value = getattr(value, attribute, None)
        if isinstance(value, str) and len(value) > MAX_ID_CHARS:
            return wire_name
    return None


def activity_tenants(activity: Activity) -> set[str]:
    """Every tenant id the activity names (lower case): `conversation.tenantId`, `channelData`."""
    found: set[str] = set()
    conversation = activity.conversation
    tenant_id = getattr(conversation, "tenant_id", None)
    if isinstance(tenant_id, str) and tenant_id:
        found.add(tenant_id.strip().lower())
    data = activity.channel_data
    tenant = data.get("tenant") if isinstance(data, dict) else None
    if isinstance(tenant, dict) and isinstance(tenant.get("id"), str) and tenant["id"]:
        found.add(tenant["id"].strip().lower())
    return found


def service_url_allowed(settings: Settings, url: object) -> bool:
    """May the bot call `url` without an app id? Only the configured service URL or loopback."""
    if not isinstance(url, str) or not url:
        return False
    try:
        parts = urlsplit(url)
        configured = urlsplit(settings.teams_service_url)
        host = parts.hostname or ""
        parts.port  # noqa: B018  # raises ValueError on a port that is not a number
    except ValueError:
        return False
    if parts.scheme not in ("http", "https"):
        return False
    if host.lower() in _LOOPBACK_NAMES or _is_loopback_ip(host):
        return True
    return (
        parts.scheme == configured.scheme
        and parts.netloc.lower() == configured.netloc.lower()
        and (parts.path.rstrip("/") + "/").startswith(configured.path)
    )


def _is_loopback_ip(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
