"""Plain WebSocket chat at ``/ws/chat/<session_id>`` (sender id ``web:<session_id>``).

- ``input.py``: ``WebSocketInput`` (``credentials.yml``:
  ``channels.websocket.WebSocketInput``), the frame protocol and turns;
- ``outbound.py``: Sanic-free; publishing to a session's live connection
  from outside a request (e.g. the action server's partial answers).

``WebSocketInput`` is imported on first use, so that importing
``channels.websocket.outbound`` does not load Sanic and Rasa's channel code.
"""
from typing import Any


def __getattr__(name: str) -> Any:
    if name == "WebSocketInput":
        from channels.websocket.input import WebSocketInput

        return WebSocketInput
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
