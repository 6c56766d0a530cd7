"""The atendentes' console (/desk/) in headless Chromium against the real stack.

A WhatsApp customer (signed webhook, local Graph API stand-in) asks for a
person; an atendente logged in to the console sees the conversation arrive in
the queue, claims it, reads what the customer writes meanwhile, replies (the
reply reaches the Graph API: what the customer sees), and closes it; the bot
then asks the CSAT score and answers the customer's next message again.
Also: a locked login, a claim lost to a colleague (409 and live), a transfer
both ways, typing frames, logout revoking the token, the supervisor's
dashboard, and a check that the console loads nothing from other sites.

Uses Debian's /usr/bin/chromium and /usr/bin/chromedriver, like
test_widget_browser.py. The atendente is created directly in the test Redis
through bot.desk, as `python -m bot.desk create-user` would.
"""
from __future__ import annotations

import asyncio
import io
import re
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
import requests
from PIL import Image
from redis import asyncio as aioredis
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from bot.desk import Desk
from bot.desk.conversations import Conversations
from testing.desk_client import PASSWORD as AGENT_PASSWORD
from testing.desk_client import DeskAgent, create_agent
from testing.speech import voice_note
from tests.e2e.test_whatsapp_channel import (bodies, list_reply, message, new_wa_id, say, shown, text,
                                             wait_text)

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOT = Path(tempfile.gettempdir()) / "desk-console-browser-test.png"
PASSWORD = "Senha-da-atendente-1"


@pytest.fixture
def browser(tmp_path):
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("the console test needs Debian's chromium and chromium-driver "
                    "(apt-get install chromium chromium-driver; .ci/run installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--window-size=1400,900",
                 f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=ChromeService(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def desk_call(redis_settings, key_prefix, work):
    """Run ``work(desk)`` on a Desk over the test Redis (what the CLI does)."""
    async def run():
        client = aioredis.Redis.from_url(redis_settings.url, decode_responses=True)
        try:
            return await work(Desk.create(client, key_prefix))
        finally:
            await client.close()
    return asyncio.run(run())


@pytest.fixture
def atendente(redis_settings, key_prefix, redis_client):
    username = f"ana-{uuid.uuid4().hex[:6]}"
    desk_call(redis_settings, key_prefix,
              lambda desk: desk.users.create(username, "Ana Souza", "atendente", PASSWORD))
    # Other desk tests fail logins from 127.0.0.1 on purpose; start this one unlocked.
    for key in redis_client.scan_iter(f"{key_prefix}:desk:login:failures:*"):
        redis_client.delete(key)
    return username


def waiter(driver) -> WebDriverWait:
    """Conditions are re-evaluated from fresh lookups: a live update may replace a node."""
    return WebDriverWait(driver, 60, ignored_exceptions=(StaleElementReferenceException,))


def click(wait: WebDriverWait, css: str) -> None:
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, css).click() or True)


def log_in(driver, username: str, password: str = PASSWORD) -> None:
    by_testid(driver, "login-username").clear()
    by_testid(driver, "login-username").send_keys(username)
    by_testid(driver, "login-password").clear()
    by_testid(driver, "login-password").send_keys(password, Keys.ENTER)


def by_testid(driver, testid: str):
    return driver.find_element(By.CSS_SELECTOR, f"[data-testid={testid}]")


def bubbles(driver, author: str):
    return [el.text for el in driver.find_elements(
        By.CSS_SELECTOR, f"[data-testid=transcript] [data-testid=msg-{author}] [data-testid=msg-text]")]


def ask_for_a_person(rasa_server, graph_api, redis_settings, key_prefix, name: str = "Cliente Teste"):
    """A new WhatsApp customer asks for an atendente: (wa_id, their queued desk conversation)."""
    wa_id = new_wa_id()
    say(rasa_server, text(wa_id, "quero falar com um atendente"), name=name)
    return wa_id, graph_api.wait_for(lambda: desk_call(
        redis_settings, key_prefix, lambda desk: desk.conversations.find_open(f"wa:{wa_id}")))


