"""`POST /api/v1/deployments`: the change ledger's door for pipelines (DESIGN §3).

Like /api/v1/failures, the body is read by hand so the bearer token is checked before a
byte of it is parsed (api/failures.py says why), and every problem comes back in FastAPI's
422 shape naming its field; an unknown component is named with suggestions. A post with an
`external_id` (a pipeline's run id) is stored once per component: a retry answers 201 with
the id stored first and `duplicate: true`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool

from launchops.api.auth import ApiError
from launchops.api.failures import ValidationProblems, parse_body, unknown_components
from launchops.domain.errors import BadCommand
from launchops.domain.ledger import DeploymentKind, web_url
from launchops.services.failures import UnknownComponents
from launchops.services.ledger import LedgerService, NewDeployment

__all__ = ["DeploymentIn", "DeploymentReceipt", "deployments_router"]

log = structlog.get_logger(__name__)

Text200 = Annotated[str, Field(min_length=1, max_length=200)]
Url = Annotated[str, Field(min_length=1, max_length=2000, description="An http(s) URL.")]


class DeploymentIn(BaseModel):
    """One deployment (or rollback) of a component to an environment."""

    model_config = ConfigDict(extra="ignore")

    component: Text200 = Field(description="A component id, name or alias.")
    version: Text200
    environment: str = Field("production", min_length=1, max_length=64, pattern=r"^\S+$")
    deployed_at: datetime | None = Field(
        None, description="ISO 8601; without an offset, UTC. Default: when it was received."
    )
    url: Url | None = Field(None, description="Where the deployment can be seen.")
    rollback_url: Url | None = Field(
        None, description="Where it is rolled back; incident cards show it as a Roll back button."
    )
    actor: Text200 | None = Field(
        None, description="Who deployed: a person's id or name, or any text (masked)."
    )
    kind: DeploymentKind = "deploy"
    description: str | None = Field(None, max_length=2000, description="Masked before storing.")
    external_id: Text200 | None = Field(
        None, description="A pipeline run's id: a post sent again with it is stored once."
    )

    @field_validator("deployed_at")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value
        try:
            return value.astimezone(UTC)
        except OverflowError:  # year 1 with a positive offset, year 9999 with a negative one
            raise ValueError("out of the range of dates") from None

    @field_validator("url", "rollback_url")
    @classmethod
    def _web(cls, value: str | None) -> str | None:
        if value is not None and not web_url(value):
            raise ValueError("must be an absolute http(s) URL")
        return value

    def as_new(self) -> NewDeployment:
        return NewDeployment(**self.model_dump())


class _NoBatch(BaseModel):
    """Deployments come one at a time: `{"deployments": [...]}` is refused, naming it."""

    model_config = ConfigDict(extra="forbid")


class DeploymentReceipt(BaseModel):
    id: int
    duplicate: bool = Field(description="True when the external id was stored before.")


_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {
        "model": ValidationProblems,
        "description": "Malformed JSON, an invalid or missing field or an unknown component "
        "(with suggestions); nothing is stored.",
    },
    413: {"model": ApiError, "description": "The body is larger than the /api/v1 cap."},
}


def deployments_router(service: LedgerService) -> APIRouter:
    router = APIRouter(tags=["ledger"])

    @router.post(
        "/deployments",
        status_code=201,
        response_model=DeploymentReceipt,
        summary="Record a deployment or rollback",
        responses=_RESPONSES,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _schema()}},
            }
        },
    )
    async def record_deployment(request: Request) -> DeploymentReceipt:
        """What was deployed where; incidents on the component show it with Roll back."""
        raw = await request.body()
        single, _ = parse_body(raw, DeploymentIn, _NoBatch, "deployments", 1)
        assert single
        try:
            recorded = await run_in_threadpool(service.record, single[0].as_new())
        except UnknownComponents as error:
            log.warning("deployments.unknown_component", count=len(error.problems))
            raise unknown_components(error, "deployments", False) from None
        except BadCommand:  # pragma: no cover - the model validates URLs first
            raise RequestValidationError(
                [{"type": "url", "loc": ["body", "rollback_url"], "msg": "invalid URL"}]
            ) from None
        return DeploymentReceipt(id=recorded.id, duplicate=recorded.duplicate)

    return router


def _schema() -> dict[str, Any]:
    schema = DeploymentIn.model_json_schema()
    schema.pop("$defs", None)
    return schema
