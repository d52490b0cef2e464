"""The bearer-token guard in front of every /api/v1 operation.

The API is closed by default: when `LAUNCHOPS_API_TOKEN` is not set, every call answers 503
instead of running open, so a forgotten environment variable can never expose incident data
or let anyone open incidents. Tokens are compared with `secrets.compare_digest` so the time a
refusal takes says nothing about how much of a guess was right.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated

import structlog
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, SecretStr

__all__ = ["UNAUTHORIZED_DETAIL", "UNCONFIGURED_DETAIL", "ApiError", "bearer_guard"]

log = structlog.get_logger(__name__)

UNAUTHORIZED_DETAIL = "missing or invalid bearer token"
UNCONFIGURED_DETAIL = "LAUNCHOPS_API_TOKEN is not set"

# auto_error=False: we answer ourselves, so a missing header, a wrong scheme and a wrong token
# all get the same 401 body and header. Declared as a security scheme in /openapi.json.
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="LaunchOpsApiToken",
    description="`Authorization: Bearer <LAUNCHOPS_API_TOKEN>`",
)


class ApiError(BaseModel):
    """FastAPI's error shape for refusals that concern no particular field."""

    detail: str


def bearer_guard(token: SecretStr | None) -> Callable[..., Awaitable[None]]:
    """A dependency that lets a request through only with `Authorization: Bearer <token>`.

    The token is read once, when the router is built: settings never change while running.
    """
    expected = token.get_secret_value().encode() if token is not None else b""

    async def require_api_token(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        if not expected:
            raise HTTPException(status_code=503, detail=UNCONFIGURED_DETAIL)
        # Header values arrive latin-1 decoded; comparing bytes also keeps compare_digest
        # from raising TypeError on non-ASCII input (which would turn a refusal into a 500).
        given = credentials.credentials.encode() if credentials is not None else b""
        if not secrets.compare_digest(given, expected):
            # Logged because the caller may be an Alertmanager with a stale token, which drops
            # our 401 silently; the token itself is never logged.
            log.warning(
                "api.unauthorized",
                path=request.url.path,
                client=request.client.host if request.client else None,
                had_credentials=credentials is not None,
            )
            raise HTTPException(
                status_code=401, detail=UNAUTHORIZED_DETAIL, headers={"WWW-Authenticate": "Bearer"}
            )

    return require_api_token
