"""The chat core answers anything: arbitrary unicode, and every command with random arguments.

tests/chat/test_grammar.py already checks that `parse` of any text returns a command or
raises a typed error. Here the whole `ChatCore.answer` runs, wired as `launchops serve` wires
it (incidents, gates, roadmap, failures, digest, deploy) on SQLite with the example config:
every answer has a non-empty text and no stack trace, no request ends in the catch-all
"something went wrong" (an exception the code did not expect), and an answer that counts as a
question (`Answer.is_question`: help, lookups, statuses, forms and every refusal) committed
no write to the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event
from sqlalchemy.engine import Engine

from launchops.chat.commands import Answer, Asker, ChatCore
from launchops.chat.grammar import INCIDENT_ACTIONS, parse
from launchops.domain.errors import BadCommand, LaunchOpsError
from launchops.main import AppContext, build_context, prepare_store
from launchops.settings import Settings
from tests.conftest import CONFIG_DIR

EXAMPLES = 600
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
GENERIC = "error.generic"  # the catch-all: an exception ChatCore did not expect
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")

# Words that steer the text into every branch of the grammar; the rest is random.
COMMANDS = (
    "help",
    "?",
    "도움말",
    "who owns",
    "who fixes",
    "owner of",
    "owns",
    "incident",
    *(f"incident {action}" for action in INCIDENT_ACTIONS),
    "incident p0",
    "incident p1",
    "incident sev2",
    "incident p9",
    "gate",
    "gate request",
    "gate status",
    "gate approve",
    "gate reject",
    "gate comment",
    "gate attest",
    "projects",
    "projects team",
    "failure",
    "deploy",
    "digest",
    "/launchops",
    "<@U0BOT>",
)
WORDS = (
    "rag",
    "retriever",
    "answer-model",
    "Answer model",
    "검색기",
    "ml",
    "data",
    "support-assistant",
    "pilot",
    "poc",
    "launch",
    "team",
    "to",
    "staging",
    "production",
    "--",
    ":",
    "yes",
    "no",
    "예",
    "아니오",
    "#1",
    "inc-1",
    "gate-1",
    "rollback",
    "launch.rollback",
    "https://example.com/x",
    "v1.4.2",
    "담당자 누구야?",
)
ASKERS = (
    Asker(platform="console", user_ids=("carol",)),
    Asker(platform="slack", user_ids=("U0ALICE",), shared=True, channel="C0MLTEAM"),
    Asker(platform="teams", user_ids=("29:1minjun",)),  # reads Korean
    Asker(platform="slack", user_ids=("U0NOBODY",), channel="C0UNKNOWN"),  # not in config
    Asker(platform="console", user_ids=()),
)

numbers = st.one_of(
    st.integers(min_value=-3, max_value=12),
    st.integers(min_value=-(10**20), max_value=10**20),
).map(str)
tokens = st.one_of(
    st.sampled_from(WORDS),
    numbers,
    st.text(min_size=1, max_size=12),
)
arguments = st.lists(tokens, max_size=8).map(" ".join)
commands = st.builds(
    lambda command, args, sep: f"{command}{sep}{args}",
    st.sampled_from(COMMANDS),
    arguments,
    st.sampled_from((" ", "  ", "\n", "\t", ": ")),
)
# Well-formed commands with random parts, so decisions (declare, deploy, record a failure,
# request, decide and attest a gate, act on an incident) run too, not only refusals.
names = st.one_of(
    st.sampled_from(("rag", "retriever", "answer-model", "Prompt templates", "검색기", "pii")),
    st.text(min_size=1, max_size=20),
)
projects = st.one_of(
    st.sampled_from(("support-assistant", "ticket-summarizer", "Support assistant")),
    st.text(min_size=1, max_size=20),
)
stages = st.one_of(st.sampled_from(("poc", "pilot", "production", "launch")), st.text(max_size=8))
ids = st.one_of(st.integers(0, 6), st.integers(-5, 10**12)).map(str)
free = st.text(max_size=60)
versions = st.one_of(st.sampled_from(("v1.4.2", "2026.11.30")), st.text(min_size=1, max_size=12))
formed = st.one_of(
    st.builds("incident {} {}: {}".format, st.sampled_from(("p1", "p3", "sev2")), names, free),
    st.builds("incident {} {}".format, st.sampled_from(tuple(INCIDENT_ACTIONS)), ids),
    st.builds("incident severity {} {}".format, ids, st.sampled_from(("p0", "p2", "p4", "x"))),
    st.builds("deploy {} {}{}".format, names, versions, st.sampled_from(("", " to staging"))),
    st.builds("deploy {} {} -- {}".format, names, versions, free),
    st.builds("failure {}: {}".format, names, free),
    st.builds("gate request {} {}".format, projects, stages),
    st.builds("gate status {}".format, projects),
    st.builds("gate {} {} {}".format, st.sampled_from(("approve", "reject")), ids, free),
    st.builds("gate comment {} {}".format, ids, free),
    st.builds(
        "gate attest {} {} {} {}".format,
        ids,
        st.sampled_from(("rollback", "launch.rollback", "launch.raci_defined", "x")),
        st.sampled_from(("yes", "no", "maybe")),
        st.sampled_from(("", "https://example.com/runbook", "ftp://x")),
    ),
    st.builds("projects {} team {}".format, stages, st.sampled_from(("ml", "data", "x"))),
    st.builds("who owns {}".format, names),
    st.builds("owns {}".format, st.sampled_from(("Carol Jones", "ml", "nobody", "박민준"))),
)
texts = st.one_of(st.text(max_size=400), commands, formed)
# Text as a chat platform delivers it: UTF-8, so no lone surrogates.
delivered = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=400),
    st.one_of(commands, formed, formed).filter(
        lambda text: not any(0xD800 <= ord(c) <= 0xDFFF for c in text)
    ),
)


@dataclass
class WriteCounter:
    """Write statements committed through the engine (rolled-back ones are dropped)."""

    committed: int = 0
    pending: list[str] = field(default_factory=list)

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._execute)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._rollback)

    def _execute(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(_WRITES):
            self.pending.append(statement.split("\n", 1)[0][:80])

    def _commit(self, _conn: Any) -> None:
        self.committed += len(self.pending)
        self.pending.clear()

    def _rollback(self, _conn: Any) -> None:
        self.pending.clear()


@dataclass
class Wired:
    chat: ChatCore
    writes: WriteCounter


@pytest.fixture(scope="module")
def wired(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wired]:
    """The chat core as `launchops serve` builds it, on SQLite with the example config; no
    scheduler or dispatcher runs, so every write counted is the request's own."""
    path: Path = tmp_path_factory.mktemp("chat-fuzz") / "launchops.db"
    values = {
        "LAUNCHOPS_DATABASE_URL": f"sqlite:///{path}",
        "LAUNCHOPS_CONFIG_DIR": str(CONFIG_DIR),
    }
    app_settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    prepare_store(app_settings, actor="test")
    ctx: AppContext = build_context(app_settings, with_chat_adapters=False)
    writes = WriteCounter()
    writes.attach(ctx.engine)
    try:
        yield Wired(ctx.chat, writes)
    finally:
        ctx.close()


