"""Slack: the exact requests Slack receives, and how its answers are read."""

from __future__ import annotations

import pytest

from channels.slack import SlackChannel, parse_slack_url
from dispatcher.api import ChannelConfig, Outcome, Reason, Routing
from dispatcher.testing import Reply
from tests.providers_fixtures import make_address, make_notice, proxy  # noqa: F401 - fixture

HOOK = "https://hooks.slack.com/services/T0001AAAA/B0001BBBB/XyZsecretTokenC"
SEC_HOOK = "https://hooks.slack.com/services/T0001AAAA/B0002SEC/SecAlertsToken"
BOT = "slack://xoxb-1111-2222-BotTokenSecret/"


def slack(proxy, url=HOOK, **config) -> SlackChannel:
    return SlackChannel(ChannelConfig(url=url, ca_bundle=proxy.ca_bundle_path, read_timeout=2, **config))


def test_incoming_webhook_gets_text_with_unfurling_off(proxy):
    notice = make_notice(text="Disk full on *db-1* <https://grafana/d/1|dashboard>")
    result = slack(proxy).send(notice, make_address("slack", "#ops"))
    (request,) = proxy["hooks.slack.com"].requests
    assert (request.method, request.path) == ("POST", "/services/T0001AAAA/B0001BBBB/XyZsecretTokenC")
    assert request.headers["Content-Type"] == "application/json"
    assert request.json == {"text": notice.text, "unfurl_links": False, "unfurl_media": False}
    assert result.outcome is Outcome.DELIVERED and result.status == 200
    # The default webhook posts to its own channel whatever was asked: say so.
    assert result.delivered_to == "webhook for default"


def test_apprise_webhook_form_maps_to_the_hooks_url(proxy):
    result = slack(proxy, "slack://T0001AAAA/B0001BBBB/XyZsecretTokenC/#ignored").send(
        make_notice(), make_address("slack", "#ops"))
    (request,) = proxy["hooks.slack.com"].requests
    assert request.path == "/services/T0001AAAA/B0001BBBB/XyZsecretTokenC"  # case kept
    assert result.outcome is Outcome.DELIVERED


def test_a_routed_channel_uses_its_own_webhook(proxy):
    channel = slack(proxy, routes={"#security-alerts": SEC_HOOK})
    routed = channel.send(make_notice(), make_address("slack", "#Security-Alerts"))
    default = channel.send(make_notice(), make_address("slack", "#random"))
    first, second = proxy["hooks.slack.com"].requests
    assert first.path == "/services/T0001AAAA/B0002SEC/SecAlertsToken"
    assert second.path == "/services/T0001AAAA/B0001BBBB/XyZsecretTokenC"
    assert routed.delivered_to == "webhook for #security-alerts"
    assert default.delivered_to == "webhook for default"


def test_routes_alone_serve_their_channels_and_refuse_others(proxy):
    channel = SlackChannel(ChannelConfig(routes={"#security-alerts": SEC_HOOK}, ca_bundle=proxy.ca_bundle_path))
    assert channel.configured() and channel.problems() == []
    assert channel.send(make_notice(), make_address("slack", "#security-alerts")).outcome is Outcome.DELIVERED
    other = channel.send(make_notice(), make_address("slack", "#random"))
    assert (other.outcome, other.reason) == (Outcome.FAILED_PERMANENT, Reason.NOT_CONFIGURED)
    assert len(proxy["hooks.slack.com"].requests) == 1


def test_bot_token_posts_to_chat_post_message(proxy):
    proxy["slack.com"].script(Reply(200, {"ok": True, "channel": "C024BE91L", "ts": "1717761234.000200"}))
    notice = make_notice()
    result = slack(proxy, BOT).send(notice, make_address("slack", "#security-alerts"))
    (request,) = proxy["slack.com"].requests
    assert (request.method, request.path) == ("POST", "/api/chat.postMessage")
    assert request.headers["Authorization"] == "Bearer xoxb-1111-2222-BotTokenSecret"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.json == {"channel": "#security-alerts", "text": notice.text,
                            "unfurl_links": False, "unfurl_media": False}
    assert result.outcome is Outcome.DELIVERED
    assert (result.delivered_to, result.provider_id) == ("C024BE91L", "1717761234.000200")


