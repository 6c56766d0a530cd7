"""The desk's queue and conversations against the real Redis (test database)
and a 3-master Redis Cluster (``redis_target``: each test runs on both; on the
cluster every desk script must find its keys in one slot, or redis-py refuses
it with "all keys must map to the same key slot").

Each test gets its own key prefix and deletes its keys afterwards. Agents
that only claim are built in memory (claim trusts the caller's verified
agent); agents that are looked up (transfer targets, presence) are created
for real, which costs one argon2 hash each.
"""
import asyncio
import random
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from bot.desk import Desk
from bot.desk.keys import Keys
from channels.common.errors import status_of
from bot.desk.conversations import CLOSED, IN_PROGRESS, QUEUE, RESOLVED, can_access
from bot.desk.errors import AlreadyClaimed, Conflict, Forbidden, InvalidInput, NotFound
from bot.desk.metrics import agents_status, desk_metrics
from bot.desk.users import Agent

SP = ZoneInfo("America/Sao_Paulo")
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=SP).timestamp()  # a Wednesday, 10:00 in Sao Paulo


def agent(username, role="atendente"):
    return Agent(username, username.title(), role, False, 0.0, 0.0)


@pytest.fixture
def desk_run(redis_target, key_prefix):
    """``desk_run(scenario)`` runs ``async scenario(desk, client_factory)`` on a fresh loop."""
    prefix = f"{key_prefix}desk{uuid.uuid4().hex[:8]}"

    def run(scenario):
        async def main():
            clients = []

            def new_client():
                clients.append(redis_target.async_client())
                return clients[-1]

            try:
                return await scenario(Desk.create(new_client(), prefix), new_client)
            finally:
                for client in clients:
                    await client.close()

        return asyncio.run(main())

    run.prefix = prefix
    run.client = redis_target.client
    run.key = Keys(prefix, cluster=redis_target.cluster)
    yield run
    redis_target.delete_prefixed(prefix)


def test_handoff_queues_once_per_sender_and_orders_by_priority_then_age(desk_run):
    async def scenario(desk, _):
        conv = desk.conversations
        first, created = await conv.open("whatsapp", "wa:5511987650001", "request_human",
                                         summary="quer falar com atendente",
                                         customer_name="Maria", customer_phone="5511987650001",
                                         customer_contract="1001", now=T0)
        again, created_again = await conv.open("whatsapp", "wa:5511987650001", "request_human",
                                               now=T0 + 5)
        assert created and not created_again and again.id == first.id
        second, _ = await conv.open("rest_api", "api:s2", "fallback", now=T0 + 10)
        urgent, _ = await conv.open("socketio", "web:s3", "blocked_with_outage", priority=5,
                                    now=T0 + 20)
        assert [c.id for c in await conv.queue()] == [urgent.id, first.id, second.id]
        assert [await conv.position(c.id) for c in (urgent, first, second)] == [1, 2, 3]
        found = await conv.find_open("wa:5511987650001")
        assert (found.id, found.status, found.customer_name, found.customer_contract,
                found.summary) == (first.id, QUEUE, "Maria", "1001", "quer falar com atendente")
        assert await conv.find_open("web:nobody") is None

    desk_run(scenario)


@pytest.mark.parametrize("field, value", [
    ("channel", ""), ("sender_id", None), ("reason", "  "), ("priority", -1),
    ("priority", "5"), ("priority", True), ("summary", "x" * 4001),
])
def test_bad_handoff_input_names_the_field(desk_run, field, value):
    async def scenario(desk, _):
        arguments = dict(channel="rest_api", sender_id="api:x", reason="request_human")
        arguments[field] = value
        with pytest.raises(InvalidInput) as error:
            await desk.conversations.open(**arguments)
        assert error.value.field == field and status_of(error.value) == 422
        assert await desk.conversations.queue() == []

    desk_run(scenario)


