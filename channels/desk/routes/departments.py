"""Departments (setores): the list every agent's console needs (queues,
transfer picker), and their management by admins."""
from __future__ import annotations

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.desk import Desk
from channels.desk.common import current_agent, json_body
from channels.desk.routes.agents import admin


async def list_departments(request: Request) -> HTTPResponse:
    await current_agent(request)
    desk = Desk.shared()
    departments = await desk.departments.list()
    sizes = await desk.conversations.queue_sizes([d.slug for d in departments])
    return response.json({"departments": [dict(d.as_dict(), in_queue=sizes[d.slug]) for d in departments]})


async def create_department(request: Request) -> HTTPResponse:
    await admin(request)
    data = json_body(request, ("slug", "name"))
    department = await Desk.shared().departments.create(data.get("slug"), data.get("name"))
    return response.json({"department": department.as_dict()}, status=201)


async def update_department(request: Request, slug: str) -> HTTPResponse:
    await admin(request)
    data = json_body(request, ("name", "assignment", "first_response_seconds", "resolution_seconds", "hours"))
    department = await Desk.shared().departments.update(slug, data.get("name"), data.get("assignment"),
                                                        data.get("first_response_seconds"),
                                                        data.get("resolution_seconds"), data.get("hours"))
    return response.json({"department": department.as_dict()})


def register(bp: Blueprint, api: str) -> None:
    bp.add_route(list_departments, f"{api}/departments", methods=["GET"])
    bp.add_route(create_department, f"{api}/departments", methods=["POST"])
    bp.add_route(update_department, f"{api}/departments/<slug>", methods=["PATCH"])
