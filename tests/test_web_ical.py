"""Calendar feeds of who is on call: standard iCalendar that `icalendar` parses, agreeing with `notify who --at`.

The feeds are made on the on-call page (a session's form), served at a secret URL without a session
(a calendar app holds none), and stop when revoked. The clock is fixed (the stage's FakeClock).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from .helpers import replace_in, run
from .stage import Stage, make_stage
from .test_server import API_TOKEN, TOKEN, Server
from .test_web_view import PUBLIC, csrf_of, signed_in

icalendar = pytest.importorskip("icalendar")

FEED = re.compile(re.escape(PUBLIC) + r"(/ui/ical/[A-Za-z0-9_-]+\.ics)")
# Support Manager B covers two days of Support Manager A's week (the stage clock is Thursday 2026-11-26 03:00 UTC).
OVERRIDE = """[[rotation.overrides]]
slot = "primary"
person = "support-manager-b"
start = "2026-11-27T09:00"
end = "2026-11-28T09:00"

# Dated overrides take precedence over the weekly turn, e.g. a swap:"""


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    replace_in(config_dir / "contacts.toml", "# Dated overrides take precedence over the weekly turn, e.g. a swap:",
               OVERRIDE)
    yield from make_stage(config_dir, tmp_path, monkeypatch)


@pytest.fixture
def server(stage: Stage) -> Iterator[Server]:
    srv = Server(stage, webhook_token=TOKEN, api_token=API_TOKEN, public_url=PUBLIC)
    yield srv
    srv.stop()


def new_feed(server: Server, browser: requests.Session, kind: str, subject: str) -> str:
    token = csrf_of(browser.get(server.url + "/ui/oncall", timeout=10))
    page = browser.post(server.url + "/ui/oncall/feeds", data={"csrf": token, "kind": kind, "subject": subject},
                        timeout=10)
    assert page.status_code == 200, page.text
    return FEED.search(page.text).group(1)


def events_of(server: Server, path: str) -> list:
    answer = requests.get(server.url + path, timeout=10)  # no cookie: the URL is the credential
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(answer.content)
    return sorted(calendar.walk("VEVENT"), key=lambda e: e["DTSTART"].dt)


def on_duty(stage: Stage, slot: str, at) -> str:
    result = run("who", "security", "--at", at.isoformat(), "--json", "--config-dir", str(stage.config_dir))
    assert result.exit_code == 0, result.stdout
    return json.loads(result.stdout)["on_call"][slot]["person"]


def person_of(event) -> str:
    return re.search(r"person ([a-z0-9-]+)", str(event["DESCRIPTION"])).group(1)


def test_a_slot_feed_has_one_event_per_shift_matching_notify_who_at_each_hand_off(
        server: Server, stage: Stage) -> None:
    events = events_of(server, new_feed(server, signed_in(server), "slot", "primary"))
    assert len(events) >= 14  # two weeks back, twelve ahead, the override's cut
    for event, following in itertools.pairwise(events):
        assert event["DTEND"].dt == following["DTSTART"].dt  # no gap, no overlap
        assert person_of(event) != person_of(following) or "override" in str(following["SUMMARY"]) + \
            str(event["SUMMARY"])
    seen_uids = set()
    for event in events:
        start, end = event["DTSTART"].dt, event["DTEND"].dt
        assert start.utcoffset() == timedelta(0) and end > start and event["UID"] not in seen_uids
        seen_uids.add(event["UID"])
        assert on_duty(stage, "primary", start) == person_of(event)  # the new holder at the hand-off
        assert on_duty(stage, "primary", end - timedelta(seconds=1)) == person_of(event)  # until its end
    override = [e for e in events if "(override)" in str(e["SUMMARY"])]
    assert [(person_of(e), e["DTSTART"].dt.isoformat(), e["DTEND"].dt.isoformat()) for e in override] == [
        ("support-manager-b", "2026-11-27T17:00:00+00:00", "2026-11-28T17:00:00+00:00")]  # 09:00 in Los Angeles


def test_a_person_feed_shows_only_their_shifts_and_stops_when_revoked(server: Server, stage: Stage) -> None:
    browser = signed_in(server)
    path = new_feed(server, browser, "person", "support-manager-a")
    events = events_of(server, path)
    assert events and {person_of(e) for e in events} == {"support-manager-a"}
    for event in events:
        assert on_duty(stage, "primary", event["DTSTART"].dt) == "support-manager-a"
    page = browser.get(server.url + "/ui/oncall", timeout=10)
    digest = re.search(r'name="feed" value="([0-9a-f]{64})"', page.text).group(1)
    browser.post(server.url + "/ui/oncall/feeds/revoke", data={"csrf": csrf_of(page), "feed": digest}, timeout=10)
    assert requests.get(server.url + path, timeout=10).status_code == 404


def test_the_on_call_page_shows_now_next_and_overrides_in_the_chosen_zone(server: Server) -> None:
    browser = signed_in(server)
    page = browser.get(server.url + "/ui/oncall?tz=Europe/Berlin", timeout=10).text
    primary = re.search(r"<tr><td data-label=\"Slot\"><strong>Primary</strong>.*?</tr>", page, re.DOTALL).group(0)
    assert "Support Manager A" in primary and "Fri 27 Nov 18:00 CET" in primary  # until the override, in Berlin
    assert "Support Manager B" in primary and "override" in primary
    assert "Primary: Support Manager B, Fri 27 Nov 18:00 CET to Sat 28 Nov 18:00 CET" in page
    la = browser.get(server.url + "/ui/oncall", timeout=10).text  # the rotation's own zone by default
    assert "Fri 27 Nov 09:00 PST" in la


def test_an_unknown_zone_falls_back_to_the_rotations(server: Server) -> None:
    browser = signed_in(server)
    for zone in ("Mars/Olympus", "../../etc/passwd", ""):
        page = browser.get(server.url + "/ui/oncall", params={"tz": zone}, timeout=10)
        assert page.status_code == 200 and "<option selected>America/Los_Angeles</option>" in page.text