def test_twenty_agents_claiming_ten_conversations_at_once_each_get_one_agent(desk_run):
    async def scenario(desk, new_client):
        ids = [(await desk.conversations.open("rest_api", f"api:race{n}", "request_human"))[0].id
               for n in range(10)]
        agents = [agent(f"agente{n:02d}") for n in range(20)]
        # Every agent has its own connection, as on separate replicas.
        stores = [Desk.create(new_client(), desk_run.prefix).conversations for _ in agents]

        async def try_all(store, who):
            outcomes = []
            for conversation_id in random.sample(ids, len(ids)):
                try:
                    await store.claim(conversation_id, who)
                    outcomes.append((conversation_id, who.username))
                except AlreadyClaimed as lost:
                    assert status_of(lost) == 409 and lost.current_status == IN_PROGRESS
                    outcomes.append((conversation_id, None))
            return outcomes

        results = await asyncio.gather(*(try_all(s, a) for s, a in zip(stores, agents)))
        winners = {}
        for outcomes in results:
            for conversation_id, who in outcomes:
                if who:
                    assert conversation_id not in winners, "two agents won one conversation"
                    winners[conversation_id] = who
        assert sorted(winners) == sorted(ids)
        for conversation_id, who in winners.items():
            stored = await desk.conversations.get(conversation_id)
            assert (stored.status, stored.agent) == (IN_PROGRESS, who)
        loads = sum([await desk.conversations.agent_load(a.username) for a in agents])
        assert loads == 10 and await desk.conversations.queue() == []

    desk_run(scenario)


def test_claim_errors_are_typed(desk_run):
    async def scenario(desk, _):
        conv = desk.conversations
        with pytest.raises(NotFound):
            await conv.claim("nope", agent("ana"))
        opened, _ = await conv.open("rest_api", "api:c1", "request_human")
        await conv.claim(opened.id, agent("ana"))
        assert (await conv.claim(opened.id, agent("ana"))).agent == "ana"  # a retried request
        with pytest.raises(AlreadyClaimed) as lost:
            await conv.claim(opened.id, agent("bia"))
        assert lost.value.agent == "ana"
        disabled = Agent("zed", "Zed", "atendente", True, 0.0, 0.0)
        other, _ = await conv.open("rest_api", "api:c2", "request_human")
        with pytest.raises(Forbidden):
            await conv.claim(other.id, disabled)

    desk_run(scenario)


def test_transfer_keeps_history_and_moves_access(desk_run):
    async def scenario(desk, _):
        users, conv = desk.users, desk.conversations
        ana = await users.create("ana", "Ana", "atendente", "Senha-da-ana1")
        bia = await users.create("bia", "Bia", "atendente", "Senha-da-bia1")
        chefe = agent("chefe", "supervisor")
        opened, _ = await conv.open("whatsapp", "wa:5511900000001", "request_human")
        await conv.claim(opened.id, ana, now=T0)
        with pytest.raises(Forbidden):  # another atendente cannot take it over
            await conv.transfer(opened.id, agent("caio"), "caio", "quero")
        with pytest.raises(InvalidInput) as bad:
            await conv.transfer(opened.id, ana, "ninguem", "financeiro")
        assert bad.value.field == "to"
        with pytest.raises(InvalidInput) as bad:
            await conv.transfer(opened.id, ana, "bia", "")
        assert bad.value.field == "reason"
        moved = await conv.transfer(opened.id, ana, "bia", "assunto financeiro", now=T0 + 60)
        assert moved.agent == "bia"
        assert [(t["from"], t["to"], t["reason"], t["by"]) for t in moved.transfers] == [
            ("ana", "bia", "assunto financeiro", "ana")]
        assert not can_access(ana, moved) and can_access(bia, moved) and can_access(chefe, moved)
        assert (await conv.agent_load("ana"), await conv.agent_load("bia")) == (0, 1)
        with pytest.raises(Forbidden):
            await conv.transfer(opened.id, ana, "ana", "volta")
        back = await conv.transfer(opened.id, chefe, "ana", "bia saiu")  # supervisors may
        assert back.agent == "ana" and len(back.transfers) == 2
        await users.set_disabled("bia")
        with pytest.raises(InvalidInput):
            await conv.transfer(opened.id, ana, "bia", "de novo")

    desk_run(scenario)


