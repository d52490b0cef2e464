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
- a well-formed one always gets 2xx, even when one alert cannot be handled (say no component
  matches and no `alerts.fallback_team` is configured): that alert is logged and reported as
  `failed` in the summary, since retrying a deterministic failure would not help;
- when the store itself is unreachable the answer is 503, so Alertmanager retries later.
  Retrying is safe because handling is idempotent per fingerprint: alerts already handled
  before the store went away come back as `existing` or `not_open`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import structlog
from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from launchops.chat.i18n import t
from launchops.config.models import AlertPolicy, Policy, SeverityLevel
from launchops.domain.errors import InvalidTransition, LaunchOpsError, NotFound
from launchops.domain.incidents import LEVELS, MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS
from launchops.domain.text import collapse_spaces
from launchops.services.config_sync import current_policy
from launchops.services.incidents import Actor, Declared, IncidentService

__all__ = [
    "MAX_ALERTS",
    "AlertIngest",
    "AlertOutcome",
    "AlertmanagerAlert",
    "AlertmanagerReceipt",
    "AlertmanagerWebhook",
    "StoreUnavailable",
    "alerts_router",
    "severity_for",
    "shorten",
    "title_for",
]

log = structlog.get_logger(__name__)

MAX_ALERTS = 1000
MAX_COMPONENT_QUERY = 200  # longer than any component name or alias may be (config/models.py)
ALERTMANAGER = Actor.system_actor("Alertmanager")
ALERT_RESOLVED_NOTE = "incident.note.alert_resolved"

AlertStatus = Literal["firing", "resolved"]
AlertAction = Literal["opened", "existing", "resolved", "not_open", "failed"]


# request ---------------------------------------------------------------------------------
class _Webhook(BaseModel):
    # Unknown keys are ignored, not refused: Alertmanager may add fields within version 4, and
    # a 422 for a field we do not read would make it drop a real page.
    model_config = ConfigDict(extra="ignore")


class AlertmanagerAlert(_Webhook):
    """One alert of a notification, as Alertmanager sends it."""

    status: AlertStatus = Field(description="`firing`, or `resolved` once it stopped firing.")
    labels: dict[str, str] = Field(
        description="Identifying labels; `alerts.component_label` names the component and "
        "`alerts.severity_label` the severity (policy.yaml)."
    )
    annotations: dict[str, str] = Field(
        default_factory=dict,
        description="`summary` (else `description`, else the `alertname` label) becomes the "
        "incident title, shortened to 200 characters; `description` and `runbook_url` go into "
        "the incident's description.",
    )
    startsAt: datetime | None = None
    endsAt: datetime | None = Field(
        None, description="`0001-01-01T00:00:00Z` while firing with no known end."
    )
    generatorURL: str = ""
    fingerprint: str = Field(
        min_length=1,
        max_length=255,
        description="Alertmanager's identity for the alert: one open incident per fingerprint.",
    )


class AlertmanagerWebhook(_Webhook):
    """Alertmanager's webhook notification, payload version 4."""

    version: Literal["4"]
    groupKey: str = ""
    truncatedAlerts: int = Field(0, ge=0)
    status: AlertStatus
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[AlertmanagerAlert] = Field(
        description=f"At most {MAX_ALERTS} per notification (more answers 413); set "
        f"`max_alerts: {MAX_ALERTS}` on the webhook so Alertmanager truncates instead."
    )


# response --------------------------------------------------------------------------------
class AlertOutcome(BaseModel):
    """What became of one alert."""

    fingerprint: str
    incident: int | None = Field(description="The incident's id (its number), if any.")
    action: AlertAction = Field(
        description="`opened` a new incident (and paged); found it `existing` (paged nobody); "
        "`resolved` it; the alert resolved but had `not_open` incident; or `failed` (see "
        "`error`; logged)."
    )
    severity: SeverityLevel | None = None
    component: str | None = Field(None, description="The component id, when one matched.")
    team: str | None = Field(None, description="The Responsible team the incident went to.")
    error: str | None = None


class AlertmanagerReceipt(BaseModel):
    """The notification was accepted; one outcome per alert, in the order received."""

    alerts: list[AlertOutcome]


class StoreUnavailable(BaseModel):
    """503: the store could not be reached; Alertmanager retries, which is safe."""

    detail: str
    alerts: list[AlertOutcome] = Field(
        default_factory=list, description="The alerts handled before the store went away."
    )


class TooManyAlerts(BaseModel):
    """413, in FastAPI's error shape so the field is named like a 422's."""

    detail: list[dict[str, Any]]


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


def severity_for(labels: dict[str, str], policy: AlertPolicy) -> SeverityLevel:
    """`alerts.severity_map[labels[severity_label]]`, else `alerts.default`.

    The map is tried as written, then case-insensitively (`Critical` from a hand-written rule
    must not silently drop to the default); a label that already names a level (`p0`) keeps
    that level, since nobody writing `severity: p0` expects a P2.
    """
    raw = labels.get(policy.severity_label, "").strip()
    if not raw:
        return policy.default
    if raw in policy.severity_map:
        return policy.severity_map[raw]
    folded = raw.casefold()
    for name, level in policy.severity_map.items():
        if name.casefold() == folded:
            return level
    for known in LEVELS:
        if folded == known:
            return known
    return policy.default


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
            policy = (current_policy(self._engine) or Policy()).alerts
            for alert in webhook.alerts:
                done.append(self._one(alert, webhook, policy))
        except Exception as error:
            if _store_unavailable(error):
                log.error("alerts.store_unavailable", handled=len(done), error=str(error))
                raise StoreDown(done) from error
            raise
        return done

    def _one(
        self, alert: AlertmanagerAlert, webhook: AlertmanagerWebhook, policy: AlertPolicy
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
        self, alert: AlertmanagerAlert, webhook: AlertmanagerWebhook, policy: AlertPolicy
    ) -> AlertOutcome:
        level = severity_for(alert.labels, policy)
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
            413: {"model": TooManyAlerts, "description": f"More than {MAX_ALERTS} alerts."},
            503: {
                "model": StoreUnavailable,
                "description": "The store is unreachable (Alertmanager retries), or "
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
            body = StoreUnavailable(
                detail="the incident store is unavailable; retry later", alerts=down.done
            )
            return JSONResponse(body.model_dump(mode="json"), status_code=503)
        return AlertmanagerReceipt(alerts=outcomes)

    return router
