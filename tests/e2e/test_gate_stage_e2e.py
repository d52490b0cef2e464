"""A stage moved by a gate survives `launchops config sync` and a restart of the bot.

The catalog keeps saying where the project started (`stage: pilot`); the store says where a
gate moved it (`production`); `launchops config check` warns about the disagreement, naming
the file and line. Real processes throughout: `launchops serve` (SIGKILLed, then started
again) and the `launchops config …` commands.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.gate_chat import Store, env, gate_config, launchops, say
from tests.e2e.process import ServeProcess
from tests.fakes.slack_api import FakeSlackAPI

pytestmark = pytest.mark.e2e


def test_a_gated_stage_survives_config_sync_and_a_restart(
    tmp_path: Path, slack: FakeSlackAPI
) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    config = gate_config(tmp_path)
    bot_env = env(url, slack, config)
    store = Store(url)
    try:
        first = ServeProcess(bot_env, tmp_path, "first").start()
        try:
            answer = say(first.url, slack, "U0ALICE", "gate request support-assistant production")
            assert "Requested gate #1" in answer, answer
            for user in ("U0DAN", "U0ERIN", "U0MIA", "U0GRACE"):
                answer = say(first.url, slack, user, "gate approve 1")
            assert "Support assistant is now in Production" in answer, answer
        finally:
            first.kill()
        assert store.stage("support-assistant") == "production"

        # A real change to the catalog (a new alias), which still says `stage: pilot`.
        catalog = config / "catalog.yaml"
        text = catalog.read_text()
        assert text.count("    stage: pilot\n") == 1
        catalog.write_text(text.replace("[rag, search index,", "[rag, search index, finder,"))
        synced = launchops(["config", "sync"], bot_env, tmp_path)
        assert synced.returncode == 0 and "config loaded" in synced.stdout, synced.stderr
        again = launchops(["config", "sync"], bot_env, tmp_path)
        assert again.returncode == 0 and "config unchanged" in again.stdout, again.stderr
        assert store.stage("support-assistant") == "production"
        assert store.stage("ticket-summarizer") == "poc"

        checked = launchops(["config", "check"], bot_env, tmp_path)
        assert checked.returncode == 0, checked.stderr
        [warning] = [line for line in checked.stderr.splitlines() if "warning" in line]
        assert "catalog.yaml:" in warning and "projects[0].stage" in warning, warning
        assert "'pilot' here, but the store says 'production' (moved by a gate)" in warning
        assert "ok — 15 people" in checked.stdout

        with ServeProcess(bot_env, tmp_path, "second") as second:  # syncs config at start
            status = say(second.url, slack, "U0ALICE", "gate status support-assistant")
            assert status.startswith("stage: production\nNo open gate request."), status
            assert "gate #1: pilot → production, Passed" in status
            # The next gate starts from the stored stage, not the catalog's.
            answer = say(second.url, slack, "U0ALICE", "gate request support-assistant scale")
            assert "Requested gate #2" in answer and "Scale" in answer, answer
            answer = say(second.url, slack, "U0ALICE", "gate status support-assistant")
            assert answer.startswith("stage: production\nrequested: scale (gate #2"), answer
        assert catalog.read_text().count("    stage: pilot\n") == 1  # the file is untouched
        assert store.stage("support-assistant") == "production"
        assert store.request(2).from_stage == "production"
    finally:
        store.close()
