"""deploy/slack-app-manifest.yaml asks Slack for exactly what the code uses.

- Slash commands and bot events: the real bolt App, built by `build_context` as `serve` builds
  it, with its registration methods recorded (every listener it holds must be accounted for),
  against the manifest's `slash_commands` and `bot_events`.
- Scopes: every Slack Web API method the code calls (found in src/launchops/ by name: a call
  of a `WebClient` method, resolved through slack_sdk to the API method it posts to) needs a
  scope the manifest grants, by the vendored OpenAPI spec's `security` section; each event by
  the AsyncAPI spec's `x-scopes-required`; and the manifest grants nothing beyond those
  but the extras listed here with their reason. The manifest is read by doctor's own reader.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_bolt import App
from slack_sdk import WebClient

import launchops.adapters.slack.app as slack_app_module
from launchops.adapters.slack.handlers import SLASH_PREFIXES
from launchops.doctor.chat_checks import _slack_manifest_scopes
from launchops.main import build_context
from tests.e2e.harness import slack_settings
from tests.fakes import specs_dir

REPO_ROOT = Path(__file__).resolve().parents[2]
MANIFEST = REPO_ROOT / "deploy" / "slack-app-manifest.yaml"
SRC = REPO_ROOT / "src" / "launchops"

# bolt's listener-registering methods (middleware such as `use` registers no listener)
REGISTRARS = [
    "event",
    "message",
    "function",
    "command",
    "shortcut",
    "global_shortcut",
    "message_shortcut",
    "action",
    "block_action",
    "attachment_action",
    "dialog_submission",
    "dialog_cancellation",
    "view",
    "view_submission",
    "view_closed",
    "options",
    "block_suggestion",
    "dialog_suggestion",
]
INTERACTIVE = {"action", "block_action", "view", "view_submission", "view_closed", "shortcut"}
OPTIONS = {"options", "block_suggestion"}

# The OpenAPI spec names classic-app scopes; a bot token gets their granular successors.
GRANULAR = {"chat:write:bot": "chat:write", "chat:write:user": "chat:write"}
GRANULAR_WRITE = {"channels:write": "channels:manage"}
# conversations.* accept one scope per conversation type; the type the code uses them with
# (adapters/slack/sender.py): a DM opened for one user, the incident's own public channel
# (created without is_private, found by `types="public_channel"`, people invited to it).
CONVERSATION_TYPE = {
    "conversations.open": "im",
    "conversations.create": "channels",
    "conversations.list": "channels",
    "conversations.invite": "channels",
}
# Methods the spec predates (files upload v2), with the scope Slack documents for them.
NOT_IN_SPEC = {
    "files.getUploadURLExternal": {"files:write"},
    "files.completeUploadExternal": {"files:write"},
}
# Events whose spec entry lists no scope although Slack requires one (api.slack.com/events).
EVENT_SCOPES = {"app_mention": {"app_mentions:read"}}
# Granted on purpose though no method or event demands it.
JUSTIFIED_EXTRAS = {
    "commands": "slash commands are delivered only with it (it is a feature, not an API call)",
    "chat:write.public": "pages and digests go to the team channels of config/catalog.yaml "
    "without the bot having been invited to each (chat.postMessage refuses not_in_channel)",
}

# Differences between what the code needs and what the manifest grants, to fix in the manifest
# together with doctor's built-in copy of its scopes (REQUIRED_SLACK_SCOPES in
# src/launchops/doctor/chat_checks.py, which tests/cli/test_doctor.py keeps equal to the
# manifest). Empty: an entry must still be true, so a fix fails here until it is taken out.
KNOWN_MISSING: dict[str, str] = {}
KNOWN_UNUSED: dict[str, str] = {}


# --- the bolt app -----------------------------------------------------------------------------


class RecordingApp(App):
    """slack_bolt's App, noting what each listener was registered for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.registered: list[tuple[str, Any]] = []
        super().__init__(*args, **kwargs)


