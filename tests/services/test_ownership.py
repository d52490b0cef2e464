"""Owner lookup on both backends: names, aliases, fuzzy suggestions, confidentiality."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from launchops.domain.errors import NotFound
from launchops.services.ownership import OwnershipService
from launchops.services.people import ANONYMOUS, PeopleService


@pytest.mark.parametrize(
    "query",
    [
        "retriever",
        "Retriever",
        "RAG",
        "search index",
        "Search-Index",
        "searchindex",
        "검색기",
        "리트리버",
        "ＲＡＧ",
    ],
)
def test_finds_by_id_name_or_alias(synced: Engine, query: str) -> None:
    answer = OwnershipService(synced).who_owns(query, ANONYMOUS, shared=False)
    assert answer.component_id == "retriever"
    assert [p.name for p in answer.raci["R"]] == ["Data team"]
    assert [p.name for p in answer.raci["A"]] == ["Carol Jones"]
    assert [p.id for p in answer.raci["C"]] == ["ml"]
    assert [p.id for p in answer.raci["I"]] == ["product", "cs"]
    assert answer.oncall is not None and answer.oncall.name == "Chris Novak"
    assert answer.runbook == "https://wiki.example/runbooks/retriever"
    assert answer.area == "data"


def test_unknown_component_suggests_close_names(synced: Engine) -> None:
    with pytest.raises(NotFound) as caught:
        OwnershipService(synced).who_owns("retreiver", ANONYMOUS, shared=False)
    assert caught.value.key == "error.unknown_component"
    assert caught.value.params["suggestions"][0] == ("retriever", "Retriever")


def test_unrelated_text_gets_no_suggestions(synced: Engine) -> None:
    with pytest.raises(NotFound) as caught:
        OwnershipService(synced).who_owns("zzzzqqqq", ANONYMOUS, shared=False)
    assert caught.value.params["suggestions"] == []


def test_confidential_details_only_for_insiders_in_private(synced: Engine) -> None:
    people, ownership = PeopleService(synced), OwnershipService(synced)
    dan = people.identify("slack", ("U0DAN",))  # legal: Responsible team of guardrails
    bob = people.identify("slack", ("U0BOB",))  # ML: only Consulted
    inside = ownership.who_owns("guardrails", dan, shared=False)
    assert inside.runbook and not inside.redacted
    assert [p.id for p in inside.raci["R"]] == ["legal"]
    outside = ownership.who_owns("guardrails", bob, shared=False)
    assert outside.redacted and outside.runbook is None and outside.description is None
    assert [p.id for p in outside.raci["R"]] == ["legal"]  # the RACI itself is for everyone
    in_channel = ownership.who_owns("guardrails", dan, shared=True)
    assert in_channel.redacted and in_channel.runbook is None


def test_owns_lists_r_and_a_including_through_teams(synced: Engine) -> None:
    ownership = OwnershipService(synced)
    data = ownership.owned_by("Data team")
    assert {(h.component_id, h.role) for h in data.holdings} == {
        ("retriever", "R"),
        ("indexing", "R"),
    }
    alice = ownership.owned_by("alice")
    assert ("answer-model", "A", None) in {
        (h.component_id, h.role, h.via_team) for h in alice.holdings
    }
    assert ("answer-model", "R", "ML team") in {
        (h.component_id, h.role, h.via_team) for h in alice.holdings
    }


def test_owns_unknown_party_suggests(synced: Engine) -> None:
    with pytest.raises(NotFound) as caught:
        OwnershipService(synced).owned_by("platfrom")
    assert ("platform", "Platform team") in caught.value.params["suggestions"]


def test_identify_by_platform_ids(synced: Engine) -> None:
    people = PeopleService(synced)
    assert people.identify("slack", ("U0MINJUN",)).locale == "ko"
    assert people.identify("teams", ("nope", "29:1alice")).person_id == "alice"
    assert people.identify("console", ("carol",)).team_ids == frozenset({"data"})
    assert people.identify("slack", ("UNKNOWN",)) == ANONYMOUS
