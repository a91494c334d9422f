"""The web view over real HTTP to `notify serve`'s app: sign-in, sessions, CSRF, actions, notes, without a browser.

(The browser tests, tests/test_web_browser.py, drive the same pages in Chromium.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from dispatcher.app.web import TooManyLinks, issue_login_link

from .helpers import run
from .stage import Stage, make_stage
from .test_server import API_TOKEN, TOKEN, Server

PUBLIC = "https://notify.teamflow.example"
CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
MINUTE = timedelta(minutes=1)
PRIMARY = "support-manager-a"  # on duty in the shipped rotation at the stage clock's start


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    yield from make_stage(config_dir, tmp_path, monkeypatch)


@pytest.fixture
def server(stage: Stage) -> Iterator[Server]:
    srv = Server(stage, webhook_token=TOKEN, api_token=API_TOKEN, public_url=PUBLIC)
    yield srv
    srv.stop()


def login_link(server: Server, person: str = PRIMARY) -> str:
    _, token = issue_login_link(server.rt, server.store, person, server.stage.clock.now())
    return f"/ui/login/{token}"


def sign_in_form(server: Server, path: str, data: dict[str, str] | None = None, *, page: str | None = None,
                 **kwargs) -> requests.Response:
    """POST a signed-out form as a browser does: its page first (`page`, else `path` itself), which sets the
    pre-session cookie the form's CSRF token is bound to. (Copied by hand: under an https public URL the
    cookie is Secure, and requests would not send it to this http test server.)"""
    shown = requests.get(server.url + (page or path), timeout=10)
    cookies = {"notify_presession": shown.cookies.get("notify_presession", "")}
    return requests.post(server.url + path, data={**(data or {}), "csrf": csrf_of(shown)}, cookies=cookies,
                         timeout=10, **kwargs)


def signed_in(server: Server, person: str = PRIMARY) -> requests.Session:
    """A browser-like session signed in by a one-time login link."""
    browser = requests.Session()
    answer = sign_in_form(server, login_link(server, person), allow_redirects=False)
    assert answer.status_code == 303, answer.text
    browser.cookies.set("notify_session", answer.cookies["notify_session"], path="/ui")
    return browser


def csrf_of(page: requests.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


def test_root_redirects_to_the_view_and_a_page_without_a_session_is_refused(server: Server) -> None:
    root = requests.get(server.url + "/", allow_redirects=False, timeout=10)
    assert (root.status_code, root.headers["location"]) == (303, "/ui/incidents")
    for credential in (None, TOKEN, API_TOKEN):  # the hook's and the operator's tokens open no page
        headers = {"Authorization": f"Bearer {credential}"} if credential else {}
        page = requests.get(server.url + "/ui/incidents", headers=headers, timeout=10)
        assert page.status_code == 401 and 'action="/ui/login/send"' in page.text
        assert "SEC-2024-001" not in page.text
    assert requests.get(server.url + "/ui/incidents/SEC-2024-001/live", timeout=10).status_code == 401


def test_a_login_link_shows_a_page_on_get_signs_in_once_on_post_with_a_strict_cookie(
        server: Server, stage: Stage) -> None:
    stage.trigger()
    path = login_link(server)
    for _ in range(2):  # a mail scanner, then the person: a GET uses nothing
        page = requests.get(server.url + path, timeout=10)
        assert page.status_code == 200 and "Sign in as Support Manager A" in page.text
    first = sign_in_form(server, path, allow_redirects=False)
    assert (first.status_code, first.headers["location"]) == (303, "/ui/incidents")
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("notify_session=") and "; HttpOnly" in cookie and "; SameSite=Strict" in cookie
    assert "; Secure" in cookie and "; Path=/ui" in cookie and "; Max-Age=43200" in cookie  # 12 hours
    again = sign_in_form(server, path, page="/ui/login", allow_redirects=False)  # its page says 410 now
    assert again.status_code == 410 and "notify_session" not in again.headers.get("set-cookie", "")
    listing = requests.get(server.url + "/ui/incidents", cookies={"notify_session": first.cookies["notify_session"]},
                           timeout=10)
    assert listing.status_code == 200 and "SEC-2024-001" in listing.text and "Support Manager A" in listing.text


def test_a_sign_in_form_from_another_site_signs_nobody_in_and_uses_nothing(server: Server, stage: Stage) -> None:
    """Login CSRF: another site's form posting its own personal token or login link, or asking for links in a
    visitor's name. It has no pre-session cookie of ours (SameSite=Strict), or not the token bound to it."""
    from dispatcher.app.tokens import create_token

    personal = create_token(server.store, server.rt.directory, "cto", stage.clock.now()).token
    link = login_link(server)
    theirs = requests.get(server.url + "/ui/login", timeout=10)  # the attacker's own pre-session and token
    forged = [({}, {}), ({"csrf": "0" * 64}, {"notify_presession": "made-up"}),
              ({"csrf": csrf_of(theirs)}, {}),  # a real token, without the cookie it was made for
              ({"csrf": csrf_of(theirs)}, {"notify_presession": "another-browser"})]
    for fields, cookies in forged:
        for path, data in (("/ui/login", {"token": personal}), (link, {}), ("/ui/login/send", {"person": PRIMARY})):
            answer = requests.post(server.url + path, data={**data, **fields}, cookies=cookies,
                                   allow_redirects=False, timeout=10)
            assert answer.status_code == 403 and "its CSRF token is missing or wrong" in answer.text, (path, fields)
            assert "notify_session" not in answer.headers.get("set-cookie", "")
    # A page of the same site but another origin (a port, a subdomain) can plant a cookie whose token it fetched:
    # the browser names where the form came from, and only this server's own pages are taken.
    planted = requests.get(server.url + "/ui/login", cookies={"notify_presession": "planted-by-a-sibling"}, timeout=10)
    for headers in ({"Sec-Fetch-Site": "same-site"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "http://127.0.0.1:1"}):
        answer = requests.post(server.url + "/ui/login", data={"token": personal, "csrf": csrf_of(planted)},
                               cookies={"notify_presession": "planted-by-a-sibling"}, headers=headers,
                               allow_redirects=False, timeout=10)
        assert answer.status_code == 403 and "notify_session" not in answer.headers.get("set-cookie", ""), headers
    assert stage.smtp.messages == []  # no link was mailed
    assert sign_in_form(server, link, allow_redirects=False).status_code == 303  # the link was not used up
    own = {"Sec-Fetch-Site": "same-origin", "Origin": "null"}  # our page's POST (no-referrer: the origin is "null")
    assert sign_in_form(server, "/ui/login", {"token": personal}, headers=own,
                        allow_redirects=False).status_code == 303
    renewed = requests.get(server.url + "/ui/login", cookies={"notify_presession": "kept"}, timeout=10)
    assert "notify_presession=kept; Path=/ui; Max-Age=3600; HttpOnly; SameSite=Strict" in renewed.headers["set-cookie"]


