"""The atendentes' desk connector: ``/desk/api/...``, ``/desk/ws`` and the console at ``/desk/``.

Loaded from ``credentials.yml`` as ``channels.desk.DeskInput``. The API
(contract: ``docs/desk-api.md``) acts on the desk state in Redis
(``bot.desk``) and speaks to customers through their own channel's
``get_output_channel()`` (``delivery``). Customers' messages reach the desk
through Rasa's event broker (``broker``, named in ``endpoints.yml``);
waiting customers hear their queue position from ``positions``.

    input.py      DeskInput: builds the blueprint
    routes/       auth, agents, conversations, console (one module each)
    ws.py         /desk/ws
    common.py     what routes and ws share (who asks, bodies, sending)
    transcript.py tracker events as the desk's messages
    delivery.py   to a customer outside a turn, kept in the tracker
    positions.py  queue-position notices (one replica at a time)
    broker.py     the event broker (customer messages -> agents)

The console's files are in ``web/desk/``.
"""
from channels.desk.input import DeskInput

__all__ = ["DeskInput"]
