"""SMS replies to `notify serve` over real HTTP, signed with the `twilio` package's own RequestValidator.

The security page goes by SMS to the primary slot's shared number (+14155550199), carried this week by
Support Manager A: a reply from that number acts for them. Twilio signs the URL it requested (the public
URL, never the Host header) and the sorted form fields with the account's Auth Token.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
import requests
from twilio.request_validator import RequestValidator

from dispatcher.server.providers import twilio_signature
from dispatcher.store import open_store

from . import pg
from .stage import Stage, make_stage
from .test_server import API_TOKEN, TOKEN, Server

PUBLIC = "https://notify.teamflow.example"
AUTH_TOKEN = "authtoken"  # the token of the stage's twilio:// SMS URL
SHARED = "+14155550199"  # the primary slot's shared number
SMS = "/providers/twilio/sms"
url = pg.url  # the reply flow, once on SQLite and once on PostgreSQL


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    yield from make_stage(config_dir, tmp_path, monkeypatch)


@pytest.fixture
def server(stage: Stage) -> Iterator[Server]:
    srv = Server(stage, webhook_token=TOKEN, api_token=API_TOKEN, public_url=PUBLIC)
    yield srv
    srv.stop()


_sids = iter(range(1, 10_000))


def reply(server: Server, body: str, number: str = SHARED, *, sid: str | None = None, token: str = AUTH_TOKEN,
          signed_url: str = PUBLIC + SMS) -> requests.Response:
    """Post an inbound SMS as Twilio does: a form, signed by twilio's RequestValidator."""
    form = {"MessageSid": sid or f"SM{next(_sids):032d}", "AccountSid": "AC" + "0" * 32, "From": number,
            "To": "+15550100000", "Body": body, "NumMedia": "0"}
    signature = RequestValidator(token).compute_signature(signed_url, form)
    return requests.post(server.url + SMS, data=form, headers={"X-Twilio-Signature": signature}, timeout=10)


def said(answer: requests.Response) -> str | None:
    """The text of the TwiML answer's one Message (None: an empty Response)."""
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/xml"), answer.text
    root = ElementTree.fromstring(answer.content)
    assert root.tag == "Response"
    messages = root.findall("Message")
    assert len(messages) <= 1 and len(root) == len(messages)
    return messages[0].text if messages else None


class MultiDict(dict):
    """A form as Flask hands it to twilio's validator: every value of a repeated field."""

    def getall(self, name: str) -> list[str]:
        return self[name]


def test_our_signature_is_twilios_for_repeated_fields_and_unicode() -> None:
    form = {"Body": ["ack ✓", "b", "b"], "From": ["+14155550199"], "Empty": [""]}
    url = PUBLIC + SMS + "?x=1"
    assert twilio_signature("tok", url, form) == RequestValidator("tok").compute_signature(url, MultiDict(form))
    assert twilio_signature("tok", url, form) != twilio_signature("tok", url, {**form, "Empty": ["x"]})


def test_a_reply_of_1_acknowledges_as_whoever_was_on_duty_for_the_shared_number(server: Server, stage: Stage) -> None:
    stage.trigger(public_url=PUBLIC)
    [page] = stage.twilio("Messages")
    assert page.form["To"] == SHARED
    answer = reply(server, " 1 ")
    assert said(answer) == "SEC-2024-001 acknowledged by Support Manager A: escalation stopped"
    row = server.store.incident("SEC-2024-001")
    assert (row.status, row.acked_by) == ("acknowledged", "Support Manager A")
    [ack] = [e for e in server.store.events("SEC-2024-001") if e.kind == "acknowledged"]
    assert ack.detail == "acknowledged by Support Manager A via sms"
    again = reply(server, "ACK")  # a second reply: the incident is closed to acks now
    assert said(again) == "SEC-2024-001 is acknowledged by Support Manager A already: nothing changed"


def test_ack_naming_an_incident_acts_on_that_one_and_9_escalates_the_latest(server: Server, stage: Stage) -> None:
    stage.trigger("SEC-2024-001", public_url=PUBLIC)
    stage.trigger("SEC-2024-002", public_url=PUBLIC)
    assert said(reply(server, "ack sec-2024-001")) == \
        "SEC-2024-001 acknowledged by Support Manager A: escalation stopped"
    assert server.store.incident("SEC-2024-002").status == "open"
    assert said(reply(server, "ACK SEC-2024-777")) == "SEC-2024-777 was not paged to this number: nothing changed"
    assert said(reply(server, "9")) == \
        "SEC-2024-002 escalated by Support Manager A: stage 1 (rotation:secondary) paged now"
    [fired] = [e for e in server.store.events("SEC-2024-002") if e.key == "escalation-1"]
    assert (fired.by, fired.detail.endswith("by Support Manager A via sms")) == ("Support Manager A", True)
    assert server.store.incident("SEC-2024-002").status == "open"


