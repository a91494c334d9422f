"""Phone paging: Twilio calls with escaped TwiML, and PagerDuty Events v2 triggers."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

import pytest

from channels.phone import PhoneChannel
from dispatcher.api import ChannelConfig, Outcome, Reason
from dispatcher.testing import PROVIDER_HOSTS, ProviderProxy, Reply
from tests.providers_fixtures import FROM, SID, TO, isolate_env, make_address, make_notice, proxy  # noqa: F401

TOKEN = "f00dfeedTokenValue"
CALL_URL = f"twilio://{SID}:{TOKEN}@{FROM}?method=call"
ROUTING_KEY = "R0UT1NGKEY0123456789abcdef012345"
PD_URL = f"pagerduty://{ROUTING_KEY}@restApiKey"
PD_OK = Reply(202, {"status": "success", "message": "Event processed", "dedup_key": "INC-20240607-0042"})


def phone(proxy, url, **config) -> PhoneChannel:
    return PhoneChannel(ChannelConfig(url=url, ca_bundle=proxy.ca_bundle_path, read_timeout=2, **config))


def test_call_posts_twiml_that_says_the_text_twice(proxy):
    proxy["api.twilio.com"].script(Reply(201, {"sid": "CA1234", "status": "queued"}))
    result = phone(proxy, CALL_URL).send(make_notice(text="Plain page"), make_address("phone", TO))
    (request,) = proxy["api.twilio.com"].requests
    assert (request.method, request.path) == ("POST", f"/2010-04-01/Accounts/{SID}/Calls.json")
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert request.form == {
        "To": TO, "From": FROM,
        "Twiml": '<Response><Say voice="alice">Plain page</Say><Pause length="1"/><Say>Plain page</Say></Response>',
    }
    assert (result.outcome, result.provider_id, result.status) == (Outcome.DELIVERED, "CA1234", 201)


def test_call_text_is_xml_escaped(proxy):
    hostile = 'DB <primary> & "replica" down</Say><Play>http://evil/x.mp3</Play><Say>\x07'
    phone(proxy, CALL_URL).send(make_notice(text=hostile), make_address("phone", TO))
    twiml = proxy["api.twilio.com"].requests[0].form["Twiml"]
    root = ET.fromstring(twiml)  # well-formed, and nothing was injected
    assert [child.tag for child in root] == ["Say", "Pause", "Say"]
    assert root[0].text == root[2].text == hostile.replace("\x07", "")
    assert "&lt;primary&gt; &amp;" in twiml


def test_the_phone_channel_calls_even_without_method(proxy):
    phone(proxy, f"twilio://{SID}:{TOKEN}@{FROM}").send(make_notice(), make_address("phone", TO))
    assert proxy["api.twilio.com"].requests[0].path.endswith("/Calls.json")


def test_an_sms_twilio_url_is_a_problem_for_phone(proxy):
    channel = phone(proxy, f"twilio://{SID}:{TOKEN}@{FROM}?method=sms")
    assert "method=call" in channel.problems()[0]
    assert channel.send(make_notice(), make_address("phone", TO)).reason is Reason.NOT_CONFIGURED
    assert proxy.requests == []


def test_pagerduty_trigger_without_a_notice_key_keys_the_page_by_incident_step_and_person(proxy):
    proxy["events.pagerduty.com"].script(PD_OK)
    notice = make_notice(dedup_key=None)
    result = phone(proxy, PD_URL).send(notice, make_address("phone", "security-escalation"))
    (request,) = proxy["events.pagerduty.com"].requests
    assert (request.method, request.path) == ("POST", "/v2/enqueue")
    assert "Authorization" not in request.headers  # Events v2 authenticates by routing_key
    assert request.json == {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": "INC-20240607-0042/1/alice",
        "payload": {"summary": notice.subject, "source": "notify", "severity": "critical",
                    "custom_details": {"service": "api-gateway", "region": "eu-west-1"}},
    }
    assert (result.outcome, result.status, result.provider_id) == (Outcome.DELIVERED, 202, "INC-20240607-0042")
    assert "security-escalation" in result.delivered_to


def test_pagerduty_prefers_the_notice_dedup_key(proxy):
    proxy["events.pagerduty.com"].script(Reply(202, {"status": "success", "dedup_key": "incident-INC-9"}))
    result = phone(proxy, PD_URL).send(make_notice(dedup_key="incident-INC-9"), make_address("phone", "svc"))
    assert proxy["events.pagerduty.com"].requests[0].json["dedup_key"] == "incident-INC-9"
    assert result.provider_id == "incident-INC-9"


@pytest.mark.parametrize("severity, expected", [
    ("critical", "critical"), ("high", "error"), ("medium", "warning"), ("low", "info"), ("bogus", "critical"),
])
def test_pagerduty_severity_mapping(proxy, severity, expected):
    proxy["events.pagerduty.com"].script(PD_OK)
    phone(proxy, PD_URL).send(make_notice(severity=severity), make_address("phone", "svc"))
    assert proxy["events.pagerduty.com"].requests[0].json["payload"]["severity"] == expected


def test_pagerduty_summary_is_cut_to_1024_characters(proxy):
    proxy["events.pagerduty.com"].script(PD_OK)
    phone(proxy, PD_URL).send(make_notice(subject="x" * 5000), make_address("phone", "svc"))
    summary = proxy["events.pagerduty.com"].requests[0].json["payload"]["summary"]
    assert len(summary) == 1024 and summary.endswith("…")


def test_pagerduty_source_and_component_from_the_url_path(proxy):
    proxy["events.pagerduty.com"].script(PD_OK)
    phone(proxy, PD_URL + "/notify.prod.example/paging").send(make_notice(), make_address("phone", "svc"))
    payload = proxy["events.pagerduty.com"].requests[0].json["payload"]
    assert (payload["source"], payload["component"]) == ("notify.prod.example", "paging")


def test_pagerduty_integration_key_argument(proxy):
    proxy["events.pagerduty.com"].script(PD_OK)
    phone(proxy, f"pagerduty://restApiKey?integrationkey={ROUTING_KEY}").send(make_notice(), make_address("phone", "s"))
    assert proxy["events.pagerduty.com"].requests[0].json["routing_key"] == ROUTING_KEY


def test_pagerduty_eu_region_goes_to_the_eu_endpoint(monkeypatch):
    with ProviderProxy(PROVIDER_HOSTS + ("events.eu.pagerduty.com",)) as eu_proxy:
        isolate_env(monkeypatch, eu_proxy)
        eu_proxy["events.eu.pagerduty.com"].script(PD_OK)
        result = phone(eu_proxy, PD_URL + "?region=eu").send(make_notice(), make_address("phone", "svc"))
        assert result.outcome is Outcome.DELIVERED
        assert [r.host for r in eu_proxy.requests] == ["events.eu.pagerduty.com"]


@pytest.mark.parametrize("errors, reason", [
    (["Length of 'routing_key' is incorrect (should be 32 characters)"], Reason.AUTH),
    (["'payload.summary' is missing or blank"], Reason.BAD_REQUEST),
])
def test_pagerduty_invalid_event(proxy, errors, reason):
    proxy["events.pagerduty.com"].script(
        Reply(400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}))
    result = phone(proxy, PD_URL).send(make_notice(), make_address("phone", "svc"))
    assert (result.outcome, result.reason, result.status) == (Outcome.FAILED_PERMANENT, reason, 400)
    assert "Event object is invalid" in result.detail


@pytest.mark.parametrize("url, fragment", [
    ("pagerduty://restApiKeyOnly", "routing"),
    (f"{PD_URL}?region=apac", "region"),
    ("tel://+15550100000", "twilio://"),
])
def test_malformed_urls_are_problems(proxy, url, fragment):
    channel = phone(proxy, url)
    (problem,) = channel.problems()
    assert fragment in problem and ROUTING_KEY not in problem
    assert channel.send(make_notice(), make_address("phone", TO)).reason is Reason.NOT_CONFIGURED
    assert proxy.requests == []


def test_capabilities_declare_voice_and_dedup():
    caps = PhoneChannel.capabilities
    assert (caps.voice, caps.dedup_key, caps.template) == (True, True, "voice")


OTHER_KEY = "0THERSERV1CEKEY0123456789abcdef0"
SLOT_KEY = "ESCA1AT10NSL0TKEY0123456789abcde"


def test_two_people_paged_for_one_incident_get_two_dedup_keys(proxy):
    proxy["events.pagerduty.com"].script(PD_OK)
    channel = phone(proxy, PD_URL)
    channel.send(make_notice(dedup_key=None, step=2), make_address("phone", person="eng-a", role="rotation:secondary"))
    channel.send(make_notice(dedup_key=None, step=4), make_address("phone", person="cto", role="role:cto"))
    keys = [r.json["dedup_key"] for r in proxy["events.pagerduty.com"].requests]
    assert keys == ["INC-20240607-0042/2/eng-a", "INC-20240607-0042/4/cto"]


def test_a_routed_page_goes_to_its_own_service_slot_before_person(proxy):
    proxy["events.pagerduty.com"].script(PD_OK)
    channel = phone(proxy, PD_URL + "/notify.prod/paging?region=us",
                    routes={"person:cto": OTHER_KEY, "rotation:escalation": SLOT_KEY})
    channel.send(make_notice(), make_address("phone", person="cto", role="role:cto"))
    channel.send(make_notice(), make_address("phone", person="cto", role="rotation:escalation"))
    channel.send(make_notice(), make_address("phone", person="ceo", role="role:ceo"))
    sent = [r.json for r in proxy["events.pagerduty.com"].requests]
    assert [e["routing_key"] for e in sent] == [OTHER_KEY, SLOT_KEY, ROUTING_KEY]
    # A bare key keeps the default URL's source and component.
    assert all((e["payload"]["source"], e["payload"]["component"]) == ("notify.prod", "paging") for e in sent)


def test_a_routing_key_pages_through_pagerduty_even_when_phone_calls_through_twilio(proxy):
    proxy["events.pagerduty.com"].script(PD_OK)
    proxy["api.twilio.com"].script(Reply(201, {"sid": "CA1"}))
    channel = phone(proxy, CALL_URL, routes={"person:cto": OTHER_KEY})
    routed = channel.send(make_notice(), make_address("phone", person="cto"))
    called = channel.send(make_notice(), make_address("phone", person="ceo"))
    (event,) = proxy["events.pagerduty.com"].requests
    assert event.json["routing_key"] == OTHER_KEY and routed.outcome is Outcome.DELIVERED
    assert called.provider_id == "CA1" and len(proxy["api.twilio.com"].requests) == 1


def test_routing_keys_alone_configure_the_channel_and_never_show_in_reprs_or_failures(proxy):
    proxy["events.pagerduty.com"].script(Reply(400, {"status": "invalid event", "message": f"bad {OTHER_KEY}",
                                                     "errors": [f"routing_key {OTHER_KEY} unknown"]}))
    channel = phone(proxy, None, routes={"person:cto": OTHER_KEY})
    assert channel.configured() and channel.problems() == []
    failed = channel.send(make_notice(), make_address("phone", person="cto"))
    assert (failed.outcome, failed.reason) == (Outcome.FAILED_PERMANENT, Reason.AUTH)
    assert OTHER_KEY not in failed.detail + repr(channel._routes)
    other = channel.send(make_notice(), make_address("phone", person="ceo"))
    assert other.reason is Reason.NOT_CONFIGURED
