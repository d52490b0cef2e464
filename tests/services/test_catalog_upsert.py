"""A config sync is a diff: rows that leave the config are retired, not deleted, and a
project's stage, once stored, belongs to the gates."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from launchops.config import load_config
from launchops.domain.errors import NotFound
from launchops.services.catalog_upsert import stage_disagreements
from launchops.services.config_sync import sync_config
from launchops.services.ownership import OwnershipService
from launchops.services.people import ANONYMOUS, PeopleService
from launchops.store.gate_models import GateRequest, ProjectStage
from launchops.store.models import Component, Person, Project
from tests.conftest import CONFIG_DIR


def _copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(CONFIG_DIR, target)
    return target


def _edit(directory: Path, file: str, old: str, new: str) -> None:
    path = directory / file
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def _sync(engine: Engine, directory: Path) -> None:
    assert sync_config(engine, load_config(directory), source=str(directory), actor="t").changed


def test_a_component_that_leaves_the_config_is_retired_and_can_come_back(
    engine: Engine, tmp_path: Path
) -> None:
    sync_config(engine, load_config(CONFIG_DIR), source="config", actor="t")
    trimmed = _copy(tmp_path, "trimmed")
    catalog = (trimmed / "catalog.yaml").read_text()
    start = catalog.index("  - id: chat-widget")
    end = catalog.index("  - id:", start + 5)
    (trimmed / "catalog.yaml").write_text(catalog[:start] + catalog[end:])
    _edit(trimmed, "catalog.yaml", "inference-gateway, chat-widget,", "inference-gateway,")
    _sync(engine, trimmed)
    with Session(engine) as session:
        widget = session.get(Component, "chat-widget")
        assert widget is not None and widget.retired_at is not None  # history keeps its name
    with pytest.raises(NotFound):
        OwnershipService(engine).who_owns("chat-widget", ANONYMOUS, shared=False)

    _sync(engine, CONFIG_DIR)  # back in the config
    with Session(engine) as session:
        widget = session.get(Component, "chat-widget")
        assert widget is not None and widget.retired_at is None
    answer = OwnershipService(engine).who_owns("chat-widget", ANONYMOUS, shared=False)
    assert answer.component_name == "Chat widget"


def test_a_person_who_leaves_frees_their_chat_id_for_someone_else(
    engine: Engine, tmp_path: Path
) -> None:
    sync_config(engine, load_config(CONFIG_DIR), source="config", actor="t")
    moved = _copy(tmp_path, "moved")
    # Kevin leaves; his Slack id goes to a newcomer in the same sync.
    _edit(
        moved,
        "catalog.yaml",
        "  - {id: kevin,  name: Kevin Yoon,   slack: U0KEVIN,",
        "  - {id: nora,   name: Nora Lim,     slack: U0KEVIN,",
    )
    catalog = (moved / "catalog.yaml").read_text().replace("kevin", "nora")
    (moved / "catalog.yaml").write_text(catalog)
    _sync(engine, moved)
    with Session(engine) as session:
        kevin = session.get(Person, "kevin")
        assert kevin is not None and kevin.retired_at is not None and kevin.slack_id is None
    people = PeopleService(engine)
    assert people.identify("slack", ("U0KEVIN",)).person_id == "nora"
    assert people.identify("console", ("kevin",)).person_id is None


def test_a_projects_stage_is_seeded_once_and_then_belongs_to_the_gates(
    engine: Engine, tmp_path: Path
) -> None:
    sync_config(engine, load_config(CONFIG_DIR), source="config", actor="t")
    with Session(engine) as session:
        stage = session.get(ProjectStage, "support-assistant")
        assert stage is not None and stage.stage == "pilot"
        assert stage.entered_at == datetime(2026, 10, 1, tzinfo=UTC)  # `stage_entered`
        # A gate moves it (what the gate service will do), with a request pointing at it.
        stage.stage, stage.changed_by = "production", "gate:1"
        session.add(stage)
        session.add(
            GateRequest(
                project_id="support-assistant",
                from_stage="pilot",
                to_stage="production",
                status="passed",
                requested_by="alice",
                expires_at=datetime(2026, 12, 8, tzinfo=UTC),
                requirements=[],
                evidence=[],
                evidence_fingerprint="x",
            )
        )
        session.commit()

    renamed = _copy(tmp_path, "renamed")
    _edit(renamed, "catalog.yaml", "name: Support assistant", "name: Support assistant v2")
    _sync(engine, renamed)  # would have failed on the gate's foreign key with delete-and-insert
    with Session(engine) as session:
        assert session.get(ProjectStage, "support-assistant").stage == "production"  # type: ignore[union-attr]
        project = session.get(Project, "support-assistant")
        assert project is not None and project.name == "Support assistant v2"
        assert stage_disagreements(session, load_config(renamed)) == [(0, "pilot", "production")]
        assert len(session.exec(select(GateRequest)).all()) == 1


def test_config_check_warns_when_a_gate_moved_a_stage(sqlite_url: str, tmp_path: Path) -> None:
    """`config check` still passes (exit 0), and says where the file and the store differ."""
    import os
    import subprocess
    import sys

    from launchops.store import make_engine

    engine = make_engine(sqlite_url)
    try:
        sync_config(engine, load_config(CONFIG_DIR), source="config", actor="t")
        with Session(engine) as session:
            stage = session.get(ProjectStage, "ticket-summarizer")
            assert stage is not None
            stage.stage = "pilot"
            session.add(stage)
            session.commit()
    finally:
        engine.dispose()
    env = {**os.environ, "LAUNCHOPS_DATABASE_URL": sqlite_url}
    launchops = Path(sys.executable).parent / "launchops"
    done = subprocess.run(
        [str(launchops), "config", "check", str(CONFIG_DIR)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    line = next(
        n
        for n, text in enumerate((CONFIG_DIR / "catalog.yaml").read_text().splitlines(), 1)
        if text.strip() == "stage: poc"
    )
    assert (
        f"catalog.yaml:{line}: projects[1].stage: warning: 'poc' here, but the store says 'pilot'"
        in done.stderr
    )
    assert "ok —" in done.stdout
