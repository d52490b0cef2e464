"""The chat grammar: every platform's text parses the same way, and nothing crashes it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from launchops.chat.grammar import (
    MAX_QUERY_CHARS,
    Command,
    DeclareIncident,
    Help,
    IncidentAction,
    IncidentForm,
    Owns,
    WhoOwns,
    parse,
)
from launchops.domain.errors import BadCommand, LaunchOpsError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("who owns retriever", WhoOwns("retriever")),
        ("Who Owns the Retriever?", WhoOwns("Retriever")),
        ("who fixes rag", WhoOwns("rag")),
        ("owner search index", WhoOwns("search index")),
        ("/owner rag", WhoOwns("rag")),
        ("<@U0BOT> who owns   vector   store ", WhoOwns("vector store")),
        ("/launchops who owns rag", WhoOwns("rag")),
        ("launchops owner of rag", WhoOwns("rag")),
        ("검색기 담당자 누구야?", WhoOwns("검색기")),
        ("owns data", Owns("data")),
        ("OWNS Alice Kim", Owns("Alice Kim")),
        ("help", Help()),
        ("", Help()),
        ("<@U0BOT>", Help()),
        ("who owns `rag`", WhoOwns("rag")),
    ],
)
def test_parses(text: str, expected: object) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("who owns", "usage.who_owns"),
        ("who owns ???", "usage.who_owns"),
        ("owns", "usage.owns"),
        ("frobnicate the thing", "error.unknown_command"),
        ("who owns " + "x" * 300, "error.query_too_long"),
        ("who owns " + "x" * 5000, "error.input_too_long"),
    ],
)
def test_refuses_with_a_specific_message(text: str, key: str) -> None:
    with pytest.raises(BadCommand) as caught:
        parse(text)
    assert caught.value.key == key


@given(st.text(max_size=300))
def test_any_text_parses_or_raises_a_typed_error(text: str) -> None:
    try:
        command = parse(text)
    except LaunchOpsError:
        return
    assert isinstance(command, Command)
    if isinstance(command, WhoOwns | Owns):
        assert command.query and len(command.query) <= 200
        assert command.query == command.query.strip()


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=40))
def test_who_owns_keeps_the_component_words(name: str) -> None:
    try:
        command = parse(f"who owns {name}")
    except BadCommand as error:
        assert error.key in {"usage.who_owns", "error.query_too_long"}
        return
    assert isinstance(command, WhoOwns)
    typed = " ".join(name.replace("\x00", "").split())  # a NUL is dropped (see below)
    assert command.query.casefold() in typed.casefold()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("help incidents", Help("incidents")),
        ("help  Who Owns ", Help("who owns")),
        ("도움말 장애", Help("장애")),
        ("incident", IncidentForm()),
        ("/incident ack 12", IncidentAction("ack", 12)),
        ("incident status", IncidentAction("status")),
        ("incident severity INC-7 P0", IncidentAction("severity", 7, "p0")),
        (
            "incident p1 retriever: empty answers",
            DeclareIncident(
                "p1", "empty answers", "retriever", None, "retriever: empty answers", guessed=True
            ),
        ),
        (
            "incident P1 API returns 500: users blocked",
            DeclareIncident(
                "p1",
                "users blocked",
                "API returns 500",
                None,
                "API returns 500: users blocked",
                guessed=True,
            ),
        ),
        (
            "incident p2 rag: slow -- since 9:00, every query",
            DeclareIncident("p2", "slow", "rag", "since 9:00, every query", "rag: slow", True),
        ),
        (
            "incident p3 typo on the page",
            DeclareIncident("p3", "typo on the page", None, None, "typo on the page"),
        ),
    ],
)
def test_incident_and_help_commands_parse(text: str, expected: Command) -> None:
    assert parse(text) == expected


def test_a_colon_that_names_no_component_keeps_the_whole_text_as_title() -> None:
    command = parse("incident p1 API returns 500: users blocked")
    assert isinstance(command, DeclareIncident)
    plain = command.without_component()
    assert plain.component is None
    assert plain.title == "API returns 500: users blocked"
    assert plain.level == "p1"


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=300))
def test_any_declaration_text_parses_or_raises_a_typed_error(rest: str) -> None:
    try:
        command = parse(f"incident p1 {rest}")
    except LaunchOpsError:
        return
    assert isinstance(command, DeclareIncident | IncidentAction | IncidentForm)
    if isinstance(command, DeclareIncident):
        assert command.level == "p1"
        assert command.component is None or 0 < len(command.component) <= MAX_QUERY_CHARS
        # Nothing typed is lost: the title without a component is the text before ` -- `.
        assert command.without_component().title == command.text


def test_a_nul_character_typed_is_dropped_not_kept_for_the_store() -> None:
    command = parse("incident p2 rag: answers\x00 are slow")
    assert isinstance(command, DeclareIncident)
    assert "\x00" not in command.title and command.title == "answers are slow"