def test_atendente_claims_replies_and_hands_back_to_the_bot(
        browser, rasa_server, graph_api, redis_settings, key_prefix, atendente):
    wait = waiter(browser)
    browser.get(f"{rasa_server.url}/desk/")

    # A wrong password is refused on the page; the right one opens the console.
    by_testid(browser, "login-username").send_keys(atendente)
    by_testid(browser, "login-password").send_keys("not-the-password")
    by_testid(browser, "login-submit").click()
    wait.until(lambda d: by_testid(d, "login-error").is_displayed())
    assert "incorretos" in by_testid(browser, "login-error").text
    by_testid(browser, "login-password").clear()
    by_testid(browser, "login-password").send_keys(PASSWORD, Keys.ENTER)
    wait.until(lambda d: by_testid(d, "app-view").is_displayed())
    assert "Ana Souza" in by_testid(browser, "me-name").text
    wait.until(lambda d: by_testid(d, "connection").text == "Ao vivo")  # /desk/ws is up

    # A WhatsApp customer asks for a person while the atendente is online.
    wa_id = new_wa_id()
    say(rasa_server, text(wa_id, "quero falar com um atendente"), name="Cliente Zap")
    sent_before_claim = len(graph_api.wait_for(lambda: bodies(graph_api, wa_id)))
    conversation_id = graph_api.wait_for(lambda: desk_call(
        redis_settings, key_prefix, lambda desk: desk.conversations.find_open(f"wa:{wa_id}")
    )).id

    # It shows up in the queue without a reload (live update), with its channel.
    item_css = f"[data-testid=queue-item][data-conversation-id='{conversation_id}']"
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f"{item_css} [data-testid=channel]").text == "WA")
    assert browser.find_element(By.CSS_SELECTOR, f"{item_css} [data-testid=wait]").text.endswith("s")

    click(wait, f"{item_css} [data-testid=claim]")
    wait.until(lambda d: by_testid(d, "reply-form").is_displayed())
    assert by_testid(browser, "conv-status").text == "Em atendimento"
    # Meta's 24-hour window, opened by the customer's message, counts down in the header.
    assert re.search(r"Janela do WhatsApp: 2[34]h\d\d restantes", by_testid(browser, "conv-meta").text)
    wait.until(lambda d: "quero falar com um atendente" in bubbles(d, "customer"))
    wait.until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, f"[data-testid=mine-item][data-conversation-id='{conversation_id}']")))
    assert not browser.find_elements(By.CSS_SELECTOR, item_css)  # no longer queued

    # What the customer writes now reaches the console live, not the bot, as plain text.
    said = "minha internet caiu de novo <b>urgente</b>"
    say(rasa_server, text(wa_id, said))
    wait.until(lambda d: said in bubbles(d, "customer"))
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-testid=transcript] b")

    # The reply (Enter sends) is delivered on WhatsApp, shown once in the console.
    reply = "Oi! Aqui e a Ana, do suporte. Vou verificar sua conexao agora."
    by_testid(browser, "reply-text").send_keys(reply, Keys.ENTER)
    delivered = wait_text(graph_api, wa_id, reply)
    assert delivered["type"] == "text" and shown(delivered) == reply
    wait.until(lambda d: reply in bubbles(d, "agent"))
    assert bubbles(browser, "agent").count(reply) == 1
    assert by_testid(browser, "reply-text").get_attribute("value") == ""
    sent_while_claimed = bodies(graph_api, wa_id)[sent_before_claim:]
    assert [shown(b) for b in sent_while_claimed] == [reply]  # the bot stayed quiet

    # Closing hands the customer back to the bot, which asks for a score.
    by_testid(browser, "close-open").click()
    by_testid(browser, "close-resolution").send_keys("Problema resolvido")
    by_testid(browser, "close-notes").send_keys("Reiniciamos a ONU remotamente.")
    by_testid(browser, "close-submit").click()
    wait.until(lambda d: by_testid(d, "conv-status").text == "Resolvida")
    assert not by_testid(browser, "reply-form").is_displayed()
    wait.until(lambda d: not d.find_elements(
        By.CSS_SELECTOR, f"[data-testid=mine-item][data-conversation-id='{conversation_id}']"))
    question = wait_text(graph_api, wa_id, "De 1 a 5")

    # The customer's next messages are the bot's again: the score (a tap on
    # the list WhatsApp shows), then a job.
    best = question["interactive"]["action"]["sections"][0]["rows"][0]
    say(rasa_server, list_reply(wa_id, best["id"], best["title"]))
    wait_text(graph_api, wa_id, "Obrigado pela avaliacao")
    assert desk_call(redis_settings, key_prefix,
                     lambda desk: desk.conversations.get(conversation_id)).csat == 5
    say(rasa_server, text(wa_id, "quero a segunda via do boleto"))
    wait_text(graph_api, wa_id, "CPF")
    browser.save_screenshot(str(SCREENSHOT))

    # Nothing about the customer went to the browser's console.
    logged = " ".join(entry["message"] for entry in browser.get_log("browser"))
    assert wa_id not in logged and "internet caiu" not in logged


