"""Paging targets resolved against a RACI and on-call lists, without a database."""

from __future__ import annotations

from launchops.domain.paging import OrgSnapshot, PageReason, TeamInfo, plan_pages

ORG = OrgSnapshot(
    teams={
        "data": TeamInfo("data", members=("carol", "chris"), oncall=("chris",), has_channel=True),
        "ml": TeamInfo("ml", members=("alice", "bob"), oncall=("bob", "alice"), has_channel=True),
        "lead": TeamInfo("lead", members=("olivia", "grace"), oncall=(), has_channel=False),
    },
    raci={"R": (("team", "data"),), "A": (("person", "carol"),), "C": (("team", "ml"),)},
)


def test_responsible_pages_the_rota_and_posts_in_the_channel() -> None:
    plan = plan_pages(["responsible"], ORG)
    assert plan.people == {"chris": PageReason("responsible", "data")}
    assert plan.channels == ["data"]


def test_responsible_oncall_is_the_first_of_the_rota_only() -> None:
    org = OrgSnapshot(teams=ORG.teams, raci={"R": (("team", "ml"),)})
    assert list(plan_pages(["responsible_oncall"], org).people) == ["bob"]


def test_oncall_all_and_accountable_in_order_without_duplicates() -> None:
    plan = plan_pages(["oncall_all", "accountable"], ORG)
    assert list(plan.people) == ["chris", "bob", "alice", "carol"]
    assert plan.people["carol"] == PageReason("accountable")
    assert plan.channels == []


def test_a_team_without_a_rota_is_paged_through_its_members() -> None:
    plan = plan_pages(["team:lead"], ORG)
    assert plan.people == {
        "olivia": PageReason("team", "lead"),
        "grace": PageReason("team", "lead"),
    }
    org = OrgSnapshot(teams=ORG.teams, raci={"R": (("team", "lead"),)})
    assert plan_pages(["responsible"], org).people["grace"] == PageReason(
        "responsible_team", "lead"
    )


def test_unknown_targets_and_teams_page_nobody() -> None:
    assert plan_pages(["team:nope", "person:", "whatever", "consulted"], ORG).people == {
        "bob": PageReason("consulted", "ml"),
        "alice": PageReason("consulted", "ml"),
    }
