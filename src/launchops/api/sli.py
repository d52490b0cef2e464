"""`POST /api/v1/sli`: per-component SLI summaries for a period, judged against the SLOs.

Shaped like /api/v1/failures (one sample or `{"samples": [...]}`, the token before the body,
422 naming each field); see api/failures.py for why the body is parsed by hand. The answer
lists the alerts the samples opened or cleared, so a pipeline can tell that it was heard.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal

import structlog
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from starlette.concurrency import run_in_threadpool

from launchops.api.auth import ApiError
from launchops.api.failures import (
    ValidationProblems,
    parse_body,
    request_schema,
    unknown_components,
)
from launchops.services.failures import UnknownComponents
from launchops.services.slo_alerts import NewSample, SloAlerts

__all__ = ["MAX_SAMPLES", "SliAlert", "SliBatchIn", "SliReceiptOut", "SliSampleIn", "sli_router"]

log = structlog.get_logger(__name__)

MAX_SAMPLES: Final = 1000
# The store's count columns are 32-bit integers on PostgreSQL: a larger count was a 500 there.
MAX_COUNT: Final = 2**31 - 1
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
# A day's costs are summed in the store: two readings near float's limit (1.8e308) overflowed
# PostgreSQL's sum, a 500. A trillion per reading is beyond any budget and sums safely.
MAX_COST: Final = 1e12
# json.loads reads `Infinity` too: a reading of infinite seconds or cost is refused.
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False, description="Seconds.")]


class SliSampleIn(BaseModel):
    """One component's indicators summed over `[period_start, period_end)`."""

    model_config = ConfigDict(extra="ignore")

    component: str = Field(min_length=1, max_length=200, description="Id, name or alias.")
    period_start: datetime = Field(description="ISO 8601; without an offset, UTC.")
    period_end: datetime
    requests: Count
    successes: Count
    errors_4xx: Count = 0
    errors_5xx: Count = 0
    latency_p50: Seconds | None = None
    latency_p95: Seconds | None = None
    latency_p99: Seconds | None = None
    cost: float = Field(
        0.0,
        ge=0,
        le=MAX_COST,
        allow_inf_nan=False,
        description="Same unit as `slo.monthly_cost_budget`.",
    )

    @field_validator("period_start", "period_end")
    @classmethod
    def _within_utc_range(cls, value: datetime) -> datetime:
        """`0001-01-01T00:00:00+01:00` is a valid ISO date whose UTC time is before year 1:
        converting it raised OverflowError, a 500."""
        try:
            _naive_utc(value)
        except OverflowError:
            raise ValueError("the time in UTC is outside the years 1 to 9999") from None
        return value

    @field_validator("period_end")
    @classmethod
    def _after_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("period_start")
        if isinstance(start, datetime) and _naive_utc(value) <= _naive_utc(start):
            raise ValueError("period_end must be after period_start")
        return value

    @field_validator("successes", "errors_4xx", "errors_5xx")
    @classmethod
    def _within_requests(cls, value: int, info: ValidationInfo) -> int:
        requests = info.data.get("requests")
        if isinstance(requests, int) and value > requests:
            raise ValueError(f"{info.field_name} ({value}) exceeds requests ({requests})")
        return value

    def as_new(self) -> NewSample:
        return NewSample(**self.model_dump())


def _naive_utc(moment: datetime) -> datetime:
    offset = moment.utcoffset()
    return moment.replace(tzinfo=None) - offset if offset is not None else moment


class SliBatchIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    samples: list[SliSampleIn] = Field(min_length=1, max_length=MAX_SAMPLES)


class SliAlert(BaseModel):
    component: str
    kind: str = Field(description="success_rate, latency_p95, daily_cost or monthly_budget.")
    state: Literal["opened", "cleared"]
    value: float
    threshold: float


class SliReceiptOut(BaseModel):
    ids: list[int] = Field(description="One id per sample; a period sent again keeps its id.")
    duplicates: int
    alerts: list[SliAlert]


def sli_router(service: SloAlerts) -> APIRouter:
    router = APIRouter(tags=["feedback"])

    @router.post(
        "/sli",
        status_code=201,
        response_model=SliReceiptOut,
        summary="Record SLI samples",
        responses={
            422: {
                "model": ValidationProblems,
                "description": "Malformed JSON, an invalid field, an unknown component or "
                f"more than {MAX_SAMPLES} samples; nothing is stored.",
            },
            413: {"model": ApiError, "description": "The body is larger than the /api/v1 cap."},
        },
        openapi_extra=request_schema(SliSampleIn, SliBatchIn),
    )
    async def record_sli(request: Request) -> SliReceiptOut:
        """One sample, or `{"samples": [...]}`; breaches alert once, recoveries once."""
        raw = await request.body()
        single, batch = parse_body(raw, SliSampleIn, SliBatchIn, "samples", MAX_SAMPLES)
        samples = batch.samples if batch is not None else single or []
        try:
            receipt = await run_in_threadpool(service.record, [s.as_new() for s in samples])
        except UnknownComponents as error:
            log.warning("sli.unknown_components", count=len(error.problems))
            raise unknown_components(error, "samples", batch is not None) from None
        return SliReceiptOut(
            ids=receipt.ids,
            duplicates=receipt.duplicates,
            alerts=[
                SliAlert.model_validate(change, from_attributes=True) for change in receipt.alerts
            ],
        )

    return router
