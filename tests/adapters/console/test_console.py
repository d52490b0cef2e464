"""The console: the real `launchops` command on a fresh SQLite store, driven over stdin."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import Engine

from launchops.adapters.console.app import ConsoleChat
from launchops.chat.commands import ChatCore
from launchops.services.ownership import OwnershipService
from launchops.services.people import PeopleService
from tests.conftest import CONFIG_DIR


def _launchops(
    args: list[str], tmp_path: Path, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LAUNCHOPS_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "LAUNCHOPS_CONFIG_DIR": str(CONFIG_DIR),
    }
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "MicrosoftAppId"):
        env.pop(name, None)
    executable = Path(sys.executable).parent / "launchops"
    return subprocess.run(
        [str(executable), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )


def test_run_without_credentials_opens_the_console_and_answers(tmp_path: Path) -> None:
    result = _launchops(["run"], tmp_path, stdin="who owns rag\nowns data\nquit\n")
    assert result.returncode == 0, result.stderr
    assert "SLACK_BOT_TOKEN" in result.stdout  # says how to connect Slack and Teams
    assert "MicrosoftAppId" in result.stdout
    assert "Retriever — who owns it" in result.stdout
    assert "Carol Jones" in result.stdout and "Chris Novak" in result.stdout
    assert "What Data team owns" in result.stdout
    assert "Traceback" not in result.stderr


def test_console_as_a_korean_speaker(tmp_path: Path) -> None:
    result = _launchops(["console", "--as", "minjun"], tmp_path, stdin="검색기 담당자 누구?\n")
    assert result.returncode == 0, result.stderr
    assert "검색기" not in result.stdout.splitlines()[0] or "담당" in result.stdout
    assert "담당 (R)" in result.stdout and "Data team" in result.stdout


def test_config_check_reports_errors_with_lines_and_exit_1(tmp_path: Path) -> None:
    broken = tmp_path / "cfg"
    broken.mkdir()
    (broken / "catalog.yaml").write_text(
        (CONFIG_DIR / "catalog.yaml").read_text().replace("oncall: [chris]", "oncall: [nobody]")
    )
    (broken / "policy.yaml").write_text((CONFIG_DIR / "policy.yaml").read_text())
    result = _launchops(["config", "check", str(broken)], tmp_path)
    assert result.returncode == 1
    assert "catalog.yaml:" in result.stderr and "unknown person 'nobody'" in result.stderr
    ok = _launchops(["config", "check", str(CONFIG_DIR)], tmp_path)
    assert ok.returncode == 0 and "10 components" in ok.stdout


def test_db_upgrade_and_config_sync_commands(tmp_path: Path) -> None:
    assert _launchops(["db", "upgrade"], tmp_path).returncode == 0
    first = _launchops(["config", "sync"], tmp_path)
    assert first.returncode == 0 and "config loaded" in first.stdout
    again = _launchops(["config", "sync"], tmp_path)
    assert "config unchanged" in again.stdout


def test_console_chat_in_process(tmp_path: Path, engine: Engine) -> None:
    from launchops.config import load_config
    from launchops.services.config_sync import sync_config

    sync_config(engine, load_config(CONFIG_DIR), source="t", actor="t")
    chat = ChatCore(people=PeopleService(engine), ownership=OwnershipService(engine))
    console = ConsoleChat(chat, as_person="bob")
    out = io.StringIO()
    console.loop(io.StringIO("\nwho owns guardrails\nwho owns nothing-like-it\nexit\nhelp\n"), out)
    text = out.getvalue()
    assert "Legal & compliance" in text
    assert "runbooks/guardrails" not in text  # bob is not in legal: confidential details hidden
    assert "I don't know a component called “nothing-like-it”." in text
    assert "LaunchOps — what I can do" not in text  # `exit` stopped before `help`


def test_help_lists_every_command_in_both_languages(engine: Engine) -> None:
    """`help` names each command the grammar has, and `help incidents` details each incident
    action, for an English speaker (bob) and a Korean one (minjun)."""
    from launchops.config import load_config
    from launchops.services.config_sync import sync_config

    sync_config(engine, load_config(CONFIG_DIR), source="t", actor="t")
    chat = ChatCore(people=PeopleService(engine), ownership=OwnershipService(engine))
    for person, heading in (("bob", "Incidents"), ("minjun", "인시던트")):
        console = ConsoleChat(chat, as_person=person)
        overview = console.ask("help")
        assert heading in overview
        for command in ("who owns", "owns", "incident <p0|p1|p2|p3>", "incident ack", "help"):
            assert command in overview, (person, command)
        detail = console.ask("help incidents")
        for action in ("ack", "resolve", "escalate", "status", "severity", "postmortem"):
            assert f"incident {action}" in detail, (person, action)
        assert "P0" in detail and "P3" in detail
        assert "who owns <" in console.ask("help ownership")
        assert "ownership" in console.ask("help frobnicate")  # names the topics it has
