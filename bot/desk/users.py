"""Desk agents (atendentes, supervisors, admins) and their presence, in Redis.

An agent is a hash ``desk:user:<username>`` (name, role, argon2 password hash,
disabled flag, timestamps) listed in the set ``desk:users``. Passwords are
hashed with argon2id (argon2-cffi) off the event loop: a hash takes tens of
milliseconds and must not stall the other conversations of the process.

Presence is a heartbeat: the console calls :meth:`Users.heartbeat` every
few seconds with ``online`` or ``away``; an agent whose last heartbeat is
older than ``DESK_PRESENCE_TTL_SECONDS`` (default 90) counts as offline, so
a closed browser or a crashed replica never leaves a ghost "online" agent.
"""
from __future__ import annotations

import asyncio
import re
import time
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bot.desk.errors import Conflict, InvalidInput, NotFound
from bot.desk.keys import Keys
from bot.desk.settings import desk_settings
from bot.redis_pool import Atomic

ATENDENTE, SUPERVISOR, ADMIN = "atendente", "supervisor", "admin"
ROLES = (ATENDENTE, SUPERVISOR, ADMIN)
ONLINE, AWAY, OFFLINE = "online", "away", "offline"

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
PASSWORD_MIN, PASSWORD_MAX = 8, 256
CAPACITY_MAX = 50
NAME_MAX = 80

# HSET only when the hash exists yet/still: create (0) and update (1) atomically.
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
redis.call('SADD', KEYS[2], ARGV[2])
return 1
"""
_UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""


@dataclass(frozen=True)
class Agent:
    """What the desk knows of an agent; never carries the password hash."""

    username: str
    name: str
    role: str
    disabled: bool
    created_at: float
    password_changed_at: float
    departments: Tuple[str, ...] = ()  # the departments an atendente serves; () = every one
    capacity: Optional[int] = None  # most conversations auto-assigned at once; None = DESK_DEFAULT_CAPACITY

    @property
    def sees_everything(self) -> bool:
        """Supervisors and admins see and act on every conversation."""
        return self.role in (SUPERVISOR, ADMIN)

    def serves(self, department: str) -> bool:
        """Whether the agent takes conversations from ``department``'s queue."""
        return self.sees_everything or not self.departments or not department or department in self.departments

    def as_dict(self) -> Dict[str, object]:
        return asdict(self)

    @classmethod
    def from_hash(cls, data: Dict[str, str]) -> "Agent":
        return cls(
            username=data["username"],
            name=data.get("name", ""),
            role=data.get("role", ATENDENTE),
            disabled=data.get("disabled") == "1",
            created_at=float(data.get("created_at") or 0),
            password_changed_at=float(data.get("password_changed_at") or 0),
            departments=tuple(d for d in (data.get("departments") or "").split(",") if d),
            capacity=int(data["capacity"]) if data.get("capacity") else None,
        )


@dataclass(frozen=True)
class Presence:
    username: str
    status: str  # online / away / offline
    last_seen: Optional[float]


def clean_username(value: object) -> str:
    if not isinstance(value, str) or not USERNAME.match(value.strip().lower()):
        raise InvalidInput(
            "username", "2 to 40 characters: lowercase letters, digits, '.', '_' or '-'"
        )
    return value.strip().lower()


