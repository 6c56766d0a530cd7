"""The demo page in headless Chromium: the real rasa-webchat widget talks to the bot.

Uses Debian's /usr/bin/chromium and /usr/bin/chromedriver (`.ci/run` installs
them); selenium is given both paths, so it downloads nothing.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import CODE_SENT, step_up_codes

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOT = Path(tempfile.gettempdir()) / "widget-browser-test.png"
MARIA_PHONE = "5511987650001"  # where her step-up code goes (the WhatsApp stand-in)


@pytest.fixture
def browser(tmp_path):
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("the widget test needs Debian's chromium and chromium-driver "
                    "(apt-get install chromium chromium-driver; .ci/run installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--window-size=1280,900",
                 f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=ChromeService(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def bot_texts(driver):
    return [el.text for el in driver.find_elements(By.CSS_SELECTOR, ".rw-from-response .rw-message-text")]


def test_widget_page_talks_to_the_bot(browser, rasa_server, graph_api):
    # The widget re-renders its message list as answers arrive: an element read
    # mid-render goes stale, so the waits poll again instead of failing.
    wait = WebDriverWait(browser, 60, ignored_exceptions=(StaleElementReferenceException,))
    browser.get(f"{rasa_server.url}/widget")
    assert "Fibra Teste" in browser.title  # WIDGET_PROVIDER
    header = browser.find_element(By.TAG_NAME, "header")
    assert header.value_of_css_property("background-color") == "rgba(18, 58, 188, 1)"  # WIDGET_COLOR

    # The launcher shows once the widget's socket.io session is confirmed.
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, ".rw-launcher"))).click()
    box = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, ".rw-new-message")))
    # WIDGET_INIT_PAYLOAD (/greet) opened the conversation: greeting and buttons.
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".rw-reply"))

    box.send_keys("quero a segunda via do boleto", Keys.ENTER)
    wait.until(lambda d: any("CPF" in text for text in bot_texts(d)))

    codes = len(step_up_codes(graph_api, MARIA_PHONE))
    box.send_keys("529.982.247-25", Keys.ENTER)
    wait.until(lambda d: any(CODE_SENT in text for text in bot_texts(d)))
    code = graph_api.wait_for(lambda: step_up_codes(graph_api, MARIA_PHONE)[codes:])[-1]
    box.send_keys(code, Keys.ENTER)  # the code Maria's WhatsApp received
    wait.until(lambda d: any("Maria" in text for text in bot_texts(d)))

    before = len(bot_texts(browser))
    box.send_keys("oi", Keys.ENTER)
    wait.until(lambda d: len(bot_texts(d)) > before)

    def click_invoice_button(d):
        # a button sends its payload (/request_invoice) like a typed message
        replies = [r for r in d.find_elements(By.CSS_SELECTOR, ".rw-reply")
                   if r.text == "2a via / PIX" and r.is_displayed()]
        if replies:
            replies[-1].click()
        return bool(replies)

    wait.until(click_invoice_button)
    wait.until(lambda d: len(bot_texts(d)) > before + 1)
    browser.save_screenshot(str(SCREENSHOT))
