"""Departments (setores): each with its own queue, and which one a handoff goes to.

A department is data: the hash ``desk:department:<slug>`` (name, created_at)
listed in the set ``desk:departments``; admins add and rename them through
the API. ``desk_departments.yml`` (``DESK_DEPARTMENTS_FILE``) seeds the first
ones (created when missing, never overwritten) and maps what a conversation
is about (the requested service, then the customer's last intents, newest
first) to a department; anything unmapped goes to its ``default``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, List, Optional

import yaml

from bot.desk.errors import Conflict, InvalidInput, NotFound
from bot.desk.hours import BusinessHours
from bot.desk.keys import Keys
from bot.desk.model import checked_slug
from bot.desk.users import clean_name
from bot.desk.settings import desk_settings
from bot.settings import SettingsError

ROOT = Path(__file__).resolve().parents[2]
SLUG_LONGEST = 40
NAME_MAX = 60


MANUAL, AUTO = "manual", "auto"
FIELDS = ("name", "assignment", "first_response_seconds", "resolution_seconds", "hours")
HOURS_LONGEST = 200
ASSIGNMENTS = (MANUAL, AUTO)


@dataclass(frozen=True)
class Department:
    slug: str
    name: str
    assignment: str = MANUAL  # manual: agents claim; auto: the desk hands conversations out
    first_response_seconds: int = 0  # SLA targets; 0 = the desk's defaults
    resolution_seconds: int = 0
    hours: str = ""  # its own opening hours (DESK_HOURS' format); "" = the desk's

    def business_hours(self, desk: BusinessHours) -> BusinessHours:
        """When this department answers: its own hours, the desk's holidays."""
        if not self.hours:
            return desk
        return replace(BusinessHours.parse(self.hours), holidays=desk.holidays, yearly_holidays=desk.yearly_holidays)

    def as_dict(self) -> Dict[str, object]:
        return {"slug": self.slug, "name": self.name, "assignment": self.assignment,
                "first_response_seconds": self.first_response_seconds or None,
                "resolution_seconds": self.resolution_seconds or None, "hours": self.hours or None}


@dataclass(frozen=True)
class Routing:
    """The seed departments (slug -> name), the default and topic -> department."""

    departments: Dict[str, str]
    default: str
    by_topic: Dict[str, str]

    def route(self, topics: Iterable[Optional[str]]) -> str:
        """The department of the first topic that has one, else the default."""
        for topic in topics:
            if topic and topic in self.by_topic:
                return self.by_topic[topic]
        return self.default

    @classmethod
    def load(cls, path: Path) -> "Routing":
        data = yaml.safe_load(Path(path).read_text()) or {}
        departments = {str(slug): str(name) for slug, name in (data.get("departments") or {}).items()}
        for slug in departments:
            if not is_slug(slug):
                raise ValueError(f"{path}: department {slug!r}: 2 to 40 of a-z, 0-9, '_', '-'")
        default = str(data.get("default") or "")
        by_topic = {str(topic): str(slug) for topic, slug in (data.get("routing") or {}).items()}
        unknown = sorted({default, *by_topic.values()} - set(departments))
        if unknown:
            raise ValueError(f"{path}: routing names departments not listed: {', '.join(unknown)}")
        return cls(departments, default, by_topic)


@lru_cache(maxsize=1)
def routing() -> Routing:
    """The process's routing, read once from ``DESK_DEPARTMENTS_FILE``."""
    path = Path(desk_settings().departments_file)
    return Routing.load(path if path.is_absolute() else ROOT / path)


def clean_slug(value: object, field: str = "slug") -> str:
    return checked_slug(field, value, SLUG_LONGEST)


def is_slug(value: str) -> bool:
    """Written exactly as a slug (the seed file is not folded to lowercase)."""
    try:
        return clean_slug(value) == value
    except InvalidInput:
        return False


