"""The Alertmanager webhook's request and response bodies (payload version 4).

Kept apart from the handling in `alerts.py` so each file holds one job; the field
descriptions end up in /openapi.json, which is what a script writer reads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from launchops.api.failures import without_nul
from launchops.config.models import SeverityLevel

__all__ = [
    "MAX_ALERTS",
    "AlertAction",
    "AlertOutcome",
    "AlertStatus",
    "AlertmanagerAlert",
    "AlertmanagerReceipt",
    "AlertmanagerWebhook",
    "AlertsNotHandled",
    "TooManyAlerts",
]

MAX_ALERTS = 1000

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

    @model_validator(mode="before")
    @classmethod
    def _without_nul(cls, data: Any) -> Any:
        """NUL characters dropped (PostgreSQL cannot store them): not a 500, nor a 422 that
        would make Alertmanager drop the page."""
        return without_nul(data)


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


class AlertsNotHandled(BaseModel):
    """5xx: not every alert was handled, so Alertmanager retries the notification (safe:
    handling is idempotent per fingerprint, and alerts already handled come back as
    `existing` or `not_open`)."""

    detail: str
    alerts: list[AlertOutcome] = Field(
        default_factory=list,
        description="What became of each alert handled before the answer was given up on.",
    )


class TooManyAlerts(BaseModel):
    """413, in FastAPI's error shape so the field is named like a 422's; a body over the
    byte cap is refused before it is parsed, with a sentence (BodyLimitMiddleware)."""

    detail: list[dict[str, Any]] | str
