"""Start the real LaunchOps app on a loopback port, the way `launchops serve` does.

The app, its store and its dispatcher are all real; only what lies outside the machine
(Slack's Web API, the Bot Connector) is replaced by loopback fakes from tests/fakes.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from launchops.main import AppContext, build_context, prepare_store
from launchops.settings import Settings
from launchops.web import create_app
from tests.conftest import CONFIG_DIR


@dataclass
class RunningApp:
    url: str
    ctx: AppContext
    settings: Settings

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "LAUNCHOPS_DATABASE_URL": database_url,
        "LAUNCHOPS_CONFIG_DIR": str(CONFIG_DIR),
        "LAUNCHOPS_API_TOKEN": "test-api-token",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


SLACK_SECRET = "test-signing-secret"


def slack_settings(database_url: str, slack_api_url: str, **overrides: Any) -> Settings:
    """Settings for a Slack install whose Web API is the loopback fake at `slack_api_url`."""
    values = {
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SLACK_SECRET,
        "SLACK_API_URL": slack_api_url,
        **overrides,
    }
    return make_settings(database_url, **values)


@contextmanager
def running_app(settings: Settings) -> Iterator[RunningApp]:
    prepare_store(settings, actor="test")
    ctx = build_context(settings)
    app = create_app(ctx)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the app did not start")
        time.sleep(0.02)
    try:
        yield RunningApp(url=f"http://127.0.0.1:{port}", ctx=ctx, settings=settings)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        ctx.close()


_WRITE_WORDS = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def on_background_thread() -> bool:
    """True on the bot's own background threads (the scheduler's jobs, the dispatcher and its
    workers: all named `launchops-…`), whose writes are not a request's."""
    return threading.current_thread().name.startswith("launchops-")


def wait_for_quiet_store(app: RunningApp, *, quiet: float = 1.5, limit: float = 20.0) -> None:
    """Wait until the app's own jobs have done their start-up work (the first roadmap nudge
    sweep, a config check) and `quiet` seconds pass without a write, so that a test
    counting the writes of one request counts only that request's."""
    from sqlalchemy import event

    last = [time.monotonic()]

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(_WRITE_WORDS):
            last[0] = time.monotonic()

    engine = app.ctx.engine
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        deadline = time.monotonic() + limit
        while time.monotonic() - last[0] < quiet:
            if time.monotonic() > deadline:
                raise AssertionError(f"the store never went {quiet} s without a write")
            time.sleep(0.1)
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
