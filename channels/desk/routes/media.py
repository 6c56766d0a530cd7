"""Files: an agent's upload to their customer, and the signed links that serve kept files.

``POST /desk/api/conversations/<id>/attachments`` (multipart ``file`` and an
optional ``caption``) is an agent's, like a text reply: checked by its bytes
(415), its size (413) and the conversation (409/403), then delivered on the
customer's channel. ``GET /media/<id>`` needs no login but a genuine,
unexpired link (``bot.media.links``): the console's previews and a widget
customer's images use it.
"""
from __future__ import annotations

import time
from typing import Tuple

from sanic import Blueprint
from sanic.headers import parse_content_header
from sanic.request import Request, RequestParameters, parse_multipart_form
from sanic.response import HTTPResponse, json as json_response, raw

from bot.desk.errors import InvalidInput
from bot.errors import DependencyUnavailable, MalformedRequest, NotFound, UnsupportedMediaType
from bot.media import MediaLinks, MediaStore, inspect_file, media_settings
from bot.redis_pool import get_redis
from channels.desk.common import current_agent, message_text, send_agent_media

FORM_FIELDS = ("file", "caption")
MAX_CAPTION = 1024  # Meta's limit for a caption
INLINE_KINDS = ("image", "sticker", "audio", "video")


async def post_attachment(request: Request, conversation_id: str) -> HTTPResponse:
    agent = await current_agent(request)
    form, files = multipart_form(request)
    unknown = sorted((set(form) | set(files)) - set(FORM_FIELDS))
    if unknown:
        raise InvalidInput(unknown[0], f"unknown field (allowed: {', '.join(FORM_FIELDS)})")
    uploads = files.getlist("file") or []
    if len(uploads) != 1:
        raise InvalidInput("file", "send exactly one file per message")
    captions = form.getlist("caption") or []
    caption = message_text(captions[0], "caption") if captions and captions[0].strip() else ""
    if len(caption) > MAX_CAPTION:
        raise InvalidInput("caption", f"at most {MAX_CAPTION} characters")
    settings = media_settings()
    file = inspect_file(uploads[0].body, uploads[0].name or "", "file",
                        max_bytes=settings.limits())
    message = await send_agent_media(request.app, agent, conversation_id, file, caption)
    return json_response({"message": message}, status=201)


def multipart_form(request: Request) -> Tuple[RequestParameters, RequestParameters]:
    """The form's fields and files; a body that is not a readable form is refused here
    (Sanic's own ``request.form`` would log a traceback and give an empty form)."""
    content_type, parameters = parse_content_header(request.headers.get("content-type", ""))
    if content_type != "multipart/form-data" or not parameters.get("boundary"):
        raise UnsupportedMediaType("body: send multipart/form-data with a file field", "body")
    try:
        form, files = parse_multipart_form(request.body, str(parameters["boundary"]).encode("utf-8"))
    except (ValueError, KeyError, IndexError):  # UnicodeDecodeError is a ValueError
        raise MalformedRequest("body: not a readable multipart form (text fields must be UTF-8)", "body") from None
    return form, files


async def get_media(request: Request, media_id: str) -> HTTPResponse:
    settings = media_settings()
    if not settings.secret:
        raise DependencyUnavailable("media links are not configured (MEDIA_URL_SECRET or DESK_JWT_SECRET)")
    expires = request.args.get("expires") or ""
    MediaLinks(settings.secret).check(media_id, expires, request.args.get("signature") or "")
    found = await MediaStore(get_redis(), settings.ttl_seconds).read(media_id)
    if found is None:
        raise NotFound("media: no such file (files are kept MEDIA_TTL_SECONDS)", "media_id")
    stored, data = found
    disposition = "inline" if stored.kind in INLINE_KINDS else "attachment"
    return raw(data, content_type=stored.mime, headers={
        "Content-Disposition": f'{disposition}; filename="{stored.filename}"',
        "Cache-Control": f"private, max-age={max(0, int(expires) - int(time.time()))}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Referrer-Policy": "no-referrer",
    })


def register(bp: Blueprint, api: str) -> None:
    bp.add_route(post_attachment, f"{api}/conversations/<conversation_id>/attachments", methods=["POST"])
    bp.add_route(get_media, "/media/<media_id>", methods=["GET"])
