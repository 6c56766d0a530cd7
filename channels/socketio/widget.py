"""The demo page that embeds the rasa-webchat widget (``GET /widget``).

The widget's JavaScript comes from the npm package that ``make setup``
installs in ``web/node_modules`` (``npm ci``), never from a CDN: the page
must work on a server with no internet. The provider's name, the title and
the colour come from the environment (``WIDGET_*``).
"""
from __future__ import annotations

import json
from pathlib import Path
from string import Template

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.common.http import as_handler
from channels.common.settings import WidgetSettings

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
WEBCHAT_JS = WEB_DIR / "node_modules" / "rasa-webchat" / "lib" / "index.js"
PAGE_TEMPLATE = WEB_DIR / "widget.html"
SCRIPT_URL = "/widget/webchat.js"


def _html(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        .replace('"', "&quot;").replace("'", "&#x27;")
    )


def _script_json(value: dict) -> str:
    """JSON safe inside a ``<script>`` element (no ``</script>`` breakout)."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_page(
    settings: WidgetSettings,
    script_url: str,
    socketio_path: str,
    typing_event: str,
) -> str:
    config = {
        "title": settings.title,
        "subtitle": settings.subtitle,
        "color": settings.color,
        "initPayload": settings.init_payload or None,
        "socketPath": socketio_path.rstrip("/") + "/",
        "typingEvent": typing_event,
        # rasa-webchat sends this with every message, under `customData`.
        "customData": {"language": "pt-BR"},
    }
    return Template(PAGE_TEMPLATE.read_text(encoding="utf-8")).substitute(
        title=_html(settings.title),
        provider=_html(settings.provider),
        color=settings.color,
        script_url=_html(script_url),
        config=_script_json(config),
    )


class WidgetPage:
    """``GET /widget`` (the page) and ``GET /widget/webchat.js`` (the widget's script)."""

    def __init__(self, settings: WidgetSettings, socketio_path: str, typing_event: str):
        self.settings = settings
        self.socketio_path = socketio_path
        self.typing_event = typing_event

    async def html(self, _: Request) -> HTTPResponse:
        return response.html(render_page(self.settings, SCRIPT_URL, self.socketio_path, self.typing_event))

    async def script(self, _: Request) -> HTTPResponse:
        if not WEBCHAT_JS.is_file():
            return response.json(
                {"detail": "rasa-webchat is not installed on this server: run `make setup`"},
                status=503,
            )
        return await response.file(
            WEBCHAT_JS,
            mime_type="application/javascript",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    def register(self, blueprint) -> None:
        blueprint.add_route(as_handler(self.html), "/widget", methods=["GET"])
        blueprint.add_route(as_handler(self.script), SCRIPT_URL, methods=["GET"])
