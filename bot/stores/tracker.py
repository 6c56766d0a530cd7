"""Append-only Redis tracker store.

Stock ``RedisTrackerStore`` reads, merges and rewrites the whole tracker JSON
with a blocking client on every turn, so a turn gets slower as the
conversation grows. Here a conversation is two keys:

* ``<prefix>:tracker-events:<sender>``: a list, one JSON event per item; a
  turn only appends its new events (RPUSH);
* ``<prefix>:tracker-meta:<sender>``: a small hash: ``offset`` (absolute
  index of the first stored event, > 0 once old sessions were trimmed),
  ``sessions`` (absolute indexes where sessions start), ``checkpoint`` and
  ``checkpoint_state`` (the exact slots / active loop / paused state at an
  absolute index, see below) and ``last`` (fingerprint of the last event).

(On a Redis Cluster ``<sender>`` is ``{conv:<sender>}``: both keys in one
slot, as the scripts need; see :mod:`bot.stores.keys`.)

``retrieve`` (what prediction uses) reads the events since the last session
start; when the session is long it reads from the checkpoint instead and
starts the tracker with SlotSet / ActiveLoop / ConversationPaused events
rebuilding the state there, so at most about 1.5 x ``window_events`` events
are read and replayed whatever the conversation's length.
``retrieve_full_tracker`` (desk transcript, ``rasa export``) reads all.

Rasa passes the full tracker to ``save``; the tracker objects we return carry
how many of their events are already stored, so ``save`` appends only the
rest. Trackers built elsewhere (``PUT /conversations/<id>/tracker``, a new
conversation) are matched on the last stored event.

Redis down or slower than the timeout raises :class:`StoreUnavailable`;
:mod:`bot.stores.failsafe` keeps Rasa's ``FailSafeTrackerStore`` from turning
that into an empty conversation kept in memory.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Iterable, List, Optional, Text

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    ConversationPaused,
    Event,
    SlotSet,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.stores import action_reply, empty_history, event_types, failsafe, graph_runner, rule_keys, slot_copy
from bot.stores.connection import LoopClients, StoreConfig
from bot.stores.errors import UNAVAILABLE_ERRORS, StoreUnavailable
from bot.stores.keys import conversation_part, sender_of_part
from bot.stores.settings import TrackerSettings

logger = logging.getLogger(__name__)

_MARKER = "_append_only_redis_state"

# Appends a turn's events atomically; moves the checkpoint when asked (only if
# nobody wrote since the tracker was read); trims the oldest whole sessions
# beyond the cap (inside the last session only up to the checkpoint, where the
# state is known); refreshes the TTL of both keys. Returns the new count.
# Repeating it (a retry after a lost reply) changes nothing: ARGV[7], the
# fingerprint of the batch's last event, is then already the stored "last".
_SAVE = """
local events, meta = KEYS[1], KEYS[2]
if redis.call('HGET', meta, 'last') == ARGV[7] then
  return tonumber(redis.call('HGET', meta, 'offset') or '0') + redis.call('LLEN', events)
