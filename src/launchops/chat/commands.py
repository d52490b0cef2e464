"""The chat core: text from any platform → typed command → service → `Reply`.

Adapters call `ChatCore.handle` and render what comes back; nothing here knows which
platform asked. Every failure becomes a short private reply: typed errors with their own
message, anything unexpected with a reference the operator can find in the logs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import structlog

from launchops.chat import views
from launchops.chat.grammar import (
    AttestGate,
    Command,
    CommentGate,
    DecideGate,
    DeclareIncident,
    Digest,
    GateStatus,
    Help,
    IncidentAction,
    IncidentForm,
    Owns,
    Projects,
    RecordDeployment,
    RecordFailure,
    RequestGate,
    RoadmapDecision,
    WhoOwns,
    parse,
)
from launchops.chat.ledger_chat import LedgerChat
from launchops.chat.roadmap_chat import RoadmapChat
from launchops.domain.errors import BadCommand, LaunchOpsError, NotFound
from launchops.domain.evidence import STAGE_EVIDENCE
from launchops.messages import gate_views, incident_views
from launchops.messages.i18n import t
from launchops.messages.reply import Card, Reply
from launchops.services.gates import GateService
from launchops.services.incidents import Actor, IncidentService
from launchops.services.ownership import OwnershipService
from launchops.services.people import PeopleService, Viewer

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Asker:
    """Who sent the text, and whether the answer will be seen by others."""

    platform: str  # slack | teams | console
    user_ids: tuple[str, ...]
    shared: bool = False  # a channel post others will read
    channel: str | None = None  # where it was said: maps to a team for incidents
    request_key: str | None = None  # the platform's id for this request, for de-duplication


@dataclass(frozen=True)
class Answer:
    """What `ChatCore.answer` made of a request: the reply, and what an adapter needs beyond it."""

    reply: Reply
    locale: str
    command: Command | None = None  # None when the text could not be parsed
    error: LaunchOpsError | None = None  # set when the request failed (the reply says why)

    @property
    def is_question(self) -> bool:
        """True when nothing was committed: help, who owns, owns, a status, a form to fill
        in, and every refusal or usage message. Such an answer may go back in the request
        itself (DESIGN.md §5); anything else was a decision, committed with its outbox rows,
        whose confirmation must survive a crash."""
        command = self.command
        if self.error is not None or command is None:
            return True
        if isinstance(command, IncidentAction):
            return command.action == "status" or (
                command.action == "severity" and command.level is None
            )
        return isinstance(
            command, (Help, WhoOwns, Owns, IncidentForm, GateStatus, Projects, Digest)
        )


class ChatCore:
    def __init__(
        self,
        *,
        people: PeopleService,
        ownership: OwnershipService,
        incidents: IncidentService | None = None,
        gates: GateService | None = None,
        roadmap: RoadmapChat | None = None,
        ledger: LedgerChat | None = None,
        default_locale: str = "en",
    ) -> None:
        self._people = people
        self._ownership = ownership
        self._incidents = incidents
        self._gates = gates
        self._roadmap = roadmap or RoadmapChat()
        self._ledger = ledger or LedgerChat()  # `deploy`
        self._default_locale = default_locale

    def locale_for(self, viewer: Viewer) -> str:
        return viewer.locale or self._default_locale

    def handle(self, text: str, asker: Asker) -> Reply:
        return self.answer(text, asker).reply

    def answer(self, request: str | Command, asker: Asker) -> Answer:
        """Like `handle`, for a text or an already built command (a form's fields), telling
        the adapter what was asked and what failed: Slack turns a declaration that lacks a
        component into a form, and a form's errors into messages beside its fields."""
        locale = self._default_locale
        command: Command | None = None
        try:
            viewer = self._people.identify(asker.platform, asker.user_ids)
            locale = self.locale_for(viewer)
            command = parse(request) if isinstance(request, str) else request
            return Answer(self._run(command, asker, viewer, locale), locale, command)
        except LaunchOpsError as error:
            return Answer(error_reply(error, locale), locale, command, error)
        except Exception:
            ref = uuid.uuid4().hex[:8]
            log.exception("chat.failed", ref=ref, platform=asker.platform)
            failure = LaunchOpsError("error.generic", ref=ref)
            reply = Reply(text=t(failure.key, locale, ref=ref), private=True)
            return Answer(reply, locale, command, failure)

    def refuse(self, error: LaunchOpsError, asker: Asker) -> Answer:
        """`error` as the private reply to `asker`, in their language: an adapter's own
        refusal (a forged or garbled button) worded like every other."""
        locale = self.locale_of(asker)
        return Answer(error_reply(error, locale), locale, None, error)

    def gate_refusal(
        self, request_id: int, asker: Asker, *, comment: bool = False, version: int | None = None
    ) -> Answer | None:
        """Why `asker` may not decide (or comment on) gate `request_id`, as the answer to
        give instead of a form for the reason; None when they may. Writes nothing."""
        if self._gates is None:  # pragma: no cover - wiring error, not user input
            raise RuntimeError("gate service not wired")
        locale = self._default_locale
        try:
            viewer = self._people.identify(asker.platform, asker.user_ids)
            locale = self.locale_for(viewer)
            actor = self.actor(asker, viewer)
            self._gates.check(request_id, actor, comment=comment, evidence_version=version)
        except LaunchOpsError as error:
            return Answer(error_reply(error, locale), locale, None, error)
        return None

    def roadmap_refusal(self, action_id: str, value: str, asker: Asker) -> Answer | None:
        """Why `asker` may not use the roadmap button `action_id` with `value` (a forged or
        stale value, someone neither owner nor sponsor, a stopped project), as the answer to
        give instead of a form for the reason; None when they may. Writes nothing."""
        locale = self._default_locale
        try:
            viewer = self._people.identify(asker.platform, asker.user_ids)
            locale = self.locale_for(viewer)
            self._roadmap.check(action_id, value, self.actor(asker, viewer))
        except LaunchOpsError as error:
            return Answer(error_reply(error, locale), locale, None, error)
        return None

    def locale_of(self, asker: Asker) -> str:
        """The language `asker` reads (the default when the store cannot tell)."""
        try:
            return self.locale_for(self._people.identify(asker.platform, asker.user_ids))
        except Exception:  # the store is down: answer all the same, in the default
            log.warning("chat.locale_unknown", platform=asker.platform)
            return self._default_locale

    def _run(self, command: Command, asker: Asker, viewer: Viewer, locale: str) -> Reply:
        match command:
            case Help(topic=topic):
                return views.help_reply(locale, topic)
            case WhoOwns(query=query):
                answer = self._ownership.who_owns(query, viewer, shared=asker.shared)
                return views.owner_reply(answer, locale, shared=asker.shared)
            case Owns(query=query):
                return views.holdings_reply(self._ownership.owned_by(query), locale)
            case IncidentForm():
                raise BadCommand("usage.incident")
            case DeclareIncident():
                return self._declare(command, asker, viewer, locale)
            case IncidentAction():
                return self._incident_action(command, asker, viewer, locale)
            case RequestGate() | GateStatus() | DecideGate() | CommentGate() | AttestGate():
                return self._gate(command, asker, viewer, locale)
            case Projects():
                return self._roadmap.projects(command, locale)
            case RecordFailure():
                return self._roadmap.failure(command, viewer, locale, asker.request_key)
            case RecordDeployment():
                label = self.actor(asker, viewer).label
                return self._ledger.deploy(command, viewer, label, locale, asker.request_key)
            case Digest():
                team = self._people.team_for_channel(asker.platform, asker.channel)
                return self._roadmap.digest(command, viewer, team, locale)
            case RoadmapDecision():
                actor = self.actor(asker, viewer)
                return self._roadmap.decide(command, actor, asker.request_key, locale)
        raise AssertionError(f"unhandled command {command!r}")  # pragma: no cover

    def _service(self) -> IncidentService:
        if self._incidents is None:  # pragma: no cover - wiring error, not user input
            raise RuntimeError("incident service not wired")
        return self._incidents

    def _gate(
        self,
        command: RequestGate | GateStatus | DecideGate | CommentGate | AttestGate,
        asker: Asker,
        viewer: Viewer,
        locale: str,
    ) -> Reply:
        if self._gates is None:  # pragma: no cover - wiring error, not user input
            raise RuntimeError("gate service not wired")
        gates = self._gates
        match command:
            case GateStatus(project=project):
                status = gates.status(project)
                reply = gate_views.status_reply(
                    status.project, status.stage, status.open, status.past, locale, status.flags
                )
                remarks = gates.comments(status.open.id) if status.open else []
                return with_comments(reply, remarks, locale)
            case RequestGate(project=project, stage=stage):
                requested = gates.request(
                    project, stage, self.actor(asker, viewer), request_key=asker.request_key
                )
                return gate_views.requested_reply(
                    requested.gate,
                    locale,
                    asked=requested.asked,
                    unreachable=requested.unreachable,
                    created=requested.created,
                )
            case DecideGate(request_id=request_id, verdict=verdict, reason=reason):
                decided = gates.decide(
                    request_id,
                    verdict,
                    self.actor(asker, viewer),
                    reason=reason,
                    evidence_version=command.evidence_version,
                )
                return gate_views.decided_reply(
                    decided.gate, locale, decided.verdict, recorded=decided.recorded
                )
            case CommentGate(request_id=request_id, text=text):
                gates.comment(
                    request_id, self.actor(asker, viewer), text, request_key=asker.request_key
                )
                ref = t("gate.ref", locale, id=request_id)
                return Reply(text=t("gate.commented", locale, ref=ref), private=True)
            case AttestGate(request_id=request_id, item=item, ok=ok, value=value):
                key = evidence_key(item)
                view = gates.attest(request_id, key, ok, self.actor(asker, viewer), value=value)
                return gate_views.attested_reply(view, key, ok, locale)
        raise AssertionError(f"unhandled command {command!r}")  # pragma: no cover

    @staticmethod
    def actor(asker: Asker, viewer: Viewer) -> Actor:
        label = viewer.name or f"{asker.platform}:{(asker.user_ids or ('?',))[0]}"
        return Actor(viewer=viewer, label=label)

    def _declare(
        self, command: DeclareIncident, asker: Asker, viewer: Viewer, locale: str
    ) -> Reply:
        if command.guessed and not self._ownership.could_be_component(command.component or ""):
            command = command.without_component()
        team = None
        if command.component is None:
            team = self._people.team_for_channel(asker.platform, asker.channel)
        declared = self._service().declare(
            level=command.level,
            title=command.title,
            actor=self.actor(asker, viewer),
            component_query=command.component,
            team_id=team,
            description=command.description,
            declare_key=asker.request_key,
            origin={"platform": asker.platform, "channel": asker.channel},
        )
        return incident_views.declared_reply(
            declared.incident,
            locale,
            paged=list(declared.paged),
            channels=list(declared.channels),
            unreachable=list(declared.unreachable),
            created=declared.created,
        )

    def _incident_action(
        self, command: IncidentAction, asker: Asker, viewer: Viewer, locale: str
    ) -> Reply:
        service = self._service()
        actor = self.actor(asker, viewer)
        if command.action == "status" and command.incident_id is None:
            return incident_views.incident_list(service.open_incidents(), locale)
        incident_id = command.incident_id or service.find_for(actor)
        ref = f"INC-{incident_id}"
        match command.action:
            case "status":
                card = incident_views.incident_card(service.status_view(incident_id), locale)
                return card.model_copy(update={"private": True})
            case "ack":
                service.acknowledge(incident_id, actor)
                return Reply(text=t("incident.ack_done", locale, ref=ref), private=True)
            case "resolve":
                outcome = service.resolve(incident_id, actor)
                return incident_views.resolved_reply(outcome.incident, locale)
            case "escalate":
                outcome = service.escalate(incident_id, actor)
                if not outcome.paged:
                    return Reply(text=t("incident.escalate_none", locale, ref=ref), private=True)
                people = ", ".join(outcome.paged)
                return Reply(
                    text=t("incident.escalate_done", locale, ref=ref, people=people), private=True
                )
            case "severity":
                if command.level is None:
                    return incident_views.severity_choices(service.get(incident_id), locale)
                outcome = service.change_severity(incident_id, command.level, actor)
                level = outcome.incident.severity.upper()
                return Reply(
                    text=t("incident.severity_done", locale, ref=ref, level=level), private=True
                )
            case "postmortem":
                service.take_postmortem(incident_id, actor)
                return Reply(text=t("incident.postmortem_done", locale, ref=ref), private=True)
        raise BadCommand("usage.incident_action")


def with_comments(reply: Reply, remarks: list[tuple[str, str]], locale: str) -> Reply:
    """`gate status` with the open request's latest comments (`gate comment`) after it."""
    if not remarks:
        return reply
    lines = [t("gate.show.comments_label", locale) + ":"]
    lines += [t("gate.show.comment", locale, person=who, text=text) for who, text in remarks]
    text = "\n".join([reply.text, *lines])
    card = reply.card.model_copy(update={"text": text}) if reply.card else None
    return reply.model_copy(update={"text": text, "card": card})


def evidence_key(item: str) -> str:
    """`rollback` → `launch.rollback`: an item named by its last part when that is unique
    among the stages' evidence; anything else is left for the gate service to refuse."""
    keys = {key for items in STAGE_EVIDENCE.values() for key, _ in items}
    if item in keys:
        return item
    matches = [key for key in keys if key.rsplit(".", 1)[-1] == item]
    return matches[0] if len(matches) == 1 else item


def error_reply(error: LaunchOpsError, locale: str) -> Reply:
    """A typed error as a private reply; not-found errors offer what the user may have meant."""
    text = t(error.key, locale, **error.params)
    if isinstance(error, NotFound):
        suggestions: list[tuple[str, str]] = error.params.get("suggestions") or []
        hints = []
        if error.params.get("party"):
            hints.append(t("error.party_hint", locale, query=error.params["query"]))
        if suggestions:
            names = ", ".join(name for _, name in suggestions)
            hints.append(t("error.suggest", locale, names=names))
        if hints:
            actions = (
                views.suggestion_actions(suggestions, locale)
                if error.key == "error.unknown_component"
                else ()
            )
            body = " ".join(hints)
            return Reply(
                text=f"{text} {body}",
                private=True,
                card=Card(title=text, text=body, actions=actions),
            )
    return Reply(text=text, private=True)
