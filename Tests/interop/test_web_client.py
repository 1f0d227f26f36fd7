"""The web client in real headless Chromium (Debian's chromium + chromium-driver, Selenium from PyPI).

Host and guest (separate browser profiles) sign up, create profiles, create and take a room, play
both rounds with turns typed in the page, and see the assessment at stage 3; a third browser
watches the board change live; the guest's connection is dropped mid role-play and nothing is
lost or repeated. Screenshots of the key screens at 360 and 1440 px go to
Tests/interop/artifacts/web/ (ignored by git; PRAXIS_WEB_ARTIFACTS overrides the folder).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from conftest import start_server
from helpers import PASSWORD, db_rows, jwt_claims

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(os.environ.get("PRAXIS_WEB_ARTIFACTS", Path(__file__).parent / "artifacts" / "web"))
WAIT = 20

pytestmark = [
    pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)), reason="chromium and chromium-driver are not installed (scripts/setup)"),
    pytest.mark.timeout(300),
]


class Browser:
    """One Chromium with its own profile directory, and the page helpers the tests use."""

    def __init__(self, name: str, base_url: str, timezone: str | None = None):
        self.name = name
        self.base_url = base_url
        self.profile = tempfile.mkdtemp(prefix=f"praxis-web-{name}-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         f"--user-data-dir={self.profile}", "--window-size=1440,1000", "--force-prefers-reduced-motion",
                         "--no-first-run", "--disable-extensions", "--disable-background-networking"):
            options.add_argument(argument)
        self.driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
        if timezone:
            self.driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": timezone})

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def wait(self, condition, timeout: float = WAIT, message: str = ""):
        def safe(driver):
            try:
                return condition(driver)
            except (StaleElementReferenceException, WebDriverException):
                return False
        return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(safe, message or f"{self.name}: timed out")

    def css(self, selector: str):
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str):
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def visible(self, selector: str):
        return self.wait(lambda d: (e := d.find_element(By.CSS_SELECTOR, selector)).is_displayed() and e, message=f"{self.name}: {selector} not shown")

    def click(self, selector: str) -> None:
        """Clicks once the control is shown and enabled (found again if a room event re-rendered it)."""
        def clicked(d):
            element = d.find_element(By.CSS_SELECTOR, selector)
            if not (element.is_displayed() and element.is_enabled()):
                return False
            element.click()
            return True
        self.wait(clicked, message=f"{self.name}: {selector} not clickable")

    def button(self, text: str, within: str = "main"):
        def find(d):
            for element in d.find_elements(By.CSS_SELECTOR, f"{within} button, {within} a.button"):
                if element.text.strip() == text and element.is_displayed() and element.is_enabled():
                    return element
            return False
        return self.wait(find, message=f"{self.name}: no button {text!r}")

    def text_of(self, selector: str) -> str:
        return self.css(selector).text

    def wait_text(self, selector: str, text: str, timeout: float = WAIT) -> None:
        self.wait(lambda d: text in d.find_element(By.CSS_SELECTOR, selector).text, timeout, f"{self.name}: {text!r} not in {selector}")

    def attr_is(self, selector: str, name: str, value: str, timeout: float = WAIT) -> None:
        self.wait(lambda d: d.find_element(By.CSS_SELECTOR, selector).get_attribute(name) == value, timeout,
                  f"{self.name}: {selector}[{name}] never became {value!r}")

    def fill(self, selector: str, value: str) -> None:
        element = self.visible(selector)
        element.clear()
        element.send_keys(value)

    def screenshot(self, label: str) -> None:
        """The whole page at 360 and 1440 px wide."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for width in (360, 1440):
            self.driver.set_window_size(width, 900)
            height = self.driver.execute_script("return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)")
            self.driver.set_window_size(width, min(max(int(height) + 140, 600), 6000))
            overflow = self.driver.execute_script("return document.documentElement.scrollWidth > document.documentElement.clientWidth")
            assert not overflow, f"{label}: the page scrolls sideways at {width} px"
            self.driver.save_screenshot(str(ARTIFACTS / f"{label}-{width}.png"))
        self.driver.set_window_size(1440, 1000)

    # --- flows

    def sign_up(self, email: str, first: str, last: str, level: str) -> None:
        self.open("/account")
        self.click("button.link")
        self.wait_text("main h1", "Create an account")
        self.fill("input[name=email]", email)
        self.fill("input[name=password]", PASSWORD)
        self.button("Sign up").click()
        self.wait_text("main h1", "Create your profile")
        self.fill("input[name=first_name]", first)
        self.fill("input[name=last_name]", last)
        self.fill("input[name=training_level]", level)
        self.button("Create profile").click()
        self.wait_text("main h1", "Practice rooms")
        self.wait_text("#nav-account", first)

    def room_item(self, room_id: str, within: str = "main"):
        return self.css(f'{within} li.room[data-room-id="{room_id}"]')

    def seqs(self) -> list[int]:
        return [int(e.get_attribute("data-seq")) for e in self.all("#transcript li.turn") if e.get_attribute("data-seq")]

    def send_turn(self, text: str) -> None:
        box = self.visible("#turn-text")
        self.wait(lambda d: box.is_enabled(), message=f"{self.name}: turn box disabled")
        box.send_keys(text)
        box.send_keys(Keys.ENTER)

    def sees_turn(self, text: str, acknowledged: bool = True) -> None:
        def seen(d):
            for item in d.find_elements(By.CSS_SELECTOR, "#transcript li.turn"):
                if text in item.text and (not acknowledged or item.get_attribute("data-pending") == "false"):
                    return True
            return False
        self.wait(seen, message=f"{self.name}: turn {text!r} not shown")