end
local ttl, cap, expected = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local offset = tonumber(redis.call('HGET', meta, 'offset') or '0')
local count = offset + redis.call('LLEN', events)
for i = 8, #ARGV, 500 do
  redis.call('RPUSH', events, unpack(ARGV, i, math.min(i + 499, #ARGV)))
end
local total = count + #ARGV - 7
local sessions = redis.call('HGET', meta, 'sessions') or ''
for s in string.gmatch(ARGV[4], '%d+') do
  sessions = sessions .. ' ' .. tostring(count + tonumber(s))
end
local ck = tonumber(redis.call('HGET', meta, 'checkpoint') or '-1')
if tonumber(ARGV[5]) >= 0 and expected == count then
  ck = tonumber(ARGV[5])
  redis.call('HSET', meta, 'checkpoint', ck, 'checkpoint_state', ARGV[6])
end
if cap > 0 and total - offset > cap then
  local target, last, cut = total - cap, offset, nil
  for s in string.gmatch(sessions, '%d+') do
    s = tonumber(s)
    if cut == nil and s >= target then cut = s end
    last = s
  end
  if cut == nil then
    cut = last
    if ck > last then cut = math.min(target, ck) end
  end
  if cut > offset then
    redis.call('LTRIM', events, cut - offset, -1)
    offset = cut
    local kept = ''
    for s in string.gmatch(sessions, '%d+') do
      if tonumber(s) >= cut then kept = kept .. ' ' .. s end
    end
    sessions = kept
  end
end
redis.call('HSET', meta, 'offset', offset, 'sessions', sessions, 'last', ARGV[7])
redis.call('EXPIRE', events, ttl)
redis.call('EXPIRE', meta, ttl)
return total
"""

# Reads a tracker in one atomic step: {offset, count, start, state, events...}.
# ARGV[1] is "full" (all stored events) or "window" (from the last session
# start, or from the checkpoint when it is later).
_READ = """
local events, meta = KEYS[1], KEYS[2]
local len = redis.call('LLEN', events)
if len == 0 then return nil end
local h = redis.call('HMGET', meta, 'offset', 'sessions', 'checkpoint', 'checkpoint_state')
local offset = tonumber(h[1] or '0')
local start, state = offset, ''
if ARGV[1] ~= 'full' then
  for s in string.gmatch(h[2] or '', '%d+') do start = math.max(start, tonumber(s)) end
  local ck = tonumber(h[3] or '-1')
  if ck > start then start, state = ck, h[4] end
end
local result = {tostring(offset), tostring(offset + len), tostring(start), state}
for _, e in ipairs(redis.call('LRANGE', events, start - offset, -1)) do
  result[#result + 1] = e
end
return result
"""


@dataclass
class _Stored:
    """Kept on a tracker we returned or saved: what of it is already in Redis."""

    known: int  # tracker.events[:known] are stored (or our state prefix)
    count: int  # the conversation's absolute event count when read
    checkpoint: int = -1  # an absolute index whose exact state we captured
    checkpoint_state: str = ""


def _fingerprint(event: Event) -> str:
    return f"{event.type_name}|{event.timestamp!r}"


class AppendOnlyRedisTrackerStore(TrackerStore):
    """Redis tracker store whose turns cost the same at turn 1 and turn 1,000.

    Endpoint keys (``endpoints.yml``): ``url`` (host or ``redis://`` URL),
    ``port``, ``db``, ``password``, ``username``, ``use_ssl``, ``key_prefix``,
    ``record_exp`` (TTL seconds, refreshed every turn), ``max_events`` (cap
    per conversation, oldest sessions trimmed first), ``window_events``
    (history ``retrieve`` replays at least; 0 = the whole session),
    ``socket_timeout`` (seconds). Missing keys come from the environment:
    ``REDIS_URL``..., ``TRACKER_TTL_SECONDS``, ``TRACKER_MAX_EVENTS``,
    ``TRACKER_WINDOW_EVENTS``, ``REDIS_TIMEOUT_SECONDS``.
    """

    def __init__(
        self,
        domain: Optional[Domain] = None,
        host: Optional[Text] = None,
        event_broker: Optional[EventBroker] = None,
        record_exp: Any = None,
        max_events: Any = None,
        window_events: Any = None,
        **kwargs: Any,
    ) -> None:
        self.config = StoreConfig.from_kwargs(host, **kwargs)
        env = TrackerSettings.current()
        self.ttl_seconds = int(str(record_exp or "").strip() or env.ttl_seconds)
        self.max_events = int(str(max_events or "").strip() or env.max_events)
        window = str(window_events if window_events is not None else "").strip()
        self.window_events = int(window) if window else env.window_events
        if self.max_events and self.window_events and self.max_events < 2 * self.window_events:
            raise ValueError(
                f"max_events ({self.max_events}) must be at least twice window_events ({self.window_events})"
            )
        self._connections = LoopClients(self.config, {"save": _SAVE, "read": _READ})
        failsafe.let_store_errors_through()
        action_reply.validate_replies_with_a_prebuilt_validator()
        event_types.resolve_event_types_from_a_table()
        rule_keys.match_rules_by_last_action()
        slot_copy.copy_slots_directly()
        graph_runner.run_graphs_in_a_planned_order()
        empty_history.allow_empty_histories()
        super().__init__(domain, event_broker, **kwargs)

    # -- keys -------------------------------------------------------------------

    def _events_key(self, sender_id: Text) -> str:
        return f"{self.config.key_prefix}:tracker-events:{conversation_part(sender_id, self.config.cluster)}"

    def _meta_key(self, sender_id: Text) -> str:
        return f"{self.config.key_prefix}:tracker-meta:{conversation_part(sender_id, self.config.cluster)}"

    def _unavailable(self, error: BaseException) -> StoreUnavailable:
        return StoreUnavailable(
            f"tracker store: Redis at {self.config.redis.address} did not answer ({type(error).__name__}: {error})"
        )

    async def _run(self, script: str, sender_id: Text, *args: Any) -> Any:
        connection = self._connections.get()
        try:
            return await connection.scripts[script](
                keys=[self._events_key(sender_id), self._meta_key(sender_id)], args=list(args)
            )
        except UNAVAILABLE_ERRORS as error:
            raise self._unavailable(error) from error

    # -- reading ----------------------------------------------------------------

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """The conversation's current session (or its last ~window), for prediction."""
        return await self._retrieve(sender_id, full=False)

    async def retrieve_full_tracker(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """Every stored event across sessions (desk transcript, ``rasa export``)."""
        return await self._retrieve(sender_id, full=True)

    async def _retrieve(self, sender_id: Text, full: bool) -> Optional[DialogueStateTracker]:
        reply = await self._run("read", sender_id, "full" if full else "window")
        if not reply:
            logger.debug("No stored tracker for this conversation.")
            return None
        count, start, state = int(reply[1]), int(reply[2]), reply[3]
        raw_events = reply[4:]
        tracker = DialogueStateTracker(sender_id, self.domain.slots)
        for event in self._state_events(state):
            tracker.update(event)
        snapshot_at = -1
        if not full and self.window_events and count - start > self.window_events * 3 // 2:
            snapshot_at = count - self.window_events
        marker = _Stored(known=0, count=count)
        for index, raw in enumerate(raw_events, start=start):
            if index == snapshot_at:
                marker.checkpoint, marker.checkpoint_state = index, self._snapshot(tracker)
            tracker.update(Event.from_parameters(json.loads(raw)))
        marker.known = len(tracker.events)
        setattr(tracker, _MARKER, marker)
        return tracker

    async def exists(self, conversation_id: Text) -> bool:
        try:
            return bool(await self._connections.get().client.exists(self._meta_key(conversation_id)))
        except UNAVAILABLE_ERRORS as error:
            raise self._unavailable(error) from error

    async def keys(self) -> Iterable[Text]:
        """Conversation ids, with SCAN (never KEYS, which blocks Redis)."""
        prefix = f"{self.config.key_prefix}:tracker-meta:"
        try:
            return [
                sender_of_part(key[len(prefix):], self.config.cluster)
                async for key in self._connections.get().client.scan_iter(match=prefix + "*", count=500)
            ]
        except UNAVAILABLE_ERRORS as error:
            raise self._unavailable(error) from error

    @staticmethod
    def _snapshot(tracker: DialogueStateTracker) -> str:
        """The tracker's state as JSON: what :meth:`_state_events` rebuilds."""
        last = tracker.events[-1].timestamp if tracker.events else None
        return json.dumps(
            {
                "slots": {name: slot.value for name, slot in tracker.slots.items() if slot.has_been_set},
                "loop": tracker.active_loop_name,
                "paused": tracker.is_paused(),
                "timestamp": last,
            }
        )

    @staticmethod
    def _state_events(state: str) -> List[Event]:
        if not state:
            return []
        data = json.loads(state)
        timestamp = data.get("timestamp")
        events: List[Event] = [
            SlotSet(name, value, timestamp=timestamp) for name, value in data.get("slots", {}).items()
        ]
        if data.get("loop"):
            events.append(ActiveLoop(data["loop"], timestamp=timestamp))
        if data.get("paused"):
            events.append(ConversationPaused(timestamp=timestamp))
        return events

    # -- writing ----------------------------------------------------------------

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Append the events of ``tracker`` that are not stored yet."""
        events = list(tracker.events)
        marker: Optional[_Stored] = getattr(tracker, _MARKER, None)
        if marker is not None and marker.known <= len(events):
            new_events = events[marker.known:]
        else:
            marker = None
            new_events = await self._unsaved_events(tracker.sender_id, events)
        if not new_events:
            return
        starts = " ".join(
            str(i)
            for i, event in enumerate(new_events)
            if isinstance(event, ActionExecuted) and event.action_name == ACTION_SESSION_START_NAME
        )
        checkpoint = marker.checkpoint if marker else -1
        total = await self._run(
            "save",
            tracker.sender_id,
            self.ttl_seconds,
            self.max_events,
            marker.count if marker else -1,
            starts,
            checkpoint,
            marker.checkpoint_state if marker else "",
            _fingerprint(new_events[-1]),
            *(json.dumps(event.as_dict()) for event in new_events),
        )
        setattr(tracker, _MARKER, _Stored(known=len(events), count=int(total)))
        if self.event_broker:
            await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)

    async def _unsaved_events(self, sender_id: Text, events: List[Event]) -> List[Event]:
        """For a tracker we did not read: the events after the last stored one."""
        try:
            last = await self._connections.get().client.hget(self._meta_key(sender_id), "last")
        except UNAVAILABLE_ERRORS as error:
            raise self._unavailable(error) from error
        if not last:
            return events
        for index in range(len(events) - 1, -1, -1):
            if _fingerprint(events[index]) == last:
                return events[index + 1:]
        last_timestamp = float(last.rsplit("|", 1)[1])
        logger.warning(
            "A tracker without the last stored event was saved; appending its %s newer events.",
            sum(1 for event in events if event.timestamp > last_timestamp),
        )
        return [event for event in events if event.timestamp > last_timestamp]