def test_a_closed_whatsapp_window_offers_only_templates_until_the_customer_answers(
        browser, rasa_server, graph_api, redis_settings, redis_client, key_prefix, atendente):
    wait = waiter(browser)
    wa_id, queued = ask_for_a_person(rasa_server, graph_api, redis_settings, key_prefix, "Bia Nunes")
    conversation_id = queued.id
    browser.get(f"{rasa_server.url}/desk/")
    log_in(browser, atendente)
    item_css = f"[data-testid=queue-item][data-conversation-id='{conversation_id}']"
    click(wait, f"{item_css} [data-testid=claim]")
    wait.until(lambda d: by_testid(d, "reply-form").is_displayed())

    # A day passes without a word from her; the conversation is opened again.
    redis_client.delete(f"{key_prefix}:wa:window:{wa_id}")
    browser.refresh()
    click(wait, f"[data-testid=mine-item][data-conversation-id='{conversation_id}']")
    wait.until(lambda d: by_testid(d, "template-form").is_displayed())
    assert not by_testid(browser, "reply-form").is_displayed()
    assert "Janela do WhatsApp fechada" in by_testid(browser, "conv-meta").text
    offered = [o.get_attribute("value") for o in Select(by_testid(browser, "template-name")).options]
    assert "pesquisa_satisfacao" in offered and "codigo_verificacao" not in offered  # utility only

    # The parameters follow the template; the preview shows what she will read.
    Select(by_testid(browser, "template-name")).select_by_value("pesquisa_satisfacao")
    name_box = wait.until(lambda d: by_testid(d, "template-param-customer_name"))
    assert name_box.get_attribute("value") == "Bia"  # filled from the conversation
    name_box.clear()
    name_box.send_keys("Beatriz")
    wait.until(lambda d: by_testid(d, "template-preview").text
               == "Ola Beatriz, como foi seu atendimento? Responda de 1 (ruim) a 5 (otimo).")
    before = len(bodies(graph_api, wa_id))
    by_testid(browser, "template-send").click()
    sent = graph_api.wait_for(lambda: bodies(graph_api, wa_id)[before:])
    assert [b["template"] for b in sent] == [{"name": "pesquisa_satisfacao", "language": {"code": "pt_BR"},
                                              "components": [{"type": "body", "parameters": [
                                                  {"type": "text", "text": "Beatriz"}]}]}]
    wait.until(lambda d: "Ola Beatriz, como foi seu atendimento? Responda de 1 (ruim) a 5 (otimo)."
               in bubbles(d, "agent"))

    # She answers: the window is open again and the reply box is back.
    say(rasa_server, text(wa_id, "foi bom, obrigada"))
    wait.until(lambda d: "foi bom, obrigada" in bubbles(d, "customer"))
    wait.until(lambda d: by_testid(d, "reply-form").is_displayed())
    assert not by_testid(browser, "template-form").is_displayed()
    assert re.search(r"Janela do WhatsApp: 2[34]h\d\d restantes", by_testid(browser, "conv-meta").text)


