"""Desk logins: JWT sessions, logout (revocation) and a per-address login limit.

Tokens are HS256 JWTs signed with ``DESK_JWT_SECRET`` (required, at least 32
characters) with claims ``sub`` (username), ``role``, ``jti``, ``iat``, ``exp``
(``DESK_TOKEN_TTL_SECONDS``, default 8 hours) and ``auth_time`` (the login).
``refresh`` swaps a valid token for a new one and revokes the old, until
``DESK_SESSION_MAX_SECONDS`` (default 24 hours) after the login. Verification accepts
HS256 only (so ``alg: none`` and key-confusion tricks fail), then checks in
Redis that the ``jti`` was not logged out, that the agent still exists and is
enabled, and that the password did not change after the token was issued.
The role returned is the agent's current one, not the token's.

Failed logins are counted per client address in Redis:
``DESK_LOGIN_MAX_FAILURES`` (default 5) within ``DESK_LOGIN_WINDOW_SECONDS``
(default 300) lock that address until the window ends. Each attempt reserves
a slot atomically *before* the password is checked and gives it back on
success, so concurrent guesses can never exceed the limit.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Optional

import jwt

from bot.desk.errors import InvalidInput, LoginLocked, Unauthorized
from bot.desk.keys import Keys
from bot.desk.users import Agent, Users
from bot.desk.settings import AuthSettings, desk_settings

ALGORITHM = "HS256"

# Reserve one attempt: {1, ttl} when allowed, {0, ttl} when the address is locked.
_RESERVE = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[1]) then
  return {0, redis.call('TTL', KEYS[1])}
end
redis.call('INCR', KEYS[1])
if count == 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return {1, redis.call('TTL', KEYS[1])}
"""
# Give a reserved attempt back (a successful login is not a failure).
_REFUND = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
return 1
"""


@dataclass(frozen=True)
class Session:
    """A signed-in agent: the token to send back and when it expires."""

    token: str
    agent: Agent
    jti: str
    expires_at: int


class Auth:
    def __init__(self, redis, users: Users, settings: Optional[AuthSettings] = None,
                 keys: Optional[Keys] = None):
        self.redis = redis
        self.users = users
        self.settings = settings or desk_settings().auth()
        self.keys = keys or users.keys
        self._reserve = redis.register_script(_RESERVE)
        self._refund = redis.register_script(_REFUND)

    def _failures_key(self, address: str) -> str:
        return self.keys("login", "failures", address or "unknown")

    async def login(self, username: str, password: str, address: str,
                    now: Optional[float] = None) -> Session:
        """A new session; :class:`Unauthorized` or :class:`LoginLocked` otherwise."""
        if not isinstance(username, str) or not username.strip():
            raise InvalidInput("username", "is required")
        if not isinstance(password, str) or not password:
            raise InvalidInput("password", "is required")
        key = self._failures_key(address)
        allowed, ttl = await self._reserve(
            keys=[key], args=[self.settings.max_failures, self.settings.window]
        )
        if not allowed:
            raise LoginLocked(max(int(ttl), 1))
        agent = await self.users.check_password(username.strip().lower(), password)
        if agent is None:
            raise Unauthorized("invalid username or password")
        await self._refund(keys=[key])
        return self.issue(agent, now)

    def issue(self, agent: Agent, now: Optional[float] = None,
              auth_time: Optional[int] = None) -> Session:
        """Sign a token for ``agent`` (login calls this after checking the
        password; refresh with the login's ``auth_time``, which bounds the session)."""
        issued = int(time.time() if now is None else now)
        auth_time = issued if auth_time is None else auth_time
        expires = min(issued + self.settings.token_ttl, auth_time + self.settings.session_max)
        jti = uuid.uuid4().hex
        claims = {"sub": agent.username, "role": agent.role, "jti": jti,
                  "iat": issued, "exp": expires, "auth_time": auth_time}
        token = jwt.encode(claims, self.settings.secret, algorithm=ALGORITHM)
        return Session(token, agent, jti, expires)

    def subject(self, token: Optional[str]) -> Optional[str]:
        """The username a validly signed, unexpired token names (no Redis
        look-up: for rate-limit keys, not for access); None otherwise."""
        try:
            return str(self._claims(token)["sub"])
        except Unauthorized:
            return None

    def _claims(self, token: Optional[str]) -> dict:
        if not token or not isinstance(token, str):
            raise Unauthorized("token is missing")
        try:
            return jwt.decode(
                token, self.settings.secret, algorithms=[ALGORITHM],
                options={"require": ["sub", "role", "jti", "iat", "exp"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired") from None
        except jwt.PyJWTError as error:
            raise Unauthorized(f"invalid token: {error}") from None

    async def verify(self, token: Optional[str]) -> Agent:
        """The agent behind a valid, unrevoked token, with their current role."""
        claims = self._claims(token)
        if await self.redis.exists(self.keys("revoked", str(claims["jti"]))):
            raise Unauthorized("token revoked (logged out)")
        agent = await self.users.get(str(claims["sub"]))
        if agent is None or agent.disabled:
            raise Unauthorized("agent unknown or disabled")
        if claims["iat"] < int(agent.password_changed_at):
            raise Unauthorized("token issued before the last password change")
        return agent

    async def refresh(self, token: Optional[str], now: Optional[float] = None) -> Session:
        """A new token for a valid one, which is revoked (rotation); refused once
        ``DESK_SESSION_MAX_SECONDS`` have passed since the login."""
        agent = await self.verify(token)
        claims = self._claims(token)
        now = time.time() if now is None else now
        auth_time = int(claims.get("auth_time", claims["iat"]))
        if now >= auth_time + self.settings.session_max:
            raise Unauthorized("session too old to refresh: log in again")
        session = self.issue(agent, now, auth_time)
        await self.logout(token)
        return session

    async def logout(self, token: Optional[str]) -> None:
        """Revoke the token until it would have expired anyway."""
        claims = self._claims(token)
        ttl = max(int(claims["exp"] - time.time()), 1)
        await self.redis.set(self.keys("revoked", str(claims["jti"])), "1", ex=ttl)

    async def failures(self, address: str) -> int:
        """Failed logins counted for ``address`` in the current window."""
        return int(await self.redis.get(self._failures_key(address)) or 0)
