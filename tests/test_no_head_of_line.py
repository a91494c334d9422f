"""A hanging provider holds up only its own deliveries: not other channels' pages, not the worker's timers (issue 21).

Twilio's stand-in takes every request and answers none until the test lets it
(a held reply); a security incident's phone call and SMS hang there. A
technical incident stored after it pages Slack only: its page must arrive while
the Twilio sends still hang, and a timer that comes due meanwhile must fire.
The assertions are about order (what had happened when what arrived), never
about elapsed time; the waits below only bound a broken build.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dispatcher.api import Capabilities, DeliveryResult, Notice, TargetKind
from dispatcher.app import engine
from dispatcher.app.worker import Worker
from dispatcher.clock import SystemClock
from dispatcher.config.settings import load_settings
from dispatcher.delivery.pool import provider_route
from dispatcher.delivery.registry import Registry
from dispatcher.delivery.sender import RetryPolicy, Sender
from dispatcher.domain.plan import plan_step
from dispatcher.store import NewDelivery, open_store
from dispatcher.testing.providers import Reply

from .helpers import wait_for
from .stage import FIELDS, Stage, make_stage

NOTICE = Notice("OUT-2026-001", "outage", 0, "subject", "text")
LONG = 30.0  # read timeout and send deadline: the hung sends end only when the test releases them


STARTED = datetime(2026, 11, 26, 3, 12, tzinfo=UTC)


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    yield from make_stage(config_dir, tmp_path, monkeypatch)




def open_unsent(stage: Stage, rt, store, klass: str, incident_id: str, channels: set[str] | None = None) -> str:
    """Store an incident and its step-0 rows as a stored webhook would, leaving the sending to the worker."""
    incident = engine.new_incident(rt, klass, FIELDS, now=stage.clock.now(), drill=False, incident_id=incident_id)
    planned = plan_step(incident, rt.klass(klass), 0, rt.directory)
    planned = [p for p in planned if channels is None or p.address.channel in channels]
    opened, _ = store.open_incident(engine.incident_record(incident), [engine.outbox_row(p) for p in planned],
                                    prefix=rt.klass(klass).prefix, year=stage.clock.now().year,
                                    now=stage.clock.now())
    return opened


def test_a_slack_page_and_a_due_timer_go_ahead_while_twilio_hangs(stage: Stage) -> None:
    release = threading.Event()
    twilio = stage.proxy["api.twilio.com"]
    twilio.script(Reply(201, {"sid": "SM0001", "status": "queued"}, hold=release))
    # Slack unpaced: the two incidents' posts share one webhook, and this test's clock stands still (pacing is
    # tests/test_paced_sending.py's)
    rt = stage.runtime(read_timeout=LONG, send_deadline=LONG, rate_limits={"slack": "off"})
    store = stage.store()
    worker = Worker(rt, store, stage.clock)
    stop, wake = threading.Event(), threading.Event()
    loop = threading.Thread(target=worker.run, args=(stop, 0.05, wake), name="test-worker")
    loop.start()
    try:
        security = open_unsent(stage, rt, store, "security", "SEC-2026-001")
        wake.set()
        wait_for("the call and the SMS to reach Twilio", lambda: len(twilio.requests) == 2)

        technical = open_unsent(stage, rt, store, "technical", "TEC-2026-001", channels={"slack"})
        wake.set()
        wait_for("the technical incident's Slack page", lambda: slack_pages_for(stage, technical))
        hung = twilio_rows(store, security)
        assert {d.status for d in hung} == {"in-flight"}  # both Twilio sends still hang...
        assert not store.attempts(incident_id=security) or all(
            a.channel not in ("phone", "sms") for a in store.attempts(incident_id=security))  # ...unanswered
        assert not release.is_set()

        stage.clock.advance(timedelta(minutes=16))  # security's step 1 ("Executive notification") comes due
        wait_for("the step-1 timer to fire", lambda: any(d.step == 1 for d in store.deliveries(security)))
        assert {d.status for d in twilio_rows(store, security)} == {"in-flight"}  # the timer did not wait for them
    finally:
        release.set()
    try:
        wait_for("the Twilio sends to finish", lambda: {d.status for d in twilio_rows(store, security)} == {"delivered"})
    finally:
        stop.set()
        wake.set()
        loop.join(30)
        store.close()
    assert not loop.is_alive()  # stopped, in-flight sends finished
    store = stage.store()
    attempts = [a for a in store.attempts(incident_id=security) if a.channel in ("phone", "sms")]
    store.close()
    assert Counter((a.channel, a.masked_target) for a in attempts if (a.step, a.kind) == (0, "step")) == {
        ("phone", "+14******99"): 1, ("sms", "+14******99"): 1}  # the hung call and SMS, each sent once
    assert len(twilio.requests) == len(attempts)  # no send went out twice, though its sender was busy for long


def twilio_rows(store, incident_id: str) -> list:
    return [d for d in store.deliveries(incident_id, 0) if d.channel in ("phone", "sms")]


def slack_pages_for(stage: Stage, incident_id: str) -> list:
    return [r for r in stage.proxy["hooks.slack.com"].requests if incident_id in r.json.get("text", "")]


class GatedChannel:
    """A stand-in channel whose sends wait for the test: a hung provider without a socket."""

    capabilities = Capabilities(target=TargetKind.URL, template="email")

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.gate, self.sent, self.lock = gate, [], threading.Lock()

    def configured(self) -> bool:
        return True

    def send(self, notice, address) -> DeliveryResult:
        with self.lock:
            self.sent.append(address.target)
        if self.gate is not None:
            assert self.gate.wait(30), "never released"
        return DeliveryResult.delivered(status=200)

    def close(self) -> None:
        pass


def test_rows_past_a_channels_slots_go_back_to_the_outbox_while_other_channels_start(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'notify.db'}")
    gate = threading.Event()
    sms, hook = GatedChannel(gate), GatedChannel()
    registry = Registry(load_settings(), None)
    registry._instances.update(sms=sms, webhook=hook)
    sender = Sender(store, registry, SystemClock(), lambda row: (NOTICE, None), "w1", RetryPolicy(1),
                    concurrency=4, per_route=2, lease=timedelta(minutes=2))
    rows = [NewDelivery("0", 0, f"p{i}", f"P{i}", "list:all", "sms", f"s{i}", f"s{i}", "email") for i in range(4)]
    rows.append(NewDelivery("0", 0, "hook", "Hook", "list:all", "webhook", "h", "h", "email"))
    record = {"id": "OUT-2026-001", "class": "outage", "drill": False, "dedup_key": "OUT-2026-001",
              "started": STARTED, "fields": {"summary": "x"}}
    store.open_incident(record, rows, prefix="OUT", year=2026, now=STARTED)
    try:
        assert sender.attempt_due(limit=4, wait=False) == 2  # the four SMS rows came first; two slots
        assert sender.held_back == 2
        assert sender.attempt_due(limit=4, wait=False) == 1  # SMS is full: the webhook row is claimed and sent
        wait_for("the webhook send", lambda: any(d.status == "delivered" for d in store.deliveries("OUT-2026-001")))
        by_target = {d.target: d.status for d in store.deliveries("OUT-2026-001")}
        assert hook.sent == ["h"]
        assert by_target == {"s0": "in-flight", "s1": "in-flight", "s2": "pending", "s3": "pending", "h": "delivered"}
        assert sorted(sms.sent) == ["s0", "s1"]  # the others wait in the outbox, free for any sender
    finally:
        gate.set()
    sender.close()  # lets the sends in flight finish
    assert sender.attempt_due(limit=4) == 2  # a tick: the two SMS rows given back, sent now
    sender.close()
    assert {d.status for d in store.deliveries("OUT-2026-001")} == {"delivered"}
    assert sorted(sms.sent) == ["s0", "s1", "s2", "s3"]  # each once
    assert not any(d.possible_duplicate for d in store.deliveries("OUT-2026-001"))
    store.close()


@pytest.mark.parametrize(("url", "route"), [
    ("twilio://AC01:secret@+15550100000", "twilio://+15550100000"),
    ("twilio://AC01:secret@+15550100000?method=call", "twilio://+15550100000"),  # calls share the SMS number's
    ("https://hooks.slack.com/services/T0/B0/XXXX", "https://hooks.slack.com"),
    ("mailtos://notify:hunter2@smtp.example.com:587", "mailtos://smtp.example.com"),  # no credentials, no port
    ("", None),
    (None, None),
])
def test_a_provider_route_is_the_urls_scheme_and_host_without_credentials(url, route) -> None:
    assert provider_route(url) == route


def test_sms_and_calls_from_one_twilio_number_share_one_routes_slots(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'notify.db'}")
    gate = threading.Event()
    twilio = "twilio://AC01:secret@+15550100000"
    registry = Registry(load_settings(sms_url=twilio, phone_url=twilio + "?method=call"), None)
    registry._instances.update(sms=GatedChannel(gate), phone=GatedChannel(gate))
    sender = Sender(store, registry, SystemClock(), lambda row: (NOTICE, None), "w1", RetryPolicy(1),
                    concurrency=8, per_route=2, lease=timedelta(minutes=2))
    rows = [NewDelivery("0", 0, f"p{i}", f"P{i}", "list:all", channel, f"+1555010{i:04d}", "+1***", "email")
            for i, channel in enumerate(["sms", "phone", "phone", "sms"])]
    record = {"id": "OUT-2026-001", "class": "outage", "drill": False, "dedup_key": "OUT-2026-001",
              "started": STARTED, "fields": {"summary": "x"}}
    store.open_incident(record, rows, prefix="OUT", year=2026, now=STARTED)
    try:
        assert sender.attempt_due(limit=8, wait=False) == 2  # one SMS, one call: the number's two slots
        assert (sender.held_back, sender.attempt_due(limit=8, wait=False)) == (2, 0)  # both channels full now
    finally:
        gate.set()
    sender.close()
    assert sender.attempt_due(limit=8) == 2
    sender.close()
    assert {d.status for d in store.deliveries("OUT-2026-001")} == {"delivered"}
    store.close()
