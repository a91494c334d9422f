"""Generic JSON webhook: the documented body, the idempotency key, and URL forms."""

from __future__ import annotations

import base64

import pytest

from channels.webhook import WebhookChannel, parse_webhook_url
from dispatcher.api import ChannelConfig, Outcome, Reason
from dispatcher.testing import ProviderProxy, Reply
from tests.providers_fixtures import isolate_env, make_address, make_notice, receiver  # noqa: F401

HOOK_TARGET = "https://ops.example.com/hooks/notify"


def webhook(url: str, **config) -> WebhookChannel:
    return WebhookChannel(ChannelConfig(url=url, read_timeout=2, **config))


def test_body_and_idempotency_key(receiver):
    receiver.script(Reply(202, ""))
    notice = make_notice(drill=True, subject="[DRILL] SEV1 leak", text="[DRILL] body")
    address = make_address("webhook", HOOK_TARGET, person="secops-bot", role="list:security")
    result = webhook(f"json://127.0.0.1:{receiver.port}/incoming").send(notice, address)
    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", "/incoming")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == "INC-20240607-0042:1:secops-bot:webhook"
    assert request.json == {
        "schema": 1,
        "incident": {"id": "INC-20240607-0042", "class": "security", "step": 1, "drill": True},
        "subject": "[DRILL] SEV1 leak",
        "text": "[DRILL] body",
        "fields": {"service": "api-gateway", "region": "eu-west-1"},
        "recipient": {"person": "secops-bot", "role": "list:security", "channel": "webhook",
                      "target": address.masked},
    }
    assert (result.outcome, result.status) == (Outcome.DELIVERED, 202)


def test_same_attempt_same_key_and_next_step_new_key(receiver):
    channel = webhook(f"json://127.0.0.1:{receiver.port}/")
    channel.send(make_notice(step=1), make_address("webhook", HOOK_TARGET))
    channel.send(make_notice(step=1), make_address("webhook", HOOK_TARGET))
    channel.send(make_notice(step=2), make_address("webhook", HOOK_TARGET))
    keys = [r.headers["Idempotency-Key"] for r in receiver.requests]
    assert keys[0] == keys[1] != keys[2]


def test_credentials_headers_and_params_from_the_apprise_url(receiver):
    url = f"json://bot:s3cret%2Fpw@127.0.0.1:{receiver.port}/in?+X-Api-Key=k3y&-tenant=acme&format=text"
    webhook(url).send(make_notice(), make_address("webhook", HOOK_TARGET))
    (request,) = receiver.requests
    assert request.path == "/in?tenant=acme"  # apprise options are not forwarded
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"bot:s3cret/pw").decode()
    assert request.headers["X-Api-Key"] == "k3y"


def test_plain_http_url_keeps_its_query(receiver):
    webhook(f"http://127.0.0.1:{receiver.port}/hook?team=sec&v=2").send(make_notice(), make_address("webhook", "x"))
    assert receiver.requests[0].path == "/hook?team=sec&v=2"


def test_jsons_is_https_through_the_proxy(monkeypatch):
    with ProviderProxy(hosts=("hooks.example.com",)) as proxy:
        isolate_env(monkeypatch, proxy)
        channel = webhook("jsons://hooks.example.com/notify", ca_bundle=proxy.ca_bundle_path)
        result = channel.send(make_notice(), make_address("webhook", HOOK_TARGET))
        assert result.outcome is Outcome.DELIVERED
        assert proxy.tunnels == ["hooks.example.com"]
        assert proxy["hooks.example.com"].requests[0].path == "/notify"


def test_an_untrusted_certificate_is_a_permanent_connection_failure_naming_it(monkeypatch):
    """Issue 17: a certificate we cannot trust stays untrusted until someone fixes it, as for email."""
    with ProviderProxy(hosts=("hooks.example.com",)) as proxy:
        isolate_env(monkeypatch, proxy)
        result = webhook("jsons://hooks.example.com/notify").send(make_notice(), make_address("webhook", "x"))
        assert (result.outcome, result.reason) == (Outcome.FAILED_PERMANENT, Reason.CONNECTION)
        assert "TLS" in result.detail and proxy["hooks.example.com"].requests == []
        assert result.detail == "TLS certificate of hooks.example.com not trusted: unable to get local issuer certificate"


def test_routes_pick_the_receiver_by_target(receiver):
    channel = WebhookChannel(ChannelConfig(routes={"soc": f"json://127.0.0.1:{receiver.port}/soc"}))
    assert channel.send(make_notice(), make_address("webhook", "soc")).outcome is Outcome.DELIVERED
    unrouted = channel.send(make_notice(), make_address("webhook", "other"))
    assert unrouted.reason is Reason.NOT_CONFIGURED
    assert [r.path for r in receiver.requests] == ["/soc"]


@pytest.mark.parametrize("url, fragment", [
    ("ftp://host/x", "json://"),
    ("json:///nohost", "json://"),
    ("json://host/x?:extra=1", "payload overrides"),
    ("json://host/x?method=GET", "POST"),
])
def test_malformed_urls_are_problems(url, fragment):
    channel = webhook(url)
    (problem,) = channel.problems()
    assert fragment in problem
    assert channel.send(make_notice(), make_address("webhook", "x")).reason is Reason.NOT_CONFIGURED


def test_target_repr_hides_credentials():
    text = repr(parse_webhook_url("json://u:pa55word@host/x?+Authorization=Bearer%20tok3n"))
    assert "pa55word" not in text and "tok3n" not in text


def test_fields_that_are_not_json_types_are_sent_as_text(receiver):
    import datetime

    started = datetime.datetime(2024, 6, 7, 3, 0, tzinfo=datetime.timezone.utc)
    result = webhook(f"json://127.0.0.1:{receiver.port}/").send(
        make_notice(fields={"started": started}), make_address("webhook", "x"))
    assert result.outcome is Outcome.DELIVERED
    assert receiver.requests[0].json["fields"] == {"started": "2024-06-07 03:00:00+00:00"}