def test_a_replayed_reply_is_answered_as_before_and_escalates_once(server: Server, stage: Stage) -> None:
    stage.trigger(public_url=PUBLIC)
    first = said(reply(server, "9", sid="SM" + "7" * 32))
    again = said(reply(server, "9", sid="SM" + "7" * 32))  # Twilio retries a callback it got no answer to
    assert first == again == "SEC-2024-001 escalated by Support Manager A: stage 1 (rotation:secondary) paged now"
    assert [e.key for e in server.store.events("SEC-2024-001") if e.kind == "escalated"] == ["escalation-1"]


def test_an_unknown_number_an_unknown_word_and_a_closed_incident_change_nothing_and_say_so(
        server: Server, stage: Stage) -> None:
    stage.trigger(public_url=PUBLIC)
    assert said(reply(server, "1", number="+14155550000")) == \
        "notify has paged no one at this number by sms: nothing changed"
    assert said(reply(server, "yes")).startswith("Not understood: reply 1 (or ACK) to acknowledge, 9 to escalate")
    assert server.store.incident("SEC-2024-001").status == "open"
    server.post("/incidents/SEC-2024-001/resolve", {"by": "Jane"})
    assert said(reply(server, "1")) == "SEC-2024-001 is resolved already: nothing changed"
    assert said(reply(server, "9")) == "SEC-2024-001 is resolved already: nothing changed"
    # the reply changed nothing: resolving (and the review it opens) is all there is
    assert [e.kind for e in server.store.events("SEC-2024-001")] == ["triggered", "resolved", "review-opened"]


def test_stop_changes_nothing_answers_nothing_and_is_recorded_on_the_incident(server: Server, stage: Stage) -> None:
    stage.trigger(public_url=PUBLIC)
    assert said(reply(server, "STOP")) is None  # Twilio itself confirms the opt-out; a message would be refused
    assert server.store.incident("SEC-2024-001").status == "open"
    [stop] = [e for e in server.store.events("SEC-2024-001") if e.kind == "opted-out"]
    assert stop.by == "Support Manager A" and "replied STOP" in stop.detail and SHARED not in stop.detail


@pytest.mark.parametrize("how", ["wrong token", "Host header's URL", "no signature", "field changed"])
def test_a_request_not_signed_by_twilio_for_the_public_url_is_refused_and_changes_nothing(
        server: Server, stage: Stage, how: str) -> None:
    stage.trigger(public_url=PUBLIC)
    if how == "wrong token":
        answer = reply(server, "1", token="not-the-auth-token")
    elif how == "Host header's URL":  # signed for the URL the server was reached at, not NOTIFY_PUBLIC_URL
        answer = reply(server, "1", signed_url=server.url + SMS)
    else:
        form = {"MessageSid": "SM1", "From": SHARED, "Body": "1"}
        signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + SMS, form)
        headers = {} if how == "no signature" else {"X-Twilio-Signature": signature}
        answer = requests.post(server.url + SMS, data={**form, "Body": "9"}, headers=headers, timeout=10)
    assert answer.status_code == 403 and "X-Twilio-Signature does not match" in answer.json()["error"]
    assert AUTH_TOKEN not in answer.text
    assert server.store.incident("SEC-2024-001").status == "open"
    assert [e.kind for e in server.store.events("SEC-2024-001")] == ["triggered"]


def test_without_a_public_url_the_callback_is_off_and_says_why(stage: Stage) -> None:
    srv = Server(stage, webhook_token=TOKEN, api_token=API_TOKEN)
    try:
        stage.trigger()
        answer = reply(srv, "1")
        assert answer.status_code == 404
        assert answer.json()["error"] == f"{SMS} is off: NOTIFY_PUBLIC_URL is unset (see `notify check`)"
        assert srv.store.incident("SEC-2024-001").status == "open"
    finally:
        srv.stop()


VOICE = "/providers/twilio/voice"
CALLER_ID = "+15550100000"  # the stage's Twilio number


def keypress(server: Server, digits: str, incident_id: str = "SEC-2024-001", *, sid: str | None = None,
             signed_url: str | None = None) -> requests.Response:
    """Post a Gather's keypress as Twilio does: to the action URL the call's TwiML named, signed over it."""
    form = {"CallSid": sid or f"CA{next(_sids):032d}", "AccountSid": "AC" + "0" * 32, "From": CALLER_ID,
            "To": SHARED, "Digits": digits, "CallStatus": "in-progress", "Direction": "outbound-api"}
    query = f"?incident={incident_id}"
    signature = RequestValidator(AUTH_TOKEN).compute_signature(signed_url or PUBLIC + VOICE + query, form)
    return requests.post(server.url + VOICE + query, data=form, headers={"X-Twilio-Signature": signature},
                         timeout=10)