def test_the_queue_shows_departments_and_a_conversation_moves_to_another_with_a_note(
        browser, rasa_server, graph_api, redis_settings, key_prefix, atendente):
    wait = waiter(browser)
    wa_id, queued = ask_for_a_person(rasa_server, graph_api, redis_settings, key_prefix, "Caio Reis")
    conversation_id = queued.id
    assert queued.department == "suporte"  # nothing else said: the default department
    browser.get(f"{rasa_server.url}/desk/")
    log_in(browser, atendente)
    item_css = f"[data-testid=queue-item][data-conversation-id='{conversation_id}']"
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f"{item_css} [data-testid=department]").text
               == "Suporte tecnico")
    click(wait, f"{item_css} [data-testid=claim]")
    wait.until(lambda d: "Setor: Suporte tecnico" in by_testid(d, "conv-meta").text)

    by_testid(browser, "transfer-open").click()
    wait.until(lambda d: any(o.get_attribute("value") == "financeiro"
                             for o in d.find_elements(By.CSS_SELECTOR, "[data-testid=transfer-department] option")))
    Select(by_testid(browser, "transfer-department")).select_by_value("financeiro")
    by_testid(browser, "transfer-reason").send_keys("duvida sobre a fatura")
    by_testid(browser, "transfer-note").send_keys("cliente diz que pagou dia 5")
    by_testid(browser, "transfer-submit").click()
    wait.until(lambda d: by_testid(d, "banner").text == "Conversa transferida.")
    wait_text(graph_api, wa_id, "Transferi seu atendimento para o setor Financeiro")
    moved = desk_call(redis_settings, key_prefix, lambda desk: desk.conversations.get(conversation_id))
    assert (moved.status, moved.department, moved.agent) == ("queue", "financeiro", None)
    assert moved.transfers[-1]["note"] == "cliente diz que pagou dia 5"
    # back in the queue (an atendente of every department still sees it), now under Financeiro
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f"{item_css} [data-testid=department]").text
               == "Financeiro")


def test_a_canned_reply_expands_with_the_customers_name_and_goes_out_as_typed(
        browser, rasa_server, graph_api, redis_settings, key_prefix, atendente):
    wait = waiter(browser)
    me = DeskAgent(rasa_server, atendente, PASSWORD)
    created = me.ok("POST", "/canned-replies", status=201, json={
        "shortcut": "boasvindas", "text": "Oi {nome}, aqui e {atendente}. Ja estou vendo seu caso."})
    assert created["canned_reply"]["scope"] == "personal"
    bad = me.api("POST", "/canned-replies", json={"shortcut": "geral", "text": "x", "scope": "global"})
    assert bad.status_code == 403  # an atendente writes personal replies only
    bad = me.api("POST", "/canned-replies", json={"shortcut": "vars", "text": "Seu CPF {cpf}"})
    assert bad.status_code == 422 and bad.json()["field"] == "text"

    wa_id, queued = ask_for_a_person(rasa_server, graph_api, redis_settings, key_prefix, "Dora Lima")
    conversation_id = queued.id
    browser.get(f"{rasa_server.url}/desk/")
    log_in(browser, atendente)
    click(wait, f"[data-testid=queue-item][data-conversation-id='{conversation_id}'] [data-testid=claim]")
    box = wait.until(lambda d: by_testid(d, "reply-text") if by_testid(d, "reply-text").is_displayed() else None)
    box.send_keys("/boas")
    wait.until(lambda d: [o.get_attribute("data-shortcut") for o in d.find_elements(
        By.CSS_SELECTOR, "[data-testid=canned-option]")] == ["boasvindas"])
    box.send_keys(Keys.TAB)
    expected = "Oi Dora, aqui e Ana Souza. Ja estou vendo seu caso."
    wait.until(lambda d: by_testid(d, "reply-text").get_attribute("value") == expected)
    assert not by_testid(browser, "canned-suggestions").is_displayed()
    box.send_keys(Keys.ENTER)
    assert wait_text(graph_api, wa_id, expected)["type"] == "text"

    # a label and a private note, then the closed conversation found again by its label
    label = f"retorno{uuid.uuid4().hex[:4]}"
    by_testid(browser, "notes-box").click()
    by_testid(browser, "label-text").send_keys(label, Keys.ENTER)
    wait.until(lambda d: [e.get_attribute("data-label") for e in d.find_elements(
        By.CSS_SELECTOR, "[data-testid=labels] [data-testid=label]")] == [label])
    by_testid(browser, "note-text").send_keys("prometi ligar amanha cedo")
    by_testid(browser, "note-add").click()
    wait.until(lambda d: "prometi ligar amanha cedo" in by_testid(d, "internal-notes").text)
    assert "prometi ligar" not in " ".join(shown(b) for b in bodies(graph_api, wa_id))  # never to the customer
    me.ok("POST", f"/conversations/{conversation_id}/close", json={"resolution": "resolvido"})
    Select(by_testid(browser, "search-field")).select_by_value("label")
    by_testid(browser, "search-value").send_keys(label, Keys.ENTER)
    click(wait, f"[data-testid=search-open][data-conversation-id='{conversation_id}']")
    wait.until(lambda d: by_testid(d, "conv-status").text == "Resolvida"
               and "prometi ligar amanha cedo" in by_testid(d, "internal-notes").get_attribute("textContent"))


