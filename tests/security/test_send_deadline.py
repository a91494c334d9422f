"""Each attempt has a total deadline (NOTIFY_SEND_DEADLINE), even against a provider that drips its answer.

The stand-ins answer one byte every 50 ms: every read succeeds well within the
read timeout, so only a deadline on the whole attempt ends it. The tests assert
outcomes and what the stand-in received, never elapsed time.
"""

from __future__ import annotations

import socket
import threading


from channels.phone import PhoneChannel
from channels.slack import SlackChannel
from channels.sms import SmsChannel
from channels.webhook import WebhookChannel
from dispatcher.api import ChannelConfig, Outcome, Reason
from dispatcher.testing.providers import Recorded, Recorder, Reply
from dispatcher.testing.proxy import ProviderProxy
from tests.providers_fixtures import SID, isolate_env, make_address, make_notice, proxy, receiver  # noqa: F401
from tests.stage import Stage

DEADLINE = 0.3
DRIP = 0.05  # a byte every 50 ms: an answer of ~100 bytes would take ~5 s
HOOK = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXX"


def config(proxy: ProviderProxy | None = None, **kw) -> ChannelConfig:
    values = dict(read_timeout=5.0, connect_timeout=5.0, send_deadline=DEADLINE,
                  ca_bundle=proxy.ca_bundle_path if proxy else None)
    return ChannelConfig(**{**values, **kw})


def test_a_slack_answer_dripping_past_the_deadline_is_possibly_delivered_not_retried(proxy) -> None:
    proxy["hooks.slack.com"].script(Reply(200, "ok", drip=DRIP))
    result = SlackChannel(config(proxy, url=HOOK)).send(make_notice(), make_address("slack", "#security-alerts"))
    assert result.outcome is Outcome.POSSIBLY_DELIVERED and result.reason is Reason.TIMEOUT
    assert "deadline" in result.detail and "may have" in result.detail
    (request,) = proxy["hooks.slack.com"].requests  # it reached Slack: whether Slack posted it is unknown
    assert request.json["text"] == make_notice().text


def test_a_twilio_sms_past_the_deadline_is_possibly_delivered(proxy) -> None:
    proxy["api.twilio.com"].script(Reply(201, {"sid": "SM1", "status": "queued"}, drip=DRIP))
    channel = SmsChannel(config(proxy, url=f"twilio://{SID}:authtoken@+15550100000"))
    result = channel.send(make_notice(), make_address("sms"))
    assert result.outcome is Outcome.POSSIBLY_DELIVERED
    assert len(proxy["api.twilio.com"].requests) == 1


def test_a_pagerduty_event_past_the_deadline_is_a_transient_failure_its_dedup_key_makes_safe_to_retry(proxy) -> None:
    proxy["events.pagerduty.com"].script(Reply(202, {"status": "success", "dedup_key": "k"}, drip=DRIP))
    channel = PhoneChannel(config(proxy, url="pagerduty://routingkey0123@apikey"))
    result = channel.send(make_notice(dedup_key="INC/1/alice"), make_address("phone"))
    assert result.outcome is Outcome.FAILED_TRANSIENT and result.reason is Reason.TIMEOUT
    assert "dedup" in result.detail
    (request,) = proxy["events.pagerduty.com"].requests
    assert request.json["dedup_key"] == "INC/1/alice"


def test_a_webhook_past_the_deadline_is_a_transient_failure_its_idempotency_key_makes_safe_to_retry(receiver) -> None:
    receiver.script(Reply(200, "ok", drip=DRIP))
    result = WebhookChannel(config(url=f"{receiver.url}/hook")).send(make_notice(), make_address("webhook"))
    assert result.outcome is Outcome.FAILED_TRANSIENT and result.reason is Reason.TIMEOUT
    (request,) = receiver.requests
    assert request.headers["Idempotency-Key"]


