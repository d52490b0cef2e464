"""A running bot picks up config edits, and keeps its last good config when an edit is broken."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from sqlalchemy.engine import Engine

from launchops.config import load_config
from launchops.scheduler import ConfigReloader
from launchops.services.config_sync import sync_config
from launchops.services.ownership import OwnershipService
from launchops.services.people import ANONYMOUS
from tests.conftest import CONFIG_DIR


def _touch_later(path: Path, text: str, bump: int) -> None:
    path.write_text(text)
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + bump))  # mtime granularity varies


def test_reload_keeps_last_good_then_takes_a_fixed_edit(engine: Engine, tmp_path: Path) -> None:
    directory = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, directory)
    sync_config(engine, load_config(directory), source="start", actor="t")
    reloader = ConfigReloader(engine, directory)
    ownership = OwnershipService(engine)
    assert reloader.check() is None  # nothing changed

    catalog = directory / "catalog.yaml"
    good_text = catalog.read_text()
    _touch_later(catalog, good_text.replace("oncall: [chris]", "oncall: [nobody]"), 10)
    assert reloader.check() is False
    assert ownership.who_owns("rag", ANONYMOUS, shared=False).oncall is not None  # still served

    _touch_later(catalog, good_text.replace("oncall: [chris]", "oncall: [carol]"), 20)
    assert reloader.check() is True
    answer = ownership.who_owns("rag", ANONYMOUS, shared=False)
    assert answer.oncall is not None and answer.oncall.name == "Carol Jones"


def test_old_inbound_receipts_are_forgotten(engine: Engine) -> None:
    from datetime import timedelta

    from launchops.services.messaging import MessagingService

    messaging = MessagingService(engine)
    assert messaging.first_time("slack:event:Ev1")
    assert not messaging.first_time("slack:event:Ev1")
    assert messaging.forget_receipts(older_than=timedelta(days=1)) == 0
    assert messaging.forget_receipts(older_than=timedelta(seconds=-1)) == 1
    assert messaging.first_time("slack:event:Ev1")