def test_a_login_link_expires_after_15_minutes_and_a_session_after_its_lifetime(server: Server, stage: Stage) -> None:
    late = login_link(server)
    browser = signed_in(server)
    stage.clock.advance(15 * MINUTE)
    assert sign_in_form(server, late, page="/ui/login", allow_redirects=False).status_code == 410
    assert browser.get(server.url + "/ui/incidents", timeout=10).status_code == 200
    stage.clock.advance(12 * 60 * MINUTE - 15 * MINUTE)
    assert browser.get(server.url + "/ui/incidents", timeout=10).status_code == 401


def test_login_links_are_rate_limited_per_person(server: Server, stage: Stage) -> None:
    for _ in range(3):
        login_link(server)
    with pytest.raises(TooManyLinks, match="3 login links were made for support-manager-a in the last 15 minutes"):
        login_link(server)
    asked = sign_in_form(server, "/ui/login/send", {"person": PRIMARY}, page="/ui/login")
    assert asked.status_code == 429 and "3 login links were made" in asked.text
    login_link(server, "support-manager-b")  # another person is not held up
    stage.clock.advance(15 * MINUTE + timedelta(seconds=1))
    login_link(server)


def test_a_form_post_without_its_csrf_token_changes_nothing(server: Server, stage: Stage) -> None:
    stage.trigger()
    browser = signed_in(server)
    page = browser.get(server.url + "/ui/incidents/SEC-2024-001", timeout=10)
    assert page.status_code == 200 and 'id="ack"' in page.text
    for form in ({}, {"csrf": "0" * 64}):
        refused = browser.post(server.url + "/ui/incidents/SEC-2024-001/ack", data=form, timeout=10)
        assert refused.status_code == 403 and "Nothing was done" in refused.text
    assert server.store.incident("SEC-2024-001").status == "open"
    other = signed_in(server, "support-manager-b")  # another session's token is not this one's
    foreign = csrf_of(other.get(server.url + "/ui/incidents", timeout=10))
    assert browser.post(server.url + "/ui/incidents/SEC-2024-001/ack", data={"csrf": foreign},
                        timeout=10).status_code == 403
    assert server.store.incident("SEC-2024-001").status == "open"
    acked = browser.post(server.url + "/ui/incidents/SEC-2024-001/ack", data={"csrf": csrf_of(page)}, timeout=10)
    assert acked.status_code == 200 and "Acknowledged by Support Manager A" in acked.text
    row = server.store.incident("SEC-2024-001")
    assert (row.status, row.acked_by) == ("acknowledged", "Support Manager A")
    [event] = [e for e in server.store.events("SEC-2024-001") if e.kind == "acknowledged"]
    assert event.detail == "acknowledged by Support Manager A via web" and event.by == "Support Manager A"


