"""Link buttons (a neutral `Action` with a `url`, such as an incident card's Roll back): Slack
opens the URL in the browser and still sends the app a `block_actions` click, which must be
acknowledged or the button shows a warning. There is nothing else to do with it."""

from __future__ import annotations

import re

from slack_bolt import Ack, App

from launchops.messages.reply import LINK_ACTION

__all__ = ["register_link_buttons"]

_LINK_CLICK = re.compile(rf"^{LINK_ACTION}(:\d+)?$")


def _ack_only(ack: Ack) -> None:
    ack()


def register_link_buttons(app: App) -> None:
    app.action(_LINK_CLICK)(_ack_only)
