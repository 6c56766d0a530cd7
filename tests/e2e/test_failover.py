"""Replicas dying behind nginx (issue 14, part 3): socket.io affinity and failover, and
REST customers under load while one replica gets SIGTERM, then SIGKILL.

A cluster of its own (testing/cluster.py; test_scale_out.py's is shared and must
stay whole): 2x `rasa run` + 2x `rasa run actions` on one Redis, the shipped
nginx in front, and a second nginx whose `rasa_sticky` upstream lost its
`ip_hash` (the negative control). A test that kills a replica leaves it dead;
the `whole` fixture starts it again (same port) before the next test. Figures
are printed (run with -s) and summarised in docs/deployment.md.
"""
from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import pytest
import requests

from bot.senders import sender_id
from testing.cluster import Cluster, without_ip_hash
from testing.widget_client import WidgetClient
from tests.conftest import pass_step_up

pytestmark = pytest.mark.e2e

CPF_MARIA = "529.982.247-25"
LOCK_LIFETIME = 15  # a dead replica's lock ticket and idempotency lease run out within ~15 s


@dataclass
class Failover:
    cluster: Cluster
    round_robin_url: str  # the same nginx with `ip_hash` removed from rasa_sticky


@pytest.fixture(scope="module")
def failover(model_path, server_env, log_dir, redis_client, graph_api, tmp_path_factory):
    env = dict(
        server_env,
        TICKET_LOCK_LIFETIME=str(LOCK_LIFETIME),
        IDEMPOTENCY_LEASE_SECONDS=str(LOCK_LIFETIME),
        SHUTDOWN_DRAIN_SECONDS="60",  # turns queued behind others on 2 loaded cores finish
        CHAT_RATE_LIMIT_PER_MINUTE="600",  # retries must not meet the per-customer limit
    )
    cluster = Cluster(model_path, env, log_dir, tmp_path_factory.mktemp("failover"), prefix="failover").start()
    try:
        yield Failover(cluster, cluster.add_nginx(without_ip_hash, name="round-robin"))
    finally:
        cluster.stop()


@pytest.fixture
def whole(failover):
    """Both replicas up (a previous test may have killed one), nginx using both again."""
    started = time.monotonic()
    dead = [r.name for r in failover.cluster.replicas if r.process.poll() is not None]
    failover.cluster.revive()
    if dead:
        print(f"\n[failover] restarted {dead} in {time.monotonic() - started:.0f} s")
        time.sleep(11)  # nginx tries a failed upstream again after fail_timeout (10 s)
    return failover


def texts(replies: List[dict]) -> str:
    return "\n".join(reply.get("text") or "" for reply in replies)


def user_texts(tracker: dict) -> List[str]:
    return [e["text"] for e in tracker["events"] if e["event"] == "user"]


def assert_each_answered_once(tracker: dict, sent: List[str]) -> None:
    """The tracker has exactly the ``sent`` messages, in order, each followed by an answer."""
    events = [e for e in tracker["events"] if e["event"] in ("user", "bot")]
    users = [i for i, e in enumerate(events) if e["event"] == "user"]
    assert [events[i]["text"] for i in users] == sent, (tracker["sender_id"], user_texts(tracker))
    for here, after in zip(users, users[1:] + [len(events)]):
        assert any(e["event"] == "bot" for e in events[here + 1:after]), (tracker["sender_id"], events[here])


# --- socket.io -----------------------------------------------------------------------

def test_socketio_websocket_transport_needs_no_affinity(whole):
    """The websocket transport is one upgraded connection: round robin is enough."""
    widgets = [WidgetClient(whole.round_robin_url).connect() for _ in range(2)]
    try:
        sessions = [widget.session() for widget in widgets]
        said = ["oi", "quais planos de internet voces tem?", "qual o horario de atendimento?"]
        for message in said:
            for widget in widgets:
                assert widget.say(message), message
        for session in sessions:
            tracker = whole.cluster.replicas[0].tracker(sender_id("web", session))
            assert_each_answered_once(tracker, said)
    finally:
        for widget in widgets:
            widget.close()


