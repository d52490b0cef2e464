"""The HTTP API under /api/v1: ingestion (Alertmanager, failure cases, SLIs) and reads for
scripts (incidents).

Every operation sits behind the `LAUNCHOPS_API_TOKEN` bearer token; /openapi.json, served by
the app itself, needs none and documents each request and response schema. The routes only
translate HTTP: the work happens in services, in a worker thread, since the store is blocking.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends

from launchops.api.alerts import alerts_router
from launchops.api.auth import ApiError, bearer_guard
from launchops.api.deployments import deployments_router
from launchops.api.failures import failures_router
from launchops.api.incidents import incidents_router
from launchops.api.projects import projects_router
from launchops.api.sli import sli_router
from launchops.services.failures import FailureService
from launchops.services.ledger import LedgerService
from launchops.services.slo_alerts import SloAlerts

if TYPE_CHECKING:
    from launchops.main import AppContext

__all__ = ["api_router"]

_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"model": ApiError, "description": "Missing or invalid bearer token."},
    413: {"model": ApiError, "description": "The body is larger than the /api/v1 cap."},
    503: {"model": ApiError, "description": "LAUNCHOPS_API_TOKEN is not set."},
}


def api_router(ctx: AppContext) -> APIRouter:
    """All /api/v1 routes, guarded by the bearer token; web.py includes this once."""
    router = APIRouter(
        prefix="/api/v1",
        dependencies=[Depends(bearer_guard(ctx.settings.api_token))],
        responses=_REFUSALS,
    )
    router.include_router(alerts_router(ctx.engine, ctx.incidents, locale=ctx.settings.locale))
    router.include_router(incidents_router(ctx.engine, ctx.ownership.index))
    router.include_router(failures_router(FailureService(ctx.engine, ctx.ownership.index)))
    slo = SloAlerts(
        ctx.engine,
        ctx.ownership.index,
        platforms=ctx.settings.paging_platforms(),
        locale=ctx.settings.locale,
        on_enqueue=ctx.dispatcher.wake,
    )
    router.include_router(sli_router(slo))
    router.include_router(deployments_router(LedgerService(ctx.engine, ctx.ownership.index)))
    if ctx.portfolio is not None:
        router.include_router(projects_router(ctx.portfolio))
    return router
