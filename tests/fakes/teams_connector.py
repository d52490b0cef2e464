"""A loopback fake of the Bot Framework Connector (a Teams `serviceUrl`), for e2e tests.

Incoming Teams activities carry a `serviceUrl`; the bot answers by calling the Bot Connector v3
REST API under it. Put `fake.url` in the test activities' `serviceUrl` (and in
`LAUNCHOPS_TEAMS_SERVICE_URL` for proactive sends) and the bot's replies, updates and new
conversations land here, where they are recorded and their Adaptive Cards validated.

The routes are the ones botframework-connector's ConversationsOperations and TeamsOperations
build (`/v3/conversations/{conversationId}/activities/{activityId}`, ...). The client quotes
path parameters with `quote(safe="")`, so Teams ids such as `19:abc@thread.tacv2` or `a:1xyz`
arrive as `19%3Aabc%40thread.tacv2`: they are split on "/" first and decoded after.
An app with an empty app id (anonymous, local tests only) sends no Authorization header.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import count
from typing import Any
from urllib.parse import unquote

from tests.fakes import FailureScript, HttpRequest, HttpResponse, LoopbackServer, ScriptedFailure
from tests.fakes.cards import ADAPTIVE_CARD_CONTENT_TYPE, validate_adaptive_card

__all__ = [
    "BOT_ACCOUNT_ID",
    "TENANT_ID",
    "FakeBotConnector",
    "RecordedActivity",
    "message_activity",
]

TENANT_ID = "tenant-test"
BOT_ACCOUNT_ID = "28:bot-test"
MAX_ACTIVITY_BYTES = 28 * 1024  # Teams refuses bigger messages with 413 MessageSizeTooBig
SENDING_ROUTES = frozenset(
    {"send_to_conversation", "reply_to_activity", "update_activity", "send_conversation_history"}
)


@dataclass(frozen=True)
class RecordedActivity:
    """One Connector request. `activity` is {} for requests that carry none (GET, DELETE).

    `activity_id` is the id in the URL (the activity replied to, updated or deleted);
    `response_id` is the id this fake answered with (the new activity's id, if any).
    For `create_conversation`, `activity` is the parameters' initial activity and `body` the
    whole ConversationParameters.
    """

    route: str
    conversation_id: str | None
    activity_id: str | None
    activity: dict[str, Any]
    headers: dict[str, str]  # names lower-cased
    at: float
    response_id: str | None = None
    body: Any = None

    @property
    def text(self) -> str:
        return str(self.activity.get("text") or "")

    @property
    def cards(self) -> list[dict[str, Any]]:
        """The Adaptive Cards attached to the activity."""
        return [
            a.get("content", {})
            for a in self.activity.get("attachments") or []
            if isinstance(a, dict) and a.get("contentType") == ADAPTIVE_CARD_CONTENT_TYPE
        ]


@dataclass(frozen=True)
class _Route:
    name: str
    conversation_id: str | None = None
    activity_id: str | None = None
    member_id: str | None = None


def _route(verb: str, path: str) -> _Route | None:
    """Which Connector operation a request is, or None; any serviceUrl path prefix is allowed."""
    start = path.find("/v3/")
    if start < 0:
        return None
    # Split before decoding: an encoded "/" (%2F) inside an id must not split it.
    parts = [unquote(part) for part in path[start + 4 :].rstrip("/").split("/")]
    match verb, parts:
        case "POST", ["conversations"]:
            return _Route("create_conversation")
        case "GET", ["conversations"]:
            return _Route("get_conversations")
        case "POST", ["conversations", c, "activities"]:
            return _Route("send_to_conversation", c)
        case "POST", ["conversations", c, "activities", "history"]:
            return _Route("send_conversation_history", c)
        case "POST", ["conversations", c, "activities", a]:
            return _Route("reply_to_activity", c, a)
        case "PUT", ["conversations", c, "activities", a]:
            return _Route("update_activity", c, a)
        case "DELETE", ["conversations", c, "activities", a]:
            return _Route("delete_activity", c, a)
        case "GET", ["conversations", c, "activities", a, "members"]:
            return _Route("get_activity_members", c, a)
        case "GET", ["conversations", c, "members"]:
            return _Route("get_conversation_members", c)
        case "GET", ["conversations", c, "pagedmembers"]:
            return _Route("get_conversation_paged_members", c)
        case "GET", ["conversations", c, "members", m]:
            return _Route("get_conversation_member", c, member_id=m)
        case "DELETE", ["conversations", c, "members", m]:
            return _Route("delete_conversation_member", c, member_id=m)
        case "GET", ["teams", t]:
            return _Route("get_team_details", t)
        case "GET", ["teams", t, "conversations"]:
            return _Route("get_teams_channels", t)
    return None


def _error(status: int, code: str, message: str) -> HttpResponse:
    return HttpResponse.of_json({"error": {"code": code, "message": message}}, status)


class FakeBotConnector(LoopbackServer):
    """A Bot Connector at `.url` ("http://127.0.0.1:PORT/"), recording every request."""

    def __init__(self) -> None:
        super().__init__()
        self._records: list[RecordedActivity] = []
        self.failures: list[RecordedActivity] = []
        self._script = FailureScript()
        self._ids = count(1)
        self.members: dict[str, dict[str, Any]] = {}  # member id -> TeamsChannelAccount JSON

    # public API -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The `serviceUrl` to put in activities sent to the bot."""
        return f"{self.origin}/"

    def calls(self, route: str | None = None) -> list[RecordedActivity]:
        """Every request received (scripted failures excluded), oldest first."""
        return [r for r in self._snapshot(self._records) if route is None or r.route == route]

    def activities(self) -> list[RecordedActivity]:
        """The requests that carried an activity (sent, replied, updated, created with one)."""
        return [r for r in self._snapshot(self._records) if r.activity]

    def wait_for(
        self,
        count: int = 1,
        timeout: float = 10,
        predicate: Callable[[RecordedActivity], bool] | None = None,
        route: str | None = None,
    ) -> list[RecordedActivity]:
        """Block until `count` matching requests arrived; return them.

        Without `route`, only requests carrying an activity count (not GETs or DELETEs).
        """

        def matches(record: RecordedActivity) -> bool:
            wanted = record.route == route if route else bool(record.activity)
            return wanted and (predicate is None or predicate(record))

        wanted = f"{route or 'activity'}{'' if predicate is None else ' matching the predicate'}"
        return self._wait(self._records, matches, count, timeout, wanted, _describe)

    def fail_next(
        self,
        status: int = 429,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
        route: str | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        """Answer the next `times` requests (of `route`, or any) with `status` instead. A route
        `create_conversation:<member id>` fails only the personal chat opened with that member."""
        if headers is None:
            headers = {"Retry-After": "1"} if status == 429 else {}
        if body is None:
            code = "TooManyRequests" if status == 429 else "ServiceError"
            body = {"error": {"code": code, "message": f"scripted failure {status}"}}
        answer = HttpResponse.of_json(body, status, headers)
        self._script.add(ScriptedFailure(route, status, dict(answer.headers), answer.body, times))

    def add_member(self, member_id: str, **fields: Any) -> dict[str, Any]:
        """Make `member_id` known (GET members answers with the known ones); returns its JSON."""
        member = {**_default_member(member_id), **fields}
        self.members[member_id] = member
        return member

    def clear(self) -> None:
        """Forget requests, failures, problems and pending scripted failures."""
        with self._cond:
            self._records.clear()
            self.failures.clear()
            self.problems.clear()
        self._script.clear()

    # serving ----------------------------------------------------------------------------------
    def handle(self, request: HttpRequest) -> HttpResponse:
        route = _route(request.verb, request.path)
        if route is None:
            self.add_problem(f"not a Bot Connector route: {request.verb} {request.path}")
            return _error(404, "NotFound", f"{request.verb} {request.path}")
        try:
            body = request.json()
        except json.JSONDecodeError as exc:
            self.add_problem(f"{route.name}: body is not JSON: {exc}")
            return _error(400, "BadSyntax", str(exc))
        failure = None
        if route.name == "create_conversation":  # a failure may be scripted for one person
            failure = self._script.take(f"{route.name}:{_first_member(body)}")
        failure = failure or self._script.take(route.name)
        if failure is not None:
            self._append(self.failures, self._record(route, request, body, None))
            return HttpResponse(failure.status, failure.body, failure.headers)
        return self._answer(route, request, body)

    def _answer(self, route: _Route, request: HttpRequest, body: Any) -> HttpResponse:
        if route.name == "create_conversation":
            conversation_id = f"a:conv-{next(self._ids)}"
            activity = body.get("activity") if isinstance(body, dict) else None
            new_id = self._new_activity_id() if activity else None
            route = _Route(route.name, conversation_id)
            self._check(route, activity or {}, request.body)
            self._append(self._records, self._record(route, request, body, new_id))
            answer = {"id": conversation_id, "activityId": new_id, "serviceUrl": self.url}
            return HttpResponse.of_json(answer, 201)
        if route.name in SENDING_ROUTES:
            new_id = route.activity_id if route.name == "update_activity" else None
            new_id = new_id or self._new_activity_id()
            problems = self._check(route, body, request.body)
            self._append(self._records, self._record(route, request, body, new_id))
            if any("MessageSizeTooBig" in p for p in problems):
                return _error(413, "MessageSizeTooBig", "Message size too big")
            status = 200 if route.name == "update_activity" else 201
            return HttpResponse.of_json({"id": new_id}, status)
        self._append(self._records, self._record(route, request, {}, None))
        return self._answer_lookup(route)

    def _answer_lookup(self, route: _Route) -> HttpResponse:
        members = list(self.members.values()) or [_default_member("29:1user")]
        match route.name:
            case "get_conversation_members" | "get_activity_members":
                return HttpResponse.of_json(members)
            case "get_conversation_paged_members":
                return HttpResponse.of_json({"members": members, "continuationToken": None})
            case "get_conversation_member":
                member_id = route.member_id or ""
                if self.members and member_id not in self.members:
                    return _error(404, "MemberNotFoundInConversation", member_id)
                return HttpResponse.of_json(
                    self.members.get(member_id) or _default_member(member_id)
                )
            case "get_team_details":
                team = {"id": route.conversation_id, "name": "Test team", "aadGroupId": "g-1"}
                return HttpResponse.of_json(team)
            case "get_teams_channels":
                general = {"id": route.conversation_id, "name": None}
                return HttpResponse.of_json({"conversations": [general]})
            case "get_conversations":
                return HttpResponse.of_json({"conversations": [], "continuationToken": None})
        return HttpResponse(200)  # the DELETEs: nothing to say

    def _record(
        self, route: _Route, request: HttpRequest, body: Any, new_id: str | None
    ) -> RecordedActivity:
        activity = body if route.name in SENDING_ROUTES else None
        if route.name == "create_conversation" and isinstance(body, dict):
            activity = body.get("activity")
        return RecordedActivity(
            route=route.name,
            conversation_id=route.conversation_id,
            activity_id=route.activity_id,
            activity=activity if isinstance(activity, dict) else {},
            headers=request.headers,
            at=time.time(),
            response_id=new_id,
            body=body,
        )

    def _check(self, route: _Route, activity: Any, raw: bytes) -> list[str]:
        """Record (and return) what is wrong with an activity the bot sent."""
        where = f"{route.name} {route.conversation_id}"
        problems = []
        if not isinstance(activity, dict):
            problems.append(f"{where}: activity must be a JSON object")
            activity = {}
        elif (activity or route.name != "create_conversation") and not activity.get("type"):
            problems.append(f"{where}: activity has no type")
        if len(raw) > MAX_ACTIVITY_BYTES:
            problems.append(f"{where}: {len(raw)} bytes (MessageSizeTooBig, limit 28 KB)")
        for i, attachment in enumerate(activity.get("attachments") or []):
            if not isinstance(attachment, dict):
                problems.append(f"{where} attachments[{i}]: must be an object")
            elif attachment.get("contentType") == ADAPTIVE_CARD_CONTENT_TYPE:
                card_problems = validate_adaptive_card(attachment.get("content"))
                problems += [f"{where} attachments[{i}]: {p}" for p in card_problems]
        for problem in problems:
            self.add_problem(problem)
        return problems

    def _new_activity_id(self) -> str:
        return str(1_700_000_000_000 + next(self._ids))


def _first_member(body: Any) -> str | None:
    """The person a `create_conversation` opens a personal chat with."""
    members = body.get("members") if isinstance(body, dict) else None
    first = members[0] if isinstance(members, list) and members else None
    return first.get("id") if isinstance(first, dict) else None


def _default_member(member_id: str) -> dict[str, Any]:
    """A plausible TeamsChannelAccount for `member_id`."""
    handle = member_id.rsplit(":", 1)[-1] or "user"
    return {
        "id": member_id,
        "name": f"User {handle}",
        "aadObjectId": str(uuid.uuid5(uuid.NAMESPACE_URL, member_id)),
        "givenName": "User",
        "surname": handle,
        "email": f"{handle}@example.test",
        "userPrincipalName": f"{handle}@example.test",
        "tenantId": TENANT_ID,
        "userRole": "user",
    }


def message_activity(
    service_url: str,
    text: str,
    *,
    from_id: str = "29:1user",
    from_name: str = "Test User",
    aad_object_id: str | None = None,
    conversation_id: str = "a:1personal",
    conversation_type: str = "personal",
    value: Mapping[str, Any] | None = None,
    activity_id: str | None = None,
) -> dict[str, Any]:
    """A Teams `message` activity as it arrives at the bot's /api/messages (wire JSON).

    `value` is what an Adaptive Card `Action.Submit` sends (then `text` is usually empty).
    For a channel, pass the channel's conversation id and `conversation_type="channel"`.
    """
    activity: dict[str, Any] = {
        "type": "message",
        "id": activity_id or str(int(time.time() * 1000)),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": {
            "id": from_id,
            "name": from_name,
            "aadObjectId": aad_object_id or str(uuid.uuid5(uuid.NAMESPACE_URL, from_id)),
        },
        "conversation": {
            "id": conversation_id,
            "conversationType": conversation_type,
            "tenantId": TENANT_ID,
            "isGroup": conversation_type != "personal",
        },
        "recipient": {"id": BOT_ACCOUNT_ID, "name": "LaunchOps"},
        "text": text,
        "textFormat": "plain",
        "locale": "en-US",
        "channelData": {"tenant": {"id": TENANT_ID}},
    }
    if value is not None:
        activity["value"] = dict(value)
    return activity


def _describe(records: Sequence[RecordedActivity]) -> str:
    lines = []
    for r in records:
        shown = json.dumps(r.activity, default=str)[:300] if r.activity else ""
        lines.append(f"  {r.route} {r.conversation_id} {r.activity_id or ''} {shown}")
    return "\n".join(lines)
