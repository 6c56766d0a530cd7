"""Request bodies as the stand-ins read them: JSON, or a multipart form (files included)."""
from __future__ import annotations

import json
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, Dict


def parse_body(content_type: str, raw: bytes) -> Any:
    """A JSON body, or a multipart form as ``{name: value}`` (a file as (data, filename, type))."""
    if not content_type.startswith("multipart/form-data"):
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
    form: Dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        form[name] = (data, filename, part.get_content_type()) if filename else data.decode()
    return form
