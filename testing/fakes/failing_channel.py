"""A connector whose route always fails, for the log-masking test: Sanic logs
its "Exception occurred while handling uri" line (with the traceback) through
its own ``sanic.error`` handler."""
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint
from sanic.request import Request


class FailingInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "failing"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("test_failing", __name__)

        @bp.route("/boom", methods=["POST"])
        async def boom(request: Request) -> None:
            raise RuntimeError(f"could not handle {request.body.decode()}")

        return bp
