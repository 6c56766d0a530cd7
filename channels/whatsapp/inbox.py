"""The WhatsApp inbox: an acknowledged message outlives the replica that took it.

Meta does not deliver an acknowledged message again (and the de-duplication
record would refuse it), so between the webhook's 200 and the end of its turn
a message must not live only in one process's memory: a SIGKILL or an OOM of
the replica would lose it for good (SIGTERM drains, ``channel.py``).

The webhook's one synchronous round trip (:meth:`Inbox.claim`, a Lua script)
writes, per message id, the de-duplication record (``SET NX EX``, as before)
and, when the id is new, an inbox entry: the message, owned by this worker,
to be looked at again ``check_seconds`` later. The worker runs the message at
once, as before, and deletes the entry when the turn ends (:meth:`Inbox.done`).
Every worker keeps a heartbeat key alive and, each beat, sweeps the entries
whose time to be looked at has come (:meth:`Inbox.sweep`):

* another worker's whose heartbeat is alive: looked at again later;
* a dead worker's (no heartbeat: killed, or stopped with turns unfinished),
  or this worker's own that no longer runs here (its turn failed because
  Redis or the lock store was down, or the delete failed): taken over
  (atomically: one taker) and run again, at most ``MAX_TRIES`` times, then
  logged and dropped.

A taken-over message whose ``message_id`` the conversation already holds is
not run again (the dead worker finished the turn, not the delete): the
customer is not answered twice. Still possible, and accepted: a turn killed
after sending its replies but before saving the tracker runs again (Rasa
sends before it saves), so delivery is at least once, never zero.

Keys, in one hash slot on a cluster (:func:`bot.stores.keys.feature_prefix`,
``{<prefix>:wa}``; on a server the names stay ``<prefix>:wa:...``):
``seen:<id>`` / ``failed:<id>`` (de-duplication, 7 days), ``inbox`` (entry id
-> the message as JSON), ``inbox:owner`` (entry id -> worker), ``inbox:due``
(entry id -> when to look, ms), ``inbox:tries`` and ``worker:<id>`` (heartbeat).
Delivery statuses other than ``failed`` are counters, not deduplicated, and
stay out of the inbox.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any, Awaitable, Callable, List, Sequence, Set, Tuple, Union

from bot.metrics import record_unexpected
from bot.redis_pool import Atomic, get_redis
from bot.stores.connection import StoreConfig
from bot.stores.keys import feature_prefix
from bot.stores.settings import RedisSettings
from channels.common.errors import UNAVAILABLE_ERRORS
from channels.whatsapp.inbound import Inbound, Status
from channels.whatsapp.settings import InboxSettings

logger = logging.getLogger(__name__)

# Meta retries an unacknowledged delivery for up to 7 days.
DEDUPE_TTL_SECONDS = 7 * 24 * 3600
# The most the synchronous claim may hold the event loop when Redis hangs.
SYNC_TIMEOUT_SECONDS = 0.5
# Take-overs of one message before it is given up (logged, counted).
MAX_TRIES = 5
# Entries looked at per sweep (the rest wait for the next beat).
SWEEP_LIMIT = 100

MESSAGE, FAILURE = "seen", "failed"  # entry kinds = the de-duplication records' names
Item = Union[Inbound, Status]

# KEYS: inbox, owner, due, then the de-duplication keys.
# ARGV: ttl, worker, due at (ms), then per de-duplication key: entry id, entry.
_CLAIM = """
local out = {}
for i = 4, #KEYS do
  local a = 4 + (i - 4) * 2
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) then
    redis.call('HSET', KEYS[1], ARGV[a], ARGV[a + 1])
    redis.call('HSET', KEYS[2], ARGV[a], ARGV[2])
    redis.call('ZADD', KEYS[3], ARGV[3], ARGV[a])
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
"""

# KEYS: inbox, owner, due, tries. ARGV: worker, due at (ms), max tries,
# heartbeat key prefix (same slot: the keys share the hash tag), then entry ids.
# Returns 'run' or 'drop', id, entry for each entry taken over.
_TAKE_OVER = """
local out = {}
for i = 5, #ARGV do
  local id = ARGV[i]
  local owner = redis.call('HGET', KEYS[2], id)
  if not owner then
    redis.call('ZREM', KEYS[3], id)
  elseif owner ~= ARGV[1] and redis.call('EXISTS', ARGV[4] .. owner) == 1 then
    redis.call('ZADD', KEYS[3], ARGV[2], id)
  else
    local entry = redis.call('HGET', KEYS[1], id)
    if redis.call('HINCRBY', KEYS[4], id, 1) > tonumber(ARGV[3]) then
      redis.call('HDEL', KEYS[1], id); redis.call('HDEL', KEYS[2], id)
      redis.call('HDEL', KEYS[4], id); redis.call('ZREM', KEYS[3], id)
      out[#out + 1] = 'drop'
    else
      redis.call('HSET', KEYS[2], id, ARGV[1])
      redis.call('ZADD', KEYS[3], ARGV[2], id)
      out[#out + 1] = 'run'
    end
    out[#out + 1] = id
    out[#out + 1] = entry or ''
  end
end
return out
"""


@dataclass(frozen=True)
class Taken:
    """An entry taken over by this worker: run it again (``drop``: given up)."""

    entry_id: str
    kind: str
    item: Item
    received_us: int
    drop: bool = False


def entry_of(kind: str, item: Item) -> str:
    """``seen:<message id>`` / ``failed:<message id>``: the inbox field, and the name
    of the de-duplication record under the WhatsApp prefix."""
    return f"{kind}:{item.message_id}"


def encode(kind: str, item: Item, received_us: int) -> str:
    return json.dumps({"kind": kind, "received": received_us, "item": dataclasses.asdict(item)},
                      separators=(",", ":"))


def decode(entry_id: str, raw: Union[str, bytes], drop: bool = False) -> Taken:
    value = json.loads(raw)
    fields = value["item"]
    if value["kind"] == FAILURE:
        item: Item = Status(**{**fields, "error_codes": tuple(fields.get("error_codes") or ())})
    else:
        item = Inbound(**fields)
    return Taken(entry_id, value["kind"], item, int(value["received"]), drop)


class Inbox:
    """This worker's side of the shared inbox (one per webhook, i.e. per process)."""

    def __init__(self, settings: InboxSettings) -> None:
        self.settings = settings
        self.worker = uuid.uuid4().hex
        self.running: Set[str] = set()  # entry ids whose turn runs in this process
        self._sync_client: Any = None
        redis = RedisSettings.current()
        self.prefix = feature_prefix(redis.key_prefix, "wa", redis.cluster)
        self.inbox_key, self.owner_key = f"{self.prefix}:inbox", f"{self.prefix}:inbox:owner"
        self.due_key, self.tries_key = f"{self.prefix}:inbox:due", f"{self.prefix}:inbox:tries"
        self.heartbeat_prefix = f"{self.prefix}:worker:"

    # -- the webhook's claim (synchronous) ------------------------------------------------
    def _sync(self) -> Any:
        if self._sync_client is None:
            settings = RedisSettings.current()
            config = StoreConfig(replace(settings, timeout_seconds=min(settings.timeout_seconds,
                                                                       SYNC_TIMEOUT_SECONDS)))
            self._sync_client = config.sync_client()
        return self._sync_client

    def claim(self, messages: Sequence[Inbound], failures: Sequence[Status]) -> Tuple[List[Tuple[str, Inbound]],
                                                                                      List[Tuple[str, Status]]]:
        """The messages and failed statuses delivered for the first time, each with
        its entry id, now in the inbox under this worker. One synchronous round trip
        (a fraction of a millisecond; awaiting an async client put the webhook's
        200 behind every ready turn slice of a busy loop, docs/benchmarks.md). Raises
        ``RedisError`` when Redis does not answer: nothing is claimed, Meta retries."""
        items = [(MESSAGE, m) for m in messages] + [(FAILURE, s) for s in failures]
        if not items:
            return [], []
        received_us = time.time_ns() // 1000  # orders a customer's messages when taken over
        due_ms = received_us // 1000 + int(self.settings.check_seconds * 1000)
        keys = [self.inbox_key, self.owner_key, self.due_key]
        args: List[Any] = [DEDUPE_TTL_SECONDS, self.worker, due_ms]
        for kind, item in items:
            keys.append(f"{self.prefix}:{entry_of(kind, item)}")  # the de-duplication record
            args += [entry_of(kind, item), encode(kind, item, received_us)]
        fresh = self._sync().register_script(_CLAIM)(keys=keys, args=args)
        claimed = [(kind, item) for (kind, item), first in zip(items, fresh) if first]
        if len(items) > len(claimed):
            logger.info("WhatsApp: %d duplicate deliveries ignored", len(items) - len(claimed))
        self.running.update(entry_of(kind, item) for kind, item in claimed)
        return ([(entry_of(MESSAGE, m), m) for kind, m in claimed if kind == MESSAGE],
                [(entry_of(FAILURE, s), s) for kind, s in claimed if kind == FAILURE])

    # -- a turn's end ---------------------------------------------------------------------
    async def run(self, entry_id: str, work: Awaitable[None]) -> None:
        """``work`` for an entry, then the entry deleted, unless a dependency was
        down (kept: the sweep runs it again)."""
        self.running.add(entry_id)
        keep = False
        try:
            await work
        except UNAVAILABLE_ERRORS:
            keep = True
            raise
        finally:
            self.running.discard(entry_id)
            if not keep:
                await self.done(entry_id)

    async def done(self, entry_id: str) -> None:
        """The entry is handled: out of the inbox (a failure is logged; the sweep retries)."""
        try:
            await (Atomic(get_redis()).call("HDEL", self.inbox_key, entry_id)
                   .call("HDEL", self.owner_key, entry_id).call("HDEL", self.tries_key, entry_id)
                   .call("ZREM", self.due_key, entry_id).execute())
        except UNAVAILABLE_ERRORS as error:
            logger.warning("WhatsApp inbox: %s handled but not deleted (%s)", entry_id, type(error).__name__)

    # -- heartbeat and take-over ----------------------------------------------------------
    async def beat(self) -> None:
        ttl = max(1, int(self.settings.heartbeat_seconds * 3 + 0.999))
        await get_redis().set(self.heartbeat_prefix + self.worker, "1", ex=ttl)

    async def sweep(self) -> List[Taken]:
        """The due entries this worker takes over, oldest first (dropped ones included, marked)."""
        redis = get_redis()
        now = int(time.time() * 1000)
        due = [_text(v) for v in await redis.zrangebyscore(self.due_key, "-inf", now, start=0, num=SWEEP_LIMIT)]
        later = now + int(self.settings.check_seconds * 1000)
        mine = [entry_id for entry_id in due if entry_id in self.running]
        if mine:  # still running here: look again later
            await redis.zadd(self.due_key, {entry_id: later for entry_id in mine})
        others = [entry_id for entry_id in due if entry_id not in self.running]
        if not others:
            return []
        script = redis.register_script(_TAKE_OVER)
        out = await script(keys=[self.inbox_key, self.owner_key, self.due_key, self.tries_key],
                           args=[self.worker, later, MAX_TRIES, self.heartbeat_prefix, *others])
        taken = []
        for verdict, entry_id, raw in zip(out[0::3], out[1::3], out[2::3]):
            verdict, entry_id = _text(verdict), _text(entry_id)
            if not raw:  # an entry without its message: nothing to run
                continue
            taken.append(decode(entry_id, raw, drop=verdict == "drop"))
        return sorted(taken, key=lambda t: t.received_us)

    async def keep(self, take: Callable[[Taken], None]) -> None:
        """Beat and sweep every ``heartbeat_seconds`` until cancelled; ``take`` runs
        each entry taken over (in order of arrival)."""
        while True:
            try:
                await self.beat()
                for taken in await self.sweep():
                    if taken.drop:
                        logger.error("WhatsApp inbox: %s given up after %d tries", taken.entry_id, MAX_TRIES)
                        record_unexpected("whatsapp_inbox_dropped")
                        continue
                    logger.warning("WhatsApp inbox: %s taken over (its worker died or its turn failed)",
                                   taken.entry_id)
                    self.running.add(taken.entry_id)
                    take(taken)
            except UNAVAILABLE_ERRORS as error:
                logger.warning("WhatsApp inbox: heartbeat/sweep failed (%s)", type(error).__name__)
            except Exception:  # the keeper must outlive one bad round
                logger.exception("WhatsApp inbox: sweep failed")
                record_unexpected("whatsapp_inbox_sweep")
            await asyncio.sleep(self.settings.heartbeat_seconds)

    async def stop(self) -> None:
        """This worker is going away: its heartbeat too, so what it left is taken over soon."""
        try:
            await get_redis().delete(self.heartbeat_prefix + self.worker)
        except UNAVAILABLE_ERRORS:
            pass


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
