"""The page at GET / in a real headless Chromium, driven by Selenium, against a real
`seqtext serve` (uvicorn in a subprocess on a free localhost port): type text, press the
button, and see entities highlighted, tags under tokens, a label with its probabilities and
generated text arriving as it streams. A screenshot of the result is saved to tmp_path (and to
$SEQTEXT_SCREENSHOT_DIR when set). Skipped, with the reason, where no browser is installed."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
httpx = pytest.importorskip("httpx", reason="httpx is not installed")
pytest.importorskip("fastapi", reason="seqtext serve needs the serve extra")

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

BROWSER = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
DRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.slow,  # a browser and a server process: seconds each
    pytest.mark.skipif(not (BROWSER and DRIVER), reason="no Chromium and chromedriver installed "
                       "(Debian: apt-get install chromium chromium-driver)"),
]
GENERATE_OPTIONS = ("max-length", "temperature", "seed")

MODELS = ("ner", "pos", "sentiment", "shakespeare")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`seqtext serve` itself, as a user starts it; its address once /health answers."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "serve.log"
    command = [sys.executable, "-m", "seqtext.cli.main", "serve", "--port", str(port), "--device", "cpu", "--log-level", "warning"]
    for name in MODELS:
        command += ["--model", name]
    with open(log, "w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"seqtext serve exited: {log.read_text()}"
            assert time.monotonic() < deadline, f"seqtext serve did not answer within 60 s: {log.read_text()}"
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def browser(tmp_path, monkeypatch):
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must not look for drivers online
    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1100,1800", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def run(driver, model: str, text: str) -> None:
    Select(driver.find_element(By.ID, "model")).select_by_value(model)
    box = driver.find_element(By.ID, "text")
    box.clear()
    box.send_keys(text)
    driver.find_element(By.ID, "run").click()


def shown(driver, *ids: str) -> list[bool]:
    """Whether each element is visible on the page (CSS applied), not merely in the DOM."""
    return [driver.find_element(By.ID, name).is_displayed() for name in ids]


def test_generation_options_show_only_for_a_language_model(server, browser):
    """Length, Temperature and Seed are for /generate: hidden for taggers and classifiers."""
    wait = WebDriverWait(browser, 30)
    browser.get(server + "/")
    wait.until(EC.element_to_be_clickable((By.ID, "run")))
    assert shown(browser, "model", "text", "run") == [True, True, True]
    assert not any(shown(browser, "busy"))
    for model, visible in (("ner", False), ("sentiment", False), ("shakespeare", True), ("pos", False)):
        Select(browser.find_element(By.ID, "model")).select_by_value(model)
        assert shown(browser, "generate-options", *GENERATE_OPTIONS) == [visible] * 4, model


def test_a_highlighted_span_never_wraps_inside_itself(server, browser):
    """In a narrow window, a long entity moves to the next line whole: its mark is one box."""
    browser.set_window_size(360, 900)
    wait = WebDriverWait(browser, 30)
    browser.get(server + "/")
    wait.until(EC.element_to_be_clickable((By.ID, "run")))
    words = "Hello there friends of mine , said the Food and Agriculture Organization of the United Nations today ."
    run(browser, "ner", " ".join(words.split()))
    wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".card.tagger mark.span")))
    marks = browser.find_elements(By.CSS_SELECTOR, ".card.tagger mark.span")
    longest = max(marks, key=lambda mark: len(mark.text))
    assert len(longest.text) > 25, [m.text for m in marks]
    assert longest.value_of_css_property("white-space") == "nowrap"
    assert browser.execute_script("return arguments[0].getClientRects().length", longest) == 1


def test_the_page_tags_classifies_and_streams(server, browser, tmp_path):
    wait = WebDriverWait(browser, 30)
    browser.get(server + "/")
    wait.until(EC.element_to_be_clickable((By.ID, "run")))
    assert [o.get_attribute("value") for o in Select(browser.find_element(By.ID, "model")).options] == list(MODELS)

    run(browser, "ner", "Angela Merkel visited Paris on Tuesday with the head of the United Nations.")
    wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".card.tagger mark.span")))
    marks = {(m.find_element(By.CLASS_NAME, "span-text").text, m.get_attribute("data-label"))
             for m in browser.find_elements(By.CSS_SELECTOR, ".card.tagger mark.span") if m.is_displayed()}
    assert {("Angela Merkel", "PER"), ("Paris", "LOC"), ("United Nations", "ORG")} <= marks

    run(browser, "pos", "I don't think so.")
    wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".token-tag")))
    tags = [t.text for t in browser.find_elements(By.CSS_SELECTOR, ".token-tag") if t.is_displayed()]
    assert tags == ["PRON", "AUX", "PART", "VERB", "ADV", "PUNCT"]

    run(browser, "sentiment", "a gorgeous, witty, seductive movie.")
    wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".card.classifier .top-label")))
    assert browser.find_element(By.CSS_SELECTOR, ".card.classifier .top-label").text == "positive"
    probs = {row.get_attribute("data-label"): row.find_element(By.CLASS_NAME, "prob").text
             for row in browser.find_elements(By.CSS_SELECTOR, ".card.classifier .bar-row") if row.is_displayed()}
    assert set(probs) == {"positive", "negative"} and probs["positive"].startswith(("99.", "100.0"))

    # Generation: count the updates the stream makes to the page, then compare with the API.
    Select(browser.find_element(By.ID, "model")).select_by_value("shakespeare")
    assert all(shown(browser, *GENERATE_OPTIONS))
    for field, value in (("max-length", "600"), ("seed", "3"), ("temperature", "0.8")):
        element = browser.find_element(By.ID, field)
        element.clear()
        element.send_keys(value)
    browser.execute_script("""
        window.updates = 0;
        new MutationObserver(() => { window.updates += 1; })
            .observe(document.getElementById('results'), {subtree: true, childList: true, characterData: true});""")
    run(browser, "shakespeare", "ROMEO:")
    wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".card.language_model .stream-state.done")))
    generated = browser.find_element(By.CSS_SELECTOR, ".card.language_model .continuation").get_attribute("textContent")
    expected = httpx.post(f"{server}/generate", json={"text": "ROMEO:", "max_length": 600, "seed": 3, "temperature": 0.8},
                          timeout=30).json()[0]
    assert generated == expected["text"] and len(generated) > 100
    assert browser.execute_script("return window.updates") > 3  # the text arrived in several pieces

    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors  # nothing failed to load, no script errors, no policy violations

    screenshot = tmp_path / "seqtext-page.png"
    assert browser.save_screenshot(str(screenshot))
    if os.environ.get("SEQTEXT_SCREENSHOT_DIR"):
        target = os.path.join(os.environ["SEQTEXT_SCREENSHOT_DIR"], screenshot.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy(screenshot, target)
