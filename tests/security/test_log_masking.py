"""Every log line of a real ``rasa run`` is masked, whatever logger wrote it: Sanic's
own "Exception occurred while handling uri" line (logger ``sanic.error``, its own
handler) included; and the mask leaves the model's file name alone."""
from __future__ import annotations

import time

import pytest
import requests

from testing.rasa_server import RasaServer
from testing.processes import ROOT

pytestmark = pytest.mark.e2e

CPF, EMAIL, PHONE = "529.982.247-25", "ana.souza@gmail.com", "11987654321"


@pytest.fixture(scope="module")
def server_with_a_failing_route(model_path, server_env, log_dir, action_server, tmp_path_factory):
    credentials = tmp_path_factory.mktemp("failing") / "credentials.yml"
    credentials.write_text((ROOT / "credentials.yml").read_text()
                           + "\ntesting.fakes.failing_channel.FailingInput:\n")
    server = RasaServer(model_path, server_env, log_dir, name="rasa-failing-route")
    server.args[server.args.index("credentials.yml")] = str(credentials)
    server.start()
    yield server
    server.stop()


def test_sanic_exception_line_is_masked(server_with_a_failing_route, model_path):
    server = server_with_a_failing_route
    answer = requests.post(
        f"{server.url}/webhooks/failing/boom", params={"cpf": CPF, "email": EMAIL},
        data=f"meu cpf e {CPF.replace('.', '').replace('-', '')}, zap {PHONE}, email {EMAIL}", timeout=30,
    )
    assert answer.status_code == 500
    deadline = time.monotonic() + 10
    while "Exception occurred while handling uri" not in server.log_text():
        assert time.monotonic() < deadline, server.log_tail()
        time.sleep(0.2)
    log = server.log_text()
    assert "RuntimeError: could not handle" in log  # the traceback is there, masked
    for secret in (CPF, "52998224725", EMAIL, PHONE, "ana.souza"):
        assert secret not in log, secret
    assert "***.982.247-**" in log and "a***@gmail.com" in log
    assert model_path.name in log  # the mask does not eat the model's hash