def checked_hours(value: object) -> str:
    """Opening hours as DESK_HOURS writes them (``mon-fri 08:00-18:00; sat 08:00-12:00``),
    or "" for the desk's; 422 naming ``hours`` with what is wrong."""
    if not isinstance(value, str) or len(value) > HOURS_LONGEST:
        raise InvalidInput("hours", f"text of at most {HOURS_LONGEST} characters, e.g. 'mon-fri 08:00-18:00'")
    value = " ".join(value.split())
    if value:
        try:
            parsed = BusinessHours.parse(value)
        except SettingsError as error:
            raise InvalidInput("hours", str(error).replace("DESK_HOURS: ", "")) from None
        if not parsed.schedule:
            raise InvalidInput("hours", "no day is open; leave it empty for the desk's hours")
    return value


def clean_department_name(value: object) -> str:
    return clean_name(value, NAME_MAX)


class Departments:
    def __init__(self, redis, keys: Keys):
        self.redis = redis
        self.keys = keys
        self._seeded = False

    def _key(self, slug: str) -> str:
        return self.keys("department", slug)

    async def seed(self, departments: Dict[str, str]) -> None:
        """Create the listed departments that do not exist yet (once per process)."""
        if self._seeded:
            return
        pipe = self.redis.pipeline(transaction=False)
        for slug, name in departments.items():
            pipe.hsetnx(self._key(slug), "name", name)
            pipe.hsetnx(self._key(slug), "created_at", repr(time.time()))
            pipe.sadd(self.keys("departments"), slug)
        await pipe.execute()
        self._seeded = True

    async def list(self) -> List[Department]:
        await self.seed(routing().departments)
        slugs = sorted(await self.redis.smembers(self.keys("departments")))
        pipe = self.redis.pipeline(transaction=False)
        for slug in slugs:
            pipe.hmget(self._key(slug), *FIELDS)
        return [department for department in (self._from(slug, values) for slug, values in zip(slugs, await pipe.execute()))
                if department]

    @staticmethod
    def _from(slug: str, values) -> Optional[Department]:
        name, assignment, first, resolution, hours = values
        return Department(slug, name, assignment or MANUAL, int(first or 0), int(resolution or 0),
                          hours or "") if name else None

    async def get(self, slug: str) -> Optional[Department]:
        await self.seed(routing().departments)
        if not isinstance(slug, str) or not slug:
            return None
        return self._from(slug, await self.redis.hmget(self._key(slug), *FIELDS))

    async def require(self, slug: object, field: str = "department") -> Department:
        department = await self.get(slug) if isinstance(slug, str) else None
        if department is None:
            raise InvalidInput(field, f"no department {slug!r}")
        return department

    async def create(self, slug: object, name: object) -> Department:
        slug, name = clean_slug(slug), clean_department_name(name)
        await self.seed(routing().departments)
        if not await self.redis.hsetnx(self._key(slug), "name", name):
            raise Conflict(f"department {slug} already exists", "slug")
        await self.redis.hset(self._key(slug), "created_at", repr(time.time()))
        await self.redis.sadd(self.keys("departments"), slug)
        return Department(slug, name)

    async def update(self, slug: str, name: object = None, assignment: object = None,
                     first_response_seconds: object = None, resolution_seconds: object = None,
                     hours: object = None) -> Department:
        """Rename, switch between manual claims and automatic assignment (at run
        time), set the SLA targets or the department's own hours ("" = the desk's)."""
        fields = {}
        if hours is not None:
            fields["hours"] = checked_hours(hours)
        for field, value in (("first_response_seconds", first_response_seconds),
                             ("resolution_seconds", resolution_seconds)):
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int) or not 30 <= value <= 30 * 24 * 3600:
                    raise InvalidInput(field, "whole seconds from 30 to 2592000 (30 days)")
                fields[field] = str(value)
        if name is not None:
            fields["name"] = clean_department_name(name)
        if assignment is not None:
            if assignment not in ASSIGNMENTS:
                raise InvalidInput("assignment", "must be manual or auto")
            fields["assignment"] = assignment
        if await self.get(slug) is None:
            raise NotFound(f"department {slug!r} does not exist", "slug")
        if fields:
            await self.redis.hset(self._key(slug), mapping=fields)
        return await self.get(slug)
