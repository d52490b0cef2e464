"""One text grammar for every platform (DESIGN.md §3): text in, a typed command out.

The parser is pure: it never looks anything up, so it can be fuzzed freely. Adapters strip
their own mention syntax first; what remains is parsed here the same way everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from launchops.domain.errors import BadCommand
from launchops.text import collapse_spaces

MAX_INPUT_CHARS = 4000
MAX_QUERY_CHARS = 200
DESCRIPTION_SEPARATOR = " -- "  # `incident p1 <component>: <title> -- <description>`


@dataclass(frozen=True)
class Help:
    topic: str | None = None


@dataclass(frozen=True)
class WhoOwns:
    """`who owns X`, `who fixes X`, `owner X`: the RACI answer for a component."""

    query: str


@dataclass(frozen=True)
class Owns:
    """`owns <team or person>`: what they are Responsible or Accountable for."""

    query: str


@dataclass(frozen=True)
class IncidentForm:
    """Bare `incident`: the platform shows a form (Slack modal, Teams card)."""


@dataclass(frozen=True)
class DeclareIncident:
    """`incident p1 retriever: empty answers -- since 9:00, every query`.

    The text grammar cannot know which words name a component, so from text `component` is
    only a candidate (the words before the first colon; `guessed`) and `text` keeps everything
    after the level: when the candidate names no component, `text` is the title (see
    `without_component`). A form's component field is what the person chose: never a guess.
    """

    level: str
    title: str
    component: str | None = None
    description: str | None = None  # from a form, or after ` -- ` in text
    text: str = ""
    guessed: bool = False  # `component` came from the words before a colon

    def without_component(self) -> DeclareIncident:
        """The same declaration with the whole text as its title: "API returns 500: users
        blocked" is a title with a colon in it, not the component "API returns 500"."""
        return replace(self, component=None, title=self.text or self.title)


@dataclass(frozen=True)
class IncidentAction:
    """`incident ack|resolve|escalate|status|postmortem [id]`, `incident severity id [level]`."""

    action: str
    incident_id: int | None = None
    level: str | None = None


@dataclass(frozen=True)
class RequestGate:
    """`gate request <project> <stage>`: the project is every word before the last."""

    project: str
    stage: str


@dataclass(frozen=True)
class GateStatus:
    """`gate status <project>`: a question, answered without writing anything."""

    project: str


@dataclass(frozen=True)
class DecideGate:
    """`gate approve <n>`, `gate reject <n> <reason>`: the text twin of the DM's buttons."""

    request_id: int
    verdict: str  # approve | reject
    reason: str | None = None
    evidence_version: int | None = None  # from a button: which message the click came from


@dataclass(frozen=True)
class CommentGate:
    """`gate comment <n> <text>`: a remark on a request, by its requester, owner or approvers."""

    request_id: int
    text: str


@dataclass(frozen=True)
class AttestGate:
    """`gate attest <n> <item> yes|no [value]`: the requester's word for an evidence item."""

    request_id: int
    item: str  # a key of domain/evidence.py, e.g. `launch.rollback` (or just `rollback`)
    ok: bool
    value: str | None = None


@dataclass(frozen=True)
class Projects:
    """`projects [<stage>] [team <t>]`: the portfolio, a question (writes nothing)."""

    stage: str | None = None
    team: str | None = None


@dataclass(frozen=True)
class RecordFailure:
    """`failure <component>: <what went wrong>`: one failure case, by the person who said it."""

    component: str
    text: str


@dataclass(frozen=True)
class RecordDeployment:
    """`deploy <component> <version> [to <environment>] [-- note]`: one ledger entry, by the
    person who said it. The component is every word before the version (the last word)."""

    component: str
    version: str
    environment: str = "production"
    note: str | None = None


@dataclass(frozen=True)
class Digest:
    """`digest`: this week's digest of the asker's team, shown only to them (a question)."""