def test_update_reclassify_note_and_resolve_are_recorded_as_the_signed_in_person(
        server: Server, stage: Stage) -> None:
    stage.trigger()
    browser = signed_in(server)
    base = server.url + "/ui/incidents/SEC-2024-001"
    token = csrf_of(browser.get(base, timeout=10))
    empty = browser.post(base + "/update", data={"csrf": token, "message": "  "}, timeout=10)
    assert empty.status_code == 200 and "message: is empty" in empty.text  # said on the page, nothing recorded
    browser.post(base + "/update", data={"csrf": token, "message": "Export blocked"}, timeout=10)
    browser.post(base + "/note", data={"csrf": token, "note": "Checked the VPN logs"}, timeout=10)
    browser.post(base + "/reclassify", data={"csrf": token, "class": "security"}, timeout=10)
    done = browser.post(base + "/resolve", data={"csrf": token, "message": "Contained"}, timeout=10)
    assert "Resolved by Support Manager A" in done.text and 'id="ack"' not in done.text
    events = {e.kind: e for e in server.store.events("SEC-2024-001")}
    assert events["update"].by == events["resolved"].by == "Support Manager A"
    assert [(n.by, n.text) for n in server.store.notes("SEC-2024-001")] == [("Support Manager A",
                                                                             "Checked the VPN logs")]
    assert "Checked the VPN logs" in done.text and "Export blocked" in done.text  # both in the timeline


