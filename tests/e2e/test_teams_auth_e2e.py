"""Who may talk to `/api/messages`, end to end (DESIGN.md §3; issue 6, item 1).

- Without an app id Teams is off: 503, nothing stored, nothing called.
- The anonymous test mode never lets an activity name a non-loopback serviceUrl.
- With an app id every activity needs a Bot Framework token: a loopback OpenID metadata and
  JWKS endpoint (tests/fakes/bot_auth.py) signs real RS256 tokens, and botbuilder's own
  validation checks them; tenants outside the allow-list get 403.

Refusals must change nothing: no incident, no conversation reference (which would make a
forged serviceUrl the target of that person's next page), no outbox row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from launchops.delivery.outbox import outbox_table
from launchops.store.models import ConversationRef, Incident
from tests.e2e.harness import RunningApp, make_settings, running_app
from tests.fakes.bot_auth import FakeBotFrameworkAuth, bearer
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.teams_connector import TENANT_ID, FakeBotConnector, message_activity

pytestmark = pytest.mark.e2e

APP_ID = "6e4a1f0c-0000-4000-8000-00000000b07a"
OTHER_TENANT = "f00dfeed-0000-4000-8000-0000000e71a1"
ALICE = "29:1alice"  # in config/catalog.yaml
DECLARE = "incident p2 rag: answers are slow"


@dataclass(frozen=True)
class State:
    incidents: int
    references: int
    outbox: int


def state(app: RunningApp) -> State:
    def count(table: Any) -> int:
        with app.ctx.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(table)).scalar_one())

    return State(
        incidents=count(Incident.__table__),  # type: ignore[attr-defined]
        references=count(ConversationRef.__table__),  # type: ignore[attr-defined]
        outbox=count(outbox_table),
    )


NOTHING = State(incidents=0, references=0, outbox=0)


def declaration(service_url: str, *, tenant: str = TENANT_ID) -> dict[str, Any]:
    """Alice declares an incident in her personal chat: the most state a forger could make."""
    activity = message_activity(
        service_url, DECLARE, from_id=ALICE, conversation_id="a:1alice-personal"
    )
    activity["conversation"]["tenantId"] = tenant
    activity["channelData"] = {"tenant": {"id": tenant}}
    return activity


def post(app: RunningApp, activity: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    with app.client() as client:
        return client.post("/api/messages", json=activity, headers=headers or {})


@pytest.fixture
def connector() -> Iterator[FakeBotConnector]:
    with FakeBotConnector() as fake:
        yield fake
        fake.assert_valid()


@pytest.fixture
def auth() -> Iterator[FakeBotFrameworkAuth]:
    with FakeBotFrameworkAuth() as fake:
        yield fake
        fake.assert_valid()


# Teams off ------------------------------------------------------------------------------------
def test_slack_only_deployment_refuses_an_unsigned_activity_with_503_and_calls_nothing(
    sqlite_url: str, connector: FakeBotConnector, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with FakeSlackAPI() as slack:
        settings = make_settings(
            sqlite_url,
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_SIGNING_SECRET="signing-secret",
            SLACK_API_URL=slack.url,
            LAUNCHOPS_TEAMS_SERVICE_URL=connector.url,
        )
        with running_app(settings) as app:
            assert app.ctx.teams is None and "teams" not in app.ctx.senders
            response = post(app, declaration(connector.url))
            assert response.status_code == 503
            assert response.json() == {"detail": "Teams is not configured"}
            assert state(app) == NOTHING
    assert connector.calls() == []
    teams_lines = [r for r in caplog.records if "teams" in r.getMessage().lower()]
    assert [r for r in teams_lines if r.levelno >= logging.WARNING] == []


# anonymous mode -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "service_url",
    [
        "https://evil.example/",
        "http://169.254.169.254/latest/meta-data/",  # a cloud metadata service
        "http://127.0.0.1.evil.example/",
        "http://127.0.0.1@evil.example/",
        "file:///etc/passwd",
        "not a url",
    ],
)
def test_anonymous_mode_refuses_a_service_url_it_may_not_call(
    sqlite_url: str, connector: FakeBotConnector, service_url: str
) -> None:
    settings = make_settings(
        sqlite_url, LAUNCHOPS_TEAMS_ANONYMOUS="true", LAUNCHOPS_TEAMS_SERVICE_URL=connector.url
    )
    with running_app(settings) as app:
        response = post(app, declaration(service_url))
        assert response.status_code == 403, response.text
        assert response.json()["detail"].startswith("serviceUrl not allowed")
        assert state(app) == NOTHING
        # The same activity at the configured service URL goes through: only the URL was wrong.
        assert post(app, declaration(connector.url)).status_code == 200
        assert state(app).incidents == 1


def test_anonymous_mode_says_so_loudly_at_start(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = make_settings(sqlite_url, LAUNCHOPS_TEAMS_ANONYMOUS="true")
    with running_app(settings):
        pass
    [warning] = [r for r in caplog.records if "teams.anonymous_mode" in r.getMessage()]
    assert warning.levelno == logging.WARNING
    assert "UNAUTHENTICATED" in warning.getMessage()


# signed tokens --------------------------------------------------------------------------------
@pytest.fixture
def signed_app(
    sqlite_url: str, connector: FakeBotConnector, auth: FakeBotFrameworkAuth
) -> Iterator[RunningApp]:
    with _signed_app(sqlite_url, connector, auth) as app:
        yield app


@contextmanager
def _signed_app(
    sqlite_url: str, connector: FakeBotConnector, auth: FakeBotFrameworkAuth, **env: str
) -> Iterator[RunningApp]:
    settings = make_settings(
        sqlite_url,
        MicrosoftAppId=APP_ID,
        MicrosoftAppPassword="not-a-real-secret",
        LAUNCHOPS_TEAMS_OPENID_METADATA_URL=auth.metadata_url,
        LAUNCHOPS_TEAMS_SERVICE_URL=connector.url,
        **env,
    )
    with running_app(settings) as app:
        # Replies would need an AAD token from login.microsoftonline.com, outside the machine:
        # the turn is judged by what it committed (incident, reference, outbox rows).
        app.ctx.dispatcher.stop()
        yield app


def test_a_validly_signed_activity_is_accepted_and_its_turn_runs(
    signed_app: RunningApp, connector: FakeBotConnector, auth: FakeBotFrameworkAuth
) -> None:
    token = auth.token(audience=APP_ID, service_url=connector.url)
    response = post(signed_app, declaration(connector.url), bearer(token))
    assert response.status_code == 200, response.text
    after = state(signed_app)
    assert after.incidents == 1 and after.references > 0 and after.outbox > 0
    assert signed_app.ctx.messaging.conversation("teams", ALICE) is not None
    assert any(path.endswith("/keys") for path in auth.fetched)  # keys came from the fake


def test_with_an_app_id_a_request_without_a_bearer_token_gets_401(
    signed_app: RunningApp, connector: FakeBotConnector
) -> None:
    activity = declaration(connector.url)
    for headers in ({}, {"Authorization": "Bearer not.a.jwt"}, {"Authorization": "Basic x"}):
        response = post(signed_app, activity, headers)
        assert response.status_code == 401, response.text
        assert response.json() == {"detail": "unauthorized"}
    with signed_app.client() as client:  # parsing comes first
        assert client.post("/api/messages", content=b"{broken").status_code == 400
    assert state(signed_app) == NOTHING


BadToken = Callable[[FakeBotFrameworkAuth, str], str]
BAD_TOKENS: dict[str, BadToken] = {
    "wrong audience": lambda a, url: a.token(audience="some-other-bot", service_url=url),
    "wrong issuer": lambda a, url: a.token(
        audience=APP_ID, service_url=url, issuer="https://evil.example"
    ),
    # botbuilder allows five minutes of clock skew: this one expired ten minutes ago.
    "expired": lambda a, url: a.token(audience=APP_ID, service_url=url, expires_in=-600),
    "alg none": lambda a, url: a.unsigned_token(audience=APP_ID, service_url=url),
    "no signature": lambda a, url: a.token_without_signature(audience=APP_ID, service_url=url),
    "unknown key": lambda a, url: a.token_signed_by_stranger(audience=APP_ID, service_url=url),
    "other serviceUrl": lambda a, url: a.token(
        audience=APP_ID, service_url="https://evil.example/"
    ),
}


@pytest.mark.parametrize("bad", list(BAD_TOKENS))
def test_a_bad_token_is_refused_with_401_and_changes_nothing(
    signed_app: RunningApp, connector: FakeBotConnector, auth: FakeBotFrameworkAuth, bad: str
) -> None:
    token = BAD_TOKENS[bad](auth, connector.url)
    response = post(signed_app, declaration(connector.url), bearer(token))
    assert response.status_code == 401, response.text
    assert response.json() == {"detail": "unauthorized"}
    assert state(signed_app) == NOTHING
    # The endpoint still works: the same activity with a good token is accepted.
    good = auth.token(audience=APP_ID, service_url=connector.url)
    assert post(signed_app, declaration(connector.url), bearer(good)).status_code == 200
    assert state(signed_app).incidents == 1


# tenants --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "env",
    [
        {"MicrosoftAppType": "SingleTenant", "MicrosoftAppTenantId": TENANT_ID},
        {"LAUNCHOPS_TEAMS_ALLOWED_TENANTS": f"11111111-aaaa-4000-8000-000000000000, {TENANT_ID}"},
    ],
    ids=["single-tenant", "multi-tenant allow-list"],
)
def test_an_activity_from_a_tenant_not_allowed_gets_403_and_changes_nothing(
    sqlite_url: str,
    connector: FakeBotConnector,
    auth: FakeBotFrameworkAuth,
    env: dict[str, str],
) -> None:
    with _signed_app(sqlite_url, connector, auth, **env) as app:
        headers = bearer(auth.token(audience=APP_ID, service_url=connector.url))
        stranger = declaration(connector.url, tenant=OTHER_TENANT)
        response = post(app, stranger, headers)
        assert response.status_code == 403, response.text
        assert response.json() == {"detail": "tenant not allowed"}
        mixed = declaration(connector.url)
        mixed["channelData"]["tenant"]["id"] = OTHER_TENANT  # the two tenant fields disagree
        assert post(app, mixed, headers).status_code == 403
        no_tenant = declaration(connector.url)
        del no_tenant["conversation"]["tenantId"], no_tenant["channelData"]
        assert post(app, no_tenant, headers).status_code == 403
        assert state(app) == NOTHING
        assert post(app, declaration(connector.url), headers).status_code == 200
        assert state(app).incidents == 1


def test_a_signed_question_whose_reply_cannot_be_sent_now_is_kept_in_the_outbox(
    signed_app: RunningApp, connector: FakeBotConnector, auth: FakeBotFrameworkAuth
) -> None:
    """With an app id, a reply in the turn first needs the bot's own token from Azure AD,
    which is outside this machine: the answer is then deferred to the outbox (retried there)
    rather than lost, and nothing else is written."""
    token = auth.token(audience=APP_ID, service_url=connector.url)
    question = message_activity(
        connector.url, "who owns rag", from_id=ALICE, conversation_id="a:1alice-personal"
    )
    assert post(signed_app, question, bearer(token)).status_code == 200
    after = state(signed_app)
    assert after.incidents == 0 and after.outbox == 1
    assert connector.calls() == []  # no unauthenticated call was made instead
