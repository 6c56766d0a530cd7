"""Only Rasa may call the action server; its errors never echo the tracker.

Hooked into ``rasa run actions`` through rasa-sdk's ``attach_sanic_app_extensions``
(runs after ``create_app``, before the server binds):

- ``ACTION_SERVER_TOKEN`` (at least 32 characters) is required at start-up;
  every route but ``/health`` wants ``Authorization: Bearer <token>``, compared
  in constant time, 401 otherwise. Rasa sends it (endpoints.yml, ``headers``).
- the server binds ``ACTION_SERVER_HOST`` (default 127.0.0.1), through the
  ``SANIC_HOST`` rasa-sdk reads, unless ``SANIC_HOST`` was set explicitly.
- rasa-sdk's own exception handler answers a 500 with the whole tracker
  (``request_body``); ours answers a fixed text and logs the masked reason
  and traceback.
"""
from __future__ import annotations

import hmac
import logging
import os
import sys
import traceback
from dataclasses import dataclass

import pluggy
from sanic import Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.pii import mask_pii
from bot.settings import SettingsError, env_secret, env_str

hookimpl = pluggy.HookimplMarker("rasa_sdk")
logger = logging.getLogger(__name__)

OPEN_PATHS = ("/health",)
DEFAULT_HOST = "127.0.0.1"


def authorized(header: str, token: str) -> bool:
    """``Bearer <token>``, compared in constant time."""
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def require_token(token: str):
    async def check(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        if authorized(request.headers.get("authorization", ""), token):
            return None
        logger.warning("action server: refused %s %s without a valid token",
                       request.method, request.path)
        return response.json(
            {"error": "unauthorized: Authorization: Bearer <ACTION_SERVER_TOKEN> is required"},
            status=401, headers={"WWW-Authenticate": "Bearer"},
        )

    return check


async def masked_error(request: Request, exception: Exception) -> HTTPResponse:
    """A fixed answer; the reason (masked) and traceback go to the log only."""
    if isinstance(exception, SanicException) and exception.status_code < 500:
        status = exception.status_code
        text = {400: "bad request", 404: "not found", 405: "method not allowed"}.get(status, "refused")
    else:
        status, text = 500, "internal error in the action server (details in its log)"
    trace = "".join(traceback.format_exception(type(exception), exception, exception.__traceback__))
    log = logger.error if status >= 500 else logger.info
    log("action server: %s %s failed with %s:\n%s", request.method, request.path, status, mask_pii(trace))
    return response.json({"error": text}, status=status)


@dataclass(frozen=True)
class GuardSettings:
    """``ACTION_SERVER_TOKEN`` (required, strong) and the address to bind."""

    token: str
    host: str = DEFAULT_HOST

    @classmethod
    def from_env(cls) -> "GuardSettings":
        return cls(
            token=env_secret("ACTION_SERVER_TOKEN", required=True),
            host=env_str("ACTION_SERVER_HOST") or env_str("SANIC_HOST", DEFAULT_HOST),
        )


@hookimpl
def attach_sanic_app_extensions(app: Sanic) -> None:
    try:
        settings = GuardSettings.from_env()
    except SettingsError as error:
        print(f"action server: refusing to start: {error}. Rasa sends the same value "
              "(endpoints.yml); see README, 'Credentials'.", file=sys.stderr)
        raise SystemExit(2) from None
    os.environ["SANIC_HOST"] = settings.host  # what rasa-sdk reads when it binds
    app.register_middleware(require_token(settings.token), "request")
    app.exception(Exception)(masked_error)
    logger.info("action server: token required on every route but /health; binding %s", settings.host)