def test_close_rate_once_and_the_customer_can_come_back(desk_run):
    async def scenario(desk, _):
        conv = desk.conversations
        ana = agent("ana")
        opened, _ = await conv.open("socketio", "web:abc", "request_human", now=T0)
        with pytest.raises(Forbidden):  # an atendente closes only what they claimed
            await conv.close(opened.id, ana, "resolvido")
        await conv.claim(opened.id, ana, now=T0 + 30)
        with pytest.raises(Forbidden):
            await conv.close(opened.id, agent("bia"), "resolvido")
        with pytest.raises(Conflict):
            await conv.rate(opened.id, 5)
        with pytest.raises(InvalidInput) as bad:
            await conv.close(opened.id, ana, " ")
        assert bad.value.field == "resolution"
        closed = await conv.close(opened.id, ana, "segunda via enviada", notes="pagou no pix",
                                  now=T0 + 330)
        assert (closed.status, closed.resolution, closed.notes, closed.closed_by,
                closed.closed_at) == (RESOLVED, "segunda via enviada", "pagou no pix", "ana",
                                      T0 + 330)
        assert await conv.find_open("web:abc") is None and await conv.agent_load("ana") == 0
        with pytest.raises(Conflict):
            await conv.close(opened.id, ana, "de novo")
        for bad_score in (0, 6, "5", True, 4.5):
            with pytest.raises(InvalidInput):
                await conv.rate(opened.id, bad_score)
        assert (await conv.rate(opened.id, 5, now=T0 + 400)).csat == 5
        with pytest.raises(Conflict):
            await conv.rate(opened.id, 1)
        assert (await conv.get(opened.id)).csat == 5
        again, created = await conv.open("socketio", "web:abc", "request_human", now=T0 + 500)
        assert created and again.id != opened.id
        return opened.id

    closed_id = desk_run(scenario)
    ttl = desk_run.client.ttl(desk_run.key("conv", closed_id))
    assert 89 * 86400 < ttl <= 90 * 86400  # DESK_RETENTION_DAYS default


def test_customer_leaves_the_queue_or_the_agent(desk_run):
    async def scenario(desk, _):
        conv = desk.conversations
        assert await conv.cancel("api:nobody") is None
        queued, _ = await conv.open("rest_api", "api:q", "request_human")
        with_agent, _ = await conv.open("rest_api", "api:w", "request_human")
        await conv.claim(with_agent.id, agent("ana"))
        for conversation, sender in ((queued, "api:q"), (with_agent, "api:w")):
            left = await conv.cancel(sender)
            assert (left.id, left.status, left.resolution, left.closed_by) == (
                conversation.id, CLOSED, "cancelled_by_customer", "customer")
            assert await conv.find_open(sender) is None
        assert await conv.queue() == [] and await conv.agent_load("ana") == 0

    desk_run(scenario)


def test_access_rule_and_listing_filters(desk_run):
    async def scenario(desk, _):
        conv = desk.conversations
        ana, bia, boss = agent("ana"), agent("bia"), agent("root", "admin")
        queued, _ = await conv.open("whatsapp", "wa:1", "request_human", now=T0)
        mine, _ = await conv.open("rest_api", "api:2", "request_human", now=T0 + 1)
        theirs, _ = await conv.open("rest_api", "api:3", "request_human", now=T0 + 2)
        await conv.claim(mine.id, ana)
        await conv.claim(theirs.id, bia)
        mine, theirs = await conv.get(mine.id), await conv.get(theirs.id)
        assert [can_access(ana, c) for c in (queued, mine, theirs)] == [True, True, False]
        assert all(can_access(boss, c) for c in (queued, mine, theirs))
        assert [c.id for c in await conv.list(status=QUEUE)] == [queued.id]
        assert [c.id for c in await conv.list(status=IN_PROGRESS, agent="ana")] == [mine.id]
        assert {c.id for c in await conv.list(channel="rest_api")} == {mine.id, theirs.id}
        assert [c.id for c in await conv.list(since=T0 + 1, until=T0 + 2)] == [mine.id]
        assert [c.id for c in await conv.list()] == [theirs.id, mine.id, queued.id]
        with pytest.raises(InvalidInput):
            await conv.list(status="open")

    desk_run(scenario)