def engineio_handshake(http: requests.Session, url: str) -> tuple:
    """Engine.IO v4 polling open: ``(sid, the replica that answered)``."""
    opened = http.get(f"{url}/socket.io/", params={"EIO": "4", "transport": "polling"}, timeout=10)
    assert opened.status_code == 200 and opened.text.startswith("0"), opened.text
    return json.loads(opened.text[1:])["sid"], opened.headers["X-Upstream"]


def polling_exchange(http: requests.Session, url: str, sid: str) -> List[requests.Response]:
    """The socket.io packets a widget sends after the handshake, over long-polling:
    connect to the namespace, read its ack, ask for a session, read the confirmation."""
    params = {"EIO": "4", "transport": "polling", "sid": sid}
    session_request = '42["session_request",{"session_id":null}]'
    answers = []
    for method, body in (("POST", "40"), ("GET", None), ("POST", session_request), ("GET", None)):
        answers.append(http.request(method, f"{url}/socket.io/", params=params, data=body, timeout=40))
        if answers[-1].status_code != 200:
            break
    return answers


def test_socketio_long_polling_works_with_ip_hash(whole):
    url = whole.cluster.nginx_url
    with requests.Session() as http:
        sid, upstream = engineio_handshake(http, url)
        answers = polling_exchange(http, url, sid)
    assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
    assert {a.headers["X-Upstream"] for a in answers} == {upstream}
    assert "session_confirm" in answers[-1].text or "session_confirm" in answers[-2].text
    # and a whole widget conversation over polling only
    widget = WidgetClient(url, transports=("polling",)).connect()
    try:
        session = widget.session()
        said = ["oi", "qual o horario de atendimento?", "obrigado"]
        for message in said:
            assert widget.say(message), message
        assert_each_answered_once(whole.cluster.replicas[1].tracker(sender_id("web", session)), said)
    finally:
        widget.close()


def test_socketio_long_polling_breaks_without_ip_hash(whole):
    """Negative control: without affinity the second request of a polling session
    reaches the replica that never saw its sid and is refused."""
    url = whole.round_robin_url
    with requests.Session() as http:  # one connection to nginx: its worker alternates replicas
        sid, upstream = engineio_handshake(http, url)
        answers = polling_exchange(http, url, sid)
    refused = answers[-1]
    assert refused.status_code == 400, [(a.status_code, a.text) for a in answers]
    assert refused.headers["X-Upstream"] != upstream
    assert json.loads(refused.text) == f"Invalid session {sid}"
    print(f"\n[failover] polling without ip_hash: request {len(answers) + 1} of the session went to "
          f"{refused.headers['X-Upstream']} (handshake on {upstream}): 400 {refused.text}")
    # and a widget limited to polling gets no session there
    widget = WidgetClient(url, transports=("polling",))
    try:
        widget.connect()
        widget.session()
        broken = False
    except Exception:  # the namespace connect (or the session) is refused on the other replica
        broken = True
    finally:
        widget.sio.disconnect()
    assert broken, "a polling widget worked without ip_hash"


def test_socketio_session_survives_sigkill_of_its_replica(whole, graph_api):
    cluster = whole.cluster
    # ip_hash sends every 127.0.0.1 client to one replica: find which one holds the session.
    with requests.Session() as http:
        _, holder_address = engineio_handshake(http, cluster.nginx_url)
    holder = cluster.by_address(holder_address)
    widget = WidgetClient(cluster.nginx_url).connect()
    session = widget.session()
    assert "CPF" in texts(widget.say("quero a segunda via do boleto"))  # the form now waits for it
    cluster.kill(holder, signal.SIGKILL)
    killed = time.monotonic()
    holder.process.wait(timeout=10)
    attempts = 0
    while True:  # what the widget's reconnection does, with the session id it keeps
        attempts += 1
        again = WidgetClient(cluster.nginx_url)
        try:
            again.connect()
            assert again.session(session) == session
            break
        except Exception as error:  # refused by nginx (the dead upstream), or no confirmation
            again.sio.disconnect()
            assert time.monotonic() - killed < 60, f"no reconnection within 60 s: {error!r}"
            time.sleep(0.5)
    reconnected = time.monotonic() - killed
    try:
        replies = pass_step_up(again.say, graph_api, CPF_MARIA)  # the CPF the form asked for
        assert "Maria" in texts(replies)
    finally:
        again.close()
        widget.sio.disconnect()
    survivor = next(r for r in cluster.replicas if r is not holder)
    tracker = survivor.tracker(sender_id("web", session))
    assert tracker["slots"]["customer_name"] == "Maria"
    users = user_texts(tracker)  # one conversation: the request, the CPF, the code; nothing twice
    assert users[0] == "quero a segunda via do boleto" and len(users) == 3 == len(set(users)), users
    print(f"\n[failover] socket.io: replica holding the session SIGKILLed; reconnected to "
          f"{cluster.address(survivor)} after {attempts} attempt(s), {reconnected:.1f} s; the form continued")


