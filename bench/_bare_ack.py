"""The baseline of bench/incident_ack.py: a Slack endpoint that verifies the signature and acks.

Nothing else: no bolt, no store, no middleware. It is the least any signed Slack endpoint can
cost on this machine, served the way `launchops serve` serves the bot (`uvicorn.run`, one
process, `log_level="info"`), so the ratio shows what LaunchOps adds before its ack.

`python -m bench._bare_ack` reads BENCH_SIGNING_SECRET, LAUNCHOPS_HOST and LAUNCHOPS_PORT.
"""

from __future__ import annotations

import os

import uvicorn
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def create_app(signing_secret: str) -> Starlette:
    verifier = SignatureVerifier(signing_secret)

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        if not verifier.is_valid_request(body, dict(request.headers)):
            return Response(status_code=401)
        return Response(status_code=200)  # what bolt's ack() answers a slash command with

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def main() -> None:
    app = create_app(os.environ["BENCH_SIGNING_SECRET"])
    host = os.environ.get("LAUNCHOPS_HOST", "127.0.0.1")
    uvicorn.run(app, host=host, port=int(os.environ["LAUNCHOPS_PORT"]), log_level="info")


if __name__ == "__main__":
    main()