def test_queue_position_and_estimated_wait(desk_run):
    async def scenario(desk, _):
        users, conv = desk.users, desk.conversations
        waiting = [(await conv.open("rest_api", f"api:w{n}", "request_human", now=T0 + n))[0]
                   for n in range(4)]
        nobody = await conv.queue_status(waiting[0].id, now=T0)
        assert (nobody.position, nobody.queue_size, nobody.agents_online,
                nobody.estimated_wait_seconds) == (1, 4, 0, None)
        ana = await users.create("ana", "Ana", "atendente", "Senha-da-ana1")
        bia = await users.create("bia", "Bia", "atendente", "Senha-da-bia1")
        await users.heartbeat("ana", now=T0)
        await users.heartbeat("bia", now=T0)
        # One real handled conversation of 120 s sets the average handling time.
        done, _ = await conv.open("rest_api", "api:done", "request_human", now=T0)
        await conv.claim(done.id, ana, now=T0)
        await conv.close(done.id, ana, "ok", now=T0 + 120)
        assert await conv.average_handling() == 120
        await conv.claim(waiting[0].id, bia, now=T0 + 10)  # bia busy, ana idle
        # Now w1 is first: ana is idle -> 0 s; w3 is third: (3 - 1) * 120 / 2 agents.
        first = await conv.queue_status(waiting[1].id, now=T0 + 10)
        third = await conv.queue_status(waiting[3].id, now=T0 + 10)
        assert (first.position, first.estimated_wait_seconds) == (1, 0)
        assert (third.position, third.queue_size, third.estimated_wait_seconds) == (3, 3, 120)
        assert await conv.queue_status(waiting[0].id) is None  # claimed: not in the queue

    desk_run(scenario)


def test_presence_expires_without_heartbeats(desk_run, monkeypatch):
    monkeypatch.setenv("DESK_PRESENCE_TTL_SECONDS", "60")

    async def scenario(desk, _):
        users = desk.users
        await users.create("ana", "Ana", "atendente", "Senha-da-ana1")
        await users.create("bia", "Bia", "supervisor", "Senha-da-bia1")
        await users.heartbeat("ana", now=T0)
        await users.heartbeat("bia", "away", now=T0)
        presence = await users.presence(now=T0 + 30)
        assert (presence["ana"].status, presence["bia"].status) == ("online", "away")
        assert await users.online(now=T0 + 30) == ["ana"]
        assert await users.online(now=T0 + 61) == []  # no heartbeat for 61 s
        assert (await users.presence(now=T0 + 61))["ana"].status == "offline"
        await users.heartbeat("ana", now=T0 + 61)
        assert await users.online(now=T0 + 62) == ["ana"]
        await users.set_offline("ana")
        assert await users.online(now=T0 + 62) == []
        with pytest.raises(InvalidInput):
            await users.heartbeat("ana", "busy")

    desk_run(scenario)


def test_metrics_count_today_in_sao_paulo(desk_run):
    yesterday_late = datetime(2026, 11, 24, 23, 30, tzinfo=SP).timestamp()  # 02:30 UTC on the 25th

    async def scenario(desk, _):
        users, conv = desk.users, desk.conversations
        ana = await users.create("ana", "Ana", "atendente", "Senha-da-ana1")
        bia = await users.create("bia", "Bia", "atendente", "Senha-da-bia1")
        old, _ = await conv.open("rest_api", "api:old", "request_human", now=yesterday_late - 600)
        await conv.claim(old.id, ana, now=yesterday_late - 300)
        await conv.close(old.id, ana, "ok", now=yesterday_late)
        await conv.rate(old.id, 1, now=yesterday_late)
        for n, (wait, handling, score) in enumerate(((60, 300, 5), (120, 500, 4))):
            opened, _ = await conv.open("rest_api", f"api:t{n}", "request_human", now=T0)
            await conv.claim(opened.id, ana, now=T0 + wait)
            await conv.close(opened.id, ana, "ok", now=T0 + wait + handling)
            await conv.rate(opened.id, score, now=T0 + 1000)
        busy, _ = await conv.open("rest_api", "api:busy", "request_human", now=T0)
        await conv.claim(busy.id, bia, now=T0 + 30)
        await conv.open("rest_api", "api:waiting", "request_human", now=T0)
        gone, _ = await conv.open("rest_api", "api:gone", "request_human", now=T0)
        await conv.cancel("api:gone", now=T0 + 5)  # closed, not resolved
        await users.heartbeat("ana", now=T0 + 1000)
        await users.heartbeat("bia", "away", now=T0 + 1000)
        metrics = await desk_metrics(users, conv, now=T0 + 1050)
        assert metrics.as_dict() == {
            "active": 1, "in_queue": 1, "resolved_today": 2,
            "agents_online": 1, "agents_away": 1, "agents_busy": 1,
            "average_wait_seconds": 70.0,  # (60 + 120 + 30) / 3 claims today
            "average_handling_seconds": 400.0, "csat_average": 4.5, "csat_count": 2, "departments": [],
        }
        status = {a.username: (a.status, a.active_conversations)
                  for a in await agents_status(users, conv, now=T0 + 1050)}
        assert status == {"ana": ("online", 0), "bia": ("away", 1)}

    desk_run(scenario)


