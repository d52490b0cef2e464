"""`deploy` in chat and the ledger on incident cards: the grammar, a decision stored once per
request, bad input told what to type, the card's last deployments with a Roll back link
button (rendered for Slack and Teams), and `incident status` listing the hour's changes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block
from sqlalchemy.engine import Engine
from sqlmodel import select

from launchops.adapters.slack.render import render as slack_render
from launchops.adapters.teams.render import render as teams_render
from launchops.chat.commands import Asker, ChatCore
from launchops.chat.grammar import RecordDeployment, parse
from launchops.chat.ledger_chat import LedgerChat
from launchops.domain.errors import BadCommand
from launchops.messages.i18n import t
from launchops.messages.incident_views import incident_card
from launchops.services.component_index import ComponentIndex
from launchops.services.directory import DirectoryCache
from launchops.services.incidents import IncidentService
from launchops.services.ledger import LedgerService, NewDeployment
from launchops.services.ownership import OwnershipService
from launchops.services.people import PeopleService
from launchops.store import make_engine, session_scope
from launchops.store.ledger_models import Deployment
from tests.services.gate_support import Clock, sync

ROLLBACK = "https://ci.example.com/rollback?to=v1.4.1"


def console(person: str, key: str | None = None) -> Asker:
    return Asker(platform="console", user_ids=(person,), request_key=key)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("deploy ranker v1.4.2", RecordDeployment("ranker", "v1.4.2")),
        ("/launchops Deploy rag v2 to Staging", RecordDeployment("rag", "v2", "staging")),
        (
            "deploy search index 2026.11.30 to canary -- reindexed: all docs",
            RecordDeployment("search index", "2026.11.30", "canary", "reindexed: all docs"),
        ),
        ("deploy rag v1--rc", RecordDeployment("rag", "v1--rc")),
    ],
)
def test_parse(text: str, expected: RecordDeployment) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize("text", ["deploy", "deploy rag", "deploy   -- note", "deploy rag to prod"])
def test_usage(text: str) -> None:
    with pytest.raises(BadCommand) as refused:
        parse(text)
    assert refused.value.key == "ledger.usage"


@given(st.text(max_size=80))
def test_any_text_after_deploy_parses_or_raises_a_typed_error(rest: str) -> None:
    try:
        command = parse(f"deploy {rest}")
    except BadCommand:
        return
    assert isinstance(command, RecordDeployment) and command.version and command.component


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    sync(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def index(engine: Engine, clock: Clock) -> ComponentIndex:
    return ComponentIndex(DirectoryCache(engine, check_every=0))


@pytest.fixture
def ledger(engine: Engine, index: ComponentIndex, clock: Clock) -> LedgerService:
    return LedgerService(engine, index, clock)


@pytest.fixture
def incidents(engine: Engine, index: ComponentIndex, clock: Clock) -> IncidentService:
    return IncidentService(engine, platforms=("console",), index=index, clock=clock)


@pytest.fixture
def chat(
    engine: Engine, index: ComponentIndex, ledger: LedgerService, incidents: IncidentService
) -> ChatCore:
    return ChatCore(
        people=PeopleService(engine, index.directory),
        ownership=OwnershipService(engine, index),
        incidents=incidents,
        ledger=LedgerChat(ledger),
    )


def _rows(engine: Engine) -> list[Deployment]:
    with session_scope(engine) as session:
        return list(session.exec(select(Deployment)).all())


def test_deploy_records_once_per_request_as_the_person(chat: ChatCore, engine: Engine) -> None:
    answer = chat.answer("deploy rag v1.4.2 -- mail alice@example.com", console("alice", "k1"))
    assert answer.error is None and not answer.is_question
    assert "Retriever v1.4.2 to production" in answer.reply.text
    assert "by Alice Kim" in answer.reply.text
    again = chat.answer("deploy rag v1.4.2 -- mail alice@example.com", console("alice", "k1"))
    assert again.reply.text.startswith(t("ledger.already_recorded", "en", id="X", line="")[:7])
    [row] = _rows(engine)
    assert (row.component_id, row.person_id, row.source) == ("retriever", "alice", "chat")
    assert row.description == "mail [email]"
    chat.answer("deploy rag v1.4.3", console("alice", "k2"))
    assert len(_rows(engine)) == 2


def test_deploy_refusals_name_the_problem(chat: ChatCore, engine: Engine) -> None:
    unknown = chat.answer("deploy retreiver v1", console("alice"))
    assert unknown.error is not None and unknown.error.key == "ledger.unknown_component"
    assert "retriever" in unknown.reply.text
    usage = chat.answer("deploy rag", console("alice"))
    assert usage.error is not None and usage.reply.text == t("ledger.usage", "en")
    korean = chat.answer("deploy rag", console("minjun"))
    assert korean.reply.text == t("ledger.usage", "ko")
    assert _rows(engine) == []


def test_help_names_deploy_in_both_languages(chat: ChatCore) -> None:
    for person, locale in (("alice", "en"), ("minjun", "ko")):
        overview = chat.answer("help", console(person)).reply
        assert overview.card is not None and "deploy <" in (overview.card.text or "")
        topic = chat.answer("help deploys", console(person)).reply
        assert topic.text.startswith(t("help.deploys.title", locale))


def test_an_incident_card_shows_the_last_deployments_with_a_roll_back_link(
    chat: ChatCore, ledger: LedgerService, incidents: IncidentService, clock: Clock
) -> None:
    ledger.record(
        NewDeployment(
            "retriever",
            "v1.4.2",
            actor="judy",
            rollback_url=ROLLBACK,
            deployed_at=clock.now - timedelta(minutes=40),
        )
    )
    ledger.record(NewDeployment("indexer", "v9"))  # another component: not on the card
    answer = chat.answer("incident p1 retriever: empty answers", console("alice"))
    assert answer.error is None
    card = answer.reply.card
    assert card is not None
    line = "Retriever v1.4.2 to production 40 min ago by Judy Park"
    assert any(f.value == line for f in card.fields)
    [rollback] = [a for a in card.actions if a.url]
    assert (rollback.label, rollback.url) == ("Roll back", ROLLBACK)

    blocks = slack_render(answer.reply)["blocks"]
    [button] = [e for b in blocks if b["type"] == "actions" for e in b["elements"] if "url" in e]
    assert button["url"] == ROLLBACK and button["text"]["text"] == "Roll back"
    for block in blocks:
        assert Block.parse(block) is not None
    teams = teams_render(answer.reply)
    [open_url] = [a for a in teams["actions"] if a["type"] == "Action.OpenUrl"]
    assert open_url == {"type": "Action.OpenUrl", "title": "Roll back", "url": ROLLBACK}


def test_incident_status_lists_the_changes_in_the_hour_before(
    chat: ChatCore, ledger: LedgerService, clock: Clock
) -> None:
    before = clock.now
    ledger.record(NewDeployment("rag", "v1", deployed_at=before - timedelta(hours=2)))
    ledger.record(
        NewDeployment(
            "rag", "v2", kind="rollback", actor="ci", deployed_at=before - timedelta(minutes=5)
        )
    )
    chat.answer("incident p2 retriever: slow answers", console("alice"))
    clock.advance(600)
    status = chat.answer("incident status 1", console("alice"))
    assert status.is_question and status.reply.private
    card = status.reply.card
    assert card is not None
    changes = {f.label: f.value for f in card.fields}[t("ledger.field.changes", "en")]
    assert changes == "Retriever rolled back to v2 in production 5 min before by ci"
    assert not [a for a in card.actions if a.url]  # a rollback has nothing to roll back to


def test_a_card_without_deployments_is_unchanged(incidents: IncidentService) -> None:
    from launchops.services.actors import Actor
    from launchops.services.people import ANONYMOUS

    declared = incidents.declare(
        level="p2", title="slow", actor=Actor(ANONYMOUS, "x"), component_query="rag"
    )
    card = incident_card(declared.incident, "en").card
    assert card is not None and not any(a.url for a in card.actions)
    assert t("ledger.field.deployments", "en") not in {f.label for f in card.fields}


def test_a_declaration_reads_the_deployments_once_before_its_first_write(
    engine: Engine, ledger: LedgerService, incidents: IncidentService, clock: Clock
) -> None:
    from launchops.services.actors import Actor
    from launchops.services.people import ANONYMOUS
    from tests.services.test_directory import statements

    ledger.record(NewDeployment("rag", "v7", rollback_url=ROLLBACK))
    with statements(engine) as seen:
        declared = incidents.declare(
            level="p1", title="empty", actor=Actor(ANONYMOUS, "x"), component_query="rag"
        )
    reads = [i for i, s in enumerate(seen) if "FROM deployment" in s]
    first_write = next(i for i, s in enumerate(seen) if s.lstrip().upper().startswith("INSERT"))
    assert len(reads) == 1 and reads[0] < first_write
    assert [d.version for d in declared.incident.deployments] == ["v7"]
