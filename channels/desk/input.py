"""``DeskInput``: the connector ``credentials.yml`` loads as ``channels.desk.DeskInput``.

It receives no customer messages itself (customers stay on their own
channel); it serves the desk's API, ``/desk/ws`` and the console, and starts
the queue-position notices. Routes live one module per resource in
``channels.desk.routes``; every error they raise is a typed error mapped to
HTTP by ``channels/common/errors.py``, Redis down included (503, once here,
not per route).
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint

from channels.common.errors import install_error_handlers
from channels.desk import rate_limit
from channels.desk.assigner import start_assignment
from channels.desk import routes
from channels.desk.positions import start_position_notices
from channels.desk.ws import desk_ws


async def start_positions(app, _loop) -> None:
    """The desk's background rounds: queue-position notices and automatic assignment."""
    start_position_notices(app)
    start_assignment(app)


class DeskInput(InputChannel):
    """The desk API, its WebSocket and the console (see the module docstring)."""

    @classmethod
    def name(cls) -> Text:
        return "desk"

    def url_prefix(self) -> Text:
        return "/"  # absolute paths: /desk/...

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("isp_desk", __name__)
        for module in routes.MODULES:
            module.register(bp, routes.API)
        bp.add_websocket_route(desk_ws, "/desk/ws")
        bp.listener("after_server_start")(start_positions)
        bp.middleware("request")(rate_limit.before)
        bp.middleware("response")(rate_limit.after)
        install_error_handlers(bp)
        return bp
