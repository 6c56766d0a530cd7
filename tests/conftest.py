"""Fixtures: one trained model per test run, real Redis, real servers."""
from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Callable, Dict, List

import pytest
import redis
import requests

from bot.settings import RedisSettings, Settings
from testing.fakes import graph_api as graph_fake
from testing.fakes.file_server import FileServer
from testing.fakes.graph_api import FakeGraphApi
from testing.fakes.openai_server import FakeOpenAI
from testing.fakes.smtp_server import FakeSmtpServer
from testing.processes import ROOT, VENV_BIN, Service, free_port, project_env
from testing.rasa_server import RasaServer
from testing.redis_cluster import LocalRedisCluster, RedisTarget

# The REST API and WebSocket settings of the shared test server.
CHAT_API_KEY = "test-chat-key"
CHAT_RATE_LIMIT = 12
WEBSOCKET_JWT_SECRET = "test-websocket-secret-at-least-32-bytes"
DESK_JWT_SECRET = "test-desk-secret-0123456789abcdef0123456789"
# Credentials of the shared servers (every secret: at least 32 characters).
# Rasa's HTTP API takes RASA_API_TOKEN as ?token= (its --auth-token); the
# action server wants ACTION_SERVER_TOKEN as a bearer token (endpoints.yml);
# /metrics and the /health detail want METRICS_TOKEN as a bearer token.
RASA_API_TOKEN = "test-rasa-api-token-0123456789abcdef0123"
ACTION_SERVER_TOKEN = "test-action-server-token-0123456789abcdef"
METRICS_TOKEN = "test-metrics-token-0123456789abcdef012345"
METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}
# The WhatsApp authentication template that carries step-up codes.
STEP_UP_TEMPLATE = "codigo_verificacao"
CODE_SENT = "enviamos um codigo de 6 digitos"
ACTION_AUTH = {"Authorization": f"Bearer {ACTION_SERVER_TOKEN}"}


@pytest.fixture(scope="session")
def redis_settings() -> RedisSettings:
    """The configured Redis, but a test database (TEST_REDIS_DB, default 15)."""
    base = Settings.from_env().redis
    return RedisSettings(
        host=base.host,
        port=base.port,
        db=int(os.environ.get("TEST_REDIS_DB", "15")),
        password=base.password,
    )


@pytest.fixture(scope="session")
def key_prefix() -> str:
    return f"test{os.getpid()}"


@pytest.fixture(scope="session")
def redis_client(redis_settings, key_prefix):
    client = redis.Redis.from_url(redis_settings.url, decode_responses=True)
    client.ping()  # no Redis, no end-to-end tests: fail loudly here
    _step_up_limits.update(client=client, prefix=key_prefix)
    yield client
    for key in client.scan_iter(f"{key_prefix}*"):
        client.delete(key)


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory):
    """A real 3-master Redis Cluster on loopback ports, for the whole session."""
    cluster = LocalRedisCluster(tmp_path_factory.mktemp("redis-cluster")).start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["single", "cluster"])
def redis_target(request, redis_settings, redis_client) -> RedisTarget:
    """The store tests run twice: on the shared server and on the cluster."""
    if request.param == "single":
        return RedisTarget("single", redis_settings, redis_client)
    cluster = request.getfixturevalue("redis_cluster")
    settings = RedisSettings(host="127.0.0.1", port=cluster.ports[0], cluster=True)
    return RedisTarget("cluster", settings, cluster.client())


