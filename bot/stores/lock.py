"""Redis ticket lock store: one turn per conversation at a time, across replicas.

Stock ``RedisLockStore`` reads, edits and rewrites a JSON lock (two replicas
can hand out the same ticket), waiters poll every second, and a turn longer
than ``TICKET_LOCK_LIFETIME`` lets its ticket expire, after which the
messages waiting behind it are dropped with a ``LockError``.

Here, per conversation:

* ``<prefix>:lock-next:<id>``: the ticket counter (INCR, in a Lua script
  with the rest, so tickets are unique and ordered across replicas);
* ``<prefix>:lock-queue:<id>``: a sorted set, member = ticket, score = its
  expiry in Redis' own clock (``TIME``; replicas' clocks do not matter).

The lowest live ticket holds the lock. Every holder and waiter renews its
ticket every third of the lifetime while its process is alive, so only the
ticket of a dead process expires; a long turn keeps the lock and the
messages behind it wait their turn. Releasing publishes the conversation id
on ``<prefix>:lock-released``; one subscription per process wakes the local
waiters at once (if a notice is missed they re-check after
``wait_time_in_seconds``, and when the holder's ticket is due to expire).
On a Redis Cluster ``<id>`` is ``{conv:<id>}`` (both keys of the issue script
in one slot) and the subscription is a plain connection to the configured
node (a cluster broadcasts PUBLISH to every node).

Redis errors raise :class:`LockStoreUnavailable` (a ``LockError``). A
command is retried once on a broken connection; if the reply of an *issue*
was the part lost, the extra ticket is never renewed and only delays that
conversation by one lifetime (nothing is lost).
"""
from __future__ import annotations

import asyncio
import logging
import time
import weakref
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Dict, List, Optional, Set, Text

import redis
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockStore
from rasa.utils.endpoints import EndpointConfig

from bot.stores.connection import LoopClients, StoreConfig
from bot.stores.errors import UNAVAILABLE_ERRORS, LockStoreUnavailable
from bot.stores.keys import conversation_part

logger = logging.getLogger(__name__)

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# Keeps the queue key alive as long as its longest-lived ticket.
_EXPIRE_QUEUE = """
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if top[2] then redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(top[2]) - now + 1000)) end
"""

# KEYS queue, counter; ARGV lifetime ms -> the new ticket.
_ISSUE = _NOW + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ticket = redis.call('INCR', KEYS[2])
if ticket == 1 then
  for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    if tonumber(member) >= ticket then ticket = tonumber(member) + 1 end
  end
  redis.call('SET', KEYS[2], ticket)
end
redis.call('PEXPIRE', KEYS[2], math.max(tonumber(ARGV[1]) * 2, 86400000))
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ticket)
""" + _EXPIRE_QUEUE + """
return ticket
"""

# KEYS queue; ARGV ticket -> {head ticket, ms until the head expires}; head is
# -1 when our own ticket is gone (it expired: the caller takes a new one).
_HEAD = _NOW + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return {-1, 0} end
local head, expiry = nil, 0
local items = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #items, 2 do
  local ticket = tonumber(items[i])
  if head == nil or ticket < head then head, expiry = ticket, tonumber(items[i + 1]) end
end
return {head, expiry - now}
"""

# KEYS queue; ARGV ticket, lifetime ms -> 1 renewed, 0 the ticket had expired.
_RENEW = _NOW + """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
""" + _EXPIRE_QUEUE + """
return 1
"""

# KEYS queue; ARGV ticket, channel, conversation id -> tickets still queued.
_RELEASE = """
redis.call('ZREM', KEYS[1], ARGV[1])
local left = redis.call('ZCARD', KEYS[1])
if left > 0 then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return left
"""

_SCRIPTS = {"issue": _ISSUE, "head": _HEAD, "renew": _RENEW, "release": _RELEASE}

# What a lost or refused subscription looks like (any redis-py error, a socket error).
_LISTEN_ERRORS = UNAVAILABLE_ERRORS + (redis.exceptions.RedisError,)
CLOSE_TIMEOUT_SECONDS = 2.0


