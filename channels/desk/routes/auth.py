"""``/desk/api/auth/...``: log in (a JWT), refresh it, log out (revoke it)."""
from __future__ import annotations

import logging

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.desk import Desk
from channels.desk.common import bearer_token, current_agent, desk_auth, json_body
from channels.desk.transcript import iso

logger = logging.getLogger(__name__)


async def login(request: Request) -> HTTPResponse:
    data = json_body(request, ("username", "password"))
    address = request.remote_addr or request.ip or "unknown"
    session = await desk_auth(Desk.shared()).login(data.get("username"), data.get("password"),
                                                   address)
    return response.json(session_view(session))


async def refresh(request: Request) -> HTTPResponse:
    """A fresh token for a valid one (the old one is revoked): the console
    refreshes before expiry, so a shift needs one login."""
    session = await desk_auth(Desk.shared()).refresh(bearer_token(request))
    return response.json(session_view(session))


def session_view(session) -> dict:
    user = {"username": session.agent.username, "name": session.agent.name, "role": session.agent.role}
    return {"token": session.token, "expires_at": iso(session.expires_at), "user": user}


async def logout(request: Request) -> HTTPResponse:
    agent = await current_agent(request)
    await desk_auth(Desk.shared()).logout(bearer_token(request))
    logger.info("desk: %s logged out", agent.username)
    return response.empty(status=204)


def register(bp: Blueprint, api: str) -> None:
    bp.add_route(login, f"{api}/auth/login", methods=["POST"])
    bp.add_route(refresh, f"{api}/auth/refresh", methods=["POST"])
    bp.add_route(logout, f"{api}/auth/logout", methods=["POST"])
