"""`POST /api/v1/failures`: failure cases in, one or up to 1,000 at a time (DESIGN §3).

The route reads its body itself instead of letting FastAPI parse it into a parameter:
FastAPI parses a declared body before it runs any dependency, so a caller without a token
would learn from a 422 how its payload was wrong. Here the bearer guard runs first (401),
then the body is parsed, and every problem comes back in FastAPI's 422 shape with its
location (`["body", "cases", 3, "summary"]`). The request schema is still declared in
/openapi.json (`openapi_extra`).

Nothing of a case is logged: its texts may hold PII until the service has masked them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Final, TypeVar

import structlog
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from launchops.api.auth import ApiError
from launchops.services.failures import (
    MAX_CASES,
    FailureKind,
    FailureService,
    NewCase,
    UnknownComponents,
)

__all__ = [
    "FailureBatchIn",
    "FailureCaseIn",
    "FailuresReceipt",
    "ValidationProblems",
    "failures_router",
    "parse_body",
    "request_schema",
    "unknown_components",
    "without_nul",
]

log = structlog.get_logger(__name__)

Text200 = Annotated[str, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(max_length=8000)]


class FailureCaseIn(BaseModel):
    """One failure case. Texts are masked (emails, phones, cards, RRNs, IPs, tokens) before
    they are stored."""

    model_config = ConfigDict(extra="ignore")

    component: Text200 = Field(description="A component id, name or alias.")
    kind: FailureKind = "other"
    summary: str = Field(min_length=1, max_length=2000)
    occurred_at: datetime | None = Field(
        None, description="ISO 8601; without an offset, UTC. Default: when it was received."
    )
    confidence: float | None = Field(None, ge=0, le=1)
    model_version: Text200 | None = None
    prompt_version: Text200 | None = None
    trace_id: Text200 | None = Field(
        None,
        description="A case whose trace id was stored before for its component is "
        "stored once; its first id is returned.",
    )
    input: LongText | None = None
    output: LongText | None = None

    def as_new(self) -> NewCase:
        return NewCase(**self.model_dump())


class FailureBatchIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    cases: list[FailureCaseIn] = Field(min_length=1, max_length=MAX_CASES)


class FailuresReceipt(BaseModel):
    ids: list[int] = Field(description="One id per case, in the order given.")
    duplicates: int = Field(description="Cases whose trace id was stored before.")


class ValidationProblems(BaseModel):
    """FastAPI's 422 shape: one entry per problem, each with its location."""

    detail: list[dict[str, Any]]


M = TypeVar("M", bound=BaseModel)
B = TypeVar("B", bound=BaseModel)


def _problems(error: ValidationError, prefix: Sequence[str | int]) -> list[dict[str, Any]]:
    out = []
    for item in error.errors(include_url=False):
        entry = dict(item)
        entry["loc"] = [*prefix, *item["loc"]]
        if "input" in entry:
            entry["input"] = _finite(entry["input"])
        ctx = entry.get("ctx")
        if isinstance(ctx, dict):  # exception objects are not JSON
            entry["ctx"] = {
                k: v if isinstance(v, str | int | float) else str(v) for k, v in ctx.items()
            }
        out.append(entry)
    return out


def without_nul(value: Any) -> Any:
    """Parsed JSON with every NUL character dropped from its strings (keys too): PostgreSQL's
    text and JSONB cannot hold one, so a `\u0000` anywhere in a body was a 500 there."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    if isinstance(value, dict):
        return {without_nul(key): without_nul(item) for key, item in value.items()}
    return value


def _finite(value: Any) -> Any:
    """`value` with NaN and ±Infinity (which json.loads reads) as strings: JSON cannot echo
    them back, so a 422 quoting one was a 500."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_finite(item) for item in value]
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return value


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float) else str(value)