@pytest.fixture
def web(tmp_path: Path):
    """A demo server (the case library) with cheap password hashing and a low sign-in limit."""
    srv = start_server(tmp_path / "praxis.sqlite", "--demo", "--password-hash-cost", "10", "--max-failed-logins-per-email", "3")
    browsers: list[Browser] = []

    def launch(name: str, timezone: str | None = None) -> Browser:
        browser = Browser(name, srv.url, timezone)
        browsers.append(browser)
        return browser

    yield srv, launch
    for browser in browsers:
        browser.close()
    srv.stop()


def email(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.test"


def test_page_is_served_with_headers_and_config(web):
    srv, _ = web
    page = httpx.get(srv.url + "/rooms/7f0c0000-0000-4000-8000-000000000000")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["x-content-type-options"] == "nosniff"
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and f"ws://{srv.host}:{srv.port}" in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["cache-control"] == "no-cache"
    again = httpx.get(srv.url + "/", headers={"If-None-Match": page.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    script = httpx.get(srv.url + "/assets/realtime.js")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "export class Socket" in script.text
    assert httpx.get(srv.url + "/assets/nope.js").status_code == 404
    config = httpx.get(srv.url + "/config.json").json()
    assert set(config) == {"anon_key", "auth_path", "rest_path", "realtime_path"}
    assert (config["auth_path"], config["rest_path"], config["realtime_path"]) == ("/auth/v1", "/rest/v1", "/realtime/v1/websocket")
    # The anon key of this database: anonymous, and accepted by the data API.
    assert jwt_claims(config["anon_key"])["role"] == "anon"
    rooms = httpx.get(srv.url + "/rest/v1/practice_rooms?select=id", headers={"apikey": config["anon_key"]})
    assert rooms.status_code == 200 and rooms.json()
    # Nothing in the page or its modules points at another origin.
    for asset in ("/", "/assets/app.js", "/assets/room.js", "/assets/style.css"):
        body = httpx.get(srv.url + asset).text
        assert "http://" not in body.replace("http://www.w3.org/2000/svg", "") and "//cdn" not in body


def test_two_peers_play_both_rounds_while_the_board_watches(web):
    srv, launch = web
    watcher = launch("watcher", timezone="Asia/Tokyo")
    watcher.open("/")
    watcher.wait_text("main h1", "Practice rooms")
    watcher.wait_text("#connection", "Live")

    host = launch("host")
    host.sign_up(email("host"), "Maya", "Reid", "Registrar")
    guest = launch("guest")
    guest.sign_up(email("guest"), "Tom", "Hart", "Foundation doctor")

    # The host creates a public Clinical room (the form's default time: the next full hour).
    host.visible("form.create select[name=type]")
    host.button("Create room").click()
    host.wait_text(".board-notice", "Room created")
    host.wait(lambda d: d.find_elements(By.CSS_SELECTOR, 'section[aria-labelledby="mine-h"] li.room'))
    room_id = host.css('section[aria-labelledby="mine-h"] li.room').get_attribute("data-room-id")

    # The watcher (anonymous, in Tokyo) sees it appear, in its own time zone, with the host.
    watcher.wait(lambda d: d.find_elements(By.CSS_SELECTOR, f'li.room[data-room-id="{room_id}"]'), message="room never appeared")
    item = watcher.room_item(room_id).text
    assert "Maya Reid" in item and "Registrar" in item and "Clinical" in item and "Guest seat free" in item
    assert "GMT+9" in item, item
    # Anonymous: nothing to press on any room.
    assert not watcher.all("li.room button") and not watcher.all("li.room a.button")
    watcher.screenshot("board-anonymous")

    # The guest takes the seat from the board; the watcher sees the seat taken.
    guest.wait(lambda d: d.find_elements(By.CSS_SELECTOR, f'li.room[data-room-id="{room_id}"] button'))
    guest.room_item(room_id).find_element(By.XPATH, ".//button[normalize-space()='Take the seat']").click()
    guest.wait(lambda d: d.current_url.endswith(f"/rooms/{room_id}"))
    watcher.wait(lambda d: "Guest: Tom Hart" in watcher.room_item(room_id).text, message="seat change not live")

    host.room_item(room_id, 'section[aria-labelledby="mine-h"]').find_element(By.LINK_TEXT, "Open room").click()
    for peer in (host, guest):
        peer.attr_is("#presence", "data-status", "joined")
        peer.attr_is("#room-phase", "data-phase", "waiting")
    host.attr_is("#room-role", "data-role", "candidate")
    guest.attr_is("#room-role", "data-role", "interlocutor")

    cases = {row[0]: (row[1], row[2]) for row in db_rows(srv, "SELECT case_name, candidate_brief, actor_brief FROM case_briefs WHERE status='published'")}

    def play_round(round_number: int, candidate: Browser, interlocutor: Browser, lines: list[tuple[Browser, str]], drop: bool = False):
        # Host sets a timing and picks a case; both get ready; one starts.
        host.fill("#timing-prep", "45")
        host.fill("#timing-roleplay", "120")
        host.click("#btn-timing")
        if round_number == 1:
            host.click("#btn-choose")
        else:
            host.click("#btn-random")
        for peer in (host, guest):
            peer.wait(lambda d: "Case:" in d.find_element(By.CSS_SELECTOR, ".room-status").text, message="case not shown")
        if round_number == 1:
            host.screenshot("room-waiting-host")
        for peer in (host, guest):
            peer.click("#btn-ready")
        guest.click("#btn-start")
        for peer in (host, guest):
            peer.attr_is("#room-phase", "data-phase", "preparation")
        case_name = host.text_of(".room-status .case strong")
        assert case_name == guest.text_of(".room-status .case strong")
        candidate_brief, actor_brief = cases[case_name]
        # Each sees their own brief, and only theirs.
        candidate.attr_is("#brief-text", "data-role", "candidate")
        interlocutor.attr_is("#brief-text", "data-role", "interlocutor")
        candidate.wait(lambda d: candidate_brief.split("\n")[0][:60] in d.find_element(By.ID, "brief-text").text)
        interlocutor.wait(lambda d: actor_brief.split("\n")[0][:60] in d.find_element(By.ID, "brief-text").text)
        assert actor_brief.split("\n")[0][:60] not in candidate.driver.page_source
        assert candidate_brief.split("\n")[0][:60] not in interlocutor.driver.page_source
        # The countdown runs from the server's deadline (45 s of preparation).
        seconds = int(host.wait(lambda d: d.find_element(By.ID, "countdown").get_attribute("data-seconds")))
        assert 30 <= seconds <= 45
        host.wait(lambda d: int(d.find_element(By.ID, "countdown").get_attribute("data-seconds") or 99) < seconds, timeout=5)
        if round_number == 1:
            candidate.screenshot("room-preparation-candidate")
            interlocutor.screenshot("room-preparation-interlocutor")
        interlocutor.click("#btn-roleplay")
        for peer in (host, guest):
            peer.attr_is("#room-phase", "data-phase", "roleplay")
        assert 100 <= int(host.css("#countdown").get_attribute("data-seconds")) <= 120
        for speaker, text in lines:
            speaker.send_turn(text)
            for peer in (host, guest):
                peer.sees_turn(text)
        if drop:
            # The guest's connection goes down mid role-play; both type meanwhile.
            guest.driver.execute_script("window.praxisDebug.offline()")
            guest.wait_text("#connection", "Reconnecting")
            host.attr_is("#presence", "data-status", "away")
            host.wait(lambda d: d.find_element(By.CSS_SELECTOR, "#presence .away-left").text.count(":") == 1)
            host.send_turn("While you were away: any chest pain?")
            host.sees_turn("While you were away: any chest pain?")
            guest.send_turn("Typed while offline.")
            guest.wait(lambda d: d.find_element(By.CSS_SELECTOR, '#transcript li[data-pending="true"]'), message="pending turn not shown")
            guest.screenshot("room-offline-pending")
            guest.driver.execute_script("window.praxisDebug.online()")
            guest.wait_text("#connection", "Live")
            guest.sees_turn("While you were away: any chest pain?")
            guest.sees_turn("Typed while offline.")
            host.sees_turn("Typed while offline.")
            host.attr_is("#presence", "data-status", "joined")
        # Both transcripts agree: every turn once, in seq order.
        host.wait(lambda d: host.seqs() == guest.seqs())
        seqs = host.seqs()
        assert seqs == sorted(set(seqs)) and len(seqs) == len(lines) + (2 if drop else 0)
        if round_number == 1:
            host.screenshot("room-roleplay-host")
        candidate.click("#btn-end")

    play_round(1, host, guest, [
        (host, "Hello, I'm Dr Patel, one of the doctors. What brings you in today?"),
        (guest, "I've had a cough for three weeks and I'm worried."),
        (host, "I understand that must be worrying. Can you tell me more about the cough?"),
    ], drop=True)
    for peer in (host, guest):
        peer.attr_is("#room-phase", "data-phase", "waiting")
        peer.wait_text("#room-round", "2")
    host.attr_is("#room-role", "data-role", "interlocutor")
    guest.attr_is("#room-role", "data-role", "candidate")
    watcher.wait(lambda d: watcher.room_item(room_id).get_attribute("data-stage") == "2", message="board never showed stage 2")
    watcher.wait_text(f'li.room[data-room-id="{room_id}"]', "Round 2")

    play_round(2, guest, host, [
        (guest, "Good morning, I'm Dr Okafor. How can I help you today?"),
        (host, "My father has been very confused since yesterday."),
        (guest, "I'm sorry to hear that. Shall we go through what happened step by step?"),
    ])
    # Stage 3: both transcripts and both assessments with all nine criteria.
    for peer in (host, guest):
        peer.attr_is("#room-stage", "data-stage", "3")
        peer.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".round-result .criteria tr.criterion")) == 18, timeout=30,
                  message="assessments not shown")
        results = peer.css(".results").text
        assert "Hello, I'm Dr Patel" in results and "Good morning, I'm Dr Okafor" in results
        assert results.count("not judged") >= 8
        assert "Strengths" in results and "Areas to improve" in results
        assert len(peer.all(".round-result .evidence li")) > 0
    host.screenshot("room-results")
    watcher.wait(lambda d: watcher.room_item(room_id).get_attribute("data-stage") == "3", message="board never showed stage 3")

    # My progress: the host was candidate in round 1.
    host.open("/progress")
    host.wait_text("main h1", "My progress")
    host.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "svg.chart circle.dot")) == 1)
    score = json.loads(db_rows(srv, "SELECT assessment FROM practice_rounds WHERE room_id = ? AND round = 1", (room_id,))[0][0])["score_raw"]
    assert host.text_of(".scores .score-cell") == f"{score} / 15"
    assert len(host.all("article.report tr.criterion")) == 9
    host.screenshot("progress")


