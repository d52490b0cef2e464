"""A loopback fake of the Slack Web API that records and checks every call (DESIGN.md §6).

Point the app at it with `SLACK_API_URL=fake.url` (slack_sdk's `base_url`). Each call is
recorded, answered the way Slack answers it, and checked against Slack's own OpenAPI 2.0 spec
(`<specs>/slack_web_openapi_v2.json`: the method exists, its required arguments are present)
and, for Block Kit, round-tripped through `slack_sdk.models` (unknown block types or keys and
broken limits such as a 3,001-character section all show up). A call that fails the checks is
answered like Slack would (`invalid_arguments`, `invalid_blocks`, `no_text`) and the problem
lands in `problems`; end each test with `fake.assert_valid()`.

`response_url`s are served too: `fake.response_url("abc")` accepts the app's POSTs and records
them as calls of the pseudo-method "response_url". `fail_next()` scripts 429/5xx answers so the
outbox's retry and `Retry-After` handling can be tested against the real client;
`refuse_dms()` makes DMs to a user fail for good (`user_not_found`, `account_inactive`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from tests.fakes import (
    FailureScript,
    HttpRequest,
    HttpResponse,
    LoopbackServer,
    ScriptedFailure,
    specs_dir,
)

__all__ = ["BOT_ID", "BOT_USER_ID", "TEAM_ID", "FakeSlackAPI", "RecordedCall", "block_problems"]

SPEC_FILE = "slack_web_openapi_v2.json"
RESPONSE_URL_METHOD = "response_url"
TEAM_ID = "T0TEST"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
MAX_MESSAGE_BLOCKS = 50  # chat.* refuse more with invalid_blocks
FIRST_TS = 1_700_000_000
NO_TEXT = "no text, blocks or attachments"
UPLOAD_METHOD = "upload"  # the recorded "method" of a file's bytes POSTed to an upload URL
# Files upload v2 came after the vendored spec: its two methods and their required arguments
# are declared here explicitly (https://api.slack.com/methods/files.getUploadURLExternal,
# https://api.slack.com/methods/files.completeUploadExternal).
UPLOAD_V2_METHODS: Mapping[str, frozenset[str]] = {
    "files.getUploadURLExternal": frozenset({"token", "filename", "length"}),
    "files.completeUploadExternal": frozenset({"token", "files"}),
}


@dataclass(frozen=True)
class RecordedCall:
    """One Web API call (or response_url POST): arguments merged from query and body."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]  # names lower-cased
    at: float  # time.time() on arrival

    @property
    def token(self) -> str | None:
        """The token, from `Authorization: Bearer` (as slack_sdk sends it) or a `token` arg."""
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        token = self.params.get("token")
        return token if isinstance(token, str) else None

    def json_param(self, name: str) -> Any:
        """An argument that may come as a JSON string (form bodies) or as JSON (JSON bodies)."""
        value = self.params.get(name)
        return json.loads(value) if isinstance(value, str) else value


Responder = Callable[[RecordedCall], Mapping[str, Any]]


@lru_cache(maxsize=4)
def _required_args(spec_path: Path) -> dict[str, frozenset[str]]:
    """Slack method name -> names of its required arguments, from the OpenAPI spec."""
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    methods: dict[str, frozenset[str]] = {}
    for path, operations in spec["paths"].items():
        required = {
            param["name"]
            for operation in operations.values()
            if isinstance(operation, dict)
            for param in operation.get("parameters", [])
            if param.get("required") and param.get("in") in ("formData", "query", "header")
        }
        methods[path.lstrip("/")] = frozenset(required)
    return methods