@dataclass(frozen=True)
class RoadmapDecision:
    """A roadmap nudge's button, read by an adapter (never parsed from text): `gate` opens the
    gate to the next stage, `extend` moves the clock to `when` with a reason, `stop` stops
    the project with a reason. `value` is the button's `<project_id>:<stage>:<version>`."""

    action: str  # gate | extend | stop
    value: str
    when: str | None = None
    reason: str | None = None


Command = (
    Help
    | WhoOwns
    | Owns
    | IncidentForm
    | DeclareIncident
    | IncidentAction
    | RequestGate
    | GateStatus
    | DecideGate
    | CommentGate
    | AttestGate
    | Projects
    | RecordFailure
    | RecordDeployment
    | Digest
    | RoadmapDecision
)

_SLACK_MENTION = re.compile(r"^(?:<@[A-Z0-9]+(?:\|[^>]*)?>\s*)+")
_LEADING_BOT_WORD = re.compile(r"^/?(?:launchops)\b\s*", re.IGNORECASE)
_WHO = re.compile(r"^who\s+(owns|fixes)(?:\s+(?P<q>.*))?$", re.IGNORECASE | re.DOTALL)
_OWNER = re.compile(r"^owners?(?:\s+(?:of\s+)?(?P<q>.*))?$", re.IGNORECASE | re.DOTALL)
_OWNS = re.compile(r"^owns(?:\s+(?P<q>.*))?$", re.IGNORECASE | re.DOTALL)
_HELP = re.compile(r"^(?:help|\?|도움말)(?:\s+(?P<topic>.*))?$", re.IGNORECASE | re.DOTALL)
# "검색기 담당자 누구야?" / "검색기 담당은?" — the natural Korean question.
_KO_WHO = re.compile(r"^(?P<q>.+?)\s*담당(?:자|팀)?\s*(?:은|는|이|가)?\s*(?:누구\S*)?\s*$")
_INCIDENT = re.compile(r"^incident(?:\s+(?P<rest>.*))?$", re.IGNORECASE | re.DOTALL)
_GATE = re.compile(r"^gate(?:\s+(?P<rest>.*))?$", re.IGNORECASE | re.DOTALL)
_PROJECTS = re.compile(r"^projects?(?:\s+(?P<rest>.*))?$", re.IGNORECASE | re.DOTALL)
_FAILURE = re.compile(r"^failure(?:\s+(?P<rest>.*))?$", re.IGNORECASE | re.DOTALL)
_DEPLOY = re.compile(r"^deploy(?:\s+(?P<rest>.*))?$", re.IGNORECASE | re.DOTALL)
_DIGEST = re.compile(r"^digest(?:\s+(?P<rest>.*))?$", re.IGNORECASE | re.DOTALL)
MAX_FAILURE_CHARS = 2000  # DESIGN.md §3: a failure summary is at most 2,000 characters
MAX_VERSION_CHARS = 200
MAX_ENVIRONMENT_CHARS = 64
_GATE_ID = re.compile(r"^(?:#|gate-?)?(\d{1,9})$", re.IGNORECASE)
_YES_NO = {"yes": True, "y": True, "ok": True, "예": True, "no": False, "n": False, "아니오": False}
_LEVEL_LIKE = re.compile(r"^(?:p|sev)\d+$", re.IGNORECASE)
_INCIDENT_ID = re.compile(r"^(?:#|inc-?)?(\d{1,9})$", re.IGNORECASE)
INCIDENT_ACTIONS = {
    "ack": "ack",
    "acknowledge": "ack",
    "resolve": "resolve",
    "escalate": "escalate",
    "status": "status",
    "list": "status",
    "severity": "severity",
    "sev": "severity",
    "postmortem": "postmortem",
}
_EDGE_NOISE = re.compile(r"^[\s\"'`“”‘’]+|[\s\"'`“”‘’?!.。？！]+$")
_ARTICLE = re.compile(r"^(?:the|our|a|an)\s+", re.IGNORECASE)


