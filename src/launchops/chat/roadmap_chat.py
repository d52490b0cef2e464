"""The chat side of the roadmap and the feedback loop: `projects`, `failure`, `digest`, and
the roadmap nudge's buttons (Request gate, Extend, Stop) once an adapter has read them.

ChatCore hands these commands here; nothing here knows which platform asked. `projects` and
`digest` are questions (they read only); `failure` records one case, masked by the failure
service before it is stored, and says what was stored; a roadmap decision is one
transaction in the roadmap service, whose refusals (a forged button, someone neither owner
nor sponsor, a missing reason) are raised before anything is written.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from launchops.chat.grammar import Digest, Projects, RecordFailure, RoadmapDecision
from launchops.domain.errors import NotFound
from launchops.messages import gate_views, roadmap_views
from launchops.messages.i18n import t
from launchops.messages.reply import Card, Field, Reply
from launchops.services.actors import Actor
from launchops.services.digest import DigestService
from launchops.services.failures import FailureService, NewCase, UnknownComponents
from launchops.services.people import Viewer
from launchops.services.portfolio import Portfolio
from launchops.services.roadmap import RoadmapService

__all__ = ["RoadmapChat"]

_DATE = "%Y-%m-%d %H:%M UTC"


@dataclass
class RoadmapChat:
    """The services behind the roadmap and feedback commands (any may be missing in a
    stripped-down wiring: the command then says it is not available here)."""

    roadmap: RoadmapService | None = None
    portfolio: Portfolio | None = None
    failures: FailureService | None = None
    digests: DigestService | None = None

    # questions ---------------------------------------------------------------------------
    def projects(self, command: Projects, locale: str) -> Reply:
        if self.portfolio is None:
            raise RuntimeError("portfolio not wired")  # pragma: no cover - wiring error
        rows = self.portfolio.projects(stage=command.stage, team=command.team)
        return roadmap_views.portfolio_reply(rows, locale)

    def digest(
        self, command: Digest, viewer: Viewer, channel_team: str | None, locale: str
    ) -> Reply:
        """The asker's team digest, privately: the team of the channel they asked in when
        they belong to it, else their first team in catalog order."""
        if self.digests is None:
            raise RuntimeError("digest service not wired")  # pragma: no cover - wiring error
        if not viewer.team_ids:
            key = "chat.digest.no_team" if viewer.person_id else "chat.digest.unknown_person"
            return Reply(text=t(key, locale), private=True)
        if channel_team in viewer.team_ids:
            team = channel_team
        else:
            order = self.digests.team_ids()
            team = next(
                (tid for tid in order if tid in viewer.team_ids), sorted(viewer.team_ids)[0]
            )
        assert team is not None
        reply = self.digests.preview(team, locale)
        return reply.model_copy(update={"private": True})

    # recording ---------------------------------------------------------------------------
    def failure(
        self, command: RecordFailure, viewer: Viewer, locale: str, request_key: str | None = None
    ) -> Reply:
        """Record the case; a platform's retry of the same request (same `request_key`) finds
        the case stored first, through the failure service's one-case-per-trace rule."""
        if self.failures is None:
            raise RuntimeError("failure service not wired")  # pragma: no cover - wiring error
        trace = None
        if request_key:
            trace = "chat-" + hashlib.sha256(request_key.encode()).hexdigest()[:20]
        case = NewCase(component=command.component, summary=command.text, trace_id=trace)
        try:
            stored = self.failures.record([case], source="chat", person_id=viewer.person_id)
        except UnknownComponents as error:
            problem = error.problems[0]
            suggestions = [(cid, cid) for cid in problem.suggestions]
            raise NotFound(
                "chat.failure.unknown_component", query=command.component, suggestions=suggestions
            ) from None
        case_row = stored[0]
        text = t(
            "chat.failure.recorded",
            locale,
            id=case_row.id,
            component=case_row.component_id,
            summary=case_row.summary,
        )
        title = t("chat.failure.title", locale, id=case_row.id)
        fields = (
            Field(label=t("chat.failure.component", locale), value=case_row.component_id),
            Field(label=t("chat.failure.stored", locale), value=case_row.summary),
        )
        note = t("chat.failure.note", locale)
        return Reply(text=text, card=Card(title=title, fields=fields, note=note), private=True)

    # the nudge's buttons -----------------------------------------------------------------
    def check(self, action_id: str, value: str, actor: Actor) -> None:
        self._roadmap().check(action_id, value, actor)

    def decide(
        self, command: RoadmapDecision, actor: Actor, request_key: str | None, locale: str
    ) -> Reply:
        roadmap = self._roadmap()
        if command.action == "gate":
            requested = roadmap.request_gate(command.value, actor, request_key=request_key)
            return gate_views.requested_reply(
                requested.gate,
                locale,
                asked=requested.asked,
                unreachable=requested.unreachable,
                created=requested.created,
            )
        if command.action == "extend":
            extended = roadmap.extend(
                "", command.when or "", command.reason or "", actor, button=command.value
            )
            key = (
                "chat.roadmap.extended_sponsor" if extended.by_sponsor else "chat.roadmap.extended"
            )
            text = t(
                key,
                locale,
                project=extended.project,
                stage=roadmap_views.stage_name(extended.stage, locale),
                due=extended.due_at.strftime(_DATE),
            )
            return Reply(text=text, private=True)
        stopped = roadmap.stop("", command.reason or "", actor, button=command.value)
        text = t(
            "chat.roadmap.stopped",
            locale,
            project=stopped.project,
            stage=roadmap_views.stage_name(stopped.stage, locale),
        )
        return Reply(text=text, private=True)

    def _roadmap(self) -> RoadmapService:
        if self.roadmap is None:
            raise RuntimeError("roadmap service not wired")  # pragma: no cover - wiring error
        return self.roadmap
