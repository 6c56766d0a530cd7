"""Fuzz of the chat REST API (channels/rest.py): ``POST /api/v1/chat``,
``GET /api/v1/chat/stream`` and ``GET /api/v1/chat/<id>/messages``, and of
the Rasa-compatible ``POST /webhooks/rest/webhook`` (channels/rasa_rest.py),
on the shared Rasa server, with junk bodies, fields, query strings and ids.

Properties: no 5xx but the 503 of an unavailable dependency, no traceback in
the Rasa or action-server log written meanwhile, and the service still
greets "oi" on the REST API afterwards. Every case runs (failures are
collected, not stopped at), so the report lists each kind of breakage.
"""
from __future__ import annotations

import json
import uuid

import pytest
import requests
from hypothesis import example, given
from hypothesis import strategies as st

from tests.security.conftest import (AUTH, DEEP, HUGE, JUNK, LONE_SURROGATES, LogWindow, Outcomes,
                                     dumps, fuzz_settings, junk_value, rest_api_greets, url_text)

pytestmark = pytest.mark.e2e

# A customer-like message: mostly short text, sometimes surrogates or control characters.
MESSAGES = st.one_of(st.text(min_size=1, max_size=60),
                     st.tuples(st.text(max_size=10), LONE_SURROGATES).map("".join),
                     st.sampled_from(["oi", "2a via", "529.982.247-25", "\x00oi", "oi\r\n\r\nX: y"]))
FIELD_VALUES = st.one_of(JUNK, MESSAGES, st.integers(), HUGE)


def session() -> str:
    return f"fz-{uuid.uuid4().hex[:12]}"


CHAT_BODIES = st.one_of(
    # junk of any shape as the whole body
    junk_value().map(dumps),
    DEEP.map(str.encode),
    st.binary(max_size=200),
    # the right shape, junk in the fields (sometimes a real turn)
    st.fixed_dictionaries({"session_id": st.one_of(st.just("s"), FIELD_VALUES),
                           "message": FIELD_VALUES},
                          optional={"metadata": FIELD_VALUES, "extra": JUNK}).map(dumps),
    st.builds(lambda m, meta: dumps({"session_id": session(), "message": m, "metadata": meta}),
              MESSAGES, st.one_of(st.none(), st.dictionaries(st.text(max_size=8), JUNK, max_size=3))),
    # attachments: junk, URLs the server must not fetch, base64 of junk bytes
    st.builds(lambda a, m: dumps({"session_id": session(), "attachment": a, **({"message": m} if m else {})}),
              st.one_of(JUNK, st.fixed_dictionaries({}, optional={
                  "url": st.one_of(JUNK, MESSAGES, st.sampled_from([
                      "https://127.0.0.1/a.jpg", "https://[::1]:443/", "https://0x7f.1/a", "https://2130706433/",
                      "http://169.254.169.254/latest", "https://10.0.0.1:443/a.png", "file:///etc/passwd",
                      "https://user@1.1.1.1/", "gopher://127.0.0.1:6379/_PING", "https://", "//x/y", "https://xn--/a",
                      "https://a..b/c.png", "https://" + "a" * 70 + ".com/"])),
                  "data": st.one_of(JUNK, st.binary(max_size=300).map(lambda b: __import__("base64").b64encode(
                      b).decode()), st.just("data:image/png;base64,!!")),
                  "filename": st.one_of(JUNK, MESSAGES, st.just("../../etc/passwd"))})),
              st.one_of(st.none(), MESSAGES)),
)


def test_fuzz_chat_api(rasa_server, action_server, figures):
    outcomes = Outcomes("REST API /api/v1/chat*")
    window = LogWindow(rasa_server, action_server)
    base = rasa_server.url

    @fuzz_settings(200)
    @given(body=CHAT_BODIES, auth=st.sampled_from(["key"] * 9 + ["junk"]))
    @example(body=dumps({"session_id": "s-surrogate", "message": "oi \ud800"}), auth="key")
    @example(body=b'{"a":' * 20_000 + b"1" + b"}" * 20_000, auth="key")
    def chat(body: bytes, auth: str) -> None:
        headers = {**(AUTH if auth == "key" else {"Authorization": "Bearer \x7fjunk"}),
                   "Content-Type": "application/json"}
        answer = requests.post(f"{base}/api/v1/chat", data=body, headers=headers, timeout=60)
        outcomes.record("POST /api/v1/chat", answer.status_code, repr(body[:200]))

    @fuzz_settings(120)
    @given(params=st.dictionaries(st.sampled_from(["session_id", "message", "metadata", "x"]),
                                  st.one_of(MESSAGES, JUNK.map(json.dumps), DEEP), max_size=4),
           real=st.one_of(st.none(), MESSAGES))
    @example(params={"session_id": "s-deep", "message": "oi", "metadata": "[" * 20_000 + "]" * 20_000}, real=None)
    def stream(params, real) -> None:
        if real is not None:  # a real turn, junk beside it
            params = {**params, "session_id": session(), "message": real}
        query = "&".join(f"{url_text(k)}={url_text(v)}" for k, v in params.items())
        with requests.get(f"{base}/api/v1/chat/stream?{query}", headers=AUTH, timeout=60, stream=True) as answer:
            body = answer.content[:300]  # the whole SSE stream: the turn must end
        outcomes.record("GET /api/v1/chat/stream", answer.status_code, f"{query[:200]} -> {body!r}")

    @fuzz_settings(120)
    @given(session_id=st.one_of(st.text(min_size=1, max_size=40), LONE_SURROGATES, st.just("a" * 500)),
           params=st.dictionaries(st.sampled_from(["after", "limit", "x"]),
                                  st.one_of(st.text(max_size=20), st.integers().map(str)), max_size=3))
    @example(session_id="ok-session", params={"after": "9" * 400, "limit": "9" * 40})
    def later(session_id: str, params) -> None:
        query = "&".join(f"{url_text(k)}={url_text(v)}" for k, v in params.items())
        answer = requests.get(f"{base}/api/v1/chat/{url_text(session_id)}/messages?{query}",
                              headers=AUTH, timeout=60)
        outcomes.record("GET /api/v1/chat/<id>/messages", answer.status_code, f"{session_id[:80]!r} {query[:200]}")

    @fuzz_settings(100)
    @given(body=st.one_of(junk_value().map(dumps), DEEP.map(str.encode), st.binary(max_size=100),
                          st.fixed_dictionaries({"sender": st.one_of(st.just("s"), FIELD_VALUES),
                                                 "message": FIELD_VALUES},
                                                optional={"metadata": FIELD_VALUES}).map(dumps),
                          st.builds(lambda m: dumps({"sender": session(), "message": m}), MESSAGES)))
    @example(body=b'""')
    @example(body=b"[]")
    @example(body=b"null")
    def rasa_rest(body: bytes) -> None:
        answer = requests.post(f"{base}/webhooks/rest/webhook", data=body, timeout=60,
                               headers={**rasa_server.chat_headers(), "Content-Type": "application/json"})
        outcomes.record("POST /webhooks/rest/webhook", answer.status_code, repr(body[:200]))

    chat()
    stream()
    later()
    rasa_rest()

    tracebacks = window.tracebacks()
    figures.add(outcomes.summary() + f", {len(tracebacks)} tracebacks in the logs")
    greets = rest_api_greets(rasa_server)
    problems = outcomes.distinct_failures() + tracebacks[:5]
    assert not problems, "\n".join(problems)
    assert greets, "after the fuzz the REST API no longer greets 'oi'"
