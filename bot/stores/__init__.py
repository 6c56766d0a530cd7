"""Redis tracker store and lock store for Rasa 3.6: a self-contained package.

It imports only Rasa, redis-py and the standard library, never the rest of
this project, so another Rasa bot can copy ``bot/stores/`` as it is (rename
the package if it likes) and name the classes in its ``endpoints.yml``::

    tracker_store:
      type: bot.stores.tracker.AppendOnlyRedisTrackerStore
    lock_store:
      type: bot.stores.lock.RedisTicketLockStore

Modules: ``tracker`` and ``lock`` (the stores), ``connection`` (the one Redis
connection factory: per-loop clients, the shared pool, timeouts, the key
prefix; the rest of this project imports it through ``bot.redis_pool``),
``keys`` (the hash tags a Redis Cluster needs),
``settings`` (``RedisSettings``, ``TrackerSettings``: ``REDIS_URL`` or
``REDIS_HOST``/``PORT``/``DB``/``PASSWORD``, ``REDIS_KEY_PREFIX``,
``REDIS_TIMEOUT_SECONDS``, ``REDIS_MAX_CONNECTIONS``, ``REDIS_CLUSTER``, ``TRACKER_TTL_SECONDS``,
``TRACKER_MAX_EVENTS``, ``TRACKER_WINDOW_EVENTS``; keys given in
``endpoints.yml`` win), ``errors`` (``StoreUnavailable``: Redis did not answer)
``failsafe`` (keeps Rasa's ``FailSafeTrackerStore`` from answering out of
memory when Redis fails) and ``action_reply`` (checks the action server's
replies with a schema validator built once, not per call: half a turn's CPU).
Both are patches of the Rasa process, applied when the tracker store is built,
each with a test that fails if Rasa changes underneath.
``tests/unit/test_stores_package.py`` checks the imports.
"""