def test_a_person_behind_an_incoming_webhook_is_mentioned_and_only_posted(proxy):
    notice = make_notice(text="SEV1 on api-gateway")
    result = slack(proxy).send(notice, make_address("slack", "U0STS00001", person="senior-tech-1"))
    (request,) = proxy["hooks.slack.com"].requests
    assert request.path == "/services/T0001AAAA/B0001BBBB/XyZsecretTokenC"
    assert request.json == {"text": "<@U0STS00001> SEV1 on api-gateway", "unfurl_links": False, "unfurl_media": False}
    assert (result.outcome, result.status) == (Outcome.POSTED, 200)
    assert result.delivered_to == "webhook for default, mentioning U0STS00001"
    assert "not sent to the person" in result.detail


def test_a_person_behind_a_bot_token_gets_a_direct_message_delivered(proxy):
    proxy["slack.com"].script(Reply(200, {"ok": True, "channel": "D0STS0001", "ts": "1717761234.000300"}))
    notice = make_notice(text="SEV1 on api-gateway")
    result = slack(proxy, BOT).send(notice, make_address("slack", "U0STS00001", person="senior-tech-1"))
    (request,) = proxy["slack.com"].requests
    assert (request.method, request.path) == ("POST", "/api/chat.postMessage")
    assert request.json == {"channel": "U0STS00001", "text": "SEV1 on api-gateway",
                            "unfurl_links": False, "unfurl_media": False}  # no mention needed in a DM
    assert (result.outcome, result.delivered_to) == (Outcome.DELIVERED, "D0STS0001")


def test_a_failed_mention_post_stays_a_failure(proxy):
    proxy["hooks.slack.com"].script(Reply(404, "no_service"))
    result = slack(proxy).send(make_notice(), make_address("slack", "U0STS00001"))
    assert (result.outcome, result.reason) == (Outcome.FAILED_PERMANENT, Reason.AUTH)


def test_bot_token_from_the_token_argument(proxy):
    proxy["slack.com"].script(Reply(200, {"ok": True, "channel": "C1", "ts": "1.0"}))
    slack(proxy, "slack://?token=xoxb-9-9-Other").send(make_notice(), make_address("slack", "C1"))
    assert proxy["slack.com"].requests[0].headers["Authorization"] == "Bearer xoxb-9-9-Other"


@pytest.mark.parametrize("error, outcome, reason", [
    ("channel_not_found", Outcome.FAILED_PERMANENT, Reason.BAD_ADDRESS),
    ("not_in_channel", Outcome.FAILED_PERMANENT, Reason.BAD_ADDRESS),
    ("is_archived", Outcome.FAILED_PERMANENT, Reason.BAD_ADDRESS),
    ("invalid_auth", Outcome.FAILED_PERMANENT, Reason.AUTH),
    ("token_revoked", Outcome.FAILED_PERMANENT, Reason.AUTH),
    ("ratelimited", Outcome.FAILED_TRANSIENT, Reason.RATE_LIMITED),
    ("internal_error", Outcome.FAILED_TRANSIENT, Reason.SERVER_ERROR),
    ("msg_too_long", Outcome.FAILED_PERMANENT, Reason.BAD_REQUEST),
])
def test_web_api_errors_inside_a_200_are_failures(proxy, error, outcome, reason):
    proxy["slack.com"].script(Reply(200, {"ok": False, "error": error}))
    result = slack(proxy, BOT).send(make_notice(), make_address("slack", "#x"))
    assert (result.outcome, result.reason, result.status) == (outcome, reason, 200)
    assert error in result.detail