# --- REST customers under load ------------------------------------------------------------

CUSTOMERS = 24
MESSAGES = [
    "oi, boa tarde",
    "quais planos de internet voces tem?",
    "qual o horario de atendimento?",
    "vc e um robo?",
    "obrigado",
    "tchau",
]
RETRYABLE = (502, 503, 504)


@dataclass
class Attempt:
    started: float
    ended: float
    status: int  # 0: no HTTP answer (connection error)
    upstream: str = ""
    replayed: bool = False
    detail: str = ""


@dataclass
class Load:
    """Every attempt of every customer, and the moment a replica was signalled."""

    attempts: List[Attempt] = field(default_factory=list)
    signalled: Optional[float] = None
    done_turns: int = 0
    takeovers: int = 0  # idempotency keys of dead turns taken over by the survivor (its log)
    replayed_from_tracker: int = 0  # ... whose turn the tracker already held (answered, not re-run)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, attempt: Attempt) -> None:
        with self.lock:
            self.attempts.append(attempt)
            self.done_turns += attempt.status == 200

    def failures(self) -> List[Attempt]:
        return [a for a in self.attempts if a.status != 200]


def send_until_answered(cluster: Cluster, load: Load, sender: str, message: str) -> None:
    """One message as a careful client sends it: an Idempotency-Key, and on a
    connection error, 502/503/504 or a 409 "still being answered", the SAME key again."""
    key = f"msg-{uuid.uuid4().hex}"
    deadline = time.monotonic() + 240
    while True:
        started = time.monotonic()
        try:
            answer = cluster.post_via_nginx(sender, message, {"Idempotency-Key": key}, timeout=150)
        except requests.RequestException as error:
            load.record(Attempt(started, time.monotonic(), 0, detail=type(error).__name__))
        else:
            attempt = Attempt(started, time.monotonic(), answer.status_code, answer.headers.get("X-Upstream", ""),
                              answer.headers.get("Idempotent-Replayed") == "true", answer.text[:120])
            load.record(attempt)
            if answer.status_code == 200:
                assert answer.json(), f"{message!r} got no reply"
                return
            pending = answer.status_code == 409 and "still being answered" in answer.text
            assert answer.status_code in RETRYABLE or pending, (answer.status_code, answer.text)
        assert time.monotonic() < deadline, f"{sender}: {message!r} never answered"
        time.sleep(0.5)


def customer(cluster: Cluster, load: Load) -> tuple:
    sender = f"failover-{uuid.uuid4().hex[:12]}"
    for message in MESSAGES:
        send_until_answered(cluster, load, sender, message)
    return sender, list(MESSAGES)


TAKEOVER = "taking over a key whose turn died"
REPLAYED_FROM_TRACKER = "was already in the tracker"


def run_load(cluster: Cluster, victim, sig: int) -> Load:
    """CUSTOMERS concurrent customers through nginx; ``sig`` to ``victim`` once a
    third of all turns are answered. Checks every tracker: 0 lost, 0 duplicated."""
    load = Load()
    total = CUSTOMERS * len(MESSAGES)
    survivor = next(r for r in cluster.replicas if r is not victim)
    log_before = survivor.log_text()
    with ThreadPoolExecutor(CUSTOMERS) as pool:
        futures = [pool.submit(customer, cluster, load) for _ in range(CUSTOMERS)]
        while load.done_turns < total // 3:
            assert not any(f.done() and f.exception() for f in futures), [f.exception() for f in futures if f.done()]
            time.sleep(0.1)
        load.signalled = time.monotonic()
        cluster.kill(victim, sig)
        conversations = [future.result() for future in futures]
    for sender, sent in conversations:
        assert_each_answered_once(survivor.tracker(sender), sent)  # 0 lost, 0 duplicated
    log = survivor.log_text()[len(log_before):]
    load.takeovers, load.replayed_from_tracker = log.count(TAKEOVER), log.count(REPLAYED_FROM_TRACKER)
    return load


