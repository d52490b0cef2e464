"""The Teams turn logic: an incoming activity → the chat core → the reply.

A question (help, who owns, owns, an incident's status, a form to fill in, and every refusal
or usage message) commits nothing, so its answer is sent in the turn itself, before the HTTP
response, and writes nothing (DESIGN.md §5). A decision (a declaration, an acknowledgement…)
is committed inside `ChatCore.answer` with its pages, and its confirmation is queued in the
outbox in the same way, all before Teams gets its HTTP response: a crash after that loses
nothing, and a redelivered activity finds what it already did (the outbox row's dedupe key
and the declaration's request key both come from the activity).

An answer in the turn that the Bot Connector refuses for now (429, 5xx, no token) falls back
to the outbox, which retries it; a redelivered question is recognised in memory.
Card buttons and the incident form are in invoke.py; the activity's reading in activity.py.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any, Final

import structlog
from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
from botbuilder.schema import Activity, ChannelAccount
from starlette.concurrency import run_in_threadpool

from launchops.adapters.teams.activity import (
    PLATFORM,
    RUN_COMMAND,
    Turn,
    command_text,
    conversation_reference,
    read_turn,
    reference_keys,
    strip_bot_mention,
)
from launchops.adapters.teams.forms import (
    MAX_COMPONENT_CHOICES,
    FormState,
    form_reply,
)
from launchops.adapters.teams.invoke import (
    ACTIVITY_MESSAGE_TYPE,
    ADAPTIVE_CARD_ACTION,
    NEEDS_COMPONENT,
    CardActions,
    error_body,
    execute_action,
)
from launchops.adapters.teams.references import ConversationMemory
from launchops.chat.commands import Answer, ChatCore
from launchops.chat.grammar import DeclareIncident, IncidentForm
from launchops.delivery.sender import Delivery, PermanentFailure
from launchops.messages.i18n import t
from launchops.messages.reply import Reply
from launchops.services.messaging import MessagingService

__all__ = [
    "ACTIVITY_MESSAGE_TYPE",
    "PLATFORM",
    "RUN_COMMAND",
    "LaunchOpsBot",
    "ReplyNow",
    "command_text",
    "conversation_reference",
    "reference_keys",
    "strip_bot_mention",
]

# Sends one reply to the Bot Connector at once (TeamsSender.send_now): RetryLater or
# PermanentFailure when it cannot.
ReplyNow = Callable[[Delivery], Any]
# Redelivered activities recognised without a store: Teams retries within seconds.
RECENT_TURNS: Final = 10_000

log = structlog.get_logger(__name__)


class LaunchOpsBot(ActivityHandler):  # type: ignore[misc]  # botbuilder is untyped
    """Teams activities → ChatCore; questions answered in the turn, decisions via the outbox.

    `component_choices` lists (id, name) of the components for the incident form; without it
    the form asks for the component's name as text. Without `reply_now` every reply goes
    through the outbox.
    """

    def __init__(
        self,
        *,
        chat: ChatCore,
        messaging: MessagingService,
        default_locale: str,
        component_choices: Callable[[], Sequence[tuple[str, str]]] | None = None,
        reply_now: ReplyNow | None = None,
    ) -> None:
        super().__init__()
        self._chat = chat
        self._messaging = messaging
        self._default_locale = default_locale
        self._component_choices = component_choices or (lambda: ())
        self._reply_now = reply_now
        self._references = ConversationMemory(messaging)
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._recent_lock = threading.Lock()
        self._cards = CardActions(
            chat=chat, messaging=messaging, answer=self._answer, choices=self._choices
        )

    # ActivityHandler hooks --------------------------------------------------------------------
    async def on_turn(self, turn_context: TurnContext) -> None:
        fresh = self._references.unknown(reference_keys(turn_context.activity))
        if fresh:
            await run_in_threadpool(self._references.store, fresh)
        await super().on_turn(turn_context)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity: Activity = turn_context.activity
        text = command_text(activity)
        if text is None:
            log.info("teams.message_ignored", activity_id=activity.id)
            return
        await run_in_threadpool(self._answer, self._turn(activity, "reply"), text)

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        activity: Activity = turn_context.activity
        bot_id = activity.recipient.id if activity.recipient else None
        if bot_id and any(getattr(m, "id", None) == bot_id for m in members_added or ()):
            await self._welcome(activity)

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self._welcome(turn_context.activity)

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse | None:
        """`adaptiveCard/action` (Action.Execute): a card button (incident, gate, suggestion),
        or the incident form's submit; invoke.CardActions picks the work by the verb.

        Teams waits for this response (and shows its card or message to the person who
        clicked), so the work is done, and committed, before answering.
        """
        activity: Activity = turn_context.activity
        if activity.name != ADAPTIVE_CARD_ACTION:
            answer = await super().on_invoke_activity(turn_context)
            if answer is not None and answer.status == HTTPStatus.NOT_IMPLEMENTED:
                # botbuilder's 501 would read as our failure; this bot's cards never send
                # another invoke, so one is a request Teams would not make: a 4xx (§5).
                log.warning("teams.unsupported_invoke", name=str(activity.name)[:100])
                return InvokeResponse(
                    status=int(HTTPStatus.BAD_REQUEST), body={"detail": "unsupported invoke"}
                )
            return answer
        execute = execute_action(activity.value)
        body: dict[str, Any] | None = None
        if execute is not None:
            verb, data = execute
            turn = self._turn(activity, "reply")
            body = await run_in_threadpool(self._cards.execute, verb, turn, data)
        return InvokeResponse(status=int(HTTPStatus.OK), body=body or error_body())

    # synchronous work (run in the thread pool: the store is synchronous SQLAlchemy) -----------
    def _answer(self, turn: Turn, text: str) -> Reply:
        """Run `text` and answer the message (or card) it came from: in the turn for a
        question, through the outbox for a decision (already committed when this returns)."""
        if self._seen_before(turn):
            log.info("teams.duplicate_activity", dedupe_key=turn.dedupe_key)
            return Reply(text="", private=True)
        answer = self._chat.answer(text, turn.asker)
        reply = self._form_instead(answer) or answer.reply
        if answer.is_question and self._reply_now is not None:
            self._reply_in_turn(turn, reply)
        else:
            self._queue_reply(turn, reply)
        self._remember_turn(turn)
        return reply

    def _reply_in_turn(self, turn: Turn, reply: Reply) -> None:
        assert self._reply_now is not None
        delivery = Delivery(
            id=0,
            platform=PLATFORM,
            kind="respond",
            destination=self._reply_destination(turn, reference=True),
            reply=reply,
            attempt=1,
            locale=turn.locale,
        )
        try:
            self._reply_now(delivery)
        except PermanentFailure as refused:
            # The outbox would give up on it too (conversation gone, bot removed).
            log.warning("teams.reply_refused", reason=str(refused)[:200])
        except Exception as failed:  # 429, 5xx, network, no token: the outbox retries
            log.warning("teams.reply_deferred", reason=str(failed)[:200])
            self._queue_reply(turn, reply)

    def _queue_reply(self, turn: Turn, reply: Reply) -> None:
        queued = self._messaging.send(
            platform=PLATFORM,
            kind="respond",
            destination=self._reply_destination(turn, reference=False),
            reply=reply,
            locale=turn.locale,
            dedupe_key=turn.dedupe_key,
        )
        if queued is None:
            log.info("teams.duplicate_activity", dedupe_key=turn.dedupe_key)

    @staticmethod
    def _reply_destination(turn: Turn, *, reference: bool) -> dict[str, Any]:
        """Where the reply goes. In the turn the activity's own reference addresses it (no
        store read); an outbox row keeps the conversation id, looked up when it is sent."""
        conversation: Any = turn.conversation_id
        if reference and turn.reference.get("conversation", {}).get("id"):
            conversation = turn.reference
        return {
            "conversation": conversation,
            "reply_to_id": turn.reply_to_id,
            "service_url": turn.service_url,
        }

    def _seen_before(self, turn: Turn) -> bool:
        with self._recent_lock:
            return turn.dedupe_key is not None and turn.dedupe_key in self._recent

    def _remember_turn(self, turn: Turn) -> None:
        if turn.dedupe_key is None:
            return
        with self._recent_lock:
            self._recent[turn.dedupe_key] = None
            while len(self._recent) > RECENT_TURNS:
                self._recent.popitem(last=False)

    def _form_instead(self, answer: Answer) -> Reply | None:
        """The incident form, for bare `incident` or for a declaration that names no
        component where the channel belongs to no team (prefilled with what was typed)."""
        command = answer.command
        if isinstance(command, IncidentForm):
            return form_reply(FormState(components=self._choices(), locale=answer.locale))
        if (
            isinstance(command, DeclareIncident)
            and answer.error is not None
            and answer.error.key == NEEDS_COMPONENT
        ):
            return form_reply(
                FormState(
                    severity=command.level,
                    title=command.title,
                    description=command.description or "",
                    components=self._choices(),
                    message=t("teams.incident_form.need_component", answer.locale),
                    locale=answer.locale,
                )
            )
        return None

    def _choices(self) -> tuple[tuple[str, str], ...]:
        """Every component for the form's list, or () (a typed name) when there are too many."""
        try:
            choices = tuple(self._component_choices())
        except Exception:  # the form still works with a typed name
            log.exception("teams.component_choices_failed")
            return ()
        return choices if len(choices) <= MAX_COMPONENT_CHOICES else ()

    def _send_welcome(self, turn: Turn) -> None:
        # The help card is the welcome: it says what the bot does, in the installer's language.
        reply = self._chat.handle("help", turn.asker)
        self._messaging.send(
            platform=PLATFORM,
            kind="post",
            destination={"conversation": turn.conversation_id, "service_url": turn.service_url},
            reply=reply,
            locale=turn.locale,
            dedupe_key=turn.dedupe_key,
        )

    # helpers ----------------------------------------------------------------------------------
    async def _welcome(self, activity: Activity) -> None:
        turn = self._turn(activity, "welcome")
        if not turn.conversation_id or not turn.service_url:
            return
        await run_in_threadpool(self._send_welcome, turn)

    def _turn(self, activity: Activity, kind: str) -> Turn:
        return read_turn(activity, kind, self._default_locale)