def test_state_survives_a_new_process(desk_run):
    """A restart is a new client and new stores: everything is read back from Redis."""
    async def scenario(desk, new_client):
        first, _ = await desk.conversations.open("whatsapp", "wa:9", "request_human")
        await desk.conversations.record_message(first.id, "customer", "wamid.1", now=T0)
        await desk.conversations.record_message(first.id, "agent", None, now=T0 + 9)
        with pytest.raises(InvalidInput):
            await desk.conversations.record_message(first.id, "bot")
        restarted = Desk.create(new_client(), desk_run.prefix).conversations
        assert [c.id for c in await restarted.queue()] == [first.id]
        again = await restarted.get(first.id)
        assert (again.last_customer_message_at, again.last_agent_message_at) == (T0, T0 + 9)
        assert [m["author"] for m in await restarted.messages(first.id)] == ["customer", "agent"]

    desk_run(scenario)


def test_departments_have_their_own_queues_positions_and_agents(desk_run):
    async def scenario(desk, new_client):
        assert {d.slug for d in await desk.departments.list()} >= {"financeiro", "suporte", "comercial",
                                                                    "cancelamento"}
        opened = {}
        for n, (department, priority) in enumerate([("financeiro", 0), ("suporte", 0), ("financeiro", 0),
                                                    ("suporte", 0), ("financeiro", 50)]):
            conversation, _ = await desk.conversations.open(
                "rest", f"rest:dep{n}", "teste", priority=priority, department=department, now=T0 + n)
            opened[n] = conversation
        positions = {n: await desk.conversations.position(c.id) for n, c in opened.items()}
        assert positions == {4: 1, 0: 2, 2: 3, 1: 1, 3: 2}  # each department counts its own, priority first
        fin = Agent("fin", "Fin", "atendente", False, 0.0, 0.0, departments=("financeiro",))
        assert can_access(fin, opened[0]) and not can_access(fin, opened[1])
        with pytest.raises(Forbidden):
            await desk.conversations.claim(opened[1].id, fin)
        claimed = await desk.conversations.claim(opened[0].id, fin, now=T0 + 60)
        assert claimed.agent == "fin" and await desk.conversations.position(opened[2].id) == 2

        # back to a queue: another department's, in its place by age (before the newer one there)
        moved = await desk.conversations.requeue(opened[0].id, fin, "suporte", "e problema tecnico",
                                                 note="cliente ja reiniciou a ONU", now=T0 + 120)
        assert (moved.status, moved.agent, moved.department) == (QUEUE, None, "suporte")
        assert [c.id for c in await desk.conversations.queue(department="suporte")] == [
            opened[0].id, opened[1].id, opened[3].id]
        assert moved.transfers[-1]["note"] == "cliente ja reiniciou a ONU" and moved.transfers[-1]["to_department"] == "suporte"
        assert await desk.conversations.agent_load("fin") == 0
        with pytest.raises(Forbidden):  # queued: only a supervisor moves it again
            await desk.conversations.requeue(opened[0].id, fin, "financeiro", "de volta")
        boss = agent("boss", "supervisor")
        await desk.conversations.requeue(opened[0].id, boss, "financeiro", "de volta")
        with pytest.raises(InvalidInput):
            await desk.conversations.requeue(opened[0].id, boss, "financeiro", "de novo")
        # a stale read of its department cannot claim it into the wrong queue; closing cleans its queue
        closed = await desk.conversations.close(opened[0].id, boss, "resolvido")
        assert closed.status == RESOLVED
        for department in ("financeiro", "suporte"):
            assert opened[0].id not in [c.id for c in await desk.conversations.queue(department=department)]
        assert await desk.conversations.queue_sizes(["financeiro", "suporte"]) == {"financeiro": 2, "suporte": 2}

    desk_run(scenario)


