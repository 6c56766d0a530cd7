"""WhatsApp Cloud API connector: Meta's webhook in, Graph API messages out.

``credentials.yml`` names ``channels.whatsapp.WhatsAppInput``; Rasa serves it
at ``/webhooks/whatsapp/webhook``. The way of one message:

- :mod:`.channel`: the webhook (signature, de-duplication, 200 at once, then
  the turn in the background, in order per customer);
- :mod:`.inbound`: Meta's notification -> plain records;
- :mod:`.dedupe`: one ``SET NX EX`` per message id (Redis, every replica);
- :mod:`.menus`: numbered menus remembered until the customer answers;
- :mod:`.output`: the bot's replies -> :mod:`.wire` (Meta's message bodies)
  -> :mod:`.graph` (the Graph API client, with :mod:`.settings`).

``graph`` and ``settings`` are Sanic-free and may be imported by ``bot/``
(one-time codes are sent outside a request); the classes below are loaded
lazily so that such an import does not pull in Sanic and Rasa's server.
"""
from __future__ import annotations

from typing import Any

__all__ = ["WhatsAppInput", "WhatsAppOutput"]


def __getattr__(name: str) -> Any:
    if name == "WhatsAppInput":
        from channels.whatsapp.channel import WhatsAppInput

        return WhatsAppInput
    if name == "WhatsAppOutput":
        from channels.whatsapp.output import WhatsAppOutput

        return WhatsAppOutput
    if name == "SENDER_PREFIX":  # channels/rasa_rest.py reads it until it uses bot.senders
        from bot.senders import WHATSAPP

        return f"{WHATSAPP}:"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
