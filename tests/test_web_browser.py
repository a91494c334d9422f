"""The web view in a real browser: Debian's Chromium, driven by selenium through /usr/bin/chromedriver.

The incident is the seed's security drill (drills/security-breach.toml) played in the sandbox up to
+17m: nobody has acknowledged, and the 15-minute escalation has paged the secondary. Support Manager A,
who acknowledges at +22m in the drill, signs in with a one-time link, opens the incident from the list
and acknowledges it, at a phone's size and a desktop's. A screenshot of each page is kept under
NOTIFY_SCREENSHOTS (default tests/artifacts/, git-ignored); the test prints where.

Without Chromium, chromedriver or selenium the tests skip, saying why, unless NOTIFY_REQUIRE_BROWSER=1
(CI sets it): then they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from dispatcher.app import engine
from dispatcher.app.drill import Sandbox, load_scenario, play
from dispatcher.app.web import issue_login_link
from dispatcher.clock import FakeClock
from dispatcher.config.settings import load_settings
from dispatcher.server.run import build
from dispatcher.store import open_store

from .helpers import wait_for

REPO = Path(__file__).resolve().parent.parent
CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
REQUIRED = os.environ.get("NOTIFY_REQUIRE_BROWSER") == "1"
SIZES = {"phone": (360, 740), "desktop": (1280, 900)}
START = datetime(2026, 12, 7, 17, 1, tzinfo=UTC)  # Monday 09:01 in Los Angeles: just after the weekly hand-off
BEFORE_ACK = timedelta(minutes=17)  # past the 15-minute escalation, before the drill's ack at +22m
LIVE_WAIT = 20.0  # seconds the page may take to show a change made elsewhere (it polls every 3)


def _unavailable() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    missing = [str(p) for p in (CHROMIUM, DRIVER) if not p.exists()]
    return f"{' and '.join(missing)} missing (apt-get install chromium chromium-driver)" if missing else None


@pytest.fixture(scope="module", autouse=True)
def _browser_available() -> None:
    reason = _unavailable()
    if reason and REQUIRED:
        pytest.fail(f"NOTIFY_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def shots() -> Path:
    where = Path(os.environ.get("NOTIFY_SCREENSHOTS") or REPO / "tests" / "artifacts")
    where.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {where}")
    return where


@dataclass
class Served:
    url: str
    rt: Any
    store: Any
    clock: FakeClock
    incident_id: str


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """The seed drill played to +17m in the sandbox, its store served by `notify serve`'s app on a local port."""
    scenario = load_scenario(REPO / "drills" / "security-breach.toml")
    partial = scenario.model_copy(update={"events": [e for e in scenario.events if e.at < BEFORE_ACK],
                                          "duration": BEFORE_ACK})
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    clock = FakeClock(START)
    with Sandbox() as sandbox:
        rt = engine.load_runtime(REPO, load_settings(**{**sandbox.settings, "public_url": url}))
        outcome = play(rt, partial, clock=clock, state_dir=tmp_path / "drill", sandbox=sandbox)
        store = open_store(f"sqlite:///{outcome.store_path}")
        app, worker, _ = build(rt, store, clock)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        wait_for("the web view's server to start", lambda: server.started, 10)
        try:
            yield Served(url, rt, store, clock, outcome.incident.id)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            worker.close()
            store.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(DRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


def snap(driver: Any, shots: Path, size: str, page: str) -> Path:
    """A screenshot of the whole page at the window's width."""
    width, height = SIZES[size]
    full = driver.execute_script("return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": max(height, int(full)), "deviceScaleFactor": 1, "mobile": size == "phone"})
    path = shots / f"{size}-{page}.png"
    driver.save_screenshot(str(path))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert path.stat().st_size > 1000
    return path