def parse_body(
    raw: bytes, single: type[M], batch: type[B], key: str, limit: int
) -> tuple[list[M] | None, B | None]:
    """The body as one item (`single`) or as `{key: [...]}` (`batch`); raises FastAPI's
    RequestValidationError naming each problem. More than `limit` items is refused before
    any item is validated, with a message saying the limit. A refusal is logged with the
    problems' locations only: the values may be PII."""
    try:
        return _parse(raw, single, batch, key, limit)
    except RequestValidationError as error:
        where = [".".join(map(str, e.get("loc", ()))) for e in error.errors()][:10]
        log.warning("api.body_refused", key=key, problems=len(error.errors()), where=where)
        raise


def _parse(
    raw: bytes, single: type[M], batch: type[B], key: str, limit: int
) -> tuple[list[M] | None, B | None]:
    if not raw.strip():
        raise RequestValidationError(
            [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]
        )
    try:
        data = without_nul(json.loads(raw))
    except (ValueError, RecursionError) as error:  # RecursionError: nesting beyond reason
        position = getattr(error, "pos", 0)
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ["body", position],
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": getattr(error, "msg", "invalid encoding")},
                }
            ]
        ) from None
    if isinstance(data, dict) and key in data:
        items = data[key]
        if isinstance(items, list) and len(items) > limit:
            raise RequestValidationError(
                [
                    {
                        "type": "too_long",
                        "loc": ["body", key],
                        "msg": f"at most {limit} {key} per request, got {len(items)}; "
                        "send them in several requests",
                        "input": None,
                        "ctx": {"max_length": limit, "actual_length": len(items)},
                    }
                ]
            )
        try:
            return None, batch.model_validate(data)
        except ValidationError as error:
            raise RequestValidationError(_problems(error, ["body"])) from None
    try:
        return [single.model_validate(data)], None
    except ValidationError as error:
        raise RequestValidationError(_problems(error, ["body"])) from None


def unknown_components(error: UnknownComponents, key: str, batched: bool) -> RequestValidationError:
    """A 422 naming each unknown component where it stood in the body."""
    problems = []
    for problem in error.problems:
        hint = f"; did you mean {', '.join(problem.suggestions)}?" if problem.suggestions else ""
        loc: list[str | int] = ["body", key, problem.position] if batched else ["body"]
        problems.append(
            {
                "type": "unknown_component",
                "loc": [*loc, "component"],
                "msg": f"no component has the id, name or alias {problem.query!r}{hint}",
                "input": problem.query,
                "ctx": {"suggestions": list(problem.suggestions)},
            }
        )
    return RequestValidationError(problems)


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with its `$defs` substituted in place, so it can sit inside the
    OpenAPI document (where `#/$defs/...` would point at the document's root)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(dict(defs[ref.removeprefix("#/$defs/")]))
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return dict(walk(schema))


def request_schema(single: type[BaseModel], batch: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` declaring a body of one item or a batch."""
    either: Any = single | batch
    schema = TypeAdapter(either).json_schema()
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inline(schema)}},
        }
    }


_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    422: {
        "model": ValidationProblems,
        "description": "Malformed JSON, an invalid or missing field, an unknown component, "
        f"or more than {MAX_CASES} cases; nothing is stored.",
    },
    413: {"model": ApiError, "description": "The body is larger than the /api/v1 cap."},
}


def failures_router(service: FailureService) -> APIRouter:
    router = APIRouter(tags=["feedback"])

    @router.post(
        "/failures",
        status_code=201,
        response_model=FailuresReceipt,
        summary="Record failure cases",
        responses=_RESPONSES,
        openapi_extra=request_schema(FailureCaseIn, FailureBatchIn),
    )
    async def record_failures(request: Request) -> FailuresReceipt:
        """One case, or `{"cases": [...]}` with up to 1,000; all or nothing."""
        raw = await request.body()
        single, batch = parse_body(raw, FailureCaseIn, FailureBatchIn, "cases", MAX_CASES)
        cases = batch.cases if batch is not None else single or []
        try:
            stored = await run_in_threadpool(service.record, [c.as_new() for c in cases])
        except UnknownComponents as error:
            log.warning("failures.unknown_components", count=len(error.problems))
            raise unknown_components(error, "cases", batch is not None) from None
        return FailuresReceipt(
            ids=[s.id for s in stored], duplicates=sum(1 for s in stored if s.duplicate)
        )

    return router