def report(load: Load, victim_address: str, label: str) -> Dict[str, object]:
    """The figures of one run, printed (pytest -s) for docs/deployment.md."""
    signal_at = load.signalled
    on_victim = [a for a in load.attempts if a.upstream == victim_address]
    in_flight = [a for a in on_victim if a.started < signal_at < a.ended]
    failures = load.failures()
    after = [a for a in failures if a.started >= signal_at]
    last_failure = max((a.ended for a in failures), default=signal_at)
    figures = {
        "turns": sum(a.status == 200 for a in load.attempts),
        "in flight on the victim at the signal": len(in_flight),
        "of which failed": sum(a.status != 200 for a in in_flight),
        "of which answered": sum(a.status == 200 for a in in_flight),
        "failed attempts after the signal, by status": dict(Counter(a.status for a in after)),
        "retries (all failed attempts)": len(failures),
        "answers replayed from the key": sum(a.replayed for a in load.attempts),
        "keys taken over from the dead replica": load.takeovers,
        "of which answered from the tracker": load.replayed_from_tracker,
        "recovered (last failure) after, s": round(last_failure - signal_at, 1),
        "slowest answer, s": round(max(a.ended - a.started for a in load.attempts), 1),
    }
    print(f"\n[failover] {label}: " + "; ".join(f"{k}: {v}" for k, v in figures.items()))
    return figures


def test_sigterm_under_load_loses_and_duplicates_nothing(whole):
    cluster = whole.cluster
    victim, survivor = cluster.replicas
    load = run_load(cluster, victim, signal.SIGTERM)
    victim.process.wait(timeout=90)  # drained and exited by itself
    figures = report(load, cluster.address(victim), f"SIGTERM, {CUSTOMERS} customers x {len(MESSAGES)} messages")
    assert not [a for a in load.failures() if a.upstream == cluster.address(survivor)], "the survivor failed"
    # Draining, the victim finishes the turns it runs and refuses the rest with a 503
    # before any turn (also requests already sent, not yet in a turn); the key is freed.
    assert not [a for a in load.failures() if a.started < load.signalled and a.status != 503], load.failures()
    assert figures["keys taken over from the dead replica"] == 0
    late = [a for a in load.attempts if a.status == 200 and a.started > load.signalled]
    assert all(a.upstream == cluster.address(survivor) for a in late), "a draining replica took a new turn"
    assert figures["turns"] == CUSTOMERS * len(MESSAGES)


def test_sigkill_under_load_fails_only_in_flight_requests_and_duplicates_nothing(whole):
    cluster = whole.cluster
    survivor, victim = cluster.replicas
    load = run_load(cluster, victim, signal.SIGKILL)
    figures = report(load, cluster.address(victim), f"SIGKILL, {CUSTOMERS} customers x {len(MESSAGES)} messages")
    failures = load.failures()
    # The survivor never fails a request except with the 409 "still being answered" of a
    # key the dead process leased (retried). After the kill, the victim's only failures
    # are 502s of nginx still trying it (connection refused: no turn ran).
    assert not [a for a in failures if a.upstream == cluster.address(survivor) and a.status != 409], failures
    assert not [a for a in failures if a.started >= load.signalled and a.status != 409
                and not (a.status == 502 and a.upstream == cluster.address(victim))], failures
    assert figures["of which failed"] >= 1, "the kill hit no request in flight"
    # nginx never passed a request on to a second replica (X-Upstream would list both).
    assert not [a for a in load.attempts if "," in a.upstream], [a for a in load.attempts if "," in a.upstream]
    late = [a for a in load.attempts if a.status == 200 and a.started > load.signalled]
    assert all(a.upstream == cluster.address(survivor) for a in late), "an answer after the kill from the dead"
    assert figures["turns"] == CUSTOMERS * len(MESSAGES)