def test_auto_assignment_respects_capacity_takes_the_oldest_first_and_never_twice(desk_run):
    from bot.desk.assignment import Assigner

    async def scenario(desk, new_client):
        await desk.departments.create("auto-teste", "Auto")
        await desk.departments.update("auto-teste", assignment="auto")
        names = [f"ag{n:02d}" for n in range(20)]
        await asyncio.gather(*(desk.users.create(name, name, "atendente", "Senha-de-teste-1") for name in names))
        for name in names:
            await desk.users.heartbeat(name, "online", now=T0)
            await desk.users.update(name, departments=["auto-teste"])
        await desk.users.update("ag00", capacity=2)  # one with a smaller capacity
        await desk.users.create("geral", "Geral", "atendente", "Senha-de-teste-1")  # no departments: claims by hand
        await desk.users.heartbeat("geral", "online", now=T0)
        boss = await desk.users.create("chefe", "Chefe", "supervisor", "Senha-de-teste-1")
        await desk.users.heartbeat(boss.username, "online", now=T0)
        ids = []
        for n in range(200):
            conversation, _ = await desk.conversations.open("rest", f"rest:auto{n}", "teste", department="auto-teste",
                                                            now=T0 - 1000 + n)
            ids.append(conversation.id)
        manual, _ = await desk.conversations.open("rest", "rest:manual", "teste", department="suporte", now=T0 - 5000)

        # two assigners on their own connections, as two replicas would run them, at the same time
        other = Desk.create(new_client(), desk_run.prefix)
        results = await asyncio.gather(Assigner(desk).round(now=T0 + 1), Assigner(other).round(now=T0 + 1))
        assert sum(assigned for assigned, _ in results) == 19 * 5 + 2
        loads = {name: await desk.conversations.agent_load(name) for name in names + ["chefe", "geral"]}
        assert loads.pop("ag00") == 2 and set(loads.pop(n) for n in names[1:]) == {5}
        assert loads == {"chefe": 0, "geral": 0}
        held = [await desk.conversations.get(cid) for cid in ids]
        taken = [c.id for c in held if c.status == IN_PROGRESS]
        assert taken == ids[:97]  # the oldest first
        assert len({c.id for c in held if c.agent}) == 97
        members = [m for name in names for m in await desk_run_members(desk, name)]
        assert len(members) == len(set(members)) == 97  # no conversation in two agents' hands
        assert (await desk.conversations.get(manual.id)).status == QUEUE  # a manual department waits for a claim

        # a freed place is filled on the next round, by the longest-waiting conversation
        await desk.conversations.close(ids[0], agent(held[0].agent), "resolvido")
        assert await Assigner(desk).round(now=T0 + 2) == (1, 0)
        assert (await desk.conversations.get(ids[97])).agent == held[0].agent

    async def desk_run_members(desk, name):
        return list(await desk.conversations.redis.smembers(desk.conversations.agent_set_key(name)))

    desk_run(scenario)


def test_an_absent_agents_conversations_go_back_after_the_grace_period(desk_run):
    from bot.desk.assignment import OFFLINE_REASON, Assigner

    async def scenario(desk, new_client):
        await desk.users.create("ana", "Ana", "atendente", "Senha-de-teste-1")
        await desk.users.heartbeat("ana", "online", now=T0)
        first, _ = await desk.conversations.open("rest", "rest:gone1", "teste", department="suporte", now=T0 - 100)
        later, _ = await desk.conversations.open("rest", "rest:gone2", "teste", department="suporte", now=T0 - 50)
        await desk.conversations.claim(first.id, agent("ana"), now=T0)
        grace = desk.settings.offline_grace_seconds
        assert await Assigner(desk).round(now=T0 + grace - 1) == (0, 0)  # still within the grace period
        assert await Assigner(desk).round(now=T0 + grace + 1) == (0, 1)
        back = await desk.conversations.get(first.id)
        assert (back.status, back.agent, back.department) == (QUEUE, None, "suporte")
        assert back.transfers[-1]["reason"] == OFFLINE_REASON and back.transfers[-1]["from"] == "ana"
        assert [c.id for c in await desk.conversations.queue(department="suporte")][:2] == [first.id, later.id]

    desk_run(scenario)