def strip_addressing(text: str) -> str:
    """Drop what only addresses the bot: Slack mentions, a leading `/` or `launchops`."""
    text = _SLACK_MENTION.sub("", text.strip())
    text = text.lstrip("/").strip() if text.startswith("/") else text
    return _LEADING_BOT_WORD.sub("", text).strip()


def clean_query(raw: str | None, usage_key: str) -> str:
    """`the Retriever?` → `Retriever`; an empty or oversized query is refused with its usage."""
    query = collapse_spaces(_ARTICLE.sub("", _EDGE_NOISE.sub("", raw or "")))
    query = _EDGE_NOISE.sub("", query)
    if not query:
        raise BadCommand(usage_key)
    if len(query) > MAX_QUERY_CHARS:
        raise BadCommand("error.query_too_long", limit=MAX_QUERY_CHARS, length=len(query))
    return query


def parse(text: str) -> Command:
    """Parse one chat message; raises `BadCommand` with a catalogue key when it cannot."""
    if len(text) > MAX_INPUT_CHARS:
        raise BadCommand("error.input_too_long", limit=MAX_INPUT_CHARS, length=len(text))
    # PostgreSQL's text cannot hold NUL: typed into a title or a case, it would fail the
    # transaction; nobody means one.
    body = strip_addressing(text.replace("\x00", ""))
    if not body:
        return Help()
    if match := _HELP.match(body):
        topic = match.group("topic")
        return Help(topic.strip().lower() if topic and topic.strip() else None)
    if match := _WHO.match(body):
        return WhoOwns(clean_query(match.group("q"), "usage.who_owns"))
    if match := _OWNS.match(body):
        return Owns(clean_query(match.group("q"), "usage.owns"))
    if match := _OWNER.match(body):
        return WhoOwns(clean_query(match.group("q"), "usage.who_owns"))
    if match := _INCIDENT.match(body):
        return _incident(match.group("rest") or "")
    if match := _GATE.match(body):
        return _gate(match.group("rest") or "")
    if match := _PROJECTS.match(body):
        return _projects(match.group("rest") or "")
    if match := _FAILURE.match(body):
        return _failure(match.group("rest") or "")
    if match := _DEPLOY.match(body):
        return _deploy(match.group("rest") or "")
    if match := _DIGEST.match(body):
        if (match.group("rest") or "").strip():
            raise BadCommand("chat.digest.usage")
        return Digest()
    if match := _KO_WHO.match(body):
        return WhoOwns(clean_query(match.group("q"), "usage.who_owns"))
    first_word = body.split(maxsplit=1)[0][:40]
    raise BadCommand("error.unknown_command", word=first_word)


def _incident_id(token: str) -> int:
    match = _INCIDENT_ID.match(token)
    if not match:
        raise BadCommand("usage.incident_action")
    return int(match.group(1))


def _incident(rest: str) -> Command:
    """`incident p1 retriever: empty answers`, `incident ack 12`, bare `incident`."""
    rest = rest.strip()
    if not rest:
        return IncidentForm()
    first, _, tail = rest.partition(" ")
    word = first.lower()
    if word in INCIDENT_ACTIONS:
        action = INCIDENT_ACTIONS[word]
        args = tail.split()
        if len(args) > (2 if action == "severity" else 1):
            raise BadCommand("usage.incident_action")
        incident_id = _incident_id(args[0]) if args else None
        level = args[1].lower() if len(args) > 1 else None
        if action == "severity" and incident_id is None:
            raise BadCommand("usage.incident_action")
        return IncidentAction(action, incident_id, level)
    if not _LEVEL_LIKE.match(first):
        raise BadCommand("usage.incident")
    level = first.lower()
    text, _, description = (part.strip() for part in tail.partition(DESCRIPTION_SEPARATOR))
    details = description or None
    component, colon, title = text.partition(":")
    if colon and component.strip() and len(component.strip()) <= MAX_QUERY_CHARS:
        candidate = clean_query(component, "usage.incident")
        return DeclareIncident(level, title.strip(), candidate, details, text, guessed=True)
    return DeclareIncident(level, text, None, details, text)