def follow(driver: Any, by: str, what: str) -> None:
    """Click a button or link and wait for the page it loads (the browser's work, not a timer)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(by, what).click()
    WebDriverWait(driver, 15, poll_frequency=0.05).until(expected_conditions.staleness_of(page))


def text_of(driver: Any, css: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, css).text


@pytest.mark.slow
@pytest.mark.parametrize("size", list(SIZES))
def test_sign_in_by_link_open_the_incident_and_acknowledge_it(size: str, served: Served, browser: Any,
                                                              shots: Path) -> None:
    from selenium.webdriver.common.by import By

    browser.set_window_size(*SIZES[size])
    browser.get(served.url + "/ui/incidents")
    assert "Sign in to see this page." in text_of(browser, "#message")  # no session: refused, the sign-in form
    _, token = issue_login_link(served.rt, served.store, "support-manager-a", served.clock.now())
    browser.get(f"{served.url}/ui/login/{token}")
    snap(browser, shots, size, "sign-in")
    follow(browser, By.ID, "sign-in")
    assert browser.current_url == served.url + "/ui/incidents"
    row = text_of(browser, "#incidents tbody tr")
    assert served.incident_id in row and "open" in row and "17 minutes of 15 minutes" in row and "over SLA" in row
    snap(browser, shots, size, "incidents")

    follow(browser, By.LINK_TEXT, served.incident_id)
    timeline = text_of(browser, "#timeline")
    assert "escalation response SLA (15 minutes) breached; escalated to rotation:secondary" in timeline
    # the next stage, when, and who will be on duty in the slot then
    assert "escalated to rotation:escalation (VP of Customer Success)" in text_of(browser, "#next-due")
    assert text_of(browser, "#status") == "open" and "failed-transient" in timeline  # the injected 503s
    snap(browser, shots, size, "incident-mid-escalation")

    follow(browser, By.ID, "ack")
    assert text_of(browser, "#said").startswith("Acknowledged by Support Manager A")
    assert text_of(browser, "#status") == "acknowledged"
    assert "acknowledged by Support Manager A via web" in text_of(browser, "#timeline")
    assert browser.find_elements(By.ID, "ack") == []
    snap(browser, shots, size, "incident-acknowledged")
    assert served.store.incident(served.incident_id).acked_by == "Support Manager A"

    follow(browser, By.LINK_TEXT, "On call")
    primary = text_of(browser, "#oncall tbody tr")
    assert "Primary" in primary and "Support Manager A" in primary and "Support Manager B" in primary
    snap(browser, shots, size, "oncall")

    follow(browser, By.LINK_TEXT, "Silences")
    assert "alertmanager-watchdog" in text_of(browser, "#heartbeats")  # declared in routing.toml, never beaten yet
    assert text_of(browser, "#no-silences") == "No silence in effect or ahead."
    snap(browser, shots, size, "silences")


@pytest.mark.slow
def test_a_change_made_elsewhere_shows_within_seconds_and_keeps_a_half_typed_note(served: Served, browser: Any) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _, token = issue_login_link(served.rt, served.store, "support-manager-a", served.clock.now())
    browser.get(f"{served.url}/ui/login/{token}")
    follow(browser, By.ID, "sign-in")
    browser.get(f"{served.url}/ui/incidents/{served.incident_id}")
    note = browser.find_element(By.ID, "note")
    note.send_keys("Half-typed: the export job")
    served.store.add_note(served.incident_id, served.clock.now(), "CTO", "Legal informed")  # `notify note`, elsewhere
    # the page's polling replaces the timeline's element: one read between its lookup and its text is stale
    WebDriverWait(browser, LIVE_WAIT, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: "Legal informed" in d.find_element(By.ID, "timeline").text)
    assert browser.find_element(By.ID, "note").get_attribute("value") == "Half-typed: the export job"


@pytest.mark.slow
def test_the_pages_follow_the_systems_light_or_dark_preference(served: Served, browser: Any, shots: Path) -> None:
    backgrounds = {}
    for scheme in ("light", "dark"):
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {
            "features": [{"name": "prefers-color-scheme", "value": scheme}]})
        browser.get(served.url + "/ui/login")
        backgrounds[scheme] = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
    snap(browser, shots, "phone", "sign-in-dark")
    assert backgrounds == {"light": "rgb(255, 255, 255)", "dark": "rgb(18, 20, 23)"}


@pytest.fixture
def other_site() -> Iterator[Any]:
    """Another web site (http://localhost:PORT: not 127.0.0.1's site) serving the page it is given."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Page(BaseHTTPRequestHandler):
        html = b""

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(self.html)))
            self.end_headers()
            self.wfile.write(self.html)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Page, f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_another_sites_form_cannot_sign_the_visitor_in_as_someone_else(served: Served, browser: Any,
                                                                       other_site: Any) -> None:
    """Login CSRF in Chromium: a page elsewhere posts the attacker's own login link, with the token the
    attacker's own visit to the sign-in page gave. The visitor has been to our sign-in page before, so the
    browser holds a pre-session cookie of ours; being SameSite=Strict, it does not go with another site's form."""
    import requests
    from selenium.webdriver.common.by import By

    page, url = other_site
    _, token = issue_login_link(served.rt, served.store, "support-manager-b", served.clock.now())
    theirs = requests.get(f"{served.url}/ui/login/{token}", timeout=10).text
    csrf = theirs.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    page.html = (f'<form method="post" action="{served.url}/ui/login/{token}"><input type="hidden" name="csrf" '
                 f'value="{csrf}"><button id="win" type="submit">You won a prize</button></form>').encode()
    browser.get(served.url + "/ui/login")
    browser.get(url)
    follow(browser, By.ID, "win")
    assert "its CSRF token is missing or wrong" in browser.page_source
    browser.get(served.url + "/ui/incidents")
    assert "Sign in to see this page." in text_of(browser, "#message")  # signed in as nobody
    browser.get(f"{served.url}/ui/login/{token}")  # the link was not used up: its owner still signs in with it
    follow(browser, By.ID, "sign-in")
    assert browser.current_url == served.url + "/ui/incidents"
    assert "Support Manager B" in browser.page_source


def test_a_drill_report_fits_a_phones_width(browser: Any, tmp_path: Path) -> None:
    """The timeline scales down and a wide table scrolls in itself: the page never scrolls sideways on a phone."""
    from .helpers import run

    report = tmp_path / "drill.html"
    assert run("drill", str(REPO / "drills" / "nobody-acks.toml"), "--sandbox", "--report", str(report)).exit_code == 0
    browser.set_window_size(*SIZES["phone"])
    browser.get(report.as_uri())
    width = browser.execute_script("return document.documentElement.clientWidth")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width
    timeline = browser.execute_script("return document.querySelector('svg').getBoundingClientRect().width")
    assert 0 < timeline <= width
