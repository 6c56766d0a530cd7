"""The checks of the container smoke test (deploy/smoke.sh, docs/deployment.md).

Run by deploy/smoke.sh with the project's .venv once the compose stack is
ready. Everything customer-facing goes through nginx on 127.0.0.1 (SMOKE_URL),
the only published port; the refusals are checked from the host's side
(published ports, loopback) and, for Rasa's API, from inside the rasa
container too (it is on, and refuses without RASA_API_TOKEN). Each check
prints one line; the first failure ends the run with exit status 1.
Environment: SMOKE_URL, SMOKE_CHAT_KEY (one of CHAT_API_KEYS), SMOKE_AGENT and
SMOKE_DESK_PASSWORD (the agent smoke.sh made with ``python -m bot.desk``),
SMOKE_CONTAINERS (``service=container-id`` pairs, space-separated).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from typing import Callable, Dict, List

import requests

from testing.widget_client import WidgetClient

URL = os.environ["SMOKE_URL"]
CHAT_KEY = os.environ["SMOKE_CHAT_KEY"]
AGENT = os.environ["SMOKE_AGENT"]
PASSWORD = os.environ["SMOKE_DESK_PASSWORD"]
CONTAINERS = dict(pair.split("=", 1) for pair in os.environ["SMOKE_CONTAINERS"].split())


class CheckFailed(Exception):
    pass


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def texts(messages: List[Dict]) -> List[str]:
    return [message.get("text", "") for message in messages if message.get("text")]


def rest_turn() -> str:
    session = f"smoke-{uuid.uuid4().hex[:12]}"
    body = {"session_id": session, "message": "oi"}
    refused = requests.post(f"{URL}/api/v1/chat", json=body, timeout=60)
    expect(refused.status_code == 401, f"without the API key: {refused.status_code} (want 401)")
    answer = requests.post(f"{URL}/api/v1/chat", json=body, timeout=120,
                           headers={"Authorization": f"Bearer {CHAT_KEY}"})
    expect(answer.status_code == 200, f"POST /api/v1/chat: {answer.status_code} {answer.text[:200]}")
    replies = texts(answer.json().get("messages", []))
    expect(bool(replies), f"POST /api/v1/chat answered no text: {answer.text[:200]}")
    return f"{len(replies)} replies, first: {replies[0][:60]!r}; 401 without the key"


def socketio_turn() -> str:
    client = WidgetClient(URL).connect()
    try:
        client.session()
        replies = texts(client.say("oi", timeout=120))
    finally:
        client.close()
    expect(bool(replies), "socket.io: no bot_uttered text for 'oi'")
    return f"{len(replies)} replies over the websocket transport, first: {replies[0][:60]!r}"


def desk_login() -> str:
    login = f"{URL}/desk/api/auth/login"
    wrong = requests.post(login, json={"username": AGENT, "password": PASSWORD + "x"}, timeout=60)
    expect(wrong.status_code == 401, f"wrong password: {wrong.status_code} (want 401)")
    answer = requests.post(login, json={"username": AGENT, "password": PASSWORD}, timeout=60)
    expect(answer.status_code == 200, f"login: {answer.status_code} {answer.text[:200]}")
    token = answer.json()["token"]
    me = requests.get(f"{URL}/desk/api/me", headers={"Authorization": f"Bearer {token}"}, timeout=60)
    expect(me.status_code == 200 and AGENT in me.text, f"/desk/api/me: {me.status_code} {me.text[:200]}")
    return f"{AGENT} logged in, /desk/api/me 200; wrong password 401"


def inspect(service: str) -> Dict:
    out = subprocess.run(["docker", "inspect", CONTAINERS[service]], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)[0]


def published(service: str) -> List[str]:
    ports = inspect(service)["NetworkSettings"]["Ports"] or {}
    return [f"{binding['HostIp']}:{binding['HostPort']}->{port}"
            for port, bindings in ports.items() for binding in (bindings or [])]


def connects(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


def host_addresses() -> List[str]:
    """The host's own IPv4 addresses (loopback and its interfaces, not Docker's bridges)."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show"], check=True,
                         capture_output=True, text=True).stdout
    return [line.split()[3].split("/")[0] for line in out.splitlines()
            if not line.split()[1].startswith(("docker", "br-", "veth"))]