def test_auth_errors_private_link_and_seat_give_back(web):
    srv, launch = web
    visitor = launch("visitor")
    taken = email("taken")
    visitor.sign_up(taken, "Cara", "Ng", "Nurse")
    visitor.screenshot("board-signed-in")
    visitor.open("/account")
    visitor.button("Sign out").click()
    visitor.wait_text("#nav-account", "Sign in")

    # Email taken.
    visitor.open("/account")
    visitor.click("button.link")
    visitor.fill("input[name=email]", taken)
    visitor.fill("input[name=password]", PASSWORD)
    visitor.button("Sign up").click()
    visitor.wait_text(".form-errors", "An account with this email already exists")
    # Wrong password, then rate limited (the server allows 3 failures per email per minute).
    visitor.click("button.link")
    visitor.fill("input[name=email]", taken)
    for attempt in range(3):
        visitor.fill("input[name=password]", f"wrong-{attempt}")
        visitor.button("Sign in").click()
        visitor.wait_text(".form-errors", "Wrong email or password")
        visitor.driver.execute_script("document.querySelector('.form-errors').replaceChildren()")
    visitor.fill("input[name=password]", PASSWORD)
    visitor.button("Sign in").click()
    visitor.wait_text(".form-errors", "Too many failed sign-in attempts. Try again in")
    visitor.screenshot("sign-in-rate-limited")

    # A private room: hidden from the board, reachable by its link; the guest can give the seat back.
    host = launch("host")
    host.sign_up(email("phost"), "Dana", "Reyes", "Consultant")
    host.click("#create-private")
    host.button("Create room").click()
    host.wait_text(".board-notice", "Private room created")
    link = host.visible('section[aria-labelledby="mine-h"] .share input').get_attribute("value")
    room_id = host.css('section[aria-labelledby="mine-h"] li.room').get_attribute("data-room-id")
    assert "/join/" in link
    host.screenshot("board-host-private-room")

    guest = launch("guest")
    guest.sign_up(email("pguest"), "Eli", "Stone", "Resident")
    assert not guest.all(f'li.room[data-room-id="{room_id}"]')

    # A public room appears on the guest's board, and disappears live when the host deletes it.
    host.click("#create-private")  # back to public
    host.button("Create room").click()
    host.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, 'section[aria-labelledby="mine-h"] li.room')) == 2)
    public_id = next(e.get_attribute("data-room-id") for e in host.all('section[aria-labelledby="mine-h"] li.room') if e.get_attribute("data-room-id") != room_id)
    guest.wait(lambda d: d.find_elements(By.CSS_SELECTOR, f'li.room[data-room-id="{public_id}"]'), message="public room never appeared")
    host.room_item(public_id, 'section[aria-labelledby="mine-h"]').find_element(By.XPATH, ".//button[normalize-space()='Delete room']").click()
    guest.wait(lambda d: not d.find_elements(By.CSS_SELECTOR, f'li.room[data-room-id="{public_id}"]'), message="deleted room still shown")
    guest.driver.get(link)
    guest.wait_text("main", "hosted by Dana Reyes (Consultant)")
    guest.screenshot("private-link")
    guest.button("Take the guest seat").click()
    guest.wait(lambda d: d.current_url.endswith(f"/rooms/{room_id}"))
    guest.attr_is("#presence", "data-status", "left")  # the host is not in the room
    guest.open("/")
    guest.wait(lambda d: d.find_elements(By.CSS_SELECTOR, f'section[aria-labelledby="mine-h"] li.room[data-room-id="{room_id}"]'))
    guest.room_item(room_id, 'section[aria-labelledby="mine-h"]').find_element(By.XPATH, ".//button[normalize-space()='Give the seat back']").click()
    guest.wait_text(".board-notice", "You gave the seat back")
    host.wait(lambda d: "Guest seat free" in host.room_item(room_id, 'section[aria-labelledby="mine-h"]').text, message="seat not free live")
    assert db_rows(srv, "SELECT guest_id FROM practice_rooms WHERE id = ?", (room_id,))[0][0] is None
