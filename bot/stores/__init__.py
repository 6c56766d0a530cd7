"""Our Redis tracker store and lock store, loaded by Rasa from endpoints.yml:

    tracker_store:
      type: bot.stores.tracker.AppendOnlyRedisTrackerStore
    lock_store:
      type: bot.stores.lock.RedisTicketLockStore
"""