def block_problems(blocks: Any, where: str) -> list[str]:
    """Why `blocks` would not survive slack_sdk's Block Kit models unchanged (empty if fine)."""
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except json.JSONDecodeError as exc:
            return [f"{where}: not JSON: {exc}"]
    if not isinstance(blocks, list):
        return [f"{where}: must be a list of blocks, got {type(blocks).__name__}"]
    problems = []
    for i, (sent, parsed) in enumerate(zip(blocks, Block.parse_all(blocks), strict=True)):
        here = f"{where}[{i}]"
        kind = sent.get("type") if isinstance(sent, dict) else None
        if parsed is None:
            problems.append(f"{here}: unknown block type {kind!r}")
            continue
        try:
            parsed.validate_json()
            again = parsed.to_dict()
        except SlackObjectFormationError as exc:
            problems.append(f"{here} ({kind}): {exc}")
            continue
        if again != sent:
            problems.append(f"{here} ({kind}): does not round-trip: {_difference(sent, again)}")
    return problems


def _view_problems(view: Any, where: str) -> list[str]:
    if isinstance(view, str):
        try:
            view = json.loads(view)
        except json.JSONDecodeError as exc:
            return [f"{where}: not JSON: {exc}"]
    if not isinstance(view, dict):
        return [f"{where}: must be an object, got {type(view).__name__}"]
    problems = block_problems(view.get("blocks", []), f"{where}.blocks")
    try:
        model = View(**view)
        model.validate_json()
        again = model.to_dict()
    except (SlackObjectFormationError, TypeError) as exc:
        return [*problems, f"{where}: {exc}"]
    if again != view and not problems:
        problems.append(f"{where}: does not round-trip: {_difference(view, again)}")
    return problems


def _difference(sent: Any, again: Any, path: str = "") -> str:
    """Where two JSON values first differ, readably."""
    if isinstance(sent, dict) and isinstance(again, dict):
        for key in sent.keys() | again.keys():
            if key not in again:
                return f"{path}.{key} is dropped by slack_sdk (unknown or misplaced key)"
            if key not in sent:
                return f"{path}.{key} is added by slack_sdk ({again[key]!r})"
            if sent[key] != again[key]:
                return _difference(sent[key], again[key], f"{path}.{key}")
    if isinstance(sent, list) and isinstance(again, list) and len(sent) == len(again):
        for i, (a, b) in enumerate(zip(sent, again, strict=True)):
            if a != b:
                return _difference(a, b, f"{path}[{i}]")
    return f"{path or 'value'}: sent {sent!r:.200}, slack_sdk gives {again!r:.200}"


def _parse_form(raw: str) -> dict[str, Any]:
    parsed = parse_qs(raw, keep_blank_values=True)
    return {k: v[0] if len(v) == 1 else v for k, v in parsed.items()}


