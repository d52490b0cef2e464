"""Pages and incident updates for the local console: printed, so a demo shows every message."""

from __future__ import annotations

import itertools
import sys
import threading
from typing import Any, TextIO

from launchops.adapters.console.render import render
from launchops.delivery.sender import Delivery


class ConsoleSender:
    platform = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def send(self, delivery: Delivery) -> dict[str, Any]:
        where = delivery.destination
        previous = delivery.extra.get("depends_on_result") or {}
        if delivery.kind == "update":
            header = f"✎ message #{previous.get('id', '?')} updated"
        elif where.get("thread"):
            header = f"↳ in the thread of message #{previous.get('id', '?')}"
        elif where.get("user"):
            header = f"📟 to {where['user']}"
        else:
            header = f"# {where.get('channel', '?')}"
        with self._lock:
            message_id = next(self._ids) if delivery.kind != "update" else previous.get("id")
            self._stream.write(f"\n[{header}]\n{render(delivery.reply)}\n")
            self._stream.flush()
        return {"id": message_id}
