"""Conversations live in Redis: visible there, with a TTL, and across restarts."""
import json

import pytest

from tests.conftest import pass_step_up, texts

pytestmark = pytest.mark.e2e


def test_tracker_is_stored_in_redis_with_ttl(rasa_server, redis_client, key_prefix, sender):
    rasa_server.send(sender, "bom diaaa tudo certo")
    events_key = f"{key_prefix}:tracker-events:{sender}"
    events = [json.loads(event) for event in redis_client.lrange(events_key, 0, -1)]
    user_texts = [e.get("text") for e in events if e["event"] == "user"]
    assert user_texts == ["bom diaaa tudo certo"]
    for key in (events_key, f"{key_prefix}:tracker-meta:{sender}"):
        assert 0 < redis_client.ttl(key) <= 3600


def test_conversation_survives_a_rasa_restart(rasa_server, graph_api, sender):
    rasa_server.send(sender, "quero a 2 via")
    pass_step_up(lambda message: rasa_server.send(sender, message), graph_api, "529.982.247-25")

    rasa_server.restart()

    tracker = rasa_server.tracker(sender)
    assert tracker["slots"]["customer_document"] == "52998224725"
    # the identified customer goes straight to the job after the restart
    reply = texts(rasa_server.send(sender, "ta sem net aqui"))
    assert "protocolo" in reply
    assert "CPF ou CNPJ do titular" not in reply
