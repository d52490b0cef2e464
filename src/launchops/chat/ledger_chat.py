"""The chat side of the change ledger: `deploy <component> <version> [to <env>] [-- note]`.

A decision, recorded as the person who said it: a platform's retry of the same request
(same request key) finds the deployment stored first, through the ledger's one row per
(component, external id) rule, and is told it was already recorded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from launchops.chat.grammar import RecordDeployment
from launchops.domain.errors import NotFound
from launchops.messages import ledger_views
from launchops.messages.reply import Reply
from launchops.services.failures import UnknownComponents
from launchops.services.ledger import LedgerService, NewDeployment
from launchops.services.people import Viewer

__all__ = ["LedgerChat"]


@dataclass
class LedgerChat:
    ledger: LedgerService | None = None

    def deploy(
        self,
        command: RecordDeployment,
        viewer: Viewer,
        label: str,
        locale: str,
        request_key: str | None = None,
    ) -> Reply:
        if self.ledger is None:
            raise RuntimeError("ledger not wired")  # pragma: no cover - wiring error
        external = None
        if request_key:
            external = "chat-" + hashlib.sha256(request_key.encode()).hexdigest()[:32]
        new = NewDeployment(
            component=command.component,
            version=command.version,
            environment=command.environment,
            actor=label,
            description=command.note,
            external_id=external,
        )
        try:
            recorded = self.ledger.record(new, source="chat", person_id=viewer.person_id)
        except UnknownComponents as error:
            problem = error.problems[0]
            raise NotFound(
                "ledger.unknown_component",
                query=command.component,
                suggestions=[(cid, cid) for cid in problem.suggestions],
            ) from None
        return ledger_views.recorded_reply(recorded.line, locale, duplicate=recorded.duplicate)
