"""A whole conversation with ISP_BACKEND=ixc: Rasa -> actions -> a local IXC webservice."""
import pytest

from tests.conftest import pass_step_up, texts
from testing.rasa_server import RasaServer
from testing.fakes.ixc_server import TOKEN, USER, FakeIxc
from testing.processes import VENV_BIN, Service, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ixc():
    with FakeIxc() as server:
        yield server


@pytest.fixture(scope="module")
def ixc_rasa(ixc, model_path, server_env, log_dir, redis_client):
    port = str(free_port())
    env = dict(server_env, ISP_BACKEND="ixc", IXC_URL=ixc.url, IXC_USER_ID=USER, IXC_TOKEN=TOKEN,
               ACTION_PORT=port, ACTION_SERVER_URL=f"http://127.0.0.1:{port}/webhook")
    actions = Service(
        "actions-ixc",
        [VENV_BIN / "rasa", "run", "actions", "--actions", "actions", "--port", port,
         "--logging-config-file", "logging.yml"],
        env, log_dir,
    ).start(f"http://127.0.0.1:{port}/health")
    server = RasaServer(model_path, env, log_dir, name="rasa-ixc").start()
    yield server
    server.stop()
    actions.stop()


def test_invoice_and_trust_unlock_on_ixc(ixc_rasa, ixc, graph_api, sender):
    rasa_server = ixc_rasa  # the demo-backed server of the other tests is not used here
    rasa_server.send(sender, "to sem internet")
    # the code goes to the celular IXC has on record, (11) 98765-0001
    reply = texts(pass_step_up(lambda message: rasa_server.send(sender, message), graph_api, "529.982.247-25",
                               phone="5511987650001"))
    assert "Obrigado, Maria!" in reply
    assert "bloqueada por fatura em aberto" in reply  # status_internet FA

    replies = rasa_server.send(sender, "/request_invoice")
    lines = [r.get("text", "") for r in replies]
    assert "34191.09008 14553.502309 71234.560005 1 25960000011990" in lines
    assert any("fake-145535" in line for line in lines), "PIX from get_pix"
    assert any("R$ 119,90" in line for line in lines)

    reply = texts(rasa_server.send(sender, "/request_trust_unlock"))
    assert "Liberei sua internet em confianca" in reply
    assert ixc.tables["cliente_contrato"][0]["status_internet"] == "A"


def test_ixc_down_gives_a_polite_answer_and_a_person(ixc_rasa, ixc, sender):
    ixc.fail_next = 100  # every call answers 503
    try:
        replies = ixc_rasa.send(sender, "me passa os planos")
    finally:
        ixc.fail_next = 0
    assert "Nao consegui consultar o sistema agora" in texts(replies)
    assert any(b["payload"] == "/request_human" for r in replies for b in r.get("buttons", []))
