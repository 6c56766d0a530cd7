"""Outages a supervisor registers at the desk (``POST /desk/api/outages``):
kept in Redis beside the ERP's own, so the bot answers customers of the area
about them and the job worker notifies them.

An outage is a hash ``<prefix>:outreach:outage:<id>``; the active ones are a
set. Ids are ``d<n>`` (desk) so they never clash with an ERP's ids."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Dict, List, Optional

from bot.errors import InvalidInput, NotFound
from bot.isp.base import Outage
from bot.redis_pool import redis_key

STARTED, RESOLVED = "started", "resolved"


def outage_campaign(outage_id: str, phase: str) -> str:
    """The campaign name of an outage's notices: ``outage:<id>:started|resolved``."""
    return f"outage:{outage_id}:{phase}"


MAX_TEXT = 500


@dataclass(frozen=True)
class DeskOutage:
    id: str
    neighbourhood: str
    city: str
    description: str
    started_at: float
    expected_end: Optional[str]  # ISO 8601, as the supervisor gave it
    resolved_at: Optional[float]
    created_by: str

    @property
    def area(self) -> str:
        return f"{self.neighbourhood}, {self.city}"

    def as_outage(self) -> Outage:
        """The ISP layer's shape, so the bot's outage answer treats both alike."""
        return Outage(id=self.id, neighbourhood=self.neighbourhood, city=self.city,
                      description=self.description, started_at=datetime.fromtimestamp(self.started_at),
                      forecast=datetime.fromisoformat(self.expected_end) if self.expected_end else None)

    def as_dict(self) -> Dict:
        return dict(asdict(self), status=RESOLVED if self.resolved_at else "active")


def text_field(value, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, "required text")
    if len(value) > MAX_TEXT:
        raise InvalidInput(field, f"at most {MAX_TEXT} characters")
    return value.strip()


def expected_end_field(value) -> Optional[str]:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value)).isoformat(timespec="minutes")
    except ValueError:
        raise InvalidInput("expected_end", "must be an ISO 8601 date and time, e.g. 2026-12-06T18:00") from None


def area_fields(area) -> tuple:
    if not isinstance(area, dict):
        raise InvalidInput("area", "must be an object {neighbourhood, city}")
    unknown = set(area) - {"neighbourhood", "city"}
    if unknown:
        raise InvalidInput(f"area.{sorted(unknown)[0]}", "unknown field (allowed: neighbourhood, city)")
    return text_field(area.get("neighbourhood"), "area.neighbourhood"), text_field(area.get("city"), "area.city")


class OutageBook:
    def __init__(self, redis) -> None:
        self.redis = redis
        self.active_key = redis_key("outreach", "outages", "active")

    def key(self, outage_id: str) -> str:
        return redis_key("outreach", "outage", outage_id)

    async def create(self, neighbourhood: str, city: str, description: str, expected_end: Optional[str],
                     created_by: str) -> DeskOutage:
        number = await self.redis.incr(redis_key("outreach", "outages", "ids"))
        outage = DeskOutage(id=f"d{number}", neighbourhood=neighbourhood, city=city, description=description,
                            started_at=round(time.time(), 3), expected_end=expected_end, resolved_at=None,
                            created_by=created_by)
        await self._save(outage)
        return outage

    async def get(self, outage_id: str) -> DeskOutage:
        raw = await self.redis.get(self.key(outage_id)) if outage_id.startswith("d") else None
        if raw is None:
            raise NotFound(f"no outage {outage_id}")
        return DeskOutage(**json.loads(raw))

    async def update(self, outage: DeskOutage, **changes) -> DeskOutage:
        updated = DeskOutage(**dict(asdict(outage), **changes))
        await self._save(updated)
        return updated

    async def active(self) -> List[DeskOutage]:
        outages = []
        for outage_id in sorted(await self.redis.smembers(self.active_key)):
            try:
                outages.append(await self.get(outage_id))
            except NotFound:
                await self.redis.srem(self.active_key, outage_id)
        return outages

    async def active_in(self, neighbourhood: str, city: str) -> List[Outage]:
        return [o.as_outage() for o in await self.active()
                if o.neighbourhood.lower() == (neighbourhood or "").lower() and o.city.lower() == (city or "").lower()]

    async def _save(self, outage: DeskOutage) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(self.key(outage.id), json.dumps(asdict(outage)))
        if outage.resolved_at:
            pipe.srem(self.active_key, outage.id)
        else:
            pipe.sadd(self.active_key, outage.id)
        await pipe.execute()
