"""The demo page that embeds the rasa-webchat widget (``GET /widget``).

The widget's JavaScript comes from the npm package that ``make setup``
installs in ``web/node_modules`` (``npm ci``), never from a CDN: the page
must work on a server with no internet. The provider's name, the title and
the colour come from the environment (``WIDGET_*``).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from bot.settings import SettingsError

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
WEBCHAT_JS = WEB_DIR / "node_modules" / "rasa-webchat" / "lib" / "index.js"
PAGE_TEMPLATE = WEB_DIR / "widget.html"

_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


@dataclass(frozen=True)
class WidgetSettings:
    provider: str
    title: str
    subtitle: str
    color: str
    init_payload: str

    @classmethod
    def from_env(cls) -> "WidgetSettings":
        color = os.environ.get("WIDGET_COLOR", "").strip() or "#0b6e4f"
        if not _COLOR.match(color):
            raise SettingsError(f"WIDGET_COLOR must be a hex colour like #0b6e4f, got {color!r}")
        provider = os.environ.get("WIDGET_PROVIDER", "").strip() or "Seu Provedor"
        return cls(
            provider=provider,
            title=os.environ.get("WIDGET_TITLE", "").strip() or "Atendimento",
            subtitle=os.environ.get("WIDGET_SUBTITLE", "").strip() or provider,
            color=color,
            init_payload=os.environ.get("WIDGET_INIT_PAYLOAD", "/greet").strip(),
        )


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
