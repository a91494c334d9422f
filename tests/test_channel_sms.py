"""SMS via Twilio: the exact request api.twilio.com receives, and Twilio's error codes."""

from __future__ import annotations

import base64

import pytest

from channels._twilio import parse_twilio_url
from channels.sms import SmsChannel
from dispatcher.api import ChannelConfig, Outcome, Reason
from dispatcher.testing import Reply
from tests.providers_fixtures import FROM, SID, TO, make_address, make_notice, proxy  # noqa: F401

TOKEN = "f00dfeedTokenValue"
URL = f"twilio://{SID}:{TOKEN}@{FROM}"
MESSAGES = f"/2010-04-01/Accounts/{SID}/Messages.json"


def sms(proxy, url=URL) -> SmsChannel:
    return SmsChannel(ChannelConfig(url=url, ca_bundle=proxy.ca_bundle_path, read_timeout=2))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_message_is_a_form_post_with_basic_auth(proxy):
    proxy["api.twilio.com"].script(Reply(201, {"sid": "SM5f6d0000", "status": "queued"}))
    notice = make_notice(text="[DRILL] SEV1 INC-1: ack with notify ack INC-1 & call the bridge")
    result = sms(proxy).send(notice, make_address("sms", TO))
    (request,) = proxy["api.twilio.com"].requests
    assert (request.method, request.path) == ("POST", MESSAGES)
    assert request.headers["Authorization"] == basic(SID, TOKEN)
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form == {"To": TO, "From": FROM, "Body": notice.text}
    assert result.outcome is Outcome.DELIVERED
    assert (result.status, result.provider_id) == (201, "SM5f6d0000")


def test_query_form_and_api_key_authenticate_as_the_key(proxy):
    url = f"twilio://{FROM}?sid={SID}&token={TOKEN}&apikey=SK0123abcd"
    sms(proxy, url).send(make_notice(), make_address("sms", TO))
    (request,) = proxy["api.twilio.com"].requests
    assert request.path == MESSAGES
    assert request.headers["Authorization"] == basic("SK0123abcd", TOKEN)
    assert request.form["From"] == FROM


@pytest.mark.parametrize("status, code, reason", [
    (400, 21211, Reason.BAD_ADDRESS),  # invalid 'To'
    (400, 21614, Reason.BAD_ADDRESS),  # not a mobile number
    (400, 21610, Reason.BAD_ADDRESS),  # recipient replied STOP
    (400, 21602, Reason.BAD_REQUEST),  # message body required
    (401, 20003, Reason.AUTH),
    (404, 20404, Reason.AUTH),  # wrong Account SID: our credential, not the recipient
])
def test_twilio_error_codes(proxy, status, code, reason):
    proxy["api.twilio.com"].script(Reply(status, {"code": code, "message": f"error {code}",
                                                  "more_info": f"https://www.twilio.com/docs/errors/{code}",
                                                  "status": status}))
    result = sms(proxy).send(make_notice(), make_address("sms", TO))
    assert (result.outcome, result.reason, result.status) == (Outcome.FAILED_PERMANENT, reason, status)
    assert f'"code": {code}' in result.detail and result.detail.startswith(f"HTTP {status} from api.twilio.com: ")


def test_rate_limit_code_stays_transient(proxy):
    proxy["api.twilio.com"].script(Reply(429, {"code": 20429, "message": "Too Many Requests"}))
    result = sms(proxy).send(make_notice(), make_address("sms", TO))
    assert (result.outcome, result.reason, result.retry_after) == (Outcome.FAILED_TRANSIENT, Reason.RATE_LIMITED, None)


@pytest.mark.parametrize("target", ["555-0100", "0044 20 7946 0000", "+0123456789", "alice@example.com", ""])
def test_non_e164_numbers_fail_before_any_request(proxy, target):
    result = sms(proxy).send(make_notice(), make_address("sms", target))
    assert (result.outcome, result.reason) == (Outcome.FAILED_PERMANENT, Reason.BAD_ADDRESS)
    assert proxy.requests == []


@pytest.mark.parametrize("url, fragment", [
    (f"twilio://{SID}@{FROM}", "auth token missing"),
    (f"twilio://NOTASID:{TOKEN}@{FROM}", "Account SID"),
    (f"twilio://{SID}:{TOKEN}@12345678", "From must be"),
    (f"twilio://{SID}:{TOKEN}@w:{FROM}", "whatsapp"),
    (f"twilio://{SID}:{TOKEN}@{FROM}?method=fax", "method"),
])
def test_malformed_urls_are_problems(proxy, url, fragment):
    channel = sms(proxy, url)
    (problem,) = channel.problems()
    assert fragment in problem and TOKEN not in problem
    assert channel.send(make_notice(), make_address("sms", TO)).reason is Reason.NOT_CONFIGURED
    assert proxy.requests == []


def test_short_code_sender_and_punctuated_number_are_normalised():
    assert parse_twilio_url(f"twilio://{SID}:{TOKEN}@12345").sender == "12345"
    assert parse_twilio_url(f"twilio://{SID}:{TOKEN}@1(555)010-0000").sender == "+15550100000"


def test_account_repr_hides_the_token():
    assert TOKEN not in repr(parse_twilio_url(URL))


def test_a_call_url_is_flagged_for_the_sms_channel(proxy):
    assert "method=call" in sms(proxy, URL + "?method=call").problems()[0]
