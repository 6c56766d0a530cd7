"""The atendentes' console: static files from ``web/desk/`` at ``/desk/``."""
from __future__ import annotations

from pathlib import Path

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.errors import NotFound

CONSOLE_DIR = Path(__file__).resolve().parents[3] / "web" / "desk"


async def static_file(name: str) -> HTTPResponse:
    """A file of the console, never one outside its folder (404)."""
    path = (CONSOLE_DIR / name).resolve()
    if CONSOLE_DIR.resolve() not in path.parents or not path.is_file():
        raise NotFound(f"{name}: no such file in the console", "path")
    return await response.file(path, headers={"Cache-Control": "no-cache"})


async def console(_: Request) -> HTTPResponse:
    return await static_file("index.html")


async def static(_: Request, name: str) -> HTTPResponse:
    return await static_file(name)


def register(bp: Blueprint, api: str) -> None:
    bp.add_route(console, "/desk/", methods=["GET"])
    bp.add_route(static, "/desk/static/<name:path>", methods=["GET"])