def _recorder(kind: str) -> Callable[..., Any]:
    original = getattr(App, kind)

    def register(self: RecordingApp, spec: Any = None, *args: Any, **kwargs: Any) -> Any:
        decorator = original(self, spec, *args, **kwargs)

        def apply(*functions: Any, **named: Any) -> Any:
            self.registered.append((kind, spec))
            return decorator(*functions, **named)

        return apply

    return register


for _kind in REGISTRARS:
    setattr(RecordingApp, _kind, _recorder(_kind))


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Any]]:
    """(kind, what) for every listener of the bot's bolt App, as build_context wires it."""
    database = tmp_path_factory.mktemp("slack-manifest") / "launchops.db"
    settings = slack_settings(f"sqlite:///{database}", "http://127.0.0.1:9/api/")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(slack_app_module, "App", RecordingApp)
        ctx = build_context(settings)
    try:
        assert ctx.slack is not None
        app = ctx.slack.app
        assert isinstance(app, RecordingApp)
        # Every listener came through a recorded method (none slipped past the recording).
        assert len(app.registered) == len(app._listeners)
        return list(app.registered)
    finally:
        ctx.close()


def _strings(kind: str, entries: list[tuple[str, Any]], candidates: Iterable[str] = ()) -> set[str]:
    """What the listeners of `kind` answer to. A listener registered for a pattern (one
    listener for every slash command) answers to those of `candidates` it matches."""
    found: set[str] = set()
    for what_kind, what in entries:
        if what_kind != kind:
            continue
        if isinstance(what, dict):  # app.event({"type": ..., "subtype": ...})
            what = what.get("type")
        if isinstance(what, re.Pattern):
            found |= {candidate for candidate in candidates if what.fullmatch(candidate)}
            continue
        assert isinstance(what, str), f"{kind} registered for {what!r}: compare by hand"
        found.add(what)
    return found


def _manifest() -> Any:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def test_slash_commands_are_the_registered_ones(registered: list[tuple[str, Any]]) -> None:
    listed = {c["command"] for c in _manifest()["features"]["slash_commands"]}
    # The commands the handlers route, and some they must not answer, are the candidates a
    # pattern is matched against: a manifest command the pattern misses, or a routed one the
    # manifest lacks, both show.
    candidates = {*listed, *SLASH_PREFIXES, "/other", "/owners", "/incident2", "owner"}
    assert listed == _strings("command", registered, candidates)
    assert "/incident" in listed


def test_bot_events_are_the_registered_ones(registered: list[tuple[str, Any]]) -> None:
    events = _manifest()["settings"]["event_subscriptions"]["bot_events"]
    # `message.im` (and .channels, .groups ...) all arrive as events of type `message`.
    listened = _strings("event", registered) | {"message" for k, _ in registered if k == "message"}
    assert {name.split(".")[0] for name in events} == listened
    assert set(events) >= {"app_mention", "message.im"}


def test_interactivity_and_options_match_the_listeners(registered: list[tuple[str, Any]]) -> None:
    interactivity = _manifest()["settings"]["interactivity"]
    kinds = {kind for kind, _ in registered}
    assert interactivity["is_enabled"] is bool(kinds & INTERACTIVE)
    assert bool(interactivity.get("message_menu_options_url")) is bool(kinds & OPTIONS)


# --- scopes ---------------------------------------------------------------------------------


def _web_api_method(client_method: str, seen: frozenset[str] = frozenset()) -> set[str]:
    """The Slack API methods a WebClient method posts to (`files_upload_v2` → the two v2
    methods), read from slack_sdk's own source."""
    source = inspect.getsource(getattr(WebClient, client_method))
    found = set(re.findall(r"""api_call\(\s*["']([\w.]+)["']""", source))
    for called in set(re.findall(r"self\.(\w+)\(", source)) - seen - {client_method}:
        if called != "api_call" and _is_api_method(called):
            found |= _web_api_method(called, seen | {client_method})
    return found


def _is_api_method(name: str) -> bool:
    return not name.startswith("_") and callable(getattr(WebClient, name, None))


