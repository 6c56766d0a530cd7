"""Desk events cross processes through Redis pub/sub (two clients stand for two
replicas), on the shared server and on a 3-master Redis Cluster (``redis_target``)."""
import asyncio
import json
import uuid

import pytest
from bot.desk import Desk
from bot.desk.errors import InvalidInput
from bot.desk.events import DeskEvent
from bot.desk.users import Agent

ANA = Agent("ana", "Ana", "atendente", False, 0.0, 0.0)
BIA = Agent("bia", "Bia", "atendente", False, 0.0, 0.0)


@pytest.fixture
def prefix(key_prefix, redis_target):
    prefix = f"{key_prefix}ev{uuid.uuid4().hex[:8]}"
    yield prefix
    redis_target.delete_prefixed(prefix)


def test_a_change_on_one_replica_reaches_a_subscriber_on_another(redis_target, prefix):
    async def scenario():
        listener = redis_target.async_client(socket_timeout=2)  # like bot.redis_pool's client
        actor = redis_target.async_client()
        received = []
        try:
            replica_a, replica_b = Desk.create(listener, prefix), Desk.create(actor, prefix)
            await replica_b.users.create("bia", "Bia", "atendente", "Senha-da-bia1")
            async with replica_a.events.subscribe() as stream:
                async def collect():
                    async for event in stream:
                        received.append(event)
                        if event.type == "conversation_closed":
                            return

                collector = asyncio.create_task(collect())
                await asyncio.sleep(2.5)  # longer than the socket timeout: the stream must survive
                conv = replica_b.conversations
                opened, _ = await conv.open("whatsapp", "wa:5511987650001", "request_human",
                                            customer_name="Maria",
                                            customer_phone="5511987650001",
                                            customer_contract="1001")
                await conv.claim(opened.id, ANA)
                await replica_b.events.publish("new_message", await conv.get(opened.id),
                                               author="customer", text="oi, cade meu boleto?")
                await replica_b.events.publish("agent_typing", await conv.get(opened.id),
                                               agent="ana", typing=True)
                await conv.transfer(opened.id, ANA, "bia", "financeiro")
                await conv.close(opened.id, BIA, "boleto enviado")
                await asyncio.wait_for(collector, timeout=10)
        finally:
            await listener.close()
            await actor.close()
        return opened.id, received

    conversation_id, received = asyncio.run(scenario())
    assert [e.type for e in received] == [
        "queue_update", "conversation_assigned", "queue_update", "new_message", "agent_typing",
        "conversation_assigned", "conversation_closed"]
    assert all(e.conversation_id == conversation_id for e in received)
    assert received[0].data["queue_size"] == 1 and received[2].data["queue_size"] == 0
    assert received[3].data["text"] == "oi, cade meu boleto?"
    transferred = received[5]
    assert (transferred.agent, transferred.data["previous_agent"], transferred.data["reason"]) == (
        "bia", "ana", "financeiro")
    assert received[6].data["conversation"]["status"] == "resolved"
    wire = " ".join(e.to_json() for e in received)
    assert "5511987650001" not in wire and "1001" not in wire  # no phone, sender id, contract
    assert received[0].data["conversation"]["customer_name"] == "Maria"


def test_events_reach_only_agents_allowed_to_see_the_conversation():
    def event(status, agent, also_to=()):
        return DeskEvent("new_message", {"text": "oi"}, "c1", status, agent, also_to, 0.0)

    queued, anas, moved = event("queue", None), event("in_progress", "ana"), event(
        "in_progress", "bia", ("ana",))
    assert queued.visible_to("caio", False)
    assert anas.visible_to("ana", False) and not anas.visible_to("caio", False)
    assert anas.visible_to("chefe", True)  # supervisors and admins see everything
    assert moved.visible_to("ana", False)  # learns the conversation left her
    general = DeskEvent("queue_update", {"queue_size": 3})
    assert general.visible_to("caio", False)
    again = DeskEvent.from_json(moved.to_json())
    assert again == moved
    with pytest.raises(ValueError):
        DeskEvent.from_json(json.dumps({"type": "hack", "data": {}}))


def test_unknown_event_types_are_refused(redis_target, prefix):
    async def scenario():
        client = redis_target.async_client()
        try:
            with pytest.raises(InvalidInput) as bad:
                await Desk.create(client, prefix).events.publish("customer_left")
            assert bad.value.field == "type"
        finally:
            await client.close()

    asyncio.run(scenario())
