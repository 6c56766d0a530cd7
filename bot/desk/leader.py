"""One replica at a time for the desk's background rounds (queue positions,
automatic assignment): the holder of a Redis key set with ``NX`` and an
expiry, renewed by its holder each round, so a crashed holder is replaced
within the lease."""
from __future__ import annotations

import uuid

# Renew only if we still hold it; take it if nobody does. 1 = held.
_LEAD = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('EXPIRE', KEYS[1], ARGV[2]) return 1 end
if not holder then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) return 1 end
return 0
"""


class Lease:
    def __init__(self, redis, key: str, seconds: int):
        self.key = key
        self.seconds = seconds
        self.me = uuid.uuid4().hex
        self._lead = redis.register_script(_LEAD)

    async def held(self) -> bool:
        """Whether this process leads now (taking or renewing the lease)."""
        return bool(await self._lead(keys=[self.key], args=[self.me, self.seconds]))
