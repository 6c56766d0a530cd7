"""A conversation as the desk shows it: tracker events as transcript messages.

Used by the API (``GET /desk/api/conversations/<id>``) and by the event
broker (``new_message`` events), so both show a message the same way.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Text

from sanic import Sanic

from bot.desk.conversations import Conversation
from bot.media import MediaLinks, media_settings

TRANSCRIPT_MAX = 500
CONSOLE_LINK_SECONDS = 15 * 60  # a console re-reads the transcript for fresh links


def iso(timestamp: Optional[float]) -> str:
    moment = datetime.fromtimestamp(timestamp, timezone.utc) if timestamp else datetime.now(timezone.utc)
    return moment.isoformat()


def message_of(event: Dict[Text, Any]) -> Dict[Text, Any]:
    """A tracker event (as published) as a desk transcript message."""
    if event.get("event") == "user":
        message = {"author": "customer", "text": event.get("text") or ""}
    else:
        agent = (event.get("metadata") or {}).get("desk_agent")
        message = {"author": "agent" if agent else "bot", "text": event.get("text") or ""}
        if agent:
            message["agent"] = agent
        data = event.get("data") or {}
        if data.get("buttons"):
            message["buttons"] = data["buttons"]
        if data.get("image"):
            message["image"] = data["image"]
    media = (event.get("metadata") or {}).get("media")
    if isinstance(media, dict):
        message["media"] = media_view(media)
        if message["author"] == "customer" and message["text"].startswith("/"):  # a file the bot took as a request
            message["text"] = str(media.get("caption") or "")
    message["timestamp"] = iso(event.get("timestamp"))
    return message


def media_view(media: Dict[Text, Any]) -> Dict[Text, Any]:
    """A file in a message as the console shows it: kind, type, name, size, a voice
    note's ``transcript``, what the vision model saw in a photo (``description``) and a short-lived signed link (none when it could not be
    downloaded: ``error``)."""
    view = {key: media[key] for key in ("kind", "mime", "filename", "size", "error", "transcript", "description")
            if media.get(key)}
    settings = media_settings()
    if media.get("id") and settings.secret:
        view["url"] = MediaLinks(settings.secret).path(str(media["id"]), CONSOLE_LINK_SECONDS)
    return view


async def transcript(app: Sanic, conversation: Conversation) -> List[Dict[str, Any]]:
    """The customer's messages, the bot's and the agents' of the current session."""
    tracker = await app.ctx.agent.tracker_store.retrieve(conversation.sender_id)
    if tracker is None:
        return []
    events = [event.as_dict() for event in tracker.events]
    start = 0
    for index, event in enumerate(events):
        if event.get("event") == "session_started":
            start = index
    return [message_of(event) for event in events[start:]
            if event.get("event") in ("user", "bot")][-TRANSCRIPT_MAX:]
