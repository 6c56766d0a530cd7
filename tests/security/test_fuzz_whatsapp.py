"""Fuzz of the WhatsApp Cloud API webhook (channels/whatsapp/): Meta-shaped
deliveries whose leaves and objects are replaced by junk (strings, numbers,
nulls, deep nesting, huge strings, lone surrogates), correctly signed with the
test app secret, and the same bodies unsigned.

Properties: signed, no 5xx but the 503 of an unavailable Redis (Meta retries
a 500 for days); unsigned, always 403 (or 413 when too big) whatever the
body; no traceback in the logs (background turns included); afterwards a
customer writing "oi" is greeted on WhatsApp.
"""
from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from testing.fakes import graph_api as graph_fake
from tests.security.conftest import (DEEP, LogWindow, Outcomes, dumps, fuzz_settings, junk_value,
                                     post_whatsapp, whatsapp_greets)

pytestmark = pytest.mark.e2e


KINDS = {
    "text": {"body": "oi"},
    "interactive": {"type": "button_reply", "button_reply": {"id": "/greet", "title": "Oi"}},
    "button": {"payload": "/greet", "text": "Oi"},
    "image": {"id": "123", "mime_type": "image/jpeg", "sha256": "abc"},
    "reaction": {"message_id": "wamid.Y", "emoji": "\U0001F44D"},
    "location": {"latitude": -23.5, "longitude": -46.6},
}


def delivery(kind: str = "text", wa_id: str = "5521900000000", wamid: str = "wamid.X") -> dict:
    """Meta's envelope with one message of ``kind`` and a failed delivery status."""
    now = str(int(time.time()))

    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "551140040000", "phone_number_id": graph_fake.PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "Cliente"}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": wamid, "timestamp": now, "type": kind, kind: KINDS[kind]}],
            "statuses": [{"id": f"{wamid}.s", "status": "failed", "timestamp": now, "recipient_id": wa_id,
                          "errors": [{"code": 131047, "title": "Re-engagement message"}]}],
        }}]}]}


def mutated(node: Any) -> st.SearchStrategy:
    """``node`` with about one node in eight (objects or leaves) replaced by junk."""
    if isinstance(node, dict):
        same = st.fixed_dictionaries({key: mutated(value) for key, value in node.items()})
    elif isinstance(node, list):
        same = st.tuples(*[mutated(value) for value in node]).map(list)
    else:
        same = st.just(node)
    return st.integers(0, 7).flatmap(lambda n: junk_value() if n == 0 else same)


def fresh_ids(body: Any) -> Any:
    """New wa_id and message ids, so de-duplication does not hide a case."""
    text = json.dumps(body, ensure_ascii=True)
    wa_id = "55219" + str(uuid.uuid4().int)[:8]
    return json.loads(text.replace("5521900000000", wa_id).replace("wamid.X", f"wamid.{uuid.uuid4().hex}"))


def stringified(kind: str, *path: Any) -> bytes:
    """A ``kind`` delivery with the object at ``path`` replaced by a string (issue 12, section 6)."""
    body = delivery(kind)
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = "junk"
    return dumps(fresh_ids(body))


VALUE = ("entry", 0, "changes", 0, "value")
MESSAGE = VALUE + ("messages", 0)
BODIES = st.one_of(st.sampled_from(sorted(KINDS)).flatmap(lambda kind: mutated(delivery(kind))).map(fresh_ids).map(dumps),
                   junk_value().map(dumps), DEEP.map(str.encode))


def settled(graph_api, quiet: float = 3.0, limit: float = 90.0) -> None:
    """Wait until the background turns stop sending (no Graph API call for ``quiet`` s)."""
    deadline = time.monotonic() + limit
    count, since = len(graph_api.requests), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        if len(graph_api.requests) != count:
            count, since = len(graph_api.requests), time.monotonic()
        elif time.monotonic() - since >= quiet:
            return


def test_fuzz_whatsapp_webhook(rasa_server, action_server, graph_api, figures):
    outcomes = Outcomes("WhatsApp webhook")
    window = LogWindow(rasa_server, action_server)

    @fuzz_settings(200)
    @given(body=BODIES)
    @example(body=stringified("text", *MESSAGE, "text"))
    @example(body=stringified("text", *VALUE, "metadata"))
    @example(body=stringified("text", *VALUE, "contacts", 0, "profile"))
    @example(body=stringified("interactive", *MESSAGE, "interactive"))
    @example(body=stringified("interactive", *MESSAGE, "interactive", "button_reply"))
    @example(body=stringified("button", *MESSAGE, "button"))
    @example(body=stringified("image", *MESSAGE, "image"))
    @example(body=stringified("reaction", *MESSAGE, "reaction"))
    @example(body=dumps(fresh_ids(delivery())).replace(b'"oi"', b'"oi \\ud800"'))
    def deliver(body: bytes) -> None:
        signed = post_whatsapp(rasa_server, body, signed=True)
        outcomes.record("POST /webhooks/whatsapp/webhook (signed)", signed.status_code, repr(body[:300]))
        unsigned = post_whatsapp(rasa_server, body, signed=False)
        outcomes.record("POST /webhooks/whatsapp/webhook (unsigned)", unsigned.status_code, repr(body[:300]),
                        allowed=lambda status: status in (403, 413))

    deliver()
    settled(graph_api)
    tracebacks = window.tracebacks()
    figures.add(outcomes.summary() + f", {len(tracebacks)} tracebacks in the logs")
    greets = whatsapp_greets(rasa_server, graph_api)
    problems = outcomes.distinct_failures() + tracebacks[:5]
    assert not problems, "\n".join(problems)
    assert greets, "after the fuzz a WhatsApp 'oi' is no longer greeted"