def clean_name(value: object, maximum: int = NAME_MAX) -> str:
    """A display name (an agent's, a department's): spaces folded, 1 to ``maximum`` characters."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("name", "is required")
    value = " ".join(value.split())
    if len(value) > maximum:
        raise InvalidInput("name", f"at most {maximum} characters")
    return value


def clean_role(value: object) -> str:
    if value not in ROLES:
        raise InvalidInput("role", f"must be one of {', '.join(ROLES)}")
    return str(value)


def clean_password(value: object) -> str:
    """A new password: 8 to 256 characters with an upper-case letter and a digit
    (the rule of the API this desk grew from). Stored ones are not re-checked."""
    if not isinstance(value, str) or not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
        raise InvalidInput("password", f"{PASSWORD_MIN} to {PASSWORD_MAX} characters, "
                                       "with an upper-case letter and a digit")
    if not value.strip():
        raise InvalidInput("password", "must not be blank")
    if not any(c.isupper() for c in value) or not any(c.isdigit() for c in value):
        raise InvalidInput("password", "needs at least one upper-case letter and one digit")
    return value


class Users:
    """Agent accounts and presence; one instance per process is enough."""

    def __init__(self, redis, keys: Optional[Keys] = None, presence_ttl: Optional[int] = None,
                 hasher: Optional[PasswordHasher] = None):
        self.redis = redis
        self.keys = keys or Keys()
        self.presence_ttl = presence_ttl or desk_settings().presence_ttl_seconds
        self.hasher = hasher or PasswordHasher()  # argon2id, RFC 9106 low-memory profile
        self._create = redis.register_script(_CREATE)
        self._update = redis.register_script(_UPDATE)
        self._dummy_hash: Optional[str] = None

    def _key(self, username: str) -> str:
        return self.keys("user", username)

    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(self.hasher.hash, password)

    async def create(self, username: str, name: str, role: str, password: str,
                     now: Optional[float] = None) -> Agent:
        """A new enabled agent; :class:`Conflict` when the username is taken."""
        username, name = clean_username(username), clean_name(name)
        role, password = clean_role(role), clean_password(password)
        now = time.time() if now is None else now
        fields = {
            "username": username, "name": name, "role": role, "disabled": "0",
            "password_hash": await self._hash(password),
            "created_at": repr(now), "password_changed_at": repr(now),
        }
        flat = [item for pair in fields.items() for item in pair]
        if not await self._create(keys=[self._key(username), self.keys("users")], args=flat):
            raise Conflict(f"username {username!r} already exists", "username")
        return Agent.from_hash(fields)

    async def get(self, username: str) -> Optional[Agent]:
        if not isinstance(username, str) or not username:
            return None
        data = await self.redis.hgetall(self._key(username))
        return Agent.from_hash(data) if data else None

    async def require(self, username: str) -> Agent:
        agent = await self.get(username)
        if agent is None:
            raise NotFound(f"agent {username!r} does not exist", "username")
        return agent

    async def list(self) -> List[Agent]:
        names = sorted(await self.redis.smembers(self.keys("users")))
        pipe = self.redis.pipeline(transaction=False)
        for username in names:
            pipe.hgetall(self._key(username))
        return [Agent.from_hash(data) for data in await pipe.execute() if data]

    async def _set(self, username: str, **fields: str) -> Agent:
        flat = [item for pair in fields.items() for item in pair]
        if not await self._update(keys=[self._key(username)], args=flat):
            raise NotFound(f"agent {username!r} does not exist", "username")
        return await self.require(username)

    async def update(self, username: str, name: Optional[str] = None,
                     role: Optional[str] = None, departments: Optional[Sequence[str]] = None,
                     capacity: Optional[int] = None) -> Agent:
        """``departments``: slugs already checked against the desk's departments."""
        fields = {}
        if capacity is not None:
            if isinstance(capacity, bool) or not isinstance(capacity, int) or not 1 <= capacity <= CAPACITY_MAX:
                raise InvalidInput("capacity", f"a whole number from 1 to {CAPACITY_MAX}")
            fields["capacity"] = str(capacity)
        if name is not None:
            fields["name"] = clean_name(name)
        if role is not None:
            fields["role"] = clean_role(role)
        if departments is not None:
            fields["departments"] = ",".join(sorted(set(departments)))
        if not fields:
            return await self.require(username)
        return await self._set(username, **fields)

    async def set_disabled(self, username: str, disabled: bool = True) -> Agent:
        """Disabling also ends the agent's sessions (auth checks the flag) and presence."""
        agent = await self._set(username, disabled="1" if disabled else "0")
        if disabled:
            await self.set_offline(username)
        return agent

    async def set_password(self, username: str, password: str,
                           now: Optional[float] = None) -> Agent:
        """New password; tokens issued before this second stop working."""
        password = clean_password(password)
        now = time.time() if now is None else now
        return await self._set(username, password_hash=await self._hash(password),
                               password_changed_at=repr(now))

    async def check_password(self, username: str, password: str) -> Optional[Agent]:
        """The agent when the password matches and the account is enabled, else None.

        Unknown users cost a hash verification too, so timing does not tell
        which usernames exist.
        """
        data = await self.redis.hgetall(self._key(username)) if isinstance(username, str) else {}
        stored = data.get("password_hash")
        if not stored:
            if self._dummy_hash is None:
                self._dummy_hash = await self._hash("not a password of anyone")
            stored = self._dummy_hash
        try:
            ok = await asyncio.to_thread(self.hasher.verify, stored, password or "")
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or not data or data.get("disabled") == "1":
            return None
        if self.hasher.check_needs_rehash(stored):
            await self._set(username, password_hash=await self._hash(password))
        return Agent.from_hash(data)

    # -- presence -------------------------------------------------------
    async def heartbeat(self, username: str, status: str = ONLINE,
                        now: Optional[float] = None) -> None:
        if status not in (ONLINE, AWAY):
            raise InvalidInput("status", "must be online or away")
        now = time.time() if now is None else now
        await (Atomic(self.redis).call("ZADD", self.keys("presence"), now, username)
               .call("HSET", self.keys("presence", "status"), username, status).execute())

    async def set_offline(self, username: str) -> None:
        await (Atomic(self.redis).call("ZREM", self.keys("presence"), username)
               .call("HDEL", self.keys("presence", "status"), username).execute())

    async def presence(self, now: Optional[float] = None) -> Dict[str, Presence]:
        """Every agent's presence; a heartbeat older than the TTL reads as offline."""
        now = time.time() if now is None else now
        pipe = self.redis.pipeline(transaction=False)
        pipe.smembers(self.keys("users"))
        pipe.zrange(self.keys("presence"), 0, -1, withscores=True)
        pipe.hgetall(self.keys("presence", "status"))
        names, beats, statuses = await pipe.execute()
        seen = dict(beats)
        result = {}
        for username in sorted(names):
            last = seen.get(username)
            fresh = last is not None and last >= now - self.presence_ttl
            status = statuses.get(username, OFFLINE) if fresh else OFFLINE
            result[username] = Presence(username, status, last)
        return result

    async def online(self, now: Optional[float] = None) -> List[str]:
        """Usernames of enabled agents available now (status online, fresh heartbeat)."""
        now = time.time() if now is None else now
        fresh = await self.redis.zrangebyscore(self.keys("presence"), now - self.presence_ttl, "+inf")
        if not fresh:
            return []
        statuses = await self.redis.hmget(self.keys("presence", "status"), fresh)
        return sorted(name for name, status in zip(fresh, statuses) if status == ONLINE)

    async def online_agents(self, now: Optional[float] = None) -> List[Agent]:
        """The enabled agents available now, with their departments."""
        names = await self.online(now)
        if not names:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for username in names:
            pipe.hgetall(self._key(username))
        return [agent for agent in (Agent.from_hash(data) for data in await pipe.execute() if data)
                if not agent.disabled]