def _gate_id(token: str) -> int:
    match = _GATE_ID.match(token)
    if not match:
        raise BadCommand("gate.usage")
    return int(match.group(1))


def _gate(rest: str) -> Command:
    """`gate request <project> <stage>`, `gate status <project>`, `gate approve|reject …`,
    `gate comment <n> <text>`, `gate attest <n> <item> yes|no [value]`."""
    first, _, tail = rest.strip().partition(" ")
    word = first.lower()
    tail = tail.strip()
    if word == "request":
        project, _, stage = tail.rpartition(" ")
        if not project.strip() or not stage:
            raise BadCommand("gate.usage")
        return RequestGate(clean_query(project, "gate.usage"), stage.strip().lower())
    if word == "status":
        return GateStatus(clean_query(tail, "gate.usage"))
    if word in ("approve", "reject"):
        number, _, reason = tail.partition(" ")
        match = _GATE_ID.match(number)
        if not match:
            raise BadCommand("gate.usage")
        return DecideGate(int(match.group(1)), word, collapse_spaces(reason) or None)
    if word == "comment":
        number, _, text = tail.partition(" ")
        request_id = _gate_id(number)
        if not text.strip():
            raise BadCommand("gate.error.comment_required", id=request_id)
        return CommentGate(request_id, text.strip())
    if word == "attest":
        parts = tail.split(maxsplit=3)
        if len(parts) < 3 or parts[2].lower() not in _YES_NO:
            raise BadCommand("gate.usage_attest")
        value = collapse_spaces(parts[3]) if len(parts) > 3 else ""
        item = parts[1].lower()[:64]
        return AttestGate(_gate_id(parts[0]), item, _YES_NO[parts[2].lower()], value or None)
    raise BadCommand("gate.usage")


def _projects(rest: str) -> Projects:
    """`projects`, `projects poc`, `projects team ml`, `projects pilot team ml`."""
    words = rest.lower().split()
    stage = team = None
    while words:
        word = words.pop(0)
        if word == "team":
            if not words or team is not None:
                raise BadCommand("chat.projects.usage")
            team = words.pop(0)[:64]
        elif stage is None:
            stage = word[:40]
        else:
            raise BadCommand("chat.projects.usage")
    return Projects(stage, team)


def _failure(rest: str) -> RecordFailure:
    """`failure rag: answers cite the wrong doc`: the component is before the first colon."""
    component, colon, text = rest.partition(":")
    if not colon or not component.strip():
        raise BadCommand("chat.failure.usage")
    name = clean_query(component, "chat.failure.usage")
    text = text.strip()
    if not text:
        raise BadCommand("chat.failure.empty", component=name)
    if len(text) > MAX_FAILURE_CHARS:
        raise BadCommand("chat.failure.too_long", limit=MAX_FAILURE_CHARS, length=len(text))
    return RecordFailure(name, text)


def _deploy(rest: str) -> RecordDeployment:
    """`deploy ranker v1.4.2`, `deploy search index 2026.11.30 to staging -- reindexed`."""
    text, _, note = (part.strip() for part in f" {rest}".partition(DESCRIPTION_SEPARATOR))
    words = text.split()
    environment = "production"
    if len(words) >= 3 and words[-2].lower() == "to":
        environment = words[-1].lower()
        words = words[:-2]
    if len(words) < 2:
        raise BadCommand("ledger.usage")
    version = words[-1]
    if len(version) > MAX_VERSION_CHARS or len(environment) > MAX_ENVIRONMENT_CHARS:
        raise BadCommand("ledger.usage")
    if len(note) > MAX_FAILURE_CHARS:
        raise BadCommand("chat.failure.too_long", limit=MAX_FAILURE_CHARS, length=len(note))
    component = clean_query(" ".join(words[:-1]), "ledger.usage")
    return RecordDeployment(component, version, environment, note or None)