def container_addresses(service: str) -> List[str]:
    return [net["IPAddress"] for net in inspect(service)["NetworkSettings"]["Networks"].values()]


def not_published(service: str, port: int) -> str:
    """No host port maps to the service and no host address answers on its port.

    A host process of its own may hold the port on 127.0.0.1 (the tests' Redis):
    that is reported, not counted, since no port of the container is published.
    The host itself routes Docker's bridges, so its own processes do reach the
    container's addresses: the service's own check (password, token) is what
    holds there, checked by the callers."""
    ports = published(service)
    expect(not ports, f"{service} publishes {ports}")
    seen = []
    for address in host_addresses():
        if not connects(address, port):
            seen.append(f"{address}:{port} refused")
        elif address.startswith("127."):
            seen.append(f"{address}:{port} a host process (not published by the container)")
        else:
            raise CheckFailed(f"{address}:{port} answers on the host")
    return "no published port; " + ", ".join(seen)


def redis_reply(address: str, command: bytes) -> bytes:
    with socket.create_connection((address, 6379), timeout=5) as conn:
        conn.sendall(command)
        return conn.recv(200)


def action_server_private() -> str:
    detail = not_published("actions", 5055)
    for address in container_addresses("actions"):
        for method, path in (("GET", "/actions"), ("POST", "/webhook")):
            answer = requests.request(method, f"http://{address}:5055{path}", json={}, timeout=10)
            expect(answer.status_code == 401,
                   f"actions {method} {path} on the bridge {address}: {answer.status_code} (want 401)")
    return detail + "; on its bridge addresses /actions and /webhook 401 without ACTION_SERVER_TOKEN"


def redis_private() -> str:
    detail = not_published("redis", 6379)
    for address in container_addresses("redis"):
        reply = redis_reply(address, b"PING\r\n")
        expect(reply.startswith(b"-NOAUTH"), f"redis on the bridge {address}: PING -> {reply!r} (want NOAUTH)")
    return detail + "; on its bridge address PING -> NOAUTH (password required)"


def in_container(service: str, code: str) -> str:
    return subprocess.run(["docker", "exec", CONTAINERS[service], "python", "-c", code],
                          check=True, capture_output=True, text=True).stdout.strip()


RASA_API_PROBE = """
import os, urllib.request, urllib.error
def status(url):
    try:
        return urllib.request.urlopen(url, timeout=10).status
    except urllib.error.HTTPError as error:
        return error.code
base = "http://127.0.0.1:5005/status"
print(status(base), status(base + "?token=" + os.environ["RASA_API_TOKEN"]))
"""


def rasa_api_refused() -> str:
    expect(not published("rasa"), f"rasa publishes {published('rasa')}")
    paths = ("/status", "/version", "/domain", "/model", "/conversations/smoke/tracker")
    for path in paths:
        for suffix in ("", "?token=guess"):
            answer = requests.get(f"{URL}{path}{suffix}", timeout=30)
            expect(answer.status_code == 404, f"nginx {path}{suffix}: {answer.status_code} (want 404)")
    answer = requests.put(f"{URL}/model", json={}, timeout=30)
    expect(answer.status_code == 404, f"nginx PUT /model: {answer.status_code} (want 404)")
    inside = in_container("rasa", RASA_API_PROBE).split()
    expect(inside == ["401", "200"], f"inside rasa, /status without/with the token: {inside} (want 401 200)")
    return (f"nginx 404 on {', '.join(paths)} (and PUT /model); inside the container "
            "/status 401 without RASA_API_TOKEN, 200 with it")


CHECKS: List[Callable[[], str]] = [
    rest_turn, socketio_turn, desk_login, action_server_private, redis_private, rasa_api_refused,
]


def main() -> int:
    for check in CHECKS:
        start = time.monotonic()
        try:
            detail = check()
        except Exception as error:  # noqa: BLE001 - any failure is the check's failure
            print(f"smoke: FAIL {check.__name__}: {type(error).__name__}: {error}", file=sys.stderr)
            return 1
        print(f"smoke: ok   {check.__name__} ({time.monotonic() - start:.1f} s): {detail}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
