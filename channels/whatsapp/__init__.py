"""WhatsApp Cloud API connector: Meta's webhook in, Graph API messages out.

``credentials.yml`` names ``channels.whatsapp.WhatsAppInput``; Rasa serves it
at ``/webhooks/whatsapp/webhook``. The way of one message:

- :mod:`.channel`: the webhook routes; :mod:`.signature` checks Meta's
  ``X-Hub-Signature-256``; :mod:`.inbound` turns the notification into plain
  records; :mod:`.inbox` claims each message id (the de-duplication record
  shared by every replica, and an inbox entry that outlives the process, in
  one round trip); then the 200, before any NLU;
- :mod:`.turns`: each claimed message in the background, in order per
  customer (read receipt, numbered-menu answer, payment receipt, Rasa turn),
  then the inbox entry deleted; a dead worker's entries are taken over;
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
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
