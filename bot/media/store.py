"""Files in Redis, one hash per file, expiring with ``MEDIA_TTL_SECONDS``.

Redis because every replica must serve a file another one received, and the
project already depends on it (no shared disk or object store to run). The
client decodes replies as text, so the bytes are kept base64-encoded (a third
more memory; files are capped at 16 MB and expire). Ids are 128 random bits:
a link's signature, not the id, is what grants access (``bot.media.links``).
"""
from __future__ import annotations

import base64
import re
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional, Tuple

from bot.media.files import MediaFile
from bot.redis_pool import redis_key

ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{22}$")
_FIELDS = ("mime", "kind", "filename", "size", "sha256", "origin", "created")


@dataclass(frozen=True)
class StoredMedia:
    """What is known of a kept file (its bytes are read separately)."""

    id: str
    mime: str
    kind: str
    filename: str
    size: int
    sha256: str
    origin: str  # customer | agent
    created: float

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


class MediaStore:
    def __init__(self, redis, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl_seconds = ttl_seconds

    @staticmethod
    def key(media_id: str) -> str:
        return redis_key("media", media_id)

    async def put(self, file: MediaFile, origin: str) -> StoredMedia:
        stored = StoredMedia(secrets.token_urlsafe(16), file.mime, file.kind, file.filename, file.size,
                             file.sha256, origin, time.time())
        mapping = {name: str(value) for name, value in stored.as_dict().items() if name != "id"}
        mapping["data"] = base64.b64encode(file.data).decode("ascii")
        key = self.key(stored.id)
        async with self.redis.pipeline(transaction=True) as pipe:  # one key: also on a cluster
            pipe.hset(key, mapping=mapping)
            pipe.expire(key, self.ttl_seconds)
            await pipe.execute()
        return stored

    async def info(self, media_id: str) -> Optional[StoredMedia]:
        if not ID_PATTERN.match(media_id or ""):
            return None
        values = await self.redis.hmget(self.key(media_id), _FIELDS)
        return _stored(media_id, values)

    async def read(self, media_id: str) -> Optional[Tuple[StoredMedia, bytes]]:
        if not ID_PATTERN.match(media_id or ""):
            return None
        values = await self.redis.hmget(self.key(media_id), _FIELDS + ("data",))
        stored = _stored(media_id, values[:-1])
        if stored is None or values[-1] is None:
            return None
        return stored, base64.b64decode(values[-1])


def _stored(media_id: str, values: list) -> Optional[StoredMedia]:
    if values[0] is None:
        return None
    mime, kind, filename, size, sha256, origin, created = values
    return StoredMedia(media_id, mime, kind, filename, int(size), sha256, origin, float(created))