def _called_client_methods() -> dict[str, set[str]]:
    """WebClient methods called anywhere in src/launchops/ → the files calling them."""
    calls: dict[str, set[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                name = node.func.attr
                if "_" in name and _is_api_method(name) and hasattr(WebClient, name):
                    calls.setdefault(name, set()).add(str(path.relative_to(SRC)))
    return calls


def _called_api_methods() -> set[str]:
    methods: set[str] = set()
    for client_method in _called_client_methods():
        methods |= _web_api_method(client_method)
    return methods


def _spec_scopes(method: str) -> set[str]:
    """The bot scopes `method` needs: any one of the spec's alternatives, as granular names,
    narrowed to the conversation type the code uses it with."""
    if method in NOT_IN_SPEC:
        return NOT_IN_SPEC[method]
    spec = json.loads((specs_dir() / "slack_web_openapi_v2.json").read_text(encoding="utf-8"))
    operations = spec["paths"][f"/{method}"]
    alternatives: set[str] = set()
    for operation in operations.values():
        for requirement in operation.get("security", []):
            for scopes in requirement.values():
                alternatives |= {GRANULAR.get(s, GRANULAR_WRITE.get(s, s)) for s in scopes}
    alternatives.discard("none")
    kind = CONVERSATION_TYPE.get(method)
    if kind is not None:
        alternatives = {s for s in alternatives if s.startswith(f"{kind}:")}
    return alternatives


def _event_scopes(event: str) -> set[str]:
    spec = json.loads((specs_dir() / "slack_events_api_async_v1.json").read_text(encoding="utf-8"))
    topic = spec["topics"][event if "." in event else event.replace("_", ".")]
    return set(topic["subscribe"].get("x-scopes-required") or []) | EVENT_SCOPES.get(event, set())


def _granted() -> frozenset[str]:
    scopes, source = _slack_manifest_scopes()  # doctor's reader: the same file it checks
    assert source == "deploy/slack-app-manifest.yaml"
    return scopes


def _needed() -> Iterator[tuple[str, set[str]]]:
    for method in sorted(_called_api_methods()):
        yield method, _spec_scopes(method)
    for event in _manifest()["settings"]["event_subscriptions"]["bot_events"]:
        yield f"event {event}", _event_scopes(event)


def test_the_calls_are_found() -> None:
    """The scan sees the sender's calls (a scan that found nothing would prove nothing)."""
    calls = _called_client_methods()
    assert "adapters/slack/sender.py" in calls["chat_postMessage"]
    assert {"views_open", "files_upload_v2", "conversations_open"} <= set(calls)
    methods = _called_api_methods()
    assert {"chat.postMessage", "views.open", "files.completeUploadExternal"} <= methods
    assert _spec_scopes("chat.update") == {"chat:write"}
    assert _spec_scopes("conversations.open") == {"im:write"}


def test_every_call_and_event_has_a_granted_scope() -> None:
    granted = _granted()
    missing = {
        what: sorted(scopes)
        for what, scopes in _needed()
        if scopes and not scopes & granted  # any one of the alternatives is enough
    }
    new = {what: scopes for what, scopes in missing.items() if not set(scopes) & set(KNOWN_MISSING)}
    assert not new, f"the manifest grants none of the scopes these need: {new}"
    fixed = sorted(set(KNOWN_MISSING) & granted)
    assert not fixed, f"granted now: take {fixed} out of KNOWN_MISSING"


def test_the_manifest_grants_nothing_unused() -> None:
    used: set[str] = set(JUSTIFIED_EXTRAS)
    for _, scopes in _needed():
        used |= scopes
    unused = _granted() - used
    new = sorted(unused - set(KNOWN_UNUSED))
    assert not new, f"granted but used by no call or event (or justify them here): {new}"
    gone = sorted(set(KNOWN_UNUSED) - unused)
    assert not gone, f"no longer granted (or now used): take {gone} out of KNOWN_UNUSED"