def test_a_deadline_reached_before_the_request_went_out_is_a_plain_transient_timeout(monkeypatch) -> None:
    """A proxy that accepts the connection and never answers CONNECT: Slack never saw the message."""
    with silent_listener() as port:
        isolate_env(monkeypatch)
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{port}")
        result = SlackChannel(config(url=HOOK)).send(make_notice(), make_address("slack", "#security-alerts"))
    assert result.outcome is Outcome.FAILED_TRANSIENT and result.reason is Reason.TIMEOUT
    assert "before the request was sent" in result.detail


def test_a_quick_answer_is_unaffected_by_the_deadline(proxy) -> None:
    proxy["hooks.slack.com"].script(Reply(200, "ok"))
    channel = SlackChannel(config(proxy, url=HOOK))
    results = [channel.send(make_notice(), make_address("slack", "#security-alerts")) for _ in range(3)]
    assert [r.outcome for r in results] == [Outcome.DELIVERED] * 3  # the pooled connection still works
    assert len(proxy["hooks.slack.com"].requests) == 3


# --- the core: no retry, record it, try the fallback; or retry where the provider deduplicates ---------

class ByPath(Recorder):
    """One host whose replies depend on the path: Twilio's Calls drip, its Messages answer at once."""

    def __init__(self, replies: dict[str, Reply]) -> None:
        super().__init__()
        self.replies = replies

    def take(self, request: Recorded) -> Reply:
        super().take(request)
        return next(reply for suffix, reply in self.replies.items() if request.path.endswith(suffix))


def test_a_call_past_the_deadline_is_recorded_possibly_delivered_and_the_fallback_is_tried(
        stage: Stage, rotation_week) -> None:
    stage.start_in(rotation_week)
    twilio = ByPath({"/Calls.json": Reply(201, {"sid": "CA1", "status": "queued"}, drip=DRIP),
                     "/Messages.json": Reply(201, {"sid": "SM1", "status": "queued"})})
    stage.proxy._recorders["api.twilio.com"] = twilio
    stage.trigger(send_deadline=DEADLINE)
    store = stage.store()
    rows = store.deliveries("SEC-2024-001")
    attempts = store.attempts(incident_id="SEC-2024-001")
    store.close()
    (phone,) = [r for r in rows if r.channel == "phone"]
    assert phone.status == "possibly-delivered" and phone.attempts == 1  # never retried: a second call may ring
    assert len(stage.twilio("Calls")) == 1
    (logged,) = [a for a in attempts if a.channel == "phone"]
    assert logged.outcome == "possibly-delivered" and "deadline" in logged.detail
    (fallback,) = [r for r in rows if r.fallback_of == phone.id]
    assert fallback.channel == "email" and fallback.status == "delivered"
    assert any(fallback.target in envelope.rcpt_tos for envelope in stage.smtp.envelopes)


def test_a_pagerduty_page_past_the_deadline_is_retried_with_the_same_dedup_key(stage: Stage, rotation_week) -> None:
    stage.start_in(rotation_week)
    stage.proxy["events.pagerduty.com"].script(Reply(202, {"status": "success"}, drip=DRIP),
                                               Reply(202, {"status": "success", "dedup_key": "k"}))
    stage.trigger(send_deadline=DEADLINE, phone_url="pagerduty://routingkey0123@apikey")
    store = stage.store()
    (phone,) = [r for r in store.deliveries("SEC-2024-001") if r.channel == "phone"]
    store.close()
    assert phone.status == "delivered" and phone.attempts == 2
    first, second = stage.proxy["events.pagerduty.com"].requests
    assert first.json["dedup_key"] == second.json["dedup_key"]  # PagerDuty collapses them into one incident


class silent_listener:
    """A TCP server on 127.0.0.1 that accepts connections and never says a word."""

    def __enter__(self) -> int:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.accepted: list[socket.socket] = []
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()
        return self.sock.getsockname()[1]

    def _accept(self) -> None:
        self.sock.settimeout(0.05)
        while not self.stop.is_set():
            try:
                self.accepted.append(self.sock.accept()[0])
            except OSError:
                continue

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for conn in self.accepted:
            conn.close()
        self.sock.close()