def test_locked_login_claim_race_and_the_supervisors_dashboard(
        browser, rasa_server, graph_api, redis_settings, key_prefix, redis_client, atendente):
    wait = waiter(browser)
    browser.get(f"{rasa_server.url}/desk/")

    # Too many failed logins from this address (DESK_LOGIN_MAX_FAILURES): the page
    # says how long to wait and keeps the button off meanwhile.
    failures = f"{key_prefix}:desk:login:failures:127.0.0.1"
    redis_client.set(failures, 10_000, ex=120)
    try:
        log_in(browser, atendente)
        wait.until(lambda d: "Tente novamente em" in by_testid(d, "login-error").text)
        assert not by_testid(browser, "login-submit").is_enabled()
    finally:
        redis_client.delete(failures)
    browser.refresh()
    log_in(browser, atendente)
    wait.until(lambda d: by_testid(d, "connection").text == "Ao vivo")

    wa_id = new_wa_id()
    say(rasa_server, text(wa_id, "quero falar com um atendente"))
    wait_text(graph_api, wa_id, "fila")
    conversation_id = graph_api.wait_for(lambda: desk_call(
        redis_settings, key_prefix, lambda desk: desk.conversations.find_open(f"wa:{wa_id}")
    )).id
    item_css = f"[data-testid=queue-item][data-conversation-id='{conversation_id}']"
    click(wait, f"{item_css} [data-testid=queue-open]")
    wait.until(lambda d: by_testid(d, "claim-open").is_displayed())
    assert "quero falar com um atendente" in by_testid(browser, "conv-summary").text
    assert by_testid(browser, "conv-status").text == "Na fila"

    # Another atendente was faster, and this console did not hear of it (pub/sub
    # keeps nothing for a console that was reconnecting): "Assumir" gets 409.
    other = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix)).online()

    async def claim_unheard(desk):
        silent = Conversations(desk.users.redis, desk.users, events=None, keys=desk.keys)
        return await silent.claim(conversation_id, await desk.users.require(other.username))

    desk_call(redis_settings, key_prefix, claim_unheard)
    by_testid(browser, "claim-open").click()
    wait.until(lambda d: "Outro atendente já assumiu" in by_testid(d, "banner").text)
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, item_css))
    assert not by_testid(browser, "conversation").is_displayed()

    # A supervisor sees the metrics and who is busy with what.
    supervisor = create_agent(redis_settings.url, key_prefix, role="supervisor")
    token = browser.execute_script("return sessionStorage.getItem('desk.token')")
    by_testid(browser, "logout").click()
    wait.until(lambda d: by_testid(d, "login-view").is_displayed())
    assert browser.execute_script("return sessionStorage.getItem('desk.token')") is None
    revoked = requests.get(f"{rasa_server.url}/desk/api/me", headers={"Authorization": f"Bearer {token}"},
                           timeout=10)
    assert revoked.status_code == 401  # logout revoked the token, not just forgot it
    log_in(browser, supervisor, AGENT_PASSWORD)
    wait.until(lambda d: by_testid(d, "dashboard").is_displayed())
    wait.until(lambda d: any(f"Agente {other.username}" in row.text and row.text.endswith("1")
                             for row in d.find_elements(By.CSS_SELECTOR, "[data-testid=agent-row]")))
    assert "Em atendimento" in by_testid(browser, "metrics").text
    assert not by_testid(browser, "admin-box").is_displayed()  # administration is the admins'
    # ... and can open any conversation in progress (and write in it, if needed).
    active_css = f"[data-testid=active-item][data-conversation-id='{conversation_id}']"
    wait.until(lambda d: f"com {other.username}" in d.find_element(By.CSS_SELECTOR, active_css).text)
    click(wait, f"{active_css} [data-testid=active-open]")
    wait.until(lambda d: by_testid(d, "reply-form").is_displayed())
    assert f"Atendente: {other.username}" in by_testid(browser, "conv-meta").text
    assert "quero falar com um atendente" in bubbles(browser, "customer")
    other.ok("POST", f"/conversations/{conversation_id}/close", json={"resolution": "teste"})


