"""What happens after the webhook's 200: each delivery handled in the background.

Meta wants its 200 before any NLU runs, so the webhook only claims a
delivery (de-duplication) and hands it here: a customer's messages run one
after the other (:class:`CustomerQueue`), different customers' side by side.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, List, Set, Text

from rasa.core.channels.channel import UserMessage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SlotSet

from bot import senders
from bot.media.understanding import ConversationState, understand
from bot.metrics import record_unexpected
from bot.outreach.consent import RESUMED_REPLY, STOP, STOPPED_REPLY, Consent, consent_command
from bot.outreach.context import take_pending
from bot.outreach.sender import record_status
from bot.outreach.window import CustomerWindows
from bot.redis_pool import get_redis
from channels.common.conversation import append_events, tracker_state
from channels.common.errors import UNAVAILABLE_ERRORS
from channels.common.turn import stored_answers
from channels.whatsapp.graph import WINDOW_CLOSED, GraphClient
from channels.whatsapp.inbound import Inbound, Status
from channels.whatsapp.media import BOT_READS, caption_of, download_customer_file, not_fetched
from channels.whatsapp.menus import take_menu
from channels.whatsapp.output import WhatsAppOutput
from channels.whatsapp.wire import menu_choice

logger = logging.getLogger(__name__)

CHANNEL = "whatsapp"


class CustomerQueue:
    """Background work in order per customer; what is running, for a clean shutdown."""

    def __init__(self) -> None:
        self._tasks: Set[asyncio.Task] = set()
        self._tail: Dict[Text, asyncio.Task] = {}  # last task of each customer

    def spawn(self, customer: Text, work: Awaitable[None]) -> None:
        """Run ``work`` in the background after the customer's previous work."""
        task = asyncio.create_task(self._after(self._tail.get(customer), work))
        self._tasks.add(task)
        self._tail[customer] = task
        task.add_done_callback(lambda done: self._finished(customer, done))

    @staticmethod
    async def _after(previous: "asyncio.Task | None", work: Awaitable[None]) -> None:
        if previous is not None:
            await asyncio.wait({previous})
        await work

    def _finished(self, customer: Text, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if self._tail.get(customer) is task:
            del self._tail[customer]
        error = None if task.cancelled() else task.exception()
        if error is None:
            return
        # The guard of a background turn: the customer got no answer; logged with its stack,
        # and counted in /metrics unless a dependency (Redis, the lock store) was down.
        logger.error("WhatsApp: a message could not be handled", exc_info=error)
        if not isinstance(error, UNAVAILABLE_ERRORS):
            record_unexpected("whatsapp_turn")

    async def drain(self, timeout: float) -> None:
        """Let running work finish (at most ``timeout`` seconds)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)


class Turns:
    """One customer message (or failed status) turned into Rasa's input or a reply."""

    def __init__(self, graph: GraphClient, default_phone_number_id: Text) -> None:
        self.graph = graph
        self.default_phone_number_id = default_phone_number_id

    async def message(self, message: Inbound, on_new_message: Callable[[UserMessage], Awaitable[Any]],
                      agent: Any, taken_over: bool = False) -> None:
        """``taken_over``: a dead worker's message (:mod:`channels.whatsapp.inbox`), skipped
        when its turn already ran to the end there (the customer has its answers:
        unlike a REST retry, nobody waits for them to be sent again)."""
        phone_number_id = message.phone_number_id or self.default_phone_number_id
        output = WhatsAppOutput(self.graph, phone_number_id)
        sender_id = senders.sender_id(senders.WHATSAPP, message.wa_id)
        if taken_over and await stored_answers(agent, sender_id, message.message_id) is not None:
            logger.info("WhatsApp: a taken-over message was already answered, not run again")
            return
        redis = get_redis()
        await CustomerWindows(redis).opened(message.number)  # any message opens Meta's 24-hour window
        await self.graph.mark_read(message.message_id, phone_number_id)  # blue ticks while the bot thinks
        command = consent_command(message.text) if message.type == "text" else None
        if command:  # "SAIR" / "VOLTAR": proactive messages off or on, no NLU turn
            await Consent(redis).apply(message.number, command, source=CHANNEL)
            logger.info("WhatsApp: proactive messages %s by the customer", "stopped" if command == STOP else "resumed")
            await output.send_text_message(sender_id, STOPPED_REPLY if command == STOP else RESUMED_REPLY)
            return
        metadata = {
            "channel": CHANNEL,
            "wa_id": message.wa_id,
            "profile_name": message.profile_name,
            "phone_number_id": phone_number_id,
            "message_type": message.type,
        }
        text = message.text
        state = await tracker_state(agent, sender_id) if message.media.get("id") else ConversationState()
        if message.readable:
            if message.type == "text":
                text = menu_choice(text, await take_menu(message.wa_id)) or text
        elif message.media.get("id") and (state.paused or message.type in BOT_READS):
            file = await download_customer_file(self.graph, message, for_desk=state.paused)
            if isinstance(file, str) and state.paused:  # still goes to the atendente, marked
                missing = not_fetched(message)
                text, metadata["media"] = missing["text"], missing["media"]
            elif isinstance(file, str):
                await output.send_text_message(sender_id, file)
                return
            else:
                understood = await understand(file, caption_of(message), state)
                if understood.reply:
                    await output.send_text_message(sender_id, understood.reply)
                    return
                logger.info("WhatsApp: a customer's %s taken as %s", message.type, understood.summary(state.paused))
                text = understood.text
                metadata.update(understood.metadata)
        elif message.is_reaction_removal:
            logger.debug("WhatsApp: reaction removed, nothing to answer")
            return
        else:
            await output.send_text_message(sender_id, message.reply())
            return
        pending = await take_pending(redis, message.number)
        if pending:  # the customer answers what the provider wrote first: into the conversation before it
            await append_events(agent, sender_id, proactive_events(pending))
        await on_new_message(
            UserMessage(text, output, sender_id, input_channel=CHANNEL,
                        message_id=message.message_id, metadata=metadata)
        )

    async def status(self, status: Status) -> None:
        """A delivery status of a proactive message, counted against its campaign."""
        await record_status(get_redis(), status.message_id, status.status, status.error_codes)

    async def failure(self, status: Status) -> None:
        """A bot message failed after acceptance; 131047 gets the fallback template."""
        logger.warning("WhatsApp: a sent message failed with codes %s", list(status.error_codes))
        if WINDOW_CLOSED in status.error_codes:
            await self.graph.send_fallback_template(status.recipient_id, status.phone_number_id)


def proactive_events(pending: List[Dict[str, Any]]) -> List[Event]:
    """The proactive messages as the bot's (their ``outreach`` metadata says what
    they were), then the latest reminder's invoice and contract as slots, and
    ``action_listen``: the policies see the customer's message as the answer to
    a bot turn, as after any bot message (rules start from ``action_listen``)."""
    events: List[Event] = [BotUttered(item["text"], metadata={"outreach": item["outreach"]}) for item in pending]
    reminder = next((item["outreach"] for item in reversed(pending) if item["outreach"].get("invoice_id")), None)
    if reminder:
        events += [SlotSet("invoice_id", reminder["invoice_id"]), SlotSet("contract_id", reminder["contract_id"])]
    return events + [ActionExecuted(ACTION_LISTEN_NAME)]