class FakeSlackAPI(LoopbackServer):
    """The Slack Web API at `.url` ("http://127.0.0.1:PORT/api/"), recording every call."""

    def __init__(self, spec_path: Path | None = None) -> None:
        super().__init__()
        self._spec_path = spec_path or specs_dir() / SPEC_FILE
        _required_args(self._spec_path)  # parse (once per process) before the first call
        self._calls: list[RecordedCall] = []
        self.failures: list[RecordedCall] = []
        self._script = FailureScript()
        self._overrides: dict[str, Responder] = {}
        self._ts = count(100, 100)
        self._ids = count(1)
        self.users: dict[str, dict[str, Any]] = {}  # users.info overrides by user id
        self._refused_dms: dict[str, str] = {}  # user id -> the error every DM to them gets
        self._responders: dict[str, Responder] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": lambda c: {"ok": True, "message_ts": self._next_ts()},
            "chat.update": self._update,
            "chat.delete": lambda c: {"ok": True, **_pick(c, "channel", "ts")},
            "chat.getPermalink": self._permalink,
            "conversations.open": self._conversations_open,
            "conversations.create": self._conversations_create,
            "conversations.invite": lambda c: {"ok": True, "channel": _pick(c, id="channel")},
            "conversations.info": lambda c: {"ok": True, "channel": _pick(c, id="channel")},
            "views.open": self._view,
            "views.update": self._view,
            "views.push": self._view,
            "views.publish": self._view,
            "users.info": self._users_info,
            "reactions.add": lambda c: {"ok": True},
            "files.getUploadURLExternal": self._upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }
        self.uploads: dict[str, bytes] = {}  # file id -> the bytes POSTed to its upload URL
        self._upload_names: dict[str, str] = {}  # file id -> filename asked for

    # public API -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The Web API base URL: give it to WebClient(base_url=...) / SLACK_API_URL."""
        return f"{self.origin}/api/"

    def response_url(self, key: str) -> str:
        """A `response_url` for a slash command or interaction payload, served by this fake."""
        return f"{self.origin}/response/{key}"

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        """Calls received (scripted failures excluded), oldest first."""
        return [c for c in self._snapshot(self._calls) if method is None or c.method == method]

    def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 10,
        predicate: Callable[[RecordedCall], bool] | None = None,
    ) -> list[RecordedCall]:
        """Block until `count` calls of `method` (passing `predicate`) arrived; return them."""

        def matches(call: RecordedCall) -> bool:
            return call.method == method and (predicate is None or predicate(call))

        wanted = method if predicate is None else f"{method} matching the predicate"
        return self._wait(self._calls, matches, count, timeout, wanted, _describe)

    def fail_next(
        self,
        method: str,
        status: int = 429,
        headers: Mapping[str, str] | None = None,
        times: int = 3,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` with `status` instead (429 or 5xx)."""
        if headers is None:
            headers = {"Retry-After": "1"} if status == 429 else {}
        if body is None:
            body = {"ok": False, "error": "ratelimited" if status == 429 else "internal_error"}
        payload = HttpResponse.of_json(body, status, headers)
        self._script.add(
            ScriptedFailure(method, status, dict(payload.headers), payload.body, times)
        )

    def refuse_dms(self, user: str, error: str = "user_not_found") -> None:
        """From now on, every DM to `user` fails for good, the way Slack refuses a deactivated
        or unknown user: `conversations.open` (and a post to the user id) answer
        `{"ok": false, "error": error}` with HTTP 200."""
        self._refused_dms[user] = error

    def set_response(self, method: str, response: Mapping[str, Any] | Responder) -> None:
        """Answer `method` with a fixed payload, or with `response(call)`, from now on."""
        self._overrides[method] = response if callable(response) else (lambda _c: response)

    def clear(self) -> None:
        """Forget calls, failures, problems and pending scripted failures."""
        with self._cond:
            self._calls.clear()
            self.failures.clear()
            self.problems.clear()
        self._script.clear()

    # serving ----------------------------------------------------------------------------------
    def handle(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            method = request.path.removeprefix("/api/")
        elif request.path.startswith("/response/") and request.verb == "POST":
            method = RESPONSE_URL_METHOD
        elif request.path.startswith("/upload/") and request.verb == "POST":
            return self._receive_upload(request)
        else:
            return HttpResponse(404, b"not found", {"Content-Type": "text/plain"})
        call = RecordedCall(method, self._arguments(request), request.headers, time.time())
        failure = self._script.take(method)
        if failure is not None:
            self._append(self.failures, call)
            return HttpResponse(failure.status, failure.body, failure.headers)
        self._append(self._calls, call)
        if method == RESPONSE_URL_METHOD:
            return HttpResponse.of_json(self._answer_response_url(call))
        return HttpResponse.of_json(self._answer(call))

    def _arguments(self, request: HttpRequest) -> dict[str, Any]:
        params = _parse_form(request.query)
        content_type = request.headers.get("content-type", "")
        if "json" in content_type or request.path.startswith("/response/"):
            try:
                body = request.json()
            except json.JSONDecodeError as exc:
                self.add_problem(f"{request.path}: body is not JSON: {exc}")
                return params
            if not isinstance(body, dict):
                self.add_problem(f"{request.path}: JSON body must be an object")
                return params
            params.update(body)
        elif "multipart" in content_type:
            self.add_problem(f"{request.path}: multipart bodies are not supported by the fake")
        else:
            params.update(_parse_form(request.body.decode("utf-8")))
        return params

    def _answer(self, call: RecordedCall) -> Mapping[str, Any]:
        required = _required_args(self._spec_path).get(call.method)
        if required is None:
            required = UPLOAD_V2_METHODS.get(call.method)
        if required is None:
            self.add_problem(f"{call.method}: not a Slack Web API method")
            return {"ok": False, "error": "unknown_method"}
        missing = sorted(
            name
            for name in required
            if name not in call.params and not (name == "token" and call.token)
        )
        problems = [f"{call.method}: missing required argument {name!r}" for name in missing]
        problems += self._content_problems(call)
        for problem in problems:
            self.add_problem(problem)
        if problems:
            error = "invalid_blocks"
            if missing or "view" in call.params:
                error = "invalid_arguments"
            elif any(p.endswith(NO_TEXT) for p in problems):
                error = "no_text"
            return {"ok": False, "error": error, "response_metadata": {"messages": problems}}
        responder = self._overrides.get(call.method) or self._responders.get(call.method)
        return responder(call) if responder else {"ok": True}

    def _content_problems(self, call: RecordedCall) -> list[str]:
        problems: list[str] = []
        if "blocks" in call.params:
            blocks = call.params["blocks"]
            problems += block_problems(blocks, f"{call.method} blocks")
            if not problems and len(call.json_param("blocks")) > MAX_MESSAGE_BLOCKS:
                problems.append(f"{call.method}: more than {MAX_MESSAGE_BLOCKS} blocks")
        if "attachments" in call.params:
            try:
                attachments = call.json_param("attachments")
            except json.JSONDecodeError as exc:
                return [*problems, f"{call.method} attachments: not JSON: {exc}"]
            for i, attachment in enumerate(attachments or []):
                if isinstance(attachment, dict) and "blocks" in attachment:
                    where = f"{call.method} attachments[{i}].blocks"
                    problems += block_problems(attachment["blocks"], where)
        if "view" in call.params:
            problems += _view_problems(call.params["view"], f"{call.method} view")
        if call.method in ("chat.postMessage", "chat.postEphemeral") and not any(
            call.params.get(k) for k in ("text", "blocks", "attachments")
        ):
            problems.append(f"{call.method}: {NO_TEXT}")
        return problems

    def _answer_response_url(self, call: RecordedCall) -> Mapping[str, Any]:
        problems = []
        if "blocks" in call.params:
            problems += block_problems(call.params["blocks"], "response_url blocks")
        kind = call.params.get("response_type")
        if kind not in (None, "ephemeral", "in_channel"):
            problems.append(f"response_url: response_type {kind!r} is not ephemeral/in_channel")
        if not any(
            call.params.get(k) for k in ("text", "blocks", "attachments", "delete_original")
        ):
            problems.append("response_url: no text, blocks or attachments")
        for problem in problems:
            self.add_problem(problem)
        responder = self._overrides.get(RESPONSE_URL_METHOD)
        return responder(call) if responder else {"ok": not problems}

    # canned answers ---------------------------------------------------------------------------
    def _next_ts(self) -> str:
        micros = next(self._ts)
        return f"{FIRST_TS + micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _auth_test(self, call: RecordedCall) -> Mapping[str, Any]:
        return {
            "ok": True,
            "url": "https://launchops-test.slack.com/",
            "team": "LaunchOps Test",
            "user": "launchops",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _post_message(self, call: RecordedCall) -> Mapping[str, Any]:
        channel = str(call.params.get("channel"))
        if channel in self._refused_dms:
            return {"ok": False, "error": self._refused_dms[channel]}
        if channel[:1] in ("U", "W"):  # posting to a user id lands in the DM with them
            channel = "D" + channel
        ts = self._next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "text": call.params.get("text", ""),
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "team": TEAM_ID,
            "ts": ts,
        }
        if "blocks" in call.params:
            message["blocks"] = call.json_param("blocks")
        if "thread_ts" in call.params:
            message["thread_ts"] = call.params["thread_ts"]
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    # files upload v2 ----------------------------------------------------------------------
    def _upload_url(self, call: RecordedCall) -> Mapping[str, Any]:
        file_id = f"F{next(self._ids):08d}"
        self._upload_names[file_id] = str(call.params.get("filename"))
        return {"ok": True, "upload_url": f"{self.origin}/upload/{file_id}", "file_id": file_id}

    def _receive_upload(self, request: HttpRequest) -> HttpResponse:
        file_id = request.path.removeprefix("/upload/")
        if file_id not in self._upload_names:
            self.add_problem(f"upload to an URL never handed out: {request.path}")
            return HttpResponse(404, b"not found", {"Content-Type": "text/plain"})
        self.uploads[file_id] = request.body
        params = {"file_id": file_id, "length": len(request.body)}
        self._append(self._calls, RecordedCall(UPLOAD_METHOD, params, request.headers, time.time()))
        return HttpResponse(
            200, f"OK - {len(request.body)}".encode(), {"Content-Type": "text/plain"}
        )

    def _complete_upload(self, call: RecordedCall) -> Mapping[str, Any]:
        files = call.json_param("files")
        if not isinstance(files, list) or not files:
            self.add_problem("files.completeUploadExternal: `files` must be a non-empty list")
            return {"ok": False, "error": "invalid_arguments"}
        done = []
        for entry in files:
            file_id = str(entry.get("id"))
            if file_id not in self.uploads:
                self.add_problem(f"files.completeUploadExternal: {file_id} was never uploaded")
                return {"ok": False, "error": "file_not_found"}
            title = entry.get("title") or self._upload_names.get(file_id)
            done.append({"id": file_id, "title": title, "name": self._upload_names.get(file_id)})
        return {"ok": True, "files": done}

    def _update(self, call: RecordedCall) -> Mapping[str, Any]:
        text = call.params.get("text", "")
        return {
            "ok": True,
            "channel": call.params.get("channel"),
            "ts": call.params.get("ts"),
            "text": text,
            "message": {"type": "message", "text": text, "user": BOT_USER_ID, "bot_id": BOT_ID},
        }

    def _permalink(self, call: RecordedCall) -> Mapping[str, Any]:
        channel, ts = call.params.get("channel"), str(call.params.get("message_ts", ""))
        link = f"https://launchops-test.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _conversations_open(self, call: RecordedCall) -> Mapping[str, Any]:
        if call.params.get("channel"):
            return {"ok": True, "channel": {"id": call.params["channel"]}}
        users = [u for u in str(call.params.get("users", "")).split(",") if u]
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        for user in users:
            if user in self._refused_dms:
                return {"ok": False, "error": self._refused_dms[user]}
        prefix = "D" if len(users) == 1 else "G"
        return {"ok": True, "channel": {"id": prefix + "".join(users)}}

    def _conversations_create(self, call: RecordedCall) -> Mapping[str, Any]:
        name = call.params.get("name")
        channel = {"id": f"C{next(self._ids):08d}", "name": name, "is_channel": True}
        return {"ok": True, "channel": channel}

    def _view(self, call: RecordedCall) -> Mapping[str, Any]:
        view = call.json_param("view") or {}
        view_id = call.params.get("view_id") or f"V{next(self._ids):08d}"
        return {"ok": True, "view": {**view, "id": view_id, "team_id": TEAM_ID, "hash": "h1"}}

    def _users_info(self, call: RecordedCall) -> Mapping[str, Any]:
        user_id = str(call.params.get("user"))
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": user_id.lower(),
            "real_name": f"User {user_id}",
            "tz": "Asia/Seoul",
            "tz_offset": 32400,
            "is_bot": False,
            "deleted": False,
            "profile": {"real_name": f"User {user_id}", "display_name": user_id.lower()},
        }
        if call.params.get("include_locale") in (True, "1", "true"):
            user["locale"] = "en-US"
        user.update(self.users.get(user_id, {}))
        return {"ok": True, "user": user}


def _pick(call: RecordedCall, *names: str, **renamed: str) -> dict[str, Any]:
    """Arguments of `call` to echo back: `names` as they are, `renamed` as new_name=arg_name."""
    picked = {name: call.params.get(name) for name in names}
    picked.update({new: call.params.get(old) for new, old in renamed.items()})
    return picked


def _describe(calls: Sequence[RecordedCall]) -> str:
    lines = []
    for call in calls:
        shown = {k: v for k, v in call.params.items() if k != "token"}
        lines.append(f"  {call.method} {json.dumps(shown, default=str)[:300]}")
    return "\n".join(lines)