def test_live_claims_and_transfers_typing_and_a_transfer_from_the_console(
        browser, rasa_server, graph_api, redis_settings, key_prefix, atendente):
    wait = waiter(browser)
    colleague = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix)).online()
    watcher = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix, role="supervisor"))
    watcher.connect()  # a supervisor's /desk/ws sees every conversation's events
    try:
        browser.get(f"{rasa_server.url}/desk/")
        log_in(browser, atendente)
        wait.until(lambda d: by_testid(d, "connection").text == "Ao vivo")

        wa_id, queued = ask_for_a_person(rasa_server, graph_api, redis_settings, key_prefix)
        conversation_id = queued.id
        item_css = f"[data-testid=queue-item][data-conversation-id='{conversation_id}']"
        click(wait, f"{item_css} [data-testid=queue-open]")
        wait.until(lambda d: by_testid(d, "claim-open").is_displayed())

        # A colleague takes it while it is on screen: the console says so live.
        colleague.ok("POST", f"/conversations/{conversation_id}/claim")
        wait.until(lambda d: "Outro atendente já assumiu" in by_testid(d, "banner").text)
        wait.until(lambda d: not by_testid(d, "conversation").is_displayed())

        # ... and passes it on to this atendente, who hears of it and opens it.
        colleague.ok("POST", f"/conversations/{conversation_id}/transfer",
                     json={"to": atendente, "reason": "Cliente quer suporte tecnico"})
        wait.until(lambda d: "transferida para você" in by_testid(d, "banner").text)
        click(wait, f"[data-testid=mine-item][data-conversation-id='{conversation_id}'] [data-testid=mine-open]")
        wait.until(lambda d: by_testid(d, "reply-form").is_displayed())

        # Typing sends typing_start, and typing_stop after a pause.
        by_testid(browser, "reply-text").send_keys("Só um instante")
        started = watcher.event("agent_typing", lambda d: d["conversation_id"] == conversation_id)
        assert started["agent"] == atendente and started["typing"] is True
        stopped = watcher.event("agent_typing", lambda d: d["conversation_id"] == conversation_id)
        assert stopped["typing"] is False

        # Transfer to a colleague with a reason: it leaves this console.
        by_testid(browser, "transfer-open").click()
        wait.until(lambda d: any(o.get_attribute("value") == colleague.username
                                 for o in d.find_elements(By.CSS_SELECTOR, "[data-testid=transfer-to] option")))
        Select(by_testid(browser, "transfer-to")).select_by_value(colleague.username)
        by_testid(browser, "transfer-reason").send_keys("Cliente pediu o financeiro")
        by_testid(browser, "transfer-submit").click()
        wait.until(lambda d: not by_testid(d, "conversation").is_displayed())
        assert by_testid(browser, "banner").text == "Conversa transferida."
        wait.until(lambda d: not d.find_elements(
            By.CSS_SELECTOR, f"[data-testid=mine-item][data-conversation-id='{conversation_id}']"))
        moved = colleague.ok("GET", f"/conversations/{conversation_id}")["conversation"]
        assert moved["agent"] == colleague.username
        assert moved["transfers"][-1]["reason"] == "Cliente pediu o financeiro"
        colleague.ok("POST", f"/conversations/{conversation_id}/close", json={"resolution": "teste"})
    finally:
        watcher.close()