def test_a_note_from_the_cli_shows_in_the_timeline(server: Server, stage: Stage,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    stage.trigger()
    monkeypatch.setenv("NOTIFY_STORE_URL", f"sqlite:///{stage.store_path}")
    result = run("note", "sec-2024-001", "Customer called back", "--by", "CTO", "--config-dir",
                 str(stage.config_dir))
    assert result.exit_code == 0 and result.stdout.strip() == "SEC-2024-001: note added by CTO"
    assert run("note", "SEC-2024-999", "x", "--by", "CTO", "--config-dir", str(stage.config_dir)).exit_code == 2
    assert run("note", "SEC-2024-001", " ", "--by", "CTO", "--config-dir", str(stage.config_dir)).exit_code == 2
    page = signed_in(server).get(server.url + "/ui/incidents/SEC-2024-001", timeout=10)
    assert re.search(r'class="note">.*?note</span>\s*Customer called back <span class="muted">\(by CTO\)', page.text,
                     re.DOTALL)


def test_logout_ends_the_session(server: Server) -> None:
    browser = signed_in(server)
    token = csrf_of(browser.get(server.url + "/ui/incidents", timeout=10))
    out = browser.post(server.url + "/ui/logout", data={"csrf": token}, allow_redirects=False, timeout=10)
    assert out.status_code == 303 and "notify_session=;" in out.headers["set-cookie"]
    assert browser.get(server.url + "/ui/incidents", timeout=10).status_code == 401


def test_the_secure_flag_follows_the_public_url_never_x_forwarded_proto(stage: Stage) -> None:
    server = Server(stage, webhook_token=TOKEN, api_token=API_TOKEN, public_url="http://localhost:8080")
    try:
        _, token = issue_login_link(server.rt, server.store, PRIMARY, stage.clock.now())
        answer = sign_in_form(server, f"/ui/login/{token}", headers={"X-Forwarded-Proto": "https"},
                              allow_redirects=False)
        assert answer.status_code == 303 and "Secure" not in answer.headers["set-cookie"]
    finally:
        server.stop()


def test_a_personal_token_signs_in_and_a_wrong_one_does_not(server: Server) -> None:
    from dispatcher.app.tokens import create_token

    new = create_token(server.store, server.rt.directory, "cto", server.stage.clock.now())
    wrong = sign_in_form(server, "/ui/login", {"token": new.token + "x"}, allow_redirects=False)
    assert wrong.status_code == 401 and "notify_session" not in wrong.headers.get("set-cookie", "")
    right = sign_in_form(server, "/ui/login", {"token": new.token}, allow_redirects=False)
    assert right.status_code == 303 and right.headers["set-cookie"].startswith("notify_session=")
    operator = sign_in_form(server, "/ui/login", {"token": API_TOKEN}, allow_redirects=False)
    assert operator.status_code == 401  # the operator's shared token is nobody: it signs no one in


def test_an_action_link_signs_its_person_in_on_its_incident(server: Server, stage: Stage) -> None:
    stage.trigger(public_url=PUBLIC)
    body = stage.twilio("Messages")[-1].form["Body"]
    token = re.search(r"/a/([A-Za-z0-9_-]+)", body).group(1)
    link_page = requests.get(server.url + f"/a/{token}", timeout=10)
    assert f'href="/ui/from-link/{token}"' in link_page.text
    shown = requests.get(server.url + f"/ui/from-link/{token}", timeout=10)
    assert shown.status_code == 200 and "Sign in as Support Manager A" in shown.text
    answer = sign_in_form(server, f"/ui/from-link/{token}", allow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/ui/incidents/SEC-2024-001")
    assert server.store.incident("SEC-2024-001").status == "open"  # signing in acts on nothing


def _mailed_link(stage: Stage, to: str) -> str:
    [message] = [m for m in stage.smtp.messages if m["To"] == to]
    text = message.get_body(("plain",)).get_content() if message.is_multipart() else message.get_content()
    return re.search(re.escape(PUBLIC) + r"(/ui/login/[A-Za-z0-9_-]+)", text).group(1)


def test_notify_login_link_emails_a_link_that_signs_in_once(server: Server, stage: Stage,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_STORE_URL", f"sqlite:///{stage.store_path}")
    monkeypatch.setenv("NOTIFY_PUBLIC_URL", PUBLIC)
    monkeypatch.setenv("NOTIFY_EMAIL_URL", stage.smtp.url(**{"from": "notify@teamflow.example"}))
    config = ["--config-dir", str(stage.config_dir)]
    now = stage.clock.now().isoformat()  # the server's clock: the link expires 15 minutes after it
    sent = run("login-link", PRIMARY, *config, now=now)
    assert sent.exit_code == 0, sent.output
    assert sent.stdout.startswith("sign-in link sent to support-manager-a by email (")
    assert "/ui/login/" not in sent.stdout  # the link went to the person, not to whoever ran the command
    path = _mailed_link(stage, "support-manager-a@teamflow.example")
    answer = sign_in_form(server, path, allow_redirects=False)
    assert answer.status_code == 303 and answer.cookies["notify_session"]
    for _ in range(2):
        printed = run("login-link", PRIMARY, "--print", *config, now=now)
        assert printed.exit_code == 0 and f"{PUBLIC}/ui/login/" in printed.stdout
    refused = run("login-link", PRIMARY, "--print", *config, now=now)  # the fourth in 15 minutes
    assert refused.exit_code == 2 and "3 login links were made for support-manager-a" in refused.output
    assert run("login-link", "nobody", *config, now=now).exit_code == 2


def test_the_sign_in_page_sends_a_link_and_says_the_same_for_nobody(server: Server, stage: Stage) -> None:
    for person in (PRIMARY, "nobody@nowhere.example"):
        answer = sign_in_form(server, "/ui/login/send", {"person": person}, page="/ui/login")
        assert answer.status_code == 200 and "If that is someone in contacts.toml" in answer.text
    assert [m["To"] for m in stage.smtp.messages] == ["support-manager-a@teamflow.example"]
    path = _mailed_link(stage, "support-manager-a@teamflow.example")
    assert sign_in_form(server, path, allow_redirects=False).status_code == 303


def _incident(store, klass: str, summary: str, started, *, needs_review: bool = False) -> str:
    record = {"id": "", "class": klass, "drill": False, "dedup_key": summary, "dedup_open": False,
              "started": started, "fields": {"summary": summary}, "meta": {"needs_review": needs_review}}
    incident_id, _ = store.open_incident(record, [], prefix=klass[:3].upper(), year=2026, now=started)
    return incident_id


def test_the_list_puts_open_incidents_first_marks_needs_review_and_filters(server: Server, stage: Stage) -> None:
    now = stage.clock.now()
    old = _incident(server.store, "technical", "slow search", now - 3 * 24 * 60 * MINUTE)
    fresh = _incident(server.store, "security", "odd logins", now - 5 * MINUTE, needs_review=True)
    answered = _incident(server.store, "enterprise", "SSO broken", now - 60 * MINUTE)
    done = _incident(server.store, "outage", "API down", now - 30 * MINUTE)
    browser = signed_in(server)
    token = csrf_of(browser.get(server.url + "/ui/incidents", timeout=10))
    for incident_id, action in ((answered, "ack"), (done, "resolve")):
        browser.post(server.url + f"/ui/incidents/{incident_id}/{action}", data={"csrf": token}, timeout=10)

    def listed(query: str = "") -> list[str]:
        page = browser.get(server.url + "/ui/incidents" + query, timeout=10).text
        return re.findall(r'<a href="/ui/incidents/([A-Z0-9-]+)">', page)

    assert listed() == [fresh, old, answered, done]  # open (newest first), acknowledged, resolved
    page = browser.get(server.url + "/ui/incidents", timeout=10).text
    row = re.search(rf"<tr class=\"row-open\">\s*<td[^>]*><a href=\"/ui/incidents/{fresh}\">.*?</tr>", page, re.DOTALL)
    assert "needs review" in row.group(0) and "5 minutes</span> of 15 minutes" in row.group(0)
    slow = re.search(rf"<a href=\"/ui/incidents/{old}\">.*?</tr>", page, re.DOTALL).group(0)
    assert 'class="over"' in slow and "(over SLA)" in slow  # 3 days open against its response SLA
    assert listed("?status=open") == [fresh, old]
    assert listed("?class=enterprise") == [answered]
    assert listed("?tier=immediate") == [fresh, done]
    assert listed("?period=24h") == [fresh, old, answered, done]  # an open incident shows at any age
    stage.clock.advance(2 * 24 * 60 * MINUTE)
    assert listed("?period=24h") == []  # two days on, the 12-hour session is over
    browser = signed_in(server)
    assert listed("?period=24h") == [fresh, old]  # the answered ones are older than a day now


def test_the_silences_page_shows_silences_windows_and_heartbeats_to_a_session_only(server: Server,
                                                                                  stage: Stage) -> None:
    from dispatcher.app.heartbeats import beat
    from dispatcher.app.silences import add_maintenance, add_silence

    now = stage.clock.now()
    assert requests.get(server.url + "/ui/quiet", timeout=10).status_code == 401
    empty = signed_in(server).get(server.url + "/ui/quiet", timeout=10)
    assert empty.status_code == 200 and "No silence in effect or ahead." in empty.text
    silence, _ = add_silence(server.rt, server.store, ['alertname="DiskFull"'], duration="2h", by="Support Manager A",
                             reason="replacing the <disk> of db-1", now=now)
    window = add_maintenance(server.store, ["api"], starts=now + timedelta(hours=1), ends=now + timedelta(hours=3),
                             by="Support Manager A", reason="database upgrade", now=now)
    beat(server.rt, server.store, "nightly-backup", now, interval="1h")
    page = signed_in(server).get(server.url + "/ui/quiet", timeout=10)
    assert page.status_code == 200
    assert silence.id in page.text and "alertname=&#34;DiskFull&#34;" in page.text and ">active<" in page.text
    assert "replacing the &lt;disk&gt; of db-1" in page.text  # what people typed is escaped
    assert window.id in page.text and ">pending<" in page.text and "database upgrade" in page.text
    assert "nightly-backup" in page.text and ">ok<" in page.text
    assert 'href="/ui/quiet"' in page.text  # in the navigation of every signed-in page


def test_an_open_incident_nobody_was_reached_for_says_so_at_the_top(server: Server, stage: Stage) -> None:
    """Every channel failed (none has settings): a person reading the page must not take "open" for "handled"."""
    stage.trigger(email_url=None, slack_url=None, sms_url=None, phone_url=None, statuspage_url=None)
    browser = signed_in(server)
    page = browser.get(server.url + "/ui/incidents/SEC-2024-001", timeout=10).text
    warning = re.search(r'<p class="said no" id="unreached" role="alert">([^<]+)</p>', page)
    assert warning and warning.group(1).startswith("Nobody has been reached: ")
    assert "deliveries failed, and none is being tried again." in warning.group(1)


def test_a_reached_incident_has_no_such_warning_and_its_fields_read_as_words(server: Server, stage: Stage) -> None:
    stage.trigger()
    page = signed_in(server).get(server.url + "/ui/incidents/SEC-2024-001", timeout=10).text
    assert 'id="unreached"' not in page
    fields = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]*)</dd>", page))
    assert fields["Class"] == "Security Incident (security, Critical)" and "Customer" in fields
    assert not [k for k in fields if "_" in k] and "started" not in fields  # no raw keys; Started is shown once
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", fields["Started"])
    attempts = re.findall(r'<span class="kind">attempt</span>\s*step to ([^<]+?) by ', page)
    assert "Support Manager A" in attempts and "Security Incidents" in attempts  # names and titles, not ids
    assert not [a for a in attempts if ":" in a or a in ("support-manager-a", "customer")]  # e.g. "#security-alerts"


@pytest.mark.parametrize(("outcomes", "said"), [
    (["failed-permanent", "skipped"], "Nobody has been reached: 1 of 2 deliveries failed, and none is being tried again."),
    (["failed-transient", "pending"], "Nobody has been reached: 1 of 2 deliveries failed, 1 still being tried."),
    (["failed-permanent", "delivered"], None),  # someone's provider took it
    (["failed-permanent", "possibly-delivered"], None),  # it may have arrived: not "nobody"
    (["pending", "pending"], None),  # nothing failed yet: the first tries are on their way
])
def test_unreached_reads_the_outcomes(outcomes: list[str], said: str | None) -> None:
    from dispatcher.app.web_views import unreached

    assert unreached([{"outcome": o} for o in outcomes]) == said


@pytest.mark.parametrize(("at", "person"), [("2026-12-07T17:30:00+00:00", "Engineering Manager A"),
                                            ("2026-12-14T17:30:00+00:00", "Engineering Manager B")])
def test_due_next_names_who_is_on_duty_in_the_slot_when_it_fires(at: str, person: str) -> None:
    from datetime import datetime

    from dispatcher.app.engine import load_runtime
    from dispatcher.app.web_views import _with_who

    rt = load_runtime(Path(__file__).resolve().parent.parent)
    due = {"at": datetime.fromisoformat(at), "kind": "escalation",
           "what": "response SLA (15 minutes) breached; escalated to rotation:secondary"}
    assert _with_who(rt, due)["what"].endswith(f"escalated to rotation:secondary ({person})")