def spoken(answer: requests.Response) -> str:
    """What the keypress's TwiML answer says before it hangs up."""
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/xml"), answer.text
    root = ElementTree.fromstring(answer.content)
    assert [child.tag for child in root] == ["Say", "Hangup"]
    return root[0].text


def test_the_call_asks_for_a_keypress_posted_back_with_its_incident(server: Server, stage: Stage) -> None:
    stage.trigger(public_url=PUBLIC)
    [call] = stage.twilio("Calls")
    assert call.form["To"] == SHARED
    root = ElementTree.fromstring(call.form["Twiml"])
    [gather] = root.findall("Gather")
    assert gather.attrib == {"numDigits": "1", "action": PUBLIC + VOICE + "?incident=SEC-2024-001",
                             "method": "POST", "timeout": "10"}
    assert [s.text for s in gather.findall("Say")][-1] == "Press 1 to acknowledge, 9 to escalate."
    assert "Incident S E C 2024 001." in gather.findall("Say")[0].text  # spelled out for the voice
    assert [child.tag for child in root] == ["Gather", "Say"]  # no key: said goodbye, nothing done


def test_without_a_public_url_the_call_only_speaks(stage: Stage) -> None:
    stage.trigger()
    [call] = stage.twilio("Calls")
    assert "<Gather" not in call.form["Twiml"] and call.form["Twiml"].startswith("<Response><Say")


def test_pressing_1_acknowledges_the_calls_own_incident_as_whoever_was_on_duty(server: Server, stage: Stage) -> None:
    stage.trigger("SEC-2024-001", public_url=PUBLIC)
    stage.trigger("SEC-2024-002", public_url=PUBLIC)  # paged later to the same shared number
    assert spoken(keypress(server, "1", "SEC-2024-001")) == \
        "SEC-2024-001 acknowledged by Support Manager A: escalation stopped"
    row = server.store.incident("SEC-2024-001")
    assert (row.status, row.acked_by) == ("acknowledged", "Support Manager A")
    [ack] = [e for e in server.store.events("SEC-2024-001") if e.kind == "acknowledged"]
    assert ack.detail == "acknowledged by Support Manager A via voice"
    assert server.store.incident("SEC-2024-002").status == "open"
    assert spoken(keypress(server, "9", "SEC-2024-002")) == \
        "SEC-2024-002 escalated by Support Manager A: stage 1 (rotation:secondary) paged now"
    assert spoken(keypress(server, "5", "SEC-2024-002")) == \
        "Not understood: press 1 to acknowledge, 9 to escalate; nothing changed"


def test_a_keypress_not_signed_over_the_action_url_is_refused(server: Server, stage: Stage) -> None:
    stage.trigger(public_url=PUBLIC)
    own = "?incident=SEC-2024-001"
    for url in (PUBLIC + VOICE, PUBLIC + VOICE + "?incident=SEC-2024-002", server.url + VOICE + own):
        answer = keypress(server, "1", signed_url=url)
        assert answer.status_code == 403 and "X-Twilio-Signature does not match" in answer.json()["error"]
    assert server.store.incident("SEC-2024-001").status == "open"


def test_a_reply_on_sqlite_and_on_postgresql_acts_once(url: str, stage: Stage) -> None:
    stage.store = lambda: open_store(url)  # the trigger, the server and its worker share this store
    server = Server(stage, webhook_token=TOKEN, api_token=API_TOKEN, public_url=PUBLIC)
    try:
        stage.trigger("SEC-2024-001", public_url=PUBLIC)
        stage.trigger("SEC-2024-002", public_url=PUBLIC)
        first = said(reply(server, "9", sid="SM" + "5" * 32))
        assert first == "SEC-2024-002 escalated by Support Manager A: stage 1 (rotation:secondary) paged now"
        assert said(reply(server, "9", sid="SM" + "5" * 32)) == first  # Twilio's retry: the first answer
        assert [e.key for e in server.store.events("SEC-2024-002") if e.kind == "escalated"] == ["escalation-1"]
        assert said(reply(server, "ACK SEC-2024-001")) == \
            "SEC-2024-001 acknowledged by Support Manager A: escalation stopped"
        assert server.store.incident("SEC-2024-002").status == "open"
    finally:
        server.stop()
