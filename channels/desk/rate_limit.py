"""Rate limits of the desk API, with ``X-RateLimit-Limit/Remaining/Reset`` on
every ``/desk/api`` response (as the API description asks).

Every call counts against the agent's budget (``DESK_API_RATE_LIMIT_PER_MINUTE``;
before login, the address's); outbound WhatsApp sends also against a stricter
one (``OUTREACH_SEND_RATE_PER_MINUTE``, 100), whose figures the headers then
show. Counters live in Redis (:class:`bot.rate_limit.RateLimiter`), so the
budget holds across replicas.
"""
from __future__ import annotations

from sanic.request import Request
from sanic.response import HTTPResponse

from bot.desk import Desk
from bot.errors import RateLimited
from bot.rate_limit import RateLimiter
from bot.redis_pool import get_redis
from channels.desk.common import bearer_token, desk_auth

API_PREFIX = "/desk/api/"


def caller_key(request: Request) -> str:
    username = desk_auth(Desk.shared()).subject(bearer_token(request)) if bearer_token(request) else None
    if username:
        return f"agent:{username}"
    return f"address:{request.remote_addr or request.ip or 'unknown'}"


async def count(request: Request, scope: str, limit: int, key: str) -> None:
    """One hit on ``scope``; 429 over ``limit``; the headers' figures kept on the request."""
    if limit <= 0:
        return
    hits, reset = await RateLimiter(get_redis(), limit, scope).count(key)
    request.ctx.rate_limit = (limit, max(0, limit - hits), reset)
    if hits > limit:
        raise RateLimited(f"at most {limit} requests per minute", reset)


async def before(request: Request) -> None:
    if request.path.startswith(API_PREFIX):
        await count(request, "desk-api", Desk.shared().settings.api_rate_limit_per_minute, caller_key(request))


async def after(request: Request, response: HTTPResponse) -> None:
    figures = getattr(request.ctx, "rate_limit", None)
    if figures is not None:
        limit, remaining, reset = figures
        response.headers["X-RateLimit-Limit"] = str(limit)
        response.headers["X-RateLimit-Remaining"] = str(remaining)
        response.headers["X-RateLimit-Reset"] = str(reset)