@pytest.fixture(scope="session")
def model_path(tmp_path_factory) -> Path:
    """Train once per run (TEST_MODEL reuses an existing model file)."""
    if os.environ.get("TEST_MODEL"):
        model = Path(os.environ["TEST_MODEL"]).resolve()
        assert model.is_file(), f"TEST_MODEL={model} does not exist"
        return model
    out = tmp_path_factory.mktemp("models")
    subprocess.run(
        [VENV_BIN / "rasa", "train", "--out", out, "--fixed-model-name", "test"],
        cwd=ROOT,
        env=project_env(),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return out / "test.tar.gz"


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    """The demo ERP's SQLite file the action server seeds and writes."""
    return tmp_path_factory.mktemp("isp") / "demo.sqlite3"


@pytest.fixture(scope="session")
def graph_api():
    """A local WhatsApp Cloud API (Graph API) the WhatsApp connector sends to."""
    fake = FakeGraphApi(graph_fake.ACCESS_TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def transcription_api():
    """A local OpenAI-compatible transcription and vision API for voice notes and photos
    (the LLM stays off: TRANSCRIPTION_* and VISION_* point here, OPENAI_API_KEY is not
    set for the shared servers)."""
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def file_server():
    """Files a chat client attaches by URL (MEDIA_URL_TEST_HOSTS lets the servers fetch from it)."""
    fake = FileServer().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def smtp_server():
    """A local mail relay: step-up codes sent by e-mail land here."""
    fake = FakeSmtpServer().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def server_env(redis_settings, key_prefix, demo_db, graph_api, smtp_server, transcription_api,
               file_server) -> Dict[str, str]:
    action_port = free_port()
    return project_env(
        WHATSAPP_API_URL=graph_api.url,
        WHATSAPP_APP_SECRET=graph_fake.APP_SECRET,
        WHATSAPP_VERIFY_TOKEN=graph_fake.VERIFY_TOKEN,
        WHATSAPP_ACCESS_TOKEN=graph_fake.ACCESS_TOKEN,
        WHATSAPP_PHONE_NUMBER_ID=graph_fake.PHONE_NUMBER_ID,
        WHATSAPP_FALLBACK_TEMPLATE=graph_fake.FALLBACK_TEMPLATE,
        # Step-up codes (tests/e2e/test_step_up.py): WhatsApp stand-in first, then this SMTP one.
        STEP_UP_WHATSAPP_TEMPLATE=STEP_UP_TEMPLATE,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_server.port),
        SMTP_FROM="atendimento@provedor.example",
        SMTP_STARTTLS="false",
        # REST API and WebSocket (tests/e2e/test_rest_channel.py, test_websocket_channel.py)
        CHAT_API_KEYS=CHAT_API_KEY + ",second-key",
        CHAT_RATE_LIMIT_PER_MINUTE=str(CHAT_RATE_LIMIT),
        CHAT_CORS_ORIGINS="https://provedor.example",
        WEBSOCKET_JWT_SECRET=WEBSOCKET_JWT_SECRET,
        WEBSOCKET_IDLE_TIMEOUT_SECONDS="4",
        # socket.io widget page (tests/e2e/test_widget_browser.py)
        WIDGET_PROVIDER="Fibra Teste",
        WIDGET_COLOR="#123abc",
        # Voice notes (tests/e2e/test_voice_notes.py): a short limit so "too long" is quick to make.
        TRANSCRIPTION_BASE_URL=transcription_api.url,
        TRANSCRIPTION_API_KEY=transcription_api.api_key,
        TRANSCRIPTION_MAX_SECONDS="20",
        TRANSCRIPTION_TIMEOUT_SECONDS="3",
        # Photos and PDFs (tests/e2e/test_receipts.py): the same stand-in reads them.
        VISION_BASE_URL=transcription_api.url,
        VISION_API_KEY=transcription_api.api_key,
        VISION_TIMEOUT_SECONDS="3",
        # Attachments by URL (tests/e2e/test_chat_attachments.py): this one loopback server only.
        MEDIA_URL_TEST_HOSTS=file_server.host,
        MEDIA_URL_TIMEOUT_SECONDS="2",
        # Human desk (tests/e2e/test_desk_*.py): always open unless a test says otherwise.
        DESK_JWT_SECRET=DESK_JWT_SECRET,
        DESK_HOURS="mon-sun 00:00-24:00",
        DESK_LOGIN_MAX_FAILURES="50",
        DESK_POSITION_CHECK_SECONDS="1",
        DESK_POSITION_NOTICE_SECONDS="2",
        DESK_OFFLINE_GRACE_SECONDS="86400",  # agents of the tests claim without a console heartbeat
        ISP_BACKEND="demo",
        ISP_DEMO_DB=str(demo_db),
        # REDIS_URL wins over REDIS_HOST/DB in bot.settings: point both at the test db.
        REDIS_URL=redis_settings.url,
        REDIS_HOST=redis_settings.host,
        REDIS_PORT=str(redis_settings.port),
        REDIS_DB=str(redis_settings.db),
        REDIS_PASSWORD=redis_settings.password,
        REDIS_KEY_PREFIX=key_prefix,
        TRACKER_TTL_SECONDS="3600",
        HEALTH_CHECK_TIMEOUT_SECONDS="2",  # a loaded test machine must not look degraded
        ACTION_PORT=str(action_port),
        ACTION_SERVER_URL=f"http://127.0.0.1:{action_port}/webhook",
        RASA_API_TOKEN=RASA_API_TOKEN,
        ACTION_SERVER_TOKEN=ACTION_SERVER_TOKEN,
        METRICS_TOKEN=METRICS_TOKEN,
    )


@pytest.fixture(scope="session")
def action_server(server_env, log_dir):
    port = server_env["ACTION_PORT"]
    service = Service(
        "actions",
        [VENV_BIN / "rasa", "run", "actions", "--actions", "actions", "--port", port,
         "--debug", "--logging-config-file", "logging.yml"],
        server_env,
        log_dir,
    ).start(f"http://127.0.0.1:{port}/health")
    yield service
    service.stop()


@pytest.fixture(scope="session")
def rasa_server(model_path, server_env, log_dir, action_server, redis_client):
    server = RasaServer(model_path, server_env, log_dir).start()
    yield server
    server.stop()


@pytest.fixture
def sender() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def texts(replies: List[dict]) -> str:
    """All reply texts of one turn, joined, for simple assertions."""
    return "\n".join(reply.get("text", "") for reply in replies)


def demo_phone(document: str) -> str:
    """The WhatsApp number the demo ERP has on record for a named customer's CPF/CNPJ."""
    from bot.isp.demo_seed import NAMED_CUSTOMERS

    digits = "".join(c for c in document if c.isdigit())
    return next(phone for _, doc, phone, _, _ in NAMED_CUSTOMERS if doc == digits)


# Many tests identify the same demo customers; each starts with a fresh hourly
# code allowance (STEP_UP_CODES_PER_HOUR), as a customer on another day would.
_step_up_limits: Dict[str, object] = {}


def reset_code_allowance(document: str) -> None:
    from bot.verification.codes import document_tag

    digits = "".join(c for c in document if c.isdigit())
    client = _step_up_limits["client"]
    client.delete(f"{_step_up_limits['prefix']}:stepup:{{doc:{document_tag(digits)}}}:sent")


def step_up_codes(graph_api, phone: str) -> List[str]:
    """Codes of the authentication templates the WhatsApp stand-in received for ``phone``."""
    return [
        r.json["template"]["components"][0]["parameters"][0]["text"]
        for r in graph_api.sent(to=phone, kind="template")
        if r.json["template"].get("name") == STEP_UP_TEMPLATE
    ]


def pass_step_up(send: Callable[[str], List[dict]], graph_api, document: str,
                 message: str = "", phone: str = "") -> List[dict]:
    """Identify as a customer does on web/REST: type ``message`` (default: the
    document), read the code their WhatsApp received, type it; the replies to the code."""
    phone = phone or demo_phone(document)
    reset_code_allowance(document)
    before = len(step_up_codes(graph_api, phone))
    asked = texts(send(message or document))
    assert CODE_SENT in asked, asked
    codes = graph_api.wait_for(lambda: step_up_codes(graph_api, phone)[before:], timeout=30)
    return send(codes[-1])
