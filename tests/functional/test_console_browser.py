"""The console in a real browser: Debian's headless Chromium, driven by Selenium through
Debian's chromedriver (no browser is downloaded). Signed in with ``flare console``'s URL, the
page shows an environment's tile appear when its function is invoked, turn from busy to frozen,
thaw to busy for the next invocation, and go when the function is updated; it asks nothing of
any other server.

The screenshot goes to ``$FLARE_CONSOLE_SCREENSHOT`` (``make screenshot`` sets it and copies
it to ``docs/console.png``), else to the test's temporary directory.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FlareServer, create_function, python_function
from tests.functional.test_console import login_url

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SLOW = python_function(
    "import time\n\ndef handler(event, context):\n    time.sleep(event.get('sleep', 0))\n"
    "    print('served', event)\n    return 'ok'\n"
)

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1400,1700")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(browser: Any, script: str, timeout: float = 20) -> Any:
    """The first truthy value of ``script`` (JavaScript returning a value) within ``timeout``."""
    from selenium.webdriver.support.wait import WebDriverWait

    return WebDriverWait(browser, timeout, poll_frequency=0.05).until(
        lambda driver: driver.execute_script(script)
    )


def tiles(function: str, phase: str) -> str:
    """A CSS selector of ``function``'s tiles in ``phase``."""
    return f'.tile[data-function="{function}"][data-phase="{phase}"]'


def tile_phase(env_id: str) -> str:
    return f"return document.querySelector('.tile[data-environment-id=\"{env_id}\"]')?.dataset.phase"


def requested_urls(browser: Any) -> list[str]:
    """Every URL the page asked for (the performance log's Network.requestWillBeSent)."""
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def invoke_later(lam: Any, name: str, payload: dict[str, Any]) -> threading.Thread:
    thread = threading.Thread(target=lambda: lam.invoke(FunctionName=name, Payload=json.dumps(payload)))
    thread.start()
    return thread


def test_a_tile_appears_busy_freezes_thaws_and_goes_when_its_function_changes(
    flare: FlareServer, lam: Any, browser: Any, tmp_path: Path
) -> None:
    create_function(lam, "browsed", SLOW, MemorySize=256, Timeout=30)
    create_function(lam, "backdrop", SLOW, MemorySize=128, Timeout=30)
    lam.put_function_concurrency(FunctionName="backdrop", ReservedConcurrentExecutions=4)
    browser.get(login_url(flare))
    assert browser.current_url == f"{flare.url}/_flare/"
    wait_for(browser, "return document.getElementById('status').textContent === 'live'")
    assert wait_for(
        browser, "return document.querySelectorAll('.tile[data-function=\"browsed\"]').length === 0"
    )

    running = invoke_later(lam, "browsed", {"sleep": 2})
    env_id = wait_for(
        browser,
        f"return document.querySelector('{tiles('browsed', 'busy')}')?.dataset.environmentId",
    )
    running.join()
    assert wait_for(
        browser, f"const p = (() => {{ {tile_phase(env_id)} }})(); return ['idle', 'frozen'].includes(p) && p"
    )
    row = wait_for(
        browser, "return document.querySelector('#invocations tr[data-function=\"browsed\"]')?.innerText"
    )
    assert "cold" in row
    phase = f"(() => {{ {tile_phase(env_id)} }})()"
    wait_for(browser, f"return {phase} === 'frozen'")
    again = invoke_later(lam, "browsed", {"sleep": 1})
    wait_for(browser, f"return {phase} === 'busy'")  # thawed: the same environment serves it
    again.join()
    wait_for(browser, f"return {phase} === 'frozen'")
    row = wait_for(
        browser, "return document.querySelector('#invocations tr[data-function=\"browsed\"]')?.innerText"
    )
    assert "warm" in row

    for _ in range(6):  # some history for backdrop's chart
        lam.invoke(FunctionName="backdrop", Payload=b'{"sleep": 0.05}')
    burst = [invoke_later(lam, "backdrop", {"sleep": 1.5}) for _ in range(3)]
    wait_for(
        browser,
        f"return document.querySelectorAll('{tiles('backdrop', 'busy')}').length >= 2",
    )
    chart = "document.querySelector('.chart[data-function=\"browsed\"]')?.innerText"
    assert "2 invocations" in wait_for(
        browser, f"const text = {chart}; return text?.includes('2 inv') && text"
    )
    browser.find_element("css selector", 'button.follow[data-function="browsed"]').click()
    wait_for(browser, "return document.getElementById('log').textContent.includes('served')")
    shot = Path(os.environ.get("FLARE_CONSOLE_SCREENSHOT") or tmp_path / "console.png")
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    for thread in burst:
        thread.join()

    lam.update_function_configuration(FunctionName="browsed", Environment={"Variables": {"BUMP": "1"}})
    wait_for(browser, f"return !document.querySelector('.tile[data-environment-id=\"{env_id}\"]')")

    urls = requested_urls(browser)
    assert any(url.endswith("/_flare/assets/console.js") for url in urls)
    assert all(url.startswith(flare.url) for url in urls), [u for u in urls if not u.startswith(flare.url)]