def check_answer(answer: Answer, text: str) -> None:
    shown = answer.reply.text
    assert shown.strip(), f"empty answer to {text!r}"
    assert "Traceback" not in shown and 'File "' not in shown, shown
    assert answer.error is None or answer.error.key != GENERIC, (
        f"{text!r} hit an unexpected exception (see the chat.failed log line)"
    )
    assert answer.locale in ("en", "ko")


def ask(wired: Wired, text: str, asker: Asker) -> Answer:
    before = wired.writes.committed
    answer = wired.chat.answer(text, asker)
    check_answer(answer, text)
    if answer.is_question:
        assert wired.writes.committed == before, (
            f"{text!r} was answered as a question but committed a write"
        )
    return answer


@FUZZ
@given(text=texts)
def test_the_grammar_raises_nothing_but_bad_command(text: str) -> None:
    """Commands with random arguments, on top of test_grammar's arbitrary text: any refusal
    is a BadCommand with a catalogue key."""
    try:
        parse(text)
    except BadCommand as error:
        assert error.key


@FUZZ
@given(text=delivered, asker=st.sampled_from(ASKERS))
def test_chat_core_always_answers_and_questions_write_nothing(
    wired: Wired, text: str, asker: Asker
) -> None:
    ask(wired, text, asker)


@settings(FUZZ, max_examples=EXAMPLES // 3)
@given(text=st.text(max_size=200))
def test_chat_core_answers_text_with_lone_surrogates(wired: Wired, text: str) -> None:
    """JSON can carry `\\ud800` alone: no platform sends one, but an answer is still due."""
    answer = wired.chat.answer(text, ASKERS[0])
    assert answer.reply.text.strip()
    assert isinstance(answer.error, LaunchOpsError | None)


def test_the_question_check_counts_writes(wired: Wired) -> None:
    """The no-write check can fail: a declaration commits writes and is no question."""
    before = wired.writes.committed
    answer = ask(wired, "incident p3 rag: fuzz check", ASKERS[0])
    assert answer.error is None and not answer.is_question
    assert wired.writes.committed > before