def test_the_console_loads_nothing_from_other_sites():
    """No CDN: the console must work on a server without internet access."""
    console = Path(__file__).resolve().parents[2] / "web" / "desk"
    for name in ("index.html", "console.js", "console.css"):
        source = (console / name).read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", source), name
        assert not re.search(r"@import|url\(\s*[\"']?(https?:)?//", source), name
        assert "innerHTML" not in source.replace("never innerHTML", ""), name


def test_a_customers_photo_shows_in_the_console_and_the_atendente_sends_a_file(
        browser, rasa_server, graph_api, transcription_api, redis_settings, key_prefix, atendente, tmp_path):
    wait = waiter(browser)
    wa_id, queued = ask_for_a_person(rasa_server, graph_api, redis_settings, key_prefix, "Eva Prado")
    browser.get(f"{rasa_server.url}/desk/")
    log_in(browser, atendente)
    click(wait, f"[data-testid=queue-item][data-conversation-id='{queued.id}'] [data-testid=claim]")
    wait.until(lambda d: by_testid(d, "reply-text").is_displayed())

    photo = io.BytesIO()
    Image.new("RGB", (120, 80), (250, 0, 0)).save(photo, "PNG")
    say(rasa_server, message(wa_id, "image", {"id": graph_api.add_media(photo.getvalue(), "image/png"),
                                              "mime_type": "image/png", "caption": "olha a luz do modem"}))
    preview = wait.until(lambda d: next(iter(d.find_elements(
        By.CSS_SELECTOR, "[data-testid=msg-customer] [data-testid=msg-image]")), None))
    wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", preview) == 120)
    assert "olha a luz do modem" in bubbles(browser, "customer")

    note = voice_note("a luz ficou vermelha de novo")
    transcription_api.hear(note, "a luz ficou vermelha de novo")
    say(rasa_server, message(wa_id, "audio", {"id": graph_api.add_media(note, "audio/ogg"),
                                              "mime_type": "audio/ogg; codecs=opus", "voice": True}))
    player = wait.until(lambda d: next(iter(d.find_elements(
        By.CSS_SELECTOR, "[data-testid=msg-customer] [data-testid=msg-audio]")), None))
    assert player.get_attribute("controls") is not None
    browser.execute_script("arguments[0].preload = 'metadata'; arguments[0].load();", player)
    wait.until(lambda d: d.execute_script(  # the player can load it: Chromium reads its length
        "return arguments[0].readyState >= 1 && arguments[0].duration > 0.5", player))
    assert by_testid(browser, "msg-transcript").text == "Transcrição: a luz ficou vermelha de novo"

    upload = tmp_path / "passo a passo.png"
    Image.new("RGB", (40, 40), (0, 0, 250)).save(upload, "PNG")
    by_testid(browser, "reply-text").send_keys("Reinicie assim")
    by_testid(browser, "attach-file").send_keys(str(upload))
    sent = graph_api.wait_for(lambda: bodies(graph_api, wa_id, "image"))[-1]["image"]
    assert sent["caption"] == "Reinicie assim"
    assert graph_api.uploaded(sent["id"])["data"] == upload.read_bytes()
    mine = wait.until(lambda d: next(iter(d.find_elements(
        By.CSS_SELECTOR, "[data-testid=msg-agent] [data-testid=msg-image]")), None))
    wait.until(lambda d: d.execute_script("return arguments[0].naturalWidth", mine) == 40)
    assert len(browser.find_elements(By.CSS_SELECTOR, "[data-testid=msg-agent] [data-testid=msg-media]")) == 1
    assert by_testid(browser, "reply-text").get_attribute("value") == ""  # the caption went with it

    bad = tmp_path / "virus.png"
    bad.write_bytes(b"MZ\x90\x00 not an image")
    by_testid(browser, "attach-file").send_keys(str(bad))
    wait.until(lambda d: "Arquivo não enviado" in by_testid(d, "conv-error").text)
    assert len(bodies(graph_api, wa_id, "image")) == 1


