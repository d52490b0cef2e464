"""Evidence under an open gate: the requester's attestations, and what makes earlier
approvals stale: a P0/P1 declared, or a checked item turning ❌.

`evidence_changed` runs inside the incident's declaring transaction, so the new evidence
version takes effect exactly at the declaration's commit (DESIGN.md §4): an approval
committed before it is on older evidence, one committed after counts.

`recheck` compares each open gate's snapshot with the evidence computed now (the gate sweep
calls it when a new config revision is in force, e.g. a sync removed a runbook link or an
Accountable person): an item that was ✅ and is ❌ now is an evidence change like an incident.
It is idempotent (the new snapshot is stored with the change), so replicas may all run it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from launchops.domain.errors import BadCommand, InvalidTransition, NotFound
from launchops.domain.evidence import fingerprint, resolve_item
from launchops.domain.gates import GateView
from launchops.messages import gate_views as cards
from launchops.messages.i18n import t
from launchops.services import audit
from launchops.services.actors import Actor
from launchops.services.directory import Directory, DirectoryCache, ProjectInfo
from launchops.services.gate_evidence import dump_items, gather, load_items
from launchops.services.gate_messages import GateMessenger
from launchops.services.gate_records import (
    decisions_of,
    find_project,
    gate_view,
    requester,
    tally_of,
)
from launchops.services.gate_state import lock
from launchops.store.gate_models import EvidenceChange, GateAttestation, GateRequest

__all__ = ["MAX_LINK_CHARS", "EvidenceKeeper", "valid_link"]

MAX_LINK_CHARS = 500  # GateAttestation.value


def valid_link(text: str) -> bool:
    """An absolute http(s) URL with a host, nothing else (no spaces, no other scheme)."""
    if len(text) > MAX_LINK_CHARS or any(c.isspace() for c in text):
        return False
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _link(value: str | None, ref: str) -> str:
    """A deliverable attached is a link: `gate attest <n> <deliverable> yes <url>` (Slack's
    `<url>` and `<url|label>` forms read as the url)."""
    link = (value or "").strip().removeprefix("<").removesuffix(">").split("|", 1)[0]
    if not valid_link(link):
        raise BadCommand("gate.error.deliverable_link", ref=ref, given=link[:80] or "—")
    return link


class EvidenceKeeper:
    def __init__(
        self,
        messages: GateMessenger,
        *,
        directory: DirectoryCache,
        clock: Callable[[], datetime],
        unit: Callable[[], AbstractContextManager[Session]],
    ) -> None:
        self._messages = messages
        self._directory = directory
        self._clock = clock
        self._unit = unit

    def attest(
        self, request_id: int, key: str, ok: bool, actor: Actor, *, value: str | None = None
    ) -> GateView:
        """Only the fingerprint's computed items reset approvals, so an attestation added
        after the request goes out never does."""
        ref = f"#{request_id}"
        with self._unit() as session:
            directory = self._directory.get(session)
            request = session.get(GateRequest, request_id)
            if request is None:
                raise NotFound("gate.error.not_found", ref=ref)
            project = find_project(directory, request.project_id)
            person = requester(directory, project, actor)
            item = resolve_item(load_items(request.evidence), key)
            if item is None:
                raise BadCommand("gate.error.unknown_item", item=key[:64], ref=ref)
            key = item.key
            if item.kind == "deliverable":
                value = _link(value, ref) if ok else None
            request = lock(session, request_id)
            if request.status != "open":
                raise InvalidTransition("gate.error.closed", status=request.status, ref=ref)
            now = self._clock()
            row = session.get(GateAttestation, (request_id, key))
            if row is None:
                row = GateAttestation(request_id=request_id, key=key, ok=ok, by=person)
            row.ok, row.value, row.by, row.at = ok, value, person, now
            session.add(row)
            session.flush()
            items = gather(session, directory, project, request.to_stage, now, request_id)
            request.evidence = dump_items(items)
            session.add(request)
            audit.record(
                session,
                actor=actor.label,
                action="gate.attested",
                subject=f"gate:{request_id}",
                key=key,
                ok=ok,
                value=value,
            )
            view = gate_view(session, request, directory)
            self._messages.refresh(session, view)
            return view

    def evidence_changed(self, session: Session, component_id: str, reason: str) -> list[int]:
        """Every open gate of a project using `component_id` gets a new evidence version in
        `session`'s transaction; the givers of approvals that stop counting get a new DM
        saying what changed, with the buttons. Returns the ids of the gates changed."""
        directory = self._directory.get(session)
        projects = {p.id: p for p in directory.projects.values() if component_id in p.components}
        if not projects:
            return []
        ids = session.exec(
            select(GateRequest.id)
            .where(col(GateRequest.project_id).in_(list(projects)), GateRequest.status == "open")
            .order_by(col(GateRequest.id))
        ).all()
        changed: list[int] = []
        for request_id in ids:
            assert request_id is not None
            request = lock(session, request_id)
            if request.status != "open":
                continue
            self._bump(session, directory, request, projects[request.project_id], reason)
            changed.append(request_id)
        return changed

    def recheck(self) -> list[int]:
        """Give every open gate whose checked items turned ❌ since its snapshot a new
        evidence version (one transaction per gate); returns the ids of the gates changed."""
        with self._unit() as session:
            ids = session.exec(
                select(GateRequest.id)
                .where(GateRequest.status == "open")
                .order_by(col(GateRequest.id))
            ).all()
        changed: list[int] = []
        for request_id in ids:
            assert request_id is not None
            with self._unit() as session:
                if self._recheck(session, request_id):
                    changed.append(request_id)
        return changed

    def _recheck(self, session: Session, request_id: int) -> bool:
        request = lock(session, request_id)
        directory = self._directory.get(session)
        project = directory.projects.get(request.project_id)
        if request.status != "open" or project is None:
            return False
        items = gather(session, directory, project, request.to_stage, self._clock(), request_id)
        was_ok = {i.key for i in load_items(request.evidence) if i.ok is True}
        turned = [i for i in items if i.kind == "computed" and i.ok is False and i.key in was_ok]
        if not turned:
            return False
        locale = self._messages.locale
        labels = ", ".join(
            f"{t(f'gate.evidence.{i.key}', locale)} ({i.detail})"
            if i.detail
            else t(f"gate.evidence.{i.key}", locale)
            for i in turned
        )
        reason = t("gate.reason.evidence_failed", locale, items=labels)
        self._bump(session, directory, request, project, reason)
        return True

    def _bump(
        self,
        session: Session,
        directory: Directory,
        request: GateRequest,
        project: ProjectInfo,
        reason: str,
    ) -> None:
        assert request.id is not None
        now = self._clock()
        items = gather(session, directory, project, request.to_stage, now, request.id)
        request.evidence_version += 1
        request.evidence = dump_items(items)
        request.evidence_fingerprint = fingerprint(items)
        session.add(request)
        session.add(
            EvidenceChange(
                request_id=request.id, version=request.evidence_version, reason=reason[:500], at=now
            )
        )
        session.flush()
        decisions = decisions_of(session, request.id)
        stale = tally_of(request, decisions).stale
        view = gate_view(session, request, directory, decisions=decisions)
        self._messages.direct(
            session,
            directory,
            stale,
            lambda locale: cards.evidence_changed(view, locale, reason),
            f"gate:{request.id}:changed:{request.evidence_version}",
        )
        self._messages.refresh(session, view)
        audit.record(
            session,
            actor="system",
            action="gate.evidence_changed",
            subject=f"gate:{request.id}",
            version=request.evidence_version,
            reason=reason[:500],
            asked_again=list(stale),
        )
