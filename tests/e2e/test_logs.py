"""No CPF, phone or e-mail reaches a log line in clear, even at --debug; our INFO lines are there."""
import re

import pytest
from validate_docbr import CPF

from bot.documents import mask_document

pytestmark = pytest.mark.e2e


def test_personal_data_is_masked_in_both_servers_logs(rasa_server, action_server, sender):
    cpf = CPF().generate(mask=True)
    digits = cpf.replace(".", "").replace("-", "")
    rasa_server.send(sender, "qro a fatura")
    rasa_server.send(sender, "111.111.111-11")  # invalid, still personal-looking
    rasa_server.send(sender, f"meu cpf e {cpf} zap 11 98765-4321 email ana.souza@gmail.com")

    logs = rasa_server.log_text() + action_server.log_text()
    for secret in [cpf, digits, "111.111.111-11", "98765-4321", "ana.souza@gmail.com"]:
        assert secret not in logs
    # the lines are there, masked: the check above looked at real log output
    assert mask_document(digits) in logs
    assert "a***@gmail.com" in logs


def test_our_info_lines_survive_the_model_load(rasa_server):
    """Loading the model sets the root logger to WARNING (numpy.distutils via skops);
    channels.* and bot.* keep Rasa's level (channels/common/logs.py). The worker's line
    is written after the load, so it shows the fix, not the start-up before it."""
    log = rasa_server.log_text()
    assert re.search(r"INFO\s+channels\.common\.workers\s+- worker \d+ serving", log), log[-3000:]
