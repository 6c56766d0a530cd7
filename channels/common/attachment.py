"""A chat client's attachment as the customer's message (REST, WebSocket, socket.io).

The same paths as a WhatsApp file (``bot.media.understanding``): what the
tracker says (an atendente has it; "ja paguei" before), then the file fetched
and checked (``bot.media.attachments``) and understood: words of a voice
note, a boleto, a receipt, a photo for the LLM or a person, or a reply
without a turn. A store that does not answer is a ``DependencyUnavailable``.
"""
from __future__ import annotations

import logging
from typing import Any

from bot.errors import DependencyUnavailable
from bot.media.attachments import Attachment, fetch_attachment
from bot.media.understanding import Understood, understand
from channels.common.conversation import tracker_state
from channels.common.errors import UNAVAILABLE_ERRORS

logger = logging.getLogger(__name__)


async def understand_attachment(agent: Any, sender_id: str, attachment: Attachment, caption: str) -> Understood:
    """What the attached file puts into ``sender_id``'s conversation (or the reply instead)."""
    file = await fetch_attachment(attachment)  # first: a file refused needs no tracker read
    state = await tracker_state(agent, sender_id)
    try:
        understood = await understand(file, caption, state)
    except UNAVAILABLE_ERRORS as error:  # the media store (Redis) did not keep it
        logger.error("attachment of %s not kept: %s", sender_id, type(error).__name__)
        raise DependencyUnavailable("service unavailable: the media store (Redis) is not available") from None
    logger.info("a client's %s taken as %s", file.kind, understood.summary(state.paused))
    return understood
