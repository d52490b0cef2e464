"""The chat core: text from any platform → typed command → service → `Reply`.

Adapters call `ChatCore.handle` and render what comes back; nothing here knows which
platform asked. Every failure becomes a short private reply: typed errors with their own
message, anything unexpected with a reference the operator can find in the logs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import structlog

from launchops.chat import views
from launchops.chat.grammar import Help, Owns, WhoOwns, parse
from launchops.chat.i18n import t
from launchops.chat.reply import Card, Reply
from launchops.domain.errors import LaunchOpsError, NotFound
from launchops.services.ownership import OwnershipService
from launchops.services.people import PeopleService, Viewer

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Asker:
    """Who sent the text, and whether the answer will be seen by others."""

    platform: str  # slack | teams | console
    user_ids: tuple[str, ...]
    shared: bool = False  # a channel post others will read


class ChatCore:
    def __init__(
        self, *, people: PeopleService, ownership: OwnershipService, default_locale: str = "en"
    ) -> None:
        self._people = people
        self._ownership = ownership
        self._default_locale = default_locale

    def locale_for(self, viewer: Viewer) -> str:
        return viewer.locale or self._default_locale

    def handle(self, text: str, asker: Asker) -> Reply:
        locale = self._default_locale
        try:
            viewer = self._people.identify(asker.platform, asker.user_ids)
            locale = self.locale_for(viewer)
            return self._run(text, asker, viewer, locale)
        except LaunchOpsError as error:
            return error_reply(error, locale)
        except Exception:
            ref = uuid.uuid4().hex[:8]
            log.exception("chat.failed", ref=ref, platform=asker.platform)
            return Reply(text=t("error.generic", locale, ref=ref), private=True)

    def _run(self, text: str, asker: Asker, viewer: Viewer, locale: str) -> Reply:
        command = parse(text)
        match command:
            case Help():
                return views.help_reply(locale)
            case WhoOwns(query=query):
                answer = self._ownership.who_owns(query, viewer, shared=asker.shared)
                return views.owner_reply(answer, locale, shared=asker.shared)
            case Owns(query=query):
                return views.holdings_reply(self._ownership.owned_by(query), locale)
        raise AssertionError(f"unhandled command {command!r}")  # pragma: no cover


def error_reply(error: LaunchOpsError, locale: str) -> Reply:
    """A typed error as a private reply; not-found errors offer what the user may have meant."""
    text = t(error.key, locale, **error.params)
    if isinstance(error, NotFound):
        suggestions: list[tuple[str, str]] = error.params.get("suggestions") or []
        hints = []
        if error.params.get("party"):
            hints.append(t("error.party_hint", locale, query=error.params["query"]))
        if suggestions:
            names = ", ".join(name for _, name in suggestions)
            hints.append(t("error.suggest", locale, names=names))
        if hints:
            actions = (
                views.suggestion_actions(suggestions, locale)
                if error.key == "error.unknown_component"
                else ()
            )
            body = " ".join(hints)
            return Reply(
                text=f"{text} {body}",
                private=True,
                card=Card(title=text, text=body, actions=actions),
            )
    return Reply(text=text, private=True)
