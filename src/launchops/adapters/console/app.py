"""A local terminal chat over the same grammar and services as Slack and Teams.

It is the embedded default (`make run` with no chat credentials) and the quickest way to try
a command; it speaks as a catalog person (`--as alice`) so permissions and locale apply.
"""

from __future__ import annotations

import sys
from typing import TextIO

from launchops.adapters.console.render import render
from launchops.chat.commands import Asker, ChatCore

PROMPT = "launchops> "
QUIT_WORDS = {"quit", "exit", ":q"}


class ConsoleChat:
    def __init__(self, chat: ChatCore, *, as_person: str) -> None:
        self._chat = chat
        self._asker = Asker(platform="console", user_ids=(as_person,))

    def ask(self, text: str) -> str:
        return render(self._chat.handle(text, self._asker))

    def loop(self, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
        interactive = stdin.isatty()
        while True:
            if interactive:
                stdout.write(PROMPT)
                stdout.flush()
            line = stdin.readline()
            if not line:
                break
            text = line.strip()
            if not text:
                continue
            if text.lower() in QUIT_WORDS:
                break
            stdout.write(self.ask(text) + "\n\n")
            stdout.flush()