def test_a_200_that_is_not_slack_json_is_not_called_delivered(proxy):
    proxy["slack.com"].script(Reply(200, "<html>captive portal</html>"))
    result = slack(proxy, BOT).send(make_notice(), make_address("slack", "#x"))
    assert (result.outcome, result.reason) == (Outcome.FAILED_PERMANENT, Reason.UNKNOWN)


@pytest.mark.parametrize("status, body, reason", [
    (400, "invalid_payload", Reason.BAD_REQUEST),
    (400, "user_not_found", Reason.BAD_ADDRESS),
    (403, "action_prohibited", Reason.AUTH),
    (403, "invalid_token", Reason.AUTH),
    (404, "channel_not_found", Reason.BAD_ADDRESS),
    (404, "no_service", Reason.AUTH),  # the webhook itself was revoked: replace the URL
    (410, "channel_is_archived", Reason.BAD_ADDRESS),
])
def test_incoming_webhook_error_strings(proxy, status, body, reason):
    proxy["hooks.slack.com"].script(Reply(status, body))
    result = slack(proxy).send(make_notice(), make_address("slack", "#ops"))
    assert (result.outcome, result.reason, result.status) == (Outcome.FAILED_PERMANENT, reason, status)
    assert result.detail == f"HTTP {status} from hooks.slack.com: {body}"


def test_webhook_rollup_error_stays_transient(proxy):
    proxy["hooks.slack.com"].script(Reply(500, "rollup_error"))
    result = slack(proxy).send(make_notice(), make_address("slack", "#ops"))
    assert (result.outcome, result.reason) == (Outcome.FAILED_TRANSIENT, Reason.SERVER_ERROR)


@pytest.mark.parametrize("url", [
    "https://hooks.slack.com/services/T1/B1",  # two tokens
    "https://example.com/services/T1/B1/C1",  # not Slack
    "slack://T1/B1",  # apprise webhook form needs three tokens
    "mailto://someone",
])
def test_malformed_urls_are_problems_and_send_nothing(proxy, url):
    channel = slack(proxy, url)
    assert channel.configured() and len(channel.problems()) == 1
    result = channel.send(make_notice(), make_address("slack", "#ops"))
    assert result.reason is Reason.NOT_CONFIGURED
    assert proxy.requests == []


def test_a_broken_route_is_reported_by_name(proxy):
    channel = slack(proxy, routes={"#sec": "https://hooks.slack.com/services/nope"})
    assert channel.problems() and "'#sec'" in channel.problems()[0]
    assert channel.send(make_notice(), make_address("slack", "#sec")).reason is Reason.NOT_CONFIGURED


def test_parsed_destination_repr_hides_tokens():
    assert "BotTokenSecret" not in repr(parse_slack_url(BOT))
    assert "XyZsecretTokenC" not in repr(parse_slack_url(HOOK))


SHARED = ("share one incoming webhook, which posts to a single channel: give each its own webhook_env or use a "
          "bot token")


def test_directory_channels_behind_one_incoming_webhook_are_a_routing_warning(proxy):
    channel = slack(proxy, routes={"#security-alerts": SEC_HOOK})
    assert isinstance(channel, Routing)  # the hooks `notify check` calls
    assert channel.route_warnings(["#ops", "#security-alerts", "#support"]) == [f"#ops, #support {SHARED}"]
    assert channel.route_warnings(["#ops", "#security-alerts"]) == []  # one channel per webhook
    assert proxy.requests == []  # found without sending


def test_a_bot_token_routes_every_channel_and_person_itself(proxy):
    channel = slack(proxy, BOT)
    assert channel.route_warnings(["#ops", "#support"]) == []
    assert channel.posted_only("U0STS00001") is None  # a direct message reaches them


def test_a_person_behind_an_incoming_webhook_can_only_be_posted(proxy):
    channel = slack(proxy)
    why = channel.posted_only("U0STS00001")
    assert why is not None and "incoming webhook" in why and "slack://xoxb-" in why
    assert channel.posted_only("#ops") is None  # a channel post is what a webhook does
    assert slack(proxy, url=None).posted_only("U0STS00001") is None  # no URL: `problems` says so instead
