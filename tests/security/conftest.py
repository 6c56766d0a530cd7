"""Shared pieces of the attack suite: junk generators, log windows, the figures
the suite prints, the "does it still talk?" checks per channel, and a Rasa +
action-server pair whose LLM fallback points at the OpenAI stand-in.

The shared servers (``rasa_server``, ``action_server``, ``graph_api``) come
from tests/conftest.py; nothing here changes them.
"""
from __future__ import annotations

import asyncio
import json
import re
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional
from urllib.parse import quote

import pytest
import requests
import websockets
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from channels.whatsapp.signature import sign
from tests.conftest import CHAT_API_KEY
from testing.rasa_server import RasaServer
from testing.fakes import graph_api as graph_fake
from testing.fakes.openai_server import API_KEY, FakeOpenAI
from testing.processes import VENV_BIN, Service, free_port

AUTH = {"Authorization": f"Bearer {CHAT_API_KEY}"}
GREETING_PAYLOAD = "/request_invoice"  # the first button of utter_greet


# Hypothesis' caches go to the temp dir, not a .hypothesis/ in the checkout.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "hypothesis-isp-bot")


def fuzz_settings(max_examples: int) -> settings:
    """Repeatable (derandomized, no example database), bounded, no per-example
    deadline on a loaded machine, no shrinking (each case is a real request)."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


# --- junk --------------------------------------------------------------------

LONE_SURROGATES = st.sampled_from(["\ud800", "\udfff", "a\udc80b", "\ud83d"])
HUGE = st.sampled_from([10_000, 70_000]).map(lambda n: "x" * n)
SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40), LONE_SURROGATES,
    st.sampled_from(["", " ", "0", "-1", "null", "[]", "{}", "\x00", "../../etc/passwd",
                     "<script>alert(1)</script>", "' OR 1=1 --", "%s%s%n", "${jndi:ldap://x}",
                     "😡" * 50, "\u202e\u200b", "/request_invoice{\"cpf\": \"x\"}"]),
)
JUNK = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12,
)


def nested(depth: int, leaf: Any = 1) -> str:
    """JSON ``[[[...leaf...]]]`` ``depth`` deep, as text (json.dumps would recurse)."""
    return "[" * depth + json.dumps(leaf) + "]" * depth


DEEP = st.sampled_from([nested(100), nested(1_000), nested(20_000), '{"a":' * 20_000 + "1" + "}" * 20_000])


def junk_value() -> st.SearchStrategy:
    """One JSON-able junk value: scalars, containers, lone surrogates, huge strings."""
    return st.one_of(JUNK, HUGE)


def url_text(value: str) -> str:
    """``value`` percent-encoded as UTF-8 bytes (lone surrogates become invalid UTF-8)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def dumps(value: Any) -> bytes:
    """JSON bytes that may hold lone surrogates (escaped, as a client would send them)."""
    return json.dumps(value, ensure_ascii=True).encode()


# --- logs ----------------------------------------------------------------------

TRACEBACK = re.compile(r"Traceback \(most recent call last\)|Exception occurred while handling")


class LogWindow:
    """The log text each service writes from now on (the shared servers' logs
    also hold what other tests did before)."""

    def __init__(self, *services: Service):
        self.starts = {s: s.log_path.stat().st_size if s.log_path.exists() else 0 for s in services}

    def texts(self) -> Dict[str, str]:
        out = {}
        for service, start in self.starts.items():
            with open(service.log_path, "rb") as log:
                log.seek(start)
                out[service.name] = log.read().decode(errors="replace")
        return out

    def tracebacks(self) -> List[str]:
        """``name: line`` and the 6 lines after each traceback or Sanic error line."""
        found = []
        for name, text in self.texts().items():
            lines = text.splitlines()
            for index, line in enumerate(lines):
                if TRACEBACK.search(line):
                    found.append(f"{name}: " + " | ".join(lines[index:index + 8])[:1200])
        return found


# --- figures -------------------------------------------------------------------

