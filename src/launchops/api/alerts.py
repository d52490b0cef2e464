"""`POST /api/v1/alerts/alertmanager`: Prometheus Alertmanager's webhook (payload version 4).

Each alert in a notification is handled on its own:

- firing: one open incident per alert fingerprint. The first notification opens (and pages)
  it; repeats, and the twin notification a second Alertmanager of an HA pair sends, find the
  open incident and page nobody (`IncidentService.declare` dedupes on the fingerprint, with a
  partial unique index behind it for races).
- resolved: the open incident for the fingerprint is resolved by "Alertmanager", with a note
  in its channel threads. A firing alert after that opens a new incident, linked to the old one.

Status codes matter more than usual here, because Alertmanager drops a notification that gets
a 4xx and retries one that gets a 5xx or no answer:

- a malformed notification (bad JSON, wrong shape) gets FastAPI's 422 listing each field, and
  more than `MAX_ALERTS` alerts gets 413 naming `alerts` (configure `max_alerts: 1000` on the
  webhook so Alertmanager truncates instead, and reports it in `truncatedAlerts`);
- 200 only when every alert was opened, found open (`existing`), resolved, or deliberately
  ignored (`not_open`: resolved with no open incident);
- 503 when the store is unreachable or locked, 500 when an alert could not be handled for any
  other reason (an internal error, or no component matches and no `alerts.fallback_team` is
  set): a short `detail` and the outcomes so far, never a traceback. Alertmanager retries, so
  an alert is not lost to a passing fault or a config gap; once the fault is gone (or the
  config fixed and synced) a retry opens the incident. Retrying is safe because handling is
  idempotent per fingerprint: alerts already handled come back as `existing` or `not_open`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import structlog
from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse, Response
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from launchops.api.alert_models import (
    MAX_ALERTS,
    AlertAction,
    AlertmanagerAlert,
    AlertmanagerReceipt,
    AlertmanagerWebhook,
    AlertOutcome,
    AlertsNotHandled,
    TooManyAlerts,
)
from launchops.api.auth import ApiError
from launchops.config.models import AlertPolicy, Policy, SeverityLevel
from launchops.domain.errors import InvalidTransition, LaunchOpsError, NotFound
from launchops.domain.incidents import LEVELS, MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS
from launchops.messages.i18n import t
from launchops.services.config_sync import current_policy
from launchops.services.incidents import Actor, Declared, IncidentService
from launchops.text import collapse_spaces

__all__ = [
    "MAX_ALERTS",
    "AlertIngest",
    "AlertOutcome",
    "AlertmanagerAlert",
    "AlertmanagerReceipt",
    "AlertmanagerWebhook",
    "AlertsNotHandled",
    "alerts_router",
    "severity_for",
    "shorten",
    "title_for",
]

log = structlog.get_logger(__name__)

MAX_COMPONENT_QUERY = 200  # longer than any component name or alias may be (config/models.py)
ALERTMANAGER = Actor.system_actor("Alertmanager")
ALERT_RESOLVED_NOTE = "incident.note.alert_resolved"
STORE_UNAVAILABLE = "the incident store is unavailable; retry later"


class StoreDown(Exception):
    """The store failed in a way a later retry can fix (connection, lock, deadlock)."""

    def __init__(self, done: list[AlertOutcome]) -> None:
        super().__init__("store unavailable")
        self.done = done


def _store_unavailable(error: BaseException) -> bool:
    if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
        return True
    return isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated


# mapping an alert to an incident (pure) ----------------------------------------------------
def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, an ellipsis marking a cut. Alert text is machine-written
    and cannot be re-typed shorter like a chat title, so it is cut rather than refused."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def severity_for(
    labels: dict[str, str], policy: AlertPolicy, levels: Collection[str] = LEVELS
) -> SeverityLevel:
    """`alerts.severity_map[labels[severity_label]]`, else `alerts.default`.

    The map is tried as written, then case-insensitively (`Critical` from a hand-written rule
    must not silently drop to the default); a label that already names a level (`p0`) keeps
    that level, since nobody writing `severity: p0` expects a P2. A level the policy has no
    rules for (`levels`) also falls back to the default: a page late is better than none.
    """
    level = _mapped(labels.get(policy.severity_label, "").strip(), policy)
    return level if level is not None and level in levels else policy.default


def _mapped(raw: str, policy: AlertPolicy) -> SeverityLevel | None:
    if not raw:
        return None
    if raw in policy.severity_map:
        return policy.severity_map[raw]
    folded = raw.casefold()
    for name, level in policy.severity_map.items():
        if name.casefold() == folded:
            return level
    for known in LEVELS:
        if folded == known:
            return known
    return None


def title_for(alert: AlertmanagerAlert, locale: str) -> str:
    """summary, else description, else alertname, else "Alert <fingerprint>", ≤ 200 chars."""
    candidates = (
        alert.annotations.get("summary", ""),
        alert.annotations.get("description", ""),
        alert.labels.get("alertname", ""),
    )
    for candidate in candidates:
        text = collapse_spaces(candidate)
        if text:
            return shorten(text, MAX_TITLE_CHARS)
    return shorten(t("api.alert.untitled", locale, fingerprint=alert.fingerprint), MAX_TITLE_CHARS)


def description_for(alert: AlertmanagerAlert, note: str | None) -> str | None:
    parts = [
        alert.annotations.get("description", "").strip(),
        note or "",
        alert.annotations.get("runbook_url", "").strip(),
        alert.generatorURL.strip(),
    ]
    text = "\n".join(part for part in parts if part)
    return shorten(text, MAX_DESCRIPTION_CHARS) if text else None


def _origin(alert: AlertmanagerAlert, webhook: AlertmanagerWebhook) -> dict[str, Any]:
    """Where the incident came from, kept on the incident for whoever investigates."""
    return {
        "alertmanager": {
            "receiver": webhook.receiver,
            "groupKey": webhook.groupKey,
            "externalURL": webhook.externalURL,
            "labels": alert.labels,
            "annotations": alert.annotations,
            "startsAt": alert.startsAt.isoformat() if alert.startsAt else None,
            "generatorURL": alert.generatorURL,
        }
    }


# handling a notification -------------------------------------------------------------------
class AlertIngest:
    """Turns a notification into incident actions. Blocking: run it in a worker thread."""

    def __init__(self, engine: Engine, incidents: IncidentService, *, locale: str) -> None:
        self._engine = engine
        self._incidents = incidents
        self._locale = locale

    def handle(self, webhook: AlertmanagerWebhook) -> list[AlertOutcome]:
        """One outcome per alert; raises StoreDown (with what was done) if the store fails."""
        done: list[AlertOutcome] = []
        try:
            # The policy in force, read per notification so a `config sync` applies at once.
            policy = current_policy(self._engine) or Policy()
            for alert in webhook.alerts:
                done.append(self._one(alert, webhook, policy))
        except Exception as error:
            if _store_unavailable(error):
                log.error("alerts.store_unavailable", handled=len(done), error=str(error))
                raise StoreDown(done) from error
            raise
        return done

    def _one(
        self, alert: AlertmanagerAlert, webhook: AlertmanagerWebhook, policy: Policy
    ) -> AlertOutcome:
        try:
            if alert.status == "resolved":
                return self._resolve(alert)
            return self._fire(alert, webhook, policy)
        except LaunchOpsError as error:
            log.warning("alerts.alert_rejected", fingerprint=alert.fingerprint, error=error.key)
            return AlertOutcome(
                fingerprint=alert.fingerprint, incident=None, action="failed", error=error.key
            )
        except Exception as error:
            if _store_unavailable(error):
                raise
            log.exception("alerts.alert_failed", fingerprint=alert.fingerprint)
            return AlertOutcome(
                fingerprint=alert.fingerprint, incident=None, action="failed", error="internal"
            )

    def _resolve(self, alert: AlertmanagerAlert) -> AlertOutcome:
        incident_id = self._incidents.open_by_fingerprint(alert.fingerprint)
        if incident_id is None:
            # Never seen firing (it fired and cleared within group_wait, or we were down), or
            # already resolved by a person or by the twin notification of an HA pair.
            return AlertOutcome(fingerprint=alert.fingerprint, incident=None, action="not_open")
        try:
            outcome = self._incidents.resolve(
                incident_id, ALERTMANAGER, note_key=ALERT_RESOLVED_NOTE
            )
        except InvalidTransition:
            # Resolved by someone else between the lookup and our compare-and-set.
            return AlertOutcome(
                fingerprint=alert.fingerprint, incident=incident_id, action="not_open"
            )
        view = outcome.incident
        log.info("alerts.resolved", fingerprint=alert.fingerprint, incident=view.id)
        return AlertOutcome(
            fingerprint=alert.fingerprint,
            incident=view.id,
            action="resolved",
            severity=_level(view.severity),
            component=view.component_id,
            team=view.team_id,
        )

    def _fire(
        self, alert: AlertmanagerAlert, webhook: AlertmanagerWebhook, rules: Policy
    ) -> AlertOutcome:
        policy = rules.alerts
        level = severity_for(alert.labels, policy, rules.severities)
        title = title_for(alert, self._locale)
        origin = _origin(alert, webhook)
        label = policy.component_label
        query = collapse_spaces(alert.labels.get(label, ""))
        if query and len(query) <= MAX_COMPONENT_QUERY:
            try:
                declared = self._incidents.declare(
                    level=level,
                    title=title,
                    actor=ALERTMANAGER,
                    component_query=query,
                    description=description_for(alert, None),
                    source="alertmanager",
                    fingerprint=alert.fingerprint,
                    origin=origin,
                )
            except NotFound:
                note = t("api.alert.unmatched_component", self._locale, label=label, value=query)
            else:
                return _declared(alert, declared)
        elif query:
            note = t("api.alert.unmatched_component", self._locale, label=label, value=query[:60])
        else:
            note = t("api.alert.no_component_label", self._locale, label=label)
        if policy.fallback_team is None:
            # Still deduped: the alert may have opened an incident under an earlier config.
            if (open_id := self._incidents.open_by_fingerprint(alert.fingerprint)) is not None:
                view = self._incidents.get(open_id)
                return AlertOutcome(
                    fingerprint=alert.fingerprint,
                    incident=open_id,
                    action="existing",
                    severity=_level(view.severity),
                    component=view.component_id,
                    team=view.team_id,
                )
            log.warning("alerts.unroutable", fingerprint=alert.fingerprint, label=label)
            return AlertOutcome(
                fingerprint=alert.fingerprint,
                incident=None,
                action="failed",
                severity=level,
                error=f"no component matches label {label!r} and alerts.fallback_team is not set",
            )
        declared = self._incidents.declare(
            level=level,
            title=title,
            actor=ALERTMANAGER,
            team_id=policy.fallback_team,
            description=description_for(alert, note),
            source="alertmanager",
            fingerprint=alert.fingerprint,
            origin=origin,
        )
        return _declared(alert, declared)


def _declared(alert: AlertmanagerAlert, declared: Declared) -> AlertOutcome:
    view = declared.incident
    action: AlertAction = "opened" if declared.created else "existing"
    log.info(
        f"alerts.{action}",
        fingerprint=alert.fingerprint,
        incident=view.id,
        paged=len(declared.paged),
    )
    return AlertOutcome(
        fingerprint=alert.fingerprint,
        incident=view.id,
        action=action,
        severity=_level(view.severity),
        component=view.component_id,
        team=view.team_id,
    )


def _level(text: str) -> SeverityLevel | None:
    for known in LEVELS:
        if text == known:
            return known
    return None


# the route ---------------------------------------------------------------------------------
def alerts_router(engine: Engine, incidents: IncidentService, *, locale: str) -> APIRouter:
    ingest = AlertIngest(engine, incidents, locale=locale)
    router = APIRouter(tags=["alerts"])

    @router.post(
        "/alerts/alertmanager",
        response_model=AlertmanagerReceipt,
        summary="Alertmanager webhook (version 4)",
        responses={
            400: {"model": ApiError, "description": "The body is not UTF-8 JSON."},
            413: {
                "model": TooManyAlerts,
                "description": f"More than {MAX_ALERTS} alerts, or a body over the cap.",
            },
            500: {
                "model": AlertsNotHandled,
                "description": "An alert could not be handled (see each outcome's `error`): "
                "Alertmanager retries, and alerts already handled are not repeated.",
            },
            503: {
                "model": AlertsNotHandled,
                "description": "The store is unreachable or locked (Alertmanager retries), or "
                "LAUNCHOPS_API_TOKEN is not set.",
            },
        },
    )
    async def alertmanager_webhook(webhook: AlertmanagerWebhook) -> Response | AlertmanagerReceipt:
        """Open, dedupe and resolve incidents from a Prometheus Alertmanager notification.

        Point a `webhook_configs` receiver here with `send_resolved: true` and
        `http_config.authorization.credentials` set to LAUNCHOPS_API_TOKEN.
        """
        if len(webhook.alerts) > MAX_ALERTS:
            raise HTTPException(
                status_code=413,
                detail=[
                    {
                        "type": "too_many_alerts",
                        "loc": ["body", "alerts"],
                        "msg": f"at most {MAX_ALERTS} alerts per notification, got "
                        f"{len(webhook.alerts)}; set max_alerts: {MAX_ALERTS} on the webhook",
                        "ctx": {"limit": MAX_ALERTS},
                    }
                ],
            )
        if webhook.truncatedAlerts:
            log.warning(
                "alerts.truncated", group=webhook.groupKey, truncated=webhook.truncatedAlerts
            )
        try:
            outcomes = await run_in_threadpool(ingest.handle, webhook)
        except StoreDown as down:
            return _retry_later(503, STORE_UNAVAILABLE, down.done)
        except Exception:
            # Not a malformed notification (that was a 422 already): something on our side,
            # so a retry may well succeed. The traceback goes to the log, never the answer.
            log.exception("alerts.notification_failed", alerts=len(webhook.alerts))
            return _retry_later(500, "the notification could not be processed; retry later", [])
        failed = sum(1 for outcome in outcomes if outcome.action == "failed")
        if failed:
            detail = f"{failed} of {len(outcomes)} alerts could not be handled; retry later"
            return _retry_later(500, detail, outcomes)
        return AlertmanagerReceipt(alerts=outcomes)

    return router


def _retry_later(status: int, detail: str, outcomes: list[AlertOutcome]) -> JSONResponse:
    body = AlertsNotHandled(detail=detail, alerts=outcomes)
    return JSONResponse(body.model_dump(mode="json"), status_code=status)