class _ReleaseListener:
    """One pub/sub subscription per event loop; wakes that loop's waiters."""

    def __init__(self, config: StoreConfig, channel: str) -> None:
        self._config = config
        self._channel = channel
        self._waiters: Dict[str, Set[asyncio.Event]] = {}
        self._task: Optional[asyncio.Task] = None
        self.subscribed = asyncio.Event()

    def register(self, conversation_id: Text) -> asyncio.Event:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._listen())
        event = asyncio.Event()
        self._waiters.setdefault(conversation_id, set()).add(event)
        return event

    def unregister(self, conversation_id: Text, event: asyncio.Event) -> None:
        waiters = self._waiters.get(conversation_id)
        if waiters is not None:
            waiters.discard(event)
            if not waiters:
                del self._waiters[conversation_id]

    def _wake(self, conversation_id: Optional[Text] = None) -> None:
        targets = (
            [self._waiters.get(conversation_id, set())]
            if conversation_id is not None
            else list(self._waiters.values())
        )
        for events in targets:
            for event in events:
                event.set()

    async def _listen(self) -> None:
        backoff = 0.2
        while True:
            client = self._config.subscriber_client(socket_timeout=None, health_check_interval=10)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                self.subscribed.set()
                self._wake()  # notices sent before we listened: everyone re-checks
                backoff = 0.2
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=10)
                    if message and message.get("type") == "message":
                        self._wake(message["data"])
            except asyncio.CancelledError:
                raise
            except _LISTEN_ERRORS as error:  # Redis went away: waiters fall back to polling
                self._interrupted(logger.warning, "lock store: release notices interrupted (%s); retrying", error)
            except Exception:  # a bug here must not end the notices for good: log it, retry
                self._interrupted(logger.exception, "lock store: release listener failed; retrying")
            finally:
                try:  # bounded: a close racing a cancelled read can wait forever (shutdown hangs)
                    await asyncio.wait_for(self._close(pubsub, client), CLOSE_TIMEOUT_SECONDS)
                except (asyncio.TimeoutError, *_LISTEN_ERRORS):  # closing a broken connection
                    pass
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    @staticmethod
    async def _close(pubsub: Any, client: Any) -> None:
        await pubsub.close()
        await client.close()

    def _interrupted(self, log, message: str, *args: Any) -> None:
        """Waiters re-check now and poll until the subscription is back."""
        self.subscribed.clear()
        log(message, *args)
        self._wake()


