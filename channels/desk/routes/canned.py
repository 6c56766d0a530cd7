"""Canned replies (``/shortcut`` in the console's reply box): list, write, change, delete."""
from __future__ import annotations

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.desk import Desk
from bot.desk.canned import DEPARTMENT, VARIABLES
from channels.desk.common import current_agent, json_body


async def list_replies(request: Request) -> HTTPResponse:
    agent = await current_agent(request)
    replies = await Desk.shared().canned.visible_to(agent)
    return response.json({"canned_replies": [r.as_dict() for r in replies], "variables": list(VARIABLES)})


async def create_reply(request: Request) -> HTTPResponse:
    agent = await current_agent(request)
    data = json_body(request, ("shortcut", "text", "scope", "department"))
    desk = Desk.shared()
    department = None
    if data.get("scope") == DEPARTMENT:
        department = (await desk.departments.require(data.get("department"))).slug
    reply = await desk.canned.create(agent, data.get("shortcut"), data.get("text"), data.get("scope", "personal"),
                                     department)
    return response.json({"canned_reply": reply.as_dict()}, status=201)


async def update_reply(request: Request, reply_id: str) -> HTTPResponse:
    agent = await current_agent(request)
    data = json_body(request, ("shortcut", "text"))
    reply = await Desk.shared().canned.update(agent, reply_id, data.get("shortcut"), data.get("text"))
    return response.json({"canned_reply": reply.as_dict()})


async def delete_reply(request: Request, reply_id: str) -> HTTPResponse:
    agent = await current_agent(request)
    await Desk.shared().canned.delete(agent, reply_id)
    return response.empty(status=204)


def register(bp: Blueprint, api: str) -> None:
    bp.add_route(list_replies, f"{api}/canned-replies", methods=["GET"])
    bp.add_route(create_reply, f"{api}/canned-replies", methods=["POST"])
    bp.add_route(update_reply, f"{api}/canned-replies/<reply_id>", methods=["PATCH"])
    bp.add_route(delete_reply, f"{api}/canned-replies/<reply_id>", methods=["DELETE"])
