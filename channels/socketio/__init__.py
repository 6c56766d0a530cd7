"""socket.io connector for the rasa-webchat widget, at ``/socket.io/`` and ``/widget``.

- ``input.py``: ``SocketIOInput`` (``credentials.yml``: ``channels.socketio.SocketIOInput``),
  sessions, rooms and customer turns;
- ``output.py``: ``bot_uttered`` in the shapes rasa-webchat renders;
- ``server.py``: the ``AsyncServer`` that drops malformed client packets;
- ``widget.py``: the demo page and its script (assets in ``web/``);
- ``outbound.py``: Sanic-free; the room naming and the Redis manager used to
  reach a session from outside a request (the desk, the action server).

``SocketIOInput`` is imported on first use, so that importing
``channels.socketio.outbound`` (from ``bot/`` or the action server) does not
load Sanic and Rasa's channel code.
"""
from typing import Any


def __getattr__(name: str) -> Any:
    if name == "SocketIOInput":
        from channels.socketio.input import SocketIOInput

        return SocketIOInput
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
