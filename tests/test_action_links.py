"""Acting on a page where it lands, over real HTTP to `notify serve`'s app: action links, ack, escalate now.

The SMS page of a security incident carries a short link. Opening it (GET) shows a page and changes
nothing; only that page's form acts, recorded as the person the link was sent to, via SMS.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from dispatcher.app.incidents import fire_timers
from dispatcher.store import open_store

from . import pg
from .stage import Stage, make_stage
from .test_server import API_TOKEN, TOKEN, Server

PUBLIC = "https://notify.teamflow.example"
LINK = re.compile(re.escape(PUBLIC) + r"(/a/[A-Za-z0-9_-]+)")
NONCE = re.compile(r'name="nonce" value="([^"]+)"')
MINUTE = timedelta(minutes=1)
url = pg.url  # the link flow, once on SQLite and once on PostgreSQL


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    yield from make_stage(config_dir, tmp_path, monkeypatch)


@pytest.fixture
def server(stage: Stage) -> Iterator[Server]:
    srv = Server(stage, webhook_token=TOKEN, api_token=API_TOKEN, public_url=PUBLIC)
    yield srv
    srv.stop()


def sms_link(stage: Stage) -> str:
    """The path of the action link in the last SMS page (the primary's, Support Manager A this week)."""
    body = stage.twilio("Messages")[-1].form["Body"]
    found = LINK.search(body)
    assert found, body
    return found.group(1)


def open_page(server: Server, path: str) -> requests.Response:
    return requests.get(server.url + path, timeout=10)  # no Authorization: the token is the credential


def press(server: Server, path: str, action: str, nonce: str | None = None) -> requests.Response:
    if nonce is None:
        nonce = NONCE.search(open_page(server, path).text).group(1)
    return requests.post(server.url + path, data={"action": action, "nonce": nonce}, timeout=10)


def test_the_sms_page_carries_one_link_and_the_reply_hint_and_channels_and_lists_none(
        server: Server, stage: Stage) -> None:
    stage.trigger(public_url=PUBLIC)
    [sms] = [r.form["Body"] for r in stage.twilio("Messages")]
    assert len(LINK.findall(sms)) == 1 and sms.endswith("Reply 1 to ack, 9 to escalate")
    assert sms.startswith("SEC-2024-001 ") and len(sms) <= 160
    slack = [r.json for r in stage.proxy["hooks.slack.com"].requests]
    assert slack and "/a/" not in str(slack)  # the class's channel: whoever clicked would act as someone else
    emails = [m for m in stage.smtp.messages]
    assert emails and all("/a/" not in str(m) for m in emails)  # the list and the customer


def test_get_of_a_link_changes_nothing_and_the_pages_post_acknowledges_as_its_person_via_sms(
        server: Server, stage: Stage) -> None:
    stage.trigger(public_url=PUBLIC)
    path = sms_link(stage)
    for _ in range(3):  # a mail scanner, a chat unfurler, the person
        page = open_page(server, path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    assert "SEC-2024-001" in page.text and "Acting as Support Manager A" in page.text
    assert server.store.incident("SEC-2024-001").status == "open"
    assert [e.kind for e in server.store.events("SEC-2024-001")] == ["triggered"]

    done = press(server, path, "ack")
    assert done.status_code == 200 and "acknowledged by Support Manager A via sms" in done.text
    row = server.store.incident("SEC-2024-001")
    assert (row.status, row.acked_by) == ("acknowledged", "Support Manager A")
    [ack] = [e for e in server.store.events("SEC-2024-001") if e.kind == "acknowledged"]
    assert (ack.by, ack.detail) == ("Support Manager A", "acknowledged by Support Manager A via sms")
    # the class's Slack channel is told who acknowledged, how and when
    server.worker.tick()
    [told] = [d for d in server.store.deliveries("SEC-2024-001") if d.kind == "ack"]
    assert (told.person, told.status) == ("slack:security-alerts", "delivered")
    text = stage.proxy["hooks.slack.com"].requests[-1].json["text"]
    assert "acknowledged* by Support Manager A via SMS at " in text and "UTC" in text


def test_a_post_without_the_pages_nonce_changes_nothing(server: Server, stage: Stage) -> None:
    stage.trigger(public_url=PUBLIC)
    path = sms_link(stage)
    for nonce in ("", "1.abc", "9999999999.0000"):
        refused = press(server, path, "ack", nonce=nonce)
        assert refused.status_code == 403 and "open the link again" in refused.text
    other = sms_link(stage)  # the same link; a nonce from another token's page does not fit it
    bare = requests.post(server.url + other, data={"action": "ack"}, timeout=10)
    assert bare.status_code == 403
    assert server.store.incident("SEC-2024-001").status == "open"


def test_an_unknown_or_expired_link_answers_a_clear_page_and_changes_nothing(server: Server, stage: Stage) -> None:
    stage.trigger(public_url=PUBLIC)
    path = sms_link(stage)
    unknown = open_page(server, "/a/" + "A" * 16)
    assert unknown.status_code == 404 and "This link does not work" in unknown.text
    assert press(server, "/a/" + "A" * 16, "ack", nonce="0.0").status_code == 403
    stage.clock.advance(timedelta(days=7, seconds=1))  # NOTIFY_LINK_TTL's default: 7 days at most
    expired = open_page(server, path)
    assert expired.status_code == 410 and "This link has expired" in expired.text and "notify ack SEC-2024-001" \
        in expired.text
    assert server.store.incident("SEC-2024-001").status == "open"


def test_a_link_acts_on_its_own_incident_only_and_stops_when_it_is_resolved(server: Server, stage: Stage) -> None:
    stage.trigger("SEC-2024-001", public_url=PUBLIC)
    first = sms_link(stage)
    stage.trigger("SEC-2024-002", public_url=PUBLIC)
    second = sms_link(stage)
    assert first != second
    # the form names no incident: a field saying another one is ignored, the link's own is acted on
    nonce = NONCE.search(open_page(server, first).text).group(1)
    requests.post(server.url + first, data={"action": "ack", "nonce": nonce, "incident": "SEC-2024-002"}, timeout=10)
    assert server.store.incident("SEC-2024-001").status == "acknowledged"
    assert server.store.incident("SEC-2024-002").status == "open"
    # a page shown for one link does not work for another
    assert press(server, second, "ack", nonce=nonce).status_code == 403
    assert server.store.incident("SEC-2024-002").status == "open"
    resolved = press(server, first, "resolve")
    assert "SEC-2024-001 resolved by Support Manager A" in resolved.text
    assert server.store.incident("SEC-2024-001").status == "resolved"
    assert open_page(server, first).status_code == 410


def test_an_ack_cancels_the_incidents_queued_pages_to_people_and_keeps_lists_notices(
        server: Server, stage: Stage) -> None:
    stage.trigger(public_url=PUBLIC)
    path = sms_link(stage)
    # +15: escalation 1 (the secondary) and step 1 (CTO, CEO, the legal list) are planned, not sent yet
    stage.clock.advance(15 * MINUTE)
    fire_timers(server.rt, server.store, server.store.incident("SEC-2024-001"), stage.clock.now())
    queued = {(d.person, d.kind) for d in server.store.deliveries("SEC-2024-001") if d.status == "pending"}
    assert ("engineering-manager-a", "escalation") in queued and ("list:legal-emergency", "step") in queued
    press(server, path, "ack")
    after = server.store.deliveries("SEC-2024-001")
    cancelled = [d for d in after if d.skip and d.skip.startswith("not sent: acknowledged")]
    assert {d.person for d in cancelled} == {p for p, _ in queued if not p.startswith("list:")}
    assert all(d.status == "skipped" for d in cancelled)
    assert skip_of(after, "list:legal-emergency") is None  # a list is told, not asked to act
    sent_before = len(stage.twilio("Messages")) + len(stage.twilio("Calls"))
    server.worker.tick()
    assert len(stage.twilio("Messages")) + len(stage.twilio("Calls")) == sent_before  # nobody paged after the ack
    status = server.get("/incidents/SEC-2024-001").json()
    assert any(d["reason"] and "not sent: acknowledged by Support Manager A via sms" in d["reason"]
               for d in status["deliveries"])  # visible in `notify status`


def skip_of(rows, person: str) -> str | None:
    [row] = [d for d in rows if d.person == person]
    return row.skip


def test_escalate_now_fires_the_next_stage_once_and_later_stages_count_from_it(server: Server, stage: Stage) -> None:
    stage.trigger()
    t0 = stage.clock.now()
    stage.clock.advance(5 * MINUTE)
    fired = server.post("/incidents/SEC-2024-001/escalate", {"by": "Support Manager A"})
    assert fired.status_code == 200 and fired.json()["stage"] == 1 and fired.json()["audience"] == "rotation:secondary"
    server.worker.tick()
    paged = [d for d in server.store.deliveries("SEC-2024-001") if d.kind == "escalation"]
    assert {(d.person, d.status) for d in paged} == {("engineering-manager-a", "delivered")}
    escalations = lambda: [e.key for e in server.store.events("SEC-2024-001") if e.key.startswith("escalation-")]
    # stage 1's own time (+15) passes: not fired again; stage 2 is due 15 minutes after the escalation (+20), not +30
    stage.clock.advance(14 * MINUTE)  # +19
    server.worker.tick()
    assert escalations() == ["escalation-1"]
    stage.clock.advance(MINUTE)  # +20
    server.worker.tick()
    server.worker.tick()
    assert escalations() == ["escalation-1", "escalation-2"]
    [second] = [e for e in server.store.events("SEC-2024-001") if e.key == "escalation-2"]
    assert second.at == t0 + 20 * MINUTE
    [manual] = [e for e in server.store.events("SEC-2024-001") if e.key == "escalation-1"]
    assert (manual.kind, manual.by) == ("escalated", "Support Manager A")  # no SLA breach: someone asked for it
    assert "via api" in manual.detail
    # once acknowledged, nothing escalates any more: refused, saying why
    server.post("/incidents/SEC-2024-001/ack", {"by": "Support Manager A", "via": "slack"})
    refused = server.post("/incidents/SEC-2024-001/escalate", {"by": "Support Manager A"})
    assert refused.status_code == 409 and "acknowledged" in refused.json()["error"]


def test_the_ack_endpoint_records_how_it_came_and_refuses_an_unknown_way(server: Server, stage: Stage) -> None:
    stage.trigger()
    bad = server.post("/incidents/SEC-2024-001/ack", {"by": "Support Manager A", "via": "pigeon"})
    assert bad.status_code == 422 and bad.json()["field"] == "via"
    assert server.store.incident("SEC-2024-001").status == "open"
    acked = server.post("/incidents/SEC-2024-001/ack", {"by": "Support Manager A", "via": "voice"}).json()
    assert acked["acknowledged"] and acked["via"] == "voice"
    [event] = [e for e in server.store.events("SEC-2024-001") if e.kind == "acknowledged"]
    assert event.detail == "acknowledged by Support Manager A via voice"


def test_update_endpoint_posts_the_update_to_its_audience(server: Server, stage: Stage) -> None:
    stage.trigger()
    missing = server.post("/incidents/SEC-2024-001/update", {"by": "Support Manager A"})
    assert missing.status_code == 422 and missing.json()["field"] == "message"
    posted = server.post("/incidents/SEC-2024-001/update", {"message": "Contained", "by": "Support Manager A"})
    assert posted.status_code == 200 and posted.json()["counted"] is True and posted.json()["notices"] >= 2
    assert server.store.incident("SEC-2024-001").updates == 1
    server.worker.tick()
    assert any("Contained" in str(r.json) for r in stage.proxy["hooks.slack.com"].requests)


def test_without_a_public_url_pages_say_how_to_ack_with_the_cli(stage: Stage) -> None:
    stage.trigger()
    [sms] = [r.form["Body"] for r in stage.twilio("Messages")]
    assert "/a/" not in sms and "Ack: notify ack SEC-2024-001" in sms and len(sms) <= 160


def test_a_worker_forgets_links_a_day_after_they_expired(server: Server, stage: Stage) -> None:
    stage.trigger(public_url=PUBLIC)
    path = sms_link(stage)
    stage.clock.advance(timedelta(days=7, hours=23))
    server.worker.tick()
    assert open_page(server, path).status_code == 410  # expired, still known: the page says so
    stage.clock.advance(timedelta(hours=1, seconds=1))
    server.worker.tick()
    assert open_page(server, path).status_code == 404


def test_the_link_flow_on_sqlite_and_on_postgresql(url: str, stage: Stage) -> None:
    stage.store = lambda: open_store(url)  # the trigger, the server and its worker share this store
    server = Server(stage, webhook_token=TOKEN, api_token=API_TOKEN, public_url=PUBLIC)
    try:
        stage.trigger(public_url=PUBLIC)
        path = sms_link(stage)
        assert open_page(server, path).status_code == 200
        assert server.store.incident("SEC-2024-001").status == "open"
        assert press(server, path, "ack").status_code == 200
        row = server.store.incident("SEC-2024-001")
        assert (row.status, row.acked_by) == ("acknowledged", "Support Manager A")
        refused = press(server, path, "escalate")  # acknowledged: no more stages
        assert "escalation has stopped (acknowledged by Support Manager A): nothing changed" in refused.text
        assert not [e for e in server.store.events("SEC-2024-001") if e.key.startswith("escalation-")]
    finally:
        server.stop()


def test_the_page_escapes_what_a_reporter_wrote(server: Server, stage: Stage) -> None:
    stage.trigger(public_url=PUBLIC, fields={"customer": "Acme", "reported_by": "jane@acme.example",
                                             "summary": '<script>alert("x")</script> & <b>bold</b>'})
    page = open_page(server, sms_link(stage))
    assert page.status_code == 200
    assert "<script>" not in page.text and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]


@pytest.mark.parametrize("nonce", ["².abc", "１７.abc", ".abc", "abc"])
def test_a_nonce_that_is_not_ascii_digits_is_refused_not_a_crash(nonce: str) -> None:
    from dispatcher.server.link_pages import LinkPages

    assert LinkPages("k" * 32, now=lambda: 1_800_000_000).nonce_ok("token", nonce) is False


def test_a_provider_echoing_the_page_in_its_error_leaves_no_working_link_in_the_log(
        stage: Stage, caplog: pytest.LogCaptureFixture) -> None:
    from dispatcher.testing.providers import Reply

    echo = Reply(400, lambda request: {"code": 21610, "message": "refused: " + request.form["Body"]})
    stage.proxy["api.twilio.com"].script(echo)
    stage.trigger(public_url=PUBLIC)
    token_path = sms_link(stage)  # the SMS went out, and came back in the provider's error
    with stage.store() as store:
        details = [a.detail or "" for a in store.attempts(incident_id="SEC-2024-001") if a.channel == "sms"]
    assert details and any("refused: SEC-2024-001" in d for d in details)  # the echo is kept, for the reader
    assert all(token_path not in d and "/a/***" in d for d in details if "refused:" in d)
    assert token_path not in caplog.text
