"""Gate evidence: each stage's questions, the launch checklist, and what changes the fingerprint."""

from __future__ import annotations

from dataclasses import replace

from launchops.domain.evidence import (
    LAUNCH_CHECKLIST,
    STAGE_EVIDENCE,
    Attestation,
    ComponentFacts,
    ProjectFacts,
    evidence,
    fingerprint,
)

RETRIEVER = ComponentFacts("retriever", "Retriever", True, True, True, "https://wiki/r", "internal")
WIDGET = ComponentFacts("widget", "Chat widget", True, False, False, None, "public")
HEALTHY = ProjectFacts((RETRIEVER,))


def items_by_key(stage: str, facts: ProjectFacts, **attested: Attestation) -> dict[str, object]:
    return {item.key: item for item in evidence(stage, facts, attested)}


def test_the_launch_checklist_is_the_guides_eleven_questions() -> None:
    assert len(LAUNCH_CHECKLIST) == 11
    production = [key for key, _ in STAGE_EVIDENCE["production"]]
    assert all(key in production for key, _ in LAUNCH_CHECKLIST)


def test_computed_checks_name_what_is_missing() -> None:
    facts = ProjectFacts((RETRIEVER, WIDGET), open_major=("INC-7",))
    items = {i.key: i for i in evidence("production", facts, {})}
    assert items["launch.raci_defined"].ok is False
    assert items["launch.raci_defined"].detail == "Chat widget"
    assert items["launch.runbook"].detail == "Chat widget"
    assert items["launch.incident_owner"].ok is False
    assert items["check.open_major"].ok is False and items["check.open_major"].detail == "INC-7"
    assert items["launch.data_classified"].ok is True


def test_attested_items_wait_for_a_person_and_say_who() -> None:
    blank = {i.key: i for i in evidence("poc", HEALTHY, {})}
    assert blank["poc.no_blocker"].ok is None
    word = Attestation(ok=True, by="alice", value="no blocker found in the 2-week spike")
    given = {i.key: i for i in evidence("poc", HEALTHY, {"poc.no_blocker": word})}
    assert given["poc.no_blocker"].ok is True and given["poc.no_blocker"].by == "alice"


def test_every_stage_shows_the_checks_approvers_need() -> None:
    for stage in ("poc", "pilot", "production", "scale"):
        keys = [i.key for i in evidence(stage, HEALTHY, {})]
        assert "check.open_major" in keys and "check.runbooks" in keys
        assert len(keys) == len(set(keys))


def test_a_new_major_incident_changes_the_fingerprint_an_attestation_does_not() -> None:
    before = fingerprint(evidence("pilot", HEALTHY, {}))
    attested = evidence(
        "pilot", HEALTHY, {"pilot.satisfaction": Attestation(True, "alice", "4.3/5")}
    )
    assert fingerprint(attested) == before
    incident = replace(HEALTHY, open_major=("INC-12",))
    assert fingerprint(evidence("pilot", incident, {})) != before
    assert fingerprint(evidence("pilot", ProjectFacts((RETRIEVER, WIDGET)), {})) != before


def test_every_evidence_item_has_a_label_in_both_languages() -> None:
    from launchops.domain.evidence import ALWAYS_CHECKED
    from launchops.messages.i18n import catalogue

    keys = {key for items in STAGE_EVIDENCE.values() for key, _ in items} | set(ALWAYS_CHECKED)
    for locale in ("en", "ko"):
        labels = catalogue(locale)
        missing = {key for key in keys if f"gate.evidence.{key}" not in labels}
        assert missing == set(), (locale, missing)