def test_canned_replies_by_scope_with_permissions_and_checked_text(desk_run):
    async def scenario(desk, new_client):
        ana = Agent("ana", "Ana", "atendente", False, 0.0, 0.0, departments=("financeiro",))
        bia = Agent("bia", "Bia", "atendente", False, 0.0, 0.0, departments=("suporte",))
        boss = agent("boss", "supervisor")
        await desk.canned.create(boss, "pix", "Ola {nome}, o PIX e enviado aqui mesmo.", "global")
        await desk.canned.create(boss, "pix", "Oi {nome}! PIX da fatura: use o botao.", "department", "financeiro")
        mine = await desk.canned.create(ana, "/Tchau", "Ate mais, {nome}! {atendente}")
        assert mine.shortcut == "tchau" and mine.scope == "personal" and mine.owner == "ana"
        seen = {r.shortcut: r for r in await desk.canned.visible_to(ana)}
        assert seen["pix"].scope == "department" and "tchau" in seen  # the department's hides the global
        theirs = {r.shortcut: r for r in await desk.canned.visible_to(bia)}
        assert theirs["pix"].scope == "global" and "tchau" not in theirs
        with pytest.raises(Forbidden):
            await desk.canned.create(ana, "geral", "x", "global")
        with pytest.raises(Forbidden):
            await desk.canned.update(bia, mine.id, text="meu agora")
        with pytest.raises(Conflict):
            await desk.canned.create(ana, "tchau", "de novo")
        for args, field in ((("x", "curto"), "shortcut"), (("ok", ""), "text"), (("ok", "Oi {cpf}"), "text"),
                            (("ok", "a" * 4097), "text"), (("ok", "x", "team"), "scope"),
                            (("ok", "x", "department"), "department")):
            with pytest.raises(InvalidInput) as bad:
                await desk.canned.create(boss, *args)
            assert bad.value.field == field
        changed = await desk.canned.update(ana, mine.id, text="Tchau, {nome}!")
        assert changed.text == "Tchau, {nome}!" and changed.updated_by == "ana"
        await desk.canned.delete(ana, mine.id)
        assert "tchau" not in {r.shortcut for r in await desk.canned.visible_to(ana)}
        with pytest.raises(NotFound):
            await desk.canned.delete(ana, mine.id)

    desk_run(scenario)


def test_search_by_document_phone_protocol_label_agent_and_date_with_notes(desk_run):
    async def scenario(desk, new_client):
        ana, bia, boss = agent("ana"), agent("bia"), agent("boss", "supervisor")
        one, _ = await desk.conversations.open("whatsapp", "wa:551187650001", "teste", customer_document="529.982.247-25",
                                               protocol="20261125000001", labels=["bloqueado"], now=T0)
        two, _ = await desk.conversations.open("whatsapp", "wa:5511987650002", "teste", now=T0 + 3600)
        three, _ = await desk.conversations.open("rest", "rest:x3", "teste", now=T0 + 7200)
        await desk.conversations.claim(one.id, ana, now=T0 + 10)
        await desk.conversations.claim(two.id, bia, now=T0 + 3610)
        await desk.conversations.add_label(two.id, bia, "Queda")
        note = await desk.conversations.add_note(one.id, ana, "cliente pediu retorno amanha", now=T0 + 20)
        await desk.conversations.close(one.id, ana, "resolvido", now=T0 + 30)
        await desk.conversations.set_protocol(three.id, "20261125000003")

        async def ids(**filters):
            return [c.id for c in await desk.conversations.search(**filters)]

        assert await ids(document="52998224725") == [one.id]          # any punctuation, stored as a digest
        assert await ids(phone="+55 (11) 98765-0001") == [one.id]     # the ninth digit and E.164 folded
        assert await ids(phone="11 98765-0002") == [two.id]
        assert await ids(protocol="20261125000003") == [three.id]
        assert await ids(label="bloqueado") == [one.id] and await ids(label="queda") == [two.id]
        assert await ids(agent="ana") == [one.id]
        assert await ids(agent="bia", label="queda") == [two.id] and await ids(agent="ana", label="queda") == []
        assert await ids(since=T0 + 1, until=T0 + 7201) == [three.id, two.id]  # newest first
        assert await ids(status="resolved") == [one.id]
        closed = await desk.conversations.get(one.id)
        assert closed.internal_notes == [note] and closed.labels == ["bloqueado"]
        assert not [k for k in desk_run.client.keys(f"*{desk_run.prefix}*") if "52998224725" in k]  # no CPF in keys
        with pytest.raises(Forbidden):
            await desk.conversations.add_note(two.id, ana, "nao e minha")
        with pytest.raises(InvalidInput):
            await desk.conversations.add_label(two.id, boss, "com espaco")
        await desk.conversations.remove_label(two.id, boss, "queda")
        assert await ids(label="queda") == []
        # a conversation gone with the retention leaves the index on the next search
        desk_run.client.delete(desk_run.key("conv", three.id))
        assert await ids(protocol="20261125000003") == []
        assert not desk_run.client.sismember(desk_run.key("idx", "protocol", "20261125000003"), three.id)

    desk_run(scenario)
