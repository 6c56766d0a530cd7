"""Rasa event broker that relays desk customers' messages to the atendentes.

Configured in ``endpoints.yml`` (``event_broker: type:
channels.desk.broker.DeskEventBroker``), Rasa's own extension point: the
tracker store publishes every new event of every conversation when it saves,
also while a conversation is paused (the customer's ``UserUttered`` is still
parsed and logged, the bot just predicts nothing). For a sender with an open
desk conversation each message (customer, bot, agent) becomes a desk
``new_message`` event on Redis pub/sub, which ``/desk/ws`` on every replica
forwards to the agents allowed to see it.

Leaving the queue ("cancelar atendimento", "voltar pro bot", the button) is
decided here too: it is the one place every channel's messages pass while
the bot is paused. The desk conversation is closed as cancelled and the bot
resumes (``channels.desk.delivery.CustomerLine.resume``) once the turn that
carried the message released the conversation's lock.

Cheap for everyone else: only user and bot events are looked at, one Redis
``GET`` each (``desk:open:<sender_id>``), off the turn's path: ``publish`` is
synchronous in Rasa, so events go through an in-process queue to one task
that keeps their order. A failure is logged, never raised into Rasa's turn.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Optional, Text

from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from bot.desk import Desk
from bot.desk import handoff as texts
from bot.desk.errors import DeskError
from bot.metrics import record_unexpected
from channels.common.errors import UNAVAILABLE_ERRORS
from channels.desk.delivery import CustomerLine, current_app
from channels.desk.transcript import message_of

logger = logging.getLogger(__name__)

MAX_PENDING = 10_000


class DeskEventBroker(EventBroker):
    def __init__(self) -> None:
        self._queue: Optional[asyncio.Queue] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._worker: Optional[asyncio.Task] = None
        self._background: set = set()

    @classmethod
    async def from_endpoint_config(cls, broker_config: EndpointConfig,
                                   event_loop: Optional[asyncio.AbstractEventLoop] = None,
                                   ) -> "DeskEventBroker":
        return cls()

    def publish(self, event: Dict[Text, Any]) -> None:
        if event.get("event") not in ("user", "bot") or not event.get("sender_id"):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # e.g. `rasa test` saving outside a loop: no desk there
            return
        if self._loop is not loop or self._worker is None or self._worker.done():
            self._loop, self._queue = loop, asyncio.Queue(MAX_PENDING)
            self._worker = loop.create_task(self._run())
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            logger.error("desk broker: %d events pending, dropped one of %s", MAX_PENDING,
                         event.get("sender_id"))

    async def _run(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self.relay(event)
            except UNAVAILABLE_ERRORS as error:  # Redis down: log, keep relaying
                logger.error("desk broker: event of %s not relayed: %s",
                             event.get("sender_id"), error)
            except Exception:  # a background loop: one bad event must not stop the others
                logger.exception("desk broker: event of %s not relayed", event.get("sender_id"))
                record_unexpected("desk.broker")

    async def relay(self, event: Dict[Text, Any]) -> None:
        desk = Desk.shared()
        conversation = await desk.conversations.find_open(event["sender_id"])
        if conversation is None:
            return
        message = message_of(event)
        if message["author"] == "customer":
            intent = (event.get("parse_data") or {}).get("intent") or {}
            if texts.wants_to_leave(message["text"], intent.get("name"),
                                    float(intent.get("confidence") or 0)):
                self._spawn(self.leave(event["sender_id"]))
            await desk.conversations.record_message(conversation.id, "customer")
        elif message["author"] == "agent":
            await desk.conversations.record_message(conversation.id, "agent")
        await desk.events.publish("new_message", conversation,
                                  conversation_id=conversation.id, message=message)

    def _spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def leave(self, sender_id: str) -> None:
        """The customer left the queue (or the agent): close as cancelled, resume the bot."""
        try:
            closed = await Desk.shared().conversations.cancel(sender_id)
        except DeskError as error:
            logger.warning("desk broker: %s could not leave the queue: %s", sender_id, error)
            return
        if closed is not None:
            await CustomerLine(current_app()).resume(closed, texts.LEFT_QUEUE_TEXT, ask_csat=False)
            logger.info("desk: conversation %s left by the customer", closed.id)