class RedisTicketLockStore(LockStore):
    """Ticket lock in Redis with atomic tickets, instant hand-over and leases.

    Endpoint keys as for the tracker store: ``url`` (host or ``redis://``
    URL), ``port``, ``db``, ``password``, ``username``, ``use_ssl``,
    ``key_prefix``, ``socket_timeout``; missing ones come from the
    environment (``REDIS_URL``...). The lifetime is Rasa's
    ``TICKET_LOCK_LIFETIME`` (seconds, default 60): how long the ticket of a
    process that died blocks the conversation.
    """

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, **kwargs: Any) -> None:
        options: Dict[str, Any] = {}
        if endpoint_config is not None:
            options.update(endpoint_config.kwargs)
            options["host"] = endpoint_config.url
        options.update(kwargs)
        self.config = StoreConfig.from_kwargs(**options)
        self.channel = f"{self.config.key_prefix}:lock-released"
        self._connections = LoopClients(self.config, _SCRIPTS)
        self._listeners: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _ReleaseListener]" = (
            weakref.WeakKeyDictionary()
        )
        self._sync_client = None
        super().__init__()

    # -- keys and plumbing ------------------------------------------------------

    def _queue_key(self, conversation_id: Text) -> str:
        return f"{self.config.key_prefix}:lock-queue:{conversation_part(conversation_id, self.config.cluster)}"

    def _counter_key(self, conversation_id: Text) -> str:
        return f"{self.config.key_prefix}:lock-next:{conversation_part(conversation_id, self.config.cluster)}"

    def _unavailable(self, error: BaseException) -> LockStoreUnavailable:
        return LockStoreUnavailable(
            f"lock store: Redis at {self.config.redis.address} did not answer ({type(error).__name__}: {error})"
        )

    async def _run(self, script: str, conversation_id: Text, *args: Any) -> Any:
        connection = self._connections.get()
        keys = [self._queue_key(conversation_id)]
        if script == "issue":
            keys.append(self._counter_key(conversation_id))
        try:
            return await connection.scripts[script](keys=keys, args=list(args))
        except UNAVAILABLE_ERRORS as error:
            raise self._unavailable(error) from error

    def _listener(self) -> _ReleaseListener:
        loop = asyncio.get_running_loop()
        listener = self._listeners.get(loop)
        if listener is None:
            listener = _ReleaseListener(self.config, self.channel)
            self._listeners[loop] = listener
        return listener

    # -- the turn's lock (what Rasa uses) ---------------------------------------

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: Text,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncGenerator[TicketLock, None]:
        """Wait for this conversation's turn, hold it while the body runs."""
        lifetime_ms = max(int(lock_lifetime * 1000), 1000)
        ticket = int(await self._run("issue", conversation_id, lifetime_ms))
        holder = {"ticket": ticket}
        keeper = asyncio.get_running_loop().create_task(
            self._keep_alive(conversation_id, holder, lifetime_ms)
        )
        try:
            await self._wait_for_turn(conversation_id, holder, lifetime_ms, wait_time_in_seconds)
            expires = time.time() + lock_lifetime
            yield TicketLock(conversation_id, [Ticket(holder["ticket"], expires)])  # type: ignore[arg-type]
        finally:
            keeper.cancel()
            await self._release(conversation_id, holder["ticket"])

    async def _wait_for_turn(
        self, conversation_id: Text, holder: Dict[str, int], lifetime_ms: int, poll_seconds: float
    ) -> None:
        listener = self._listener()
        while True:
            woken = listener.register(conversation_id)  # before the check: no lost wake-up
            try:
                head, expires_in_ms = await self._run("head", conversation_id, holder["ticket"])
                if int(head) == holder["ticket"]:
                    return
                if int(head) == -1:  # our ticket expired (this process stalled): queue again
                    logger.warning("lock store: a ticket expired while waiting; taking a new one")
                    holder["ticket"] = int(await self._run("issue", conversation_id, lifetime_ms))
                    continue
                timeout = min(poll_seconds, max(int(expires_in_ms), 10) / 1000)
                try:
                    await asyncio.wait_for(woken.wait(), timeout)
                except asyncio.TimeoutError:
                    pass
            finally:
                listener.unregister(conversation_id, woken)

    async def _keep_alive(self, conversation_id: Text, holder: Dict[str, int], lifetime_ms: int) -> None:
        """Renew the ticket while this process lives: a long turn keeps its place."""
        while True:
            await asyncio.sleep(lifetime_ms / 3000)
            try:
                if not await self._run("renew", conversation_id, holder["ticket"], lifetime_ms):
                    logger.warning("lock store: a ticket expired before it could be renewed")
            except LockStoreUnavailable as error:
                logger.warning("%s; will retry", error)

    async def _release(self, conversation_id: Text, ticket: int) -> None:
        try:
            await self._run("release", conversation_id, ticket, self.channel, conversation_id)
        except LockStoreUnavailable as error:
            # The turn itself is done; the ticket expires on its own after the lifetime.
            logger.error("%s; the lock is released when its ticket expires", error)

    # -- Rasa's synchronous LockStore interface (tools, tests; not the hot path) --

    def _sync(self):
        if self._sync_client is None:
            try:
                self._sync_client = self.config.sync_client()  # a cluster client connects here
            except UNAVAILABLE_ERRORS as error:
                raise self._unavailable(error) from error
        return self._sync_client

    def _sync_call(self, function, *args: Any) -> Any:
        try:
            return function(*args)
        except UNAVAILABLE_ERRORS as error:
            raise self._unavailable(error) from error

    def get_lock(self, conversation_id: Text) -> Optional[TicketLock]:
        """The live tickets of a conversation as Rasa's ``TicketLock``, if any."""
        items = self._sync_call(
            self._sync().zrange, self._queue_key(conversation_id), 0, -1, False, True
        )
        if not items:
            return None
        offset = time.time() * 1000 - self._redis_now_ms()
        tickets: List[Ticket] = sorted(
            (Ticket(int(member), (score + offset) / 1000) for member, score in items),
            key=lambda ticket: ticket.number,
        )
        lock = TicketLock(conversation_id, tickets)  # type: ignore[arg-type]
        lock.remove_expired_tickets()
        return lock if lock.tickets else None

    def _redis_now_ms(self) -> float:
        seconds, micros = self._sync_call(self._sync().time)
        return seconds * 1000 + micros / 1000

    def save_lock(self, lock: TicketLock) -> None:
        """Replace a conversation's tickets (expiries converted to Redis' clock)."""
        offset = self._redis_now_ms() - time.time() * 1000
        key = self._queue_key(lock.conversation_id)
        pipe = self._sync().pipeline()
        pipe.delete(key)
        if lock.tickets:
            pipe.zadd(key, {str(t.number): t.expires * 1000 + offset for t in lock.tickets})
            pipe.pexpireat(key, int(max(t.expires for t in lock.tickets) * 1000 + offset) + 1000)
        self._sync_call(pipe.execute)

    def delete_lock(self, conversation_id: Text) -> None:
        deleted = self._sync_call(self._sync().delete, self._queue_key(conversation_id))
        self._log_deletion(conversation_id, bool(deleted))

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        script = self._sync().register_script(_ISSUE)
        return int(
            self._sync_call(
                script,
                [self._queue_key(conversation_id), self._counter_key(conversation_id)],
                [max(int(lock_lifetime * 1000), 1000)],
            )
        )

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        script = self._sync().register_script(_RELEASE)
        self._sync_call(
            script, [self._queue_key(conversation_id)], [ticket_number, self.channel, conversation_id]
        )

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Releasing the last ticket already removes the queue key."""
        self.finish_serving(conversation_id, ticket_number)
