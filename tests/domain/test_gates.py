"""Gate rules: the next stage, quotas per stakeholder group, decisions bound to evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from launchops.domain.gates import (
    STAGES,
    Decision,
    Requirement,
    next_stage,
    reminders_due,
    requirements,
    tally,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
STAKEHOLDERS = {
    "legal": ["dan"],
    "security": ["erin"],
    "cs": ["frank", "mia"],
    "business": ["grace"],
}
PRODUCTION = {"legal": "all", "security": "all", "cs": 1, "business": 1}


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def approve(person: str, minute: int, version: int = 1) -> Decision:
    return Decision(person, "approve", version, at(minute))


@pytest.mark.parametrize(
    ("stage", "expected"),
    [("explore", "poc"), ("poc", "pilot"), ("pilot", "production"), ("production", "scale")],
)
def test_each_stage_has_exactly_one_next(stage: str, expected: str) -> None:
    assert next_stage(stage) == expected


def test_nothing_follows_scale_or_an_unknown_stage() -> None:
    assert next_stage("scale") is None
    assert next_stage("moonshot") is None


def test_all_means_every_member_and_a_number_means_that_many() -> None:
    needs = {r.group: r for r in requirements(PRODUCTION, STAKEHOLDERS)}
    assert needs["legal"] == Requirement("legal", ("dan",), 1)
    assert needs["cs"] == Requirement("cs", ("frank", "mia"), 1)
    assert list(needs) == ["legal", "security", "cs", "business"]  # the policy's order
    assert all(r.satisfiable for r in needs.values())
    assert not requirements({"board": 2}, {"board": ["x"]})[0].satisfiable


def test_the_gate_passes_when_every_group_has_its_approvals() -> None:
    needs = requirements(PRODUCTION, STAKEHOLDERS)
    decisions = [approve("dan", 1), approve("erin", 2), approve("mia", 3)]
    half = tally(needs, decisions, evidence_version=1)
    assert half.state == "open"
    assert half.missing == {"business": 1}
    assert half.pending == {"business": ("grace",)}
    done = tally(needs, [*decisions, approve("grace", 4)], evidence_version=1)
    assert done.state == "passed"
    assert done.approved["cs"] == ("mia",)


def test_the_first_rejection_closes_the_gate() -> None:
    needs = requirements(PRODUCTION, STAKEHOLDERS)
    decisions = [
        approve("dan", 1),
        Decision("erin", "reject", 1, at(2), "no pen test yet"),
        Decision("grace", "reject", 1, at(3), "later"),
    ]
    result = tally(needs, decisions, evidence_version=1)
    assert result.state == "rejected"
    assert result.rejected_by is not None and result.rejected_by.person == "erin"


def test_approvals_on_older_evidence_stop_counting_until_given_again() -> None:
    needs = requirements({"business": 1, "security": 1}, STAKEHOLDERS)
    before = [approve("grace", 1, version=1), approve("erin", 2, version=1)]
    assert tally(needs, before, evidence_version=1).state == "passed"
    changed = tally(needs, before, evidence_version=2)  # a P1 was declared meanwhile
    assert changed.state == "open"
    assert changed.stale == ("erin", "grace")
    again = tally(
        needs, [*before, approve("grace", 5, 2), approve("erin", 6, 2)], evidence_version=2
    )
    assert again.state == "passed" and again.stale == ()


def test_a_person_in_two_groups_counts_for_both_with_one_decision() -> None:
    needs = requirements({"legal": 1, "business": 1}, {"legal": ["dan"], "business": ["dan"]})
    assert tally(needs, [approve("dan", 1)], evidence_version=1).state == "passed"


def test_an_open_gate_past_its_time_is_expired_but_a_decided_one_is_not() -> None:
    needs = requirements({"business": 1}, STAKEHOLDERS)
    assert tally(needs, [], evidence_version=1, expired=True).state == "expired"
    assert tally(needs, [approve("grace", 1)], evidence_version=1, expired=True).state == "passed"


def test_a_later_decision_by_the_same_person_replaces_the_earlier() -> None:
    needs = requirements({"business": 1}, STAKEHOLDERS)
    decisions = [Decision("grace", "reject", 1, at(1), "no"), approve("grace", 2)]
    assert tally(needs, decisions, evidence_version=1).state == "passed"


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["dan", "erin", "frank", "mia", "grace", "zed"]),
            st.sampled_from(["approve", "reject"]),
            st.integers(min_value=1, max_value=3),
            st.integers(min_value=0, max_value=10_000),
        ),
        max_size=12,
    ),
    st.integers(min_value=1, max_value=3),
)
def test_tally_is_consistent_for_any_decisions(
    raw: list[tuple[str, str, int, int]], version: int
) -> None:
    needs = requirements(PRODUCTION, STAKEHOLDERS)
    decisions = [Decision(p, v, ver, at(m)) for p, v, ver, m in raw]  # type: ignore[arg-type]
    result = tally(needs, decisions, evidence_version=version)
    latest: dict[str, Decision] = {}
    for d in sorted(decisions, key=lambda d: d.at):
        latest[d.person] = d
    if any(d.verdict == "reject" for d in latest.values()):
        assert result.state == "rejected"
    elif result.state == "passed":
        for need in needs:
            counted = [
                p
                for p in need.members
                if p in latest
                and latest[p].verdict == "approve"
                and latest[p].evidence_version == version
            ]
            assert len(counted) >= need.needed
    else:
        assert result.state == "open" and result.missing
    assert "zed" not in {p for group in result.approved.values() for p in group}


@pytest.mark.parametrize(
    ("hours", "sent", "owed"),
    [(0, 0, 0), (23, 0, 0), (24, 0, 1), (49, 1, 1), (49, 2, 0), (24 * 30, 0, 6)],
)
def test_reminders_every_day_until_expiry(hours: int, sent: int, owed: int) -> None:
    due = reminders_due(
        T0,
        remind_every=timedelta(days=1),
        expire_after=timedelta(days=7),
        now=T0 + timedelta(hours=hours),
        sent=sent,
    )
    assert due == owed


def test_stage_names_are_the_contract() -> None:
    assert STAGES == ("explore", "poc", "pilot", "production", "scale")
