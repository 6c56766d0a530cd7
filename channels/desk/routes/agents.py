"""The agents: one's own profile and status, the team (dashboard, transfer
picker), the desk metrics, and user management for admins."""
from __future__ import annotations

import time
from typing import Any, Dict

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.desk import Desk
from bot.desk.errors import Forbidden, InvalidInput
from bot.desk.metrics import agents_status, desk_metrics
from bot.desk.users import ADMIN, AWAY, OFFLINE, ONLINE, ROLES, Agent
from bot.desk.reports import MAX_CONVERSATIONS, build_report, report_csv
from channels.desk.common import (current_agent, default_targets, json_body, sla_targets, time_arg,
                                  whole_arg)
from channels.desk.transcript import iso


async def me(request: Request) -> HTTPResponse:
    agent = await current_agent(request)
    presence = (await Desk.shared().users.presence()).get(agent.username)
    return response.json({"username": agent.username, "name": agent.name, "role": agent.role,
                          "status": presence.status if presence else OFFLINE})


async def my_status(request: Request) -> HTTPResponse:
    agent = await current_agent(request)
    status = json_body(request, ("status",)).get("status")
    if status not in (ONLINE, AWAY, OFFLINE):
        raise InvalidInput("status", "must be online, away or offline")
    users = Desk.shared().users
    if status == OFFLINE:
        await users.set_offline(agent.username)
    else:
        await users.heartbeat(agent.username, status)
    return response.json({"username": agent.username, "status": status})


async def metrics(request: Request) -> HTTPResponse:
    if not (await current_agent(request)).sees_everything:
        raise Forbidden("the desk metrics are for supervisors and admins")
    desk = Desk.shared()
    figures = await desk_metrics(desk.users, desk.conversations, departments=await desk.departments.list(),
                                 first_response_target=desk.settings.first_response_target_seconds)
    return response.json(figures.as_dict())


async def agents(request: Request) -> HTTPResponse:
    # Supervisors and admins: the dashboard (role, load). An atendente only
    # gets whom to transfer to (the console's transfer picker).
    shown = (("username", "name", "role", "status", "active_conversations")
             if (await current_agent(request)).sees_everything else ("username", "name", "status"))
    desk = Desk.shared()
    statuses = await agents_status(desk.users, desk.conversations)
    return response.json({"agents": [
        {key: status.as_dict()[key] for key in shown} for status in statuses]})


async def admin(request: Request) -> Agent:
    agent = await current_agent(request)
    if agent.role != ADMIN:
        raise Forbidden("only admins manage users")
    return agent


def user_view(user: Agent) -> Dict[str, Any]:
    return {"username": user.username, "name": user.name, "role": user.role,
            "disabled": user.disabled, "is_active": not user.disabled, "departments": list(user.departments),
            "capacity": user.capacity or Desk.shared().settings.default_capacity}


MAX_PAGE_SIZE = 200


async def list_users(request: Request) -> HTTPResponse:
    """Agents by username, filtered by ``role`` and ``is_active``, ``page`` by ``page``
    (``limit`` a page, at most 200)."""
    await admin(request)
    page = whole_arg(request, "page", 1, 1, 10 ** 6)
    limit = whole_arg(request, "limit", 50, 1, MAX_PAGE_SIZE)
    role = request.args.get("role") or None
    if role is not None and role not in ROLES:
        raise InvalidInput("role", f"must be one of {', '.join(ROLES)}")
    active = request.args.get("is_active")
    if active not in (None, "", "true", "false"):
        raise InvalidInput("is_active", "must be true or false")
    users = [u for u in await Desk.shared().users.list()
             if (role is None or u.role == role) and (not active or u.disabled == (active == "false"))]
    return response.json({"users": [user_view(u) for u in users[(page - 1) * limit: page * limit]],
                          "total": len(users), "page": page, "limit": limit})


async def create_user(request: Request) -> HTTPResponse:
    await admin(request)
    data = json_body(request, ("username", "name", "role", "password"))
    user = await Desk.shared().users.create(data.get("username"), data.get("name"),
                                            data.get("role"), data.get("password"))
    return response.json({"user": user_view(user)}, status=201)


async def update_user(request: Request, username: str) -> HTTPResponse:
    await admin(request)
    data = json_body(request, ("name", "role", "password", "disabled", "departments", "capacity"))
    desk = Desk.shared()
    users = desk.users
    await users.require(username)
    if "disabled" in data and not isinstance(data["disabled"], bool):
        raise InvalidInput("disabled", "must be true or false")
    departments = data.get("departments")
    if departments is not None:
        if not isinstance(departments, list) or not all(isinstance(d, str) for d in departments):
            raise InvalidInput("departments", "a list of department slugs ([] = every department)")
        for slug in departments:
            await desk.departments.require(slug, "departments")
    user = await users.update(username, data.get("name"), data.get("role"), departments, data.get("capacity"))
    if data.get("password") is not None:
        user = await users.set_password(username, data["password"])
    if "disabled" in data:
        user = await users.set_disabled(username, data["disabled"])
    return response.json({"user": user_view(user)})


MAX_REPORT_DAYS = 92


async def report(request: Request) -> HTTPResponse:
    """Per department and agent over ``since``..``until`` (default: the last 7 days),
    as JSON or ``format=csv`` (supervisors and admins)."""
    if not (await current_agent(request)).sees_everything:
        raise Forbidden("reports are for supervisors and admins")
    now = time.time()
    until = time_arg(request, "until") or now
    since = time_arg(request, "since") or until - 7 * 24 * 3600
    if since >= until:
        raise InvalidInput("since", "must be before until")
    if until - since > MAX_REPORT_DAYS * 24 * 3600:
        raise InvalidInput("since", f"a report covers at most {MAX_REPORT_DAYS} days")
    kind = request.args.get("format") or "json"
    if kind not in ("json", "csv"):
        raise InvalidInput("format", "must be json or csv")
    desk = Desk.shared()
    found = await desk.conversations.created_between(since, until, MAX_CONVERSATIONS)
    rows = build_report(found, await sla_targets(), default_targets(), now)
    if kind == "csv":
        return response.text(report_csv(rows), content_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": 'attachment; filename="relatorio-atendimento.csv"'})
    return response.json({"since": iso(since), "until": iso(until), "rows": [r.as_dict() for r in rows],
                          "truncated": len(found) >= MAX_CONVERSATIONS})


def register(bp: Blueprint, api: str) -> None:
    bp.add_route(report, f"{api}/reports", methods=["GET"])
    bp.add_route(me, f"{api}/me", methods=["GET"])
    bp.add_route(my_status, f"{api}/me/status", methods=["POST"])
    bp.add_route(metrics, f"{api}/metrics", methods=["GET"])
    bp.add_route(agents, f"{api}/agents", methods=["GET"])
    bp.add_route(list_users, f"{api}/users", methods=["GET"])
    bp.add_route(create_user, f"{api}/users", methods=["POST"])
    bp.add_route(update_user, f"{api}/users/<username>", methods=["PATCH"])