def test_an_admin_manages_departments_and_users_from_the_console(browser, rasa_server, redis_settings, key_prefix):
    wait = waiter(browser)
    admin = create_agent(redis_settings.url, key_prefix, role="admin")
    api = DeskAgent(rasa_server, admin)
    browser.get(f"{rasa_server.url}/desk/")
    log_in(browser, admin, AGENT_PASSWORD)
    wait.until(lambda d: by_testid(d, "admin-box").is_displayed())
    browser.find_element(By.CSS_SELECTOR, "[data-testid=admin-box] summary").click()

    slug = f"ouv{uuid.uuid4().hex[:5]}"
    form = by_testid(browser, "department-form")
    form.find_element(By.NAME, "slug").send_keys(slug)
    form.find_element(By.NAME, "name").send_keys("Ouvidoria", Keys.ENTER)
    row_css = f"[data-testid=dept-row][data-slug='{slug}']"
    row = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, row_css))
    row.find_element(By.CSS_SELECTOR, "[data-testid=dept-hours]").send_keys("sab 13:00-09:00")
    row.find_element(By.CSS_SELECTOR, "[data-testid=dept-save]").click()
    wait.until(lambda d: "hours" in by_testid(d, "admin-error").text)  # the API's reason, on screen
    hours = browser.find_element(By.CSS_SELECTOR, f"{row_css} [data-testid=dept-hours]")
    hours.clear()
    hours.send_keys("sab 09:00-12:00")
    Select(browser.find_element(By.CSS_SELECTOR, f"{row_css} [data-testid=dept-assignment]")).select_by_value("auto")
    browser.find_element(By.CSS_SELECTOR, f"{row_css} [data-testid=dept-save]").click()
    wait.until(lambda d: not by_testid(d, "admin-error").is_displayed())
    saved = next(d for d in api.ok("GET", "/departments")["departments"] if d["slug"] == slug)
    assert (saved["name"], saved["assignment"], saved["hours"]) == ("Ouvidoria", "auto", "sab 09:00-12:00")

    username = f"bia{uuid.uuid4().hex[:5]}"
    form = by_testid(browser, "user-form")
    form.find_element(By.NAME, "username").send_keys(username)
    form.find_element(By.NAME, "name").send_keys("Bia Teles")
    form.find_element(By.NAME, "password").send_keys("semmaiuscula1", Keys.ENTER)
    wait.until(lambda d: "password" in by_testid(d, "admin-error").text)
    form.find_element(By.NAME, "password").clear()
    form.find_element(By.NAME, "password").send_keys("Senha-Forte-7", Keys.ENTER)
    user_css = f"[data-testid=user-row][data-username='{username}']"
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, user_css))
    departments = browser.find_element(By.CSS_SELECTOR, f"{user_css} [data-testid=user-departments]")
    departments.send_keys(f"{slug}, financeiro")
    capacity = browser.find_element(By.CSS_SELECTOR, f"{user_css} [data-testid=user-capacity]")
    capacity.clear()
    capacity.send_keys("3")
    browser.find_element(By.CSS_SELECTOR, f"{user_css} [data-testid=user-active]").click()
    browser.find_element(By.CSS_SELECTOR, f"{user_css} [data-testid=user-save]").click()

    def stored():
        users = api.ok("GET", f"/users?limit=200&is_active=false")["users"]
        return next((u for u in users if u["username"] == username), None)

    user = wait.until(lambda d: stored())
    assert (user["departments"], user["capacity"], user["disabled"]) == (sorted([slug, "financeiro"]), 3, True)
    assert requests.post(f"{rasa_server.url}/desk/api/auth/login", timeout=10,
                         json={"username": username, "password": "Senha-Forte-7"}).status_code == 401