@dataclass
class Figures:
    """What the suite measured; printed as one line per surface and in the summary."""

    lines: List[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(line)
        print(f"\n[security] {line}")


FIGURES = Figures()


@pytest.fixture(scope="session")
def figures() -> Figures:
    return FIGURES


def pytest_terminal_summary(terminalreporter) -> None:
    if FIGURES.lines:
        terminalreporter.section("attack suite figures (docs/security.md)")
        for line in FIGURES.lines:
            terminalreporter.write_line(line)


@dataclass
class Outcomes:
    """Statuses seen per route while fuzzing, and the cases that broke the rules."""

    surface: str
    cases: int = 0
    statuses: Dict[str, Dict[int, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    failures: List[str] = field(default_factory=list)

    def record(self, route: str, status: int, case: str, allowed=lambda status: status < 500 or status == 503) -> None:
        self.cases += 1
        self.statuses[route][status] += 1
        if not allowed(status):
            self.failures.append(f"{route} -> {status}: {case[:300]}")

    def five_xx(self) -> int:
        """Cases that broke the rule: a 5xx (not 503), an internal-error frame or close."""
        return len(self.failures)

    def summary(self) -> str:
        routes = "; ".join(f"{route} {dict(sorted(by.items()))}" for route, by in sorted(self.statuses.items()))
        return (f"fuzz {self.surface}: {self.cases} cases, {len(self.statuses)} routes, "
                f"{self.five_xx()} unexpected 5xx/internal errors ({routes})")

    def distinct_failures(self, limit: int = 15) -> List[str]:
        seen, out = set(), []
        for failure in self.failures:
            key = failure.split(":")[0] + failure.split(":", 1)[1][:60]
            if key not in seen:
                seen.add(key)
                out.append(failure)
        return out[:limit]


# --- does the service still talk? (one "oi" per channel) -------------------------

def buttons_of(messages: List[Dict[str, Any]]) -> List[str]:
    out = []
    for message in messages:
        for button in message.get("buttons") or message.get("quick_replies") or []:
            out.append(button.get("payload", ""))
    return out


def rest_api_greets(server: RasaServer) -> bool:
    answer = requests.post(f"{server.url}/api/v1/chat", headers=AUTH, timeout=60,
                           json={"session_id": f"after-{uuid.uuid4().hex[:10]}", "message": "oi"})
    return answer.status_code == 200 and GREETING_PAYLOAD in buttons_of(answer.json()["messages"])


def rasa_rest_greets(server: RasaServer) -> bool:
    return GREETING_PAYLOAD in buttons_of(server.send(f"after-{uuid.uuid4().hex[:10]}", "oi"))


def websocket_greets(server: RasaServer) -> bool:
    from tests.e2e.test_websocket_channel import ws_url

    async def talk() -> List[dict]:
        session = f"after-{uuid.uuid4().hex[:10]}"
        async with websockets.connect(ws_url(server, session)) as ws:
            assert json.loads(await ws.recv())["type"] == "connection"
            await ws.send(json.dumps({"type": "chat", "data": {"message": "oi"}}))
            chats = []
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if frame["type"] == "chat":
                    chats.append(frame["data"])
                if frame["type"] == "typing" and frame["data"].get("active") is False:
                    return chats

    return GREETING_PAYLOAD in buttons_of(asyncio.run(talk()))


def socketio_greets(server: RasaServer) -> bool:
    from testing.widget_client import WidgetClient

    widget = WidgetClient(server.url).connect()
    try:
        widget.session()
        return GREETING_PAYLOAD in buttons_of(widget.say("oi"))
    finally:
        widget.close()


def whatsapp_delivery(wa_id: str, text: str, wamid: Optional[str] = None) -> Dict[str, Any]:
    """Meta's envelope for one text message."""
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "551140040000", "phone_number_id": graph_fake.PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "Cliente Teste"}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": wamid or f"wamid.{uuid.uuid4().hex}",
                          "timestamp": str(int(time.time())), "type": "text", "text": {"body": text}}],
        }}]}]}


def post_whatsapp(server: RasaServer, body: bytes, signed: bool = True) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if signed:
        headers["X-Hub-Signature-256"] = sign(graph_fake.APP_SECRET, body)
    return requests.post(f"{server.url}/webhooks/whatsapp/webhook", data=body, headers=headers, timeout=30)


def whatsapp_greets(server: RasaServer, graph_api) -> bool:
    wa_id = "55219" + str(uuid.uuid4().int)[:8]
    if post_whatsapp(server, json.dumps(whatsapp_delivery(wa_id, "oi")).encode()).status_code != 200:
        return False

    def greeted():
        for sent in graph_api.sent(to=wa_id, kind="interactive"):
            ids = [b["reply"]["id"] for b in sent.json["interactive"].get("action", {}).get("buttons", [])]
            if GREETING_PAYLOAD in ids:
                return True
        return None

    try:
        return bool(graph_api.wait_for(greeted, 60))
    except AssertionError:
        return False


# --- a Rasa + actions pair whose LLM is the OpenAI stand-in ----------------------

@pytest.fixture(scope="session")
def openai_stand_in():
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


@dataclass
class LlmStack:
    rasa: RasaServer
    actions: Service
    llm: FakeOpenAI


@pytest.fixture(scope="session")
def llm_stack(model_path, server_env, log_dir, openai_stand_in, rasa_server) -> LlmStack:
    """Own action server with OPENAI_BASE_URL at the stand-in, and a Rasa calling it
    (the shared pair keeps answering from the knowledge base alone)."""
    port = str(free_port())
    env = dict(server_env, OPENAI_API_KEY=API_KEY, OPENAI_BASE_URL=openai_stand_in.url,
               LLM_TIMEOUT_SECONDS="5", LLM_BREAKER_FAILURES="50", ACTION_PORT=port,
               ACTION_SERVER_URL=f"http://127.0.0.1:{port}/webhook")
    actions = Service("actions-security-llm",
                      [VENV_BIN / "rasa", "run", "actions", "--actions", "actions", "--port", port,
                       "--logging-config-file", "logging.yml"],
                      env, log_dir).start(f"http://127.0.0.1:{port}/health")
    server = RasaServer(model_path, env, log_dir, name="rasa-security-llm").start()
    yield LlmStack(server, actions, openai_stand_in)
    server.stop()
    actions.stop()
