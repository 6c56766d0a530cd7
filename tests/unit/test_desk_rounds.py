"""The assignment loop's pacing (channels/desk/assigner.py)."""
import asyncio

from channels.desk.assigner import rounds


class FollowerLease:
    """Another replica leads: this one only checks the lease."""

    def __init__(self):
        self.checks = 0

    async def held(self) -> bool:
        self.checks += 1
        await asyncio.sleep(0)  # a Redis call yields: a busy loop shows as thousands of checks
        return False


def test_a_follower_woken_by_an_event_still_waits_between_lease_checks():
    lease = FollowerLease()

    async def scenario():
        wake = asyncio.Event()
        loop = asyncio.ensure_future(rounds(lease, None, wake, 0.5))
        await asyncio.sleep(0.1)
        wake.set()  # a queue_update reaches every replica
        await asyncio.sleep(1.2)
        loop.cancel()

    asyncio.run(scenario())
    assert lease.checks <= 5  # one check per wake-up or timer, not a busy loop
