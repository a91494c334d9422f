"""Sends paced per provider route (issue 21): a burst goes out at the providers' rate, pages first, without a 429.

Slack's and Twilio's stand-ins enforce one message a second per route (a
webhook, a sender number) on the test's clock and answer 429 past it, as the
real providers do. The worker is ticked on that clock, a quarter second at a
time: what it sends is decided by the budgets in the store, never by how fast
this machine is.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from dispatcher.app import engine
from dispatcher.app.incidents import post_update, status_document, status_text
from dispatcher.app.worker import Worker
from dispatcher.clock import FakeClock
from dispatcher.domain.plan import plan_step
from dispatcher.testing.limits import RateLimitedRecorder, slack_route, twilio_route
from dispatcher.testing.providers import Reply
from dispatcher.testing.proxy import PROVIDER_HOSTS, ProviderProxy
from dispatcher.testing.smtp import SmtpServer

from .stage import FIELDS, Stage

QUARTER = timedelta(seconds=0.25)


@pytest.fixture
def stage(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    """The usual stage, its Slack webhook and Twilio sender limited to one message a second on its clock."""
    clock = FakeClock()
    limited = {"hooks.slack.com": (Reply(200, "ok"), slack_route),
               "api.twilio.com": (Reply(201, {"sid": "SM0001", "status": "queued"}), twilio_route)}

    def recorder(host: str):
        from dispatcher.testing.providers import Recorder

        if host not in limited:
            return Recorder()
        reply, route = limited[host]
        return RateLimitedRecorder(reply, rate=1.0, now=clock.monotonic, route=route)

    with SmtpServer() as smtp, ProviderProxy(PROVIDER_HOSTS, recorder=recorder) as proxy:
        for name, value in proxy.env().items():
            monkeypatch.setenv(name, value)
        yield Stage(smtp, proxy, config_dir, tmp_path / "notify.db", clock)


def open_unsent(stage: Stage, rt, store, klass: str, incident_id: str) -> str:
    """Store an incident and its step-0 rows as a stored webhook would, leaving the sending to the worker."""
    incident = engine.new_incident(rt, klass, FIELDS, now=stage.clock.now(), drill=False, incident_id=incident_id)
    planned = plan_step(incident, rt.klass(klass), 0, rt.directory)
    opened, _ = store.open_incident(engine.incident_record(incident), [engine.outbox_row(p) for p in planned],
                                    prefix=rt.klass(klass).prefix, year=stage.clock.now().year, now=stage.clock.now())
    return opened


def refused(stage: Stage) -> int:
    return sum(len(stage.proxy[host].refused) for host in ("hooks.slack.com", "api.twilio.com"))


def run_worker(stage: Stage, worker: Worker, store, on_turn=lambda: None, turns: int = 2000) -> int:
    """Tick the worker a quarter second at a time until nothing is left to send; how many ticks it took."""
    for turn in range(turns):
        worker.tick()
        on_turn()
        if store.next_due() is None:
            return turn
        stage.clock.advance(QUARTER)
    raise AssertionError(f"still sending after {turns} ticks")


def test_a_burst_of_20_incidents_goes_out_paced_pages_first_without_a_429(stage: Stage) -> None:
    rt = stage.runtime(rate_limits={"slack": "1/s", "twilio": "1/s"})  # the defaults (the suite runs unpaced)
    store = stage.store()
    worker = Worker(rt, store, stage.clock)
    ids = [open_unsent(stage, rt, store, "security", f"SEC-2026-{n:03d}") for n in range(1, 21)]
    for incident_id in ids[:5]:  # status updates stored with the burst: notices, behind every page
        post_update(rt, store, incident_id, "Investigating", "ben.okafor", stage.clock.now())
    seen_queued: list[str] = []

    def look() -> None:
        if not seen_queued and store.queued():
            seen_queued.append(status_text(status_document(rt, store, store.queued()[0].incident_id,
                                                           stage.clock.now())))

    run_worker(stage, worker, store, look)

    assert refused(stage) == 0  # not one 429: the sends kept to the stand-ins' one a second per route
    rows = [d for incident_id in ids for d in store.deliveries(incident_id)]
    assert all(d.status.is_accepted or d.status == "posted" or d.status == "skipped" for d in rows), \
        {(d.channel, d.status, d.reason) for d in rows if not d.status.is_final or d.status.is_failure}
    log = store.attempts()
    assert {a.attempt for a in log} == {1}  # waiting for a budget cost no attempt and no retry
    slack = stage.proxy["hooks.slack.com"].accepted
    twilio = stage.proxy["api.twilio.com"].accepted
    assert len(slack) >= 20 and len(twilio) >= 20  # a real burst on both routes
    for route in {route for route, _, _ in slack + twilio}:  # the webhook, the sender's messages, the calls
        times = [at for r, at, _ in slack + twilio if r == route]
        assert all(later - earlier >= 1.0 for earlier, later in itertools.pairwise(times)), route
    pages = [a.at for a in log if a.kind == "step" and a.channel == "slack"]
    updates = [a.at for a in log if a.kind == "update" and a.channel == "slack"]
    assert updates and max(pages) < min(updates)  # under the shortage, every page went before any update
    assert re.search(r"pending +queued: waiting for (slack:default|twilio:sender-1)'s rate budget \(1/s\), next try at"
                     r" 03:00:01 UTC; pacing, not a failure", seen_queued[0]), seen_queued[0]


def test_the_same_burst_unpaced_is_answered_429_by_the_stand_ins(stage: Stage) -> None:
    """The control: without budgets the same stand-ins refuse the burst (so the test above can fail)."""
    rt = stage.runtime(rate_limits={"slack": "off", "twilio": "off"})
    store = stage.store()
    worker = Worker(rt, store, stage.clock)
    for n in range(1, 4):
        open_unsent(stage, rt, store, "security", f"SEC-2026-{n:03d}")
    worker.tick()
    assert refused(stage) > 0
    assert any(a.reason == "rate-limited" for a in store.attempts())


def test_a_429_blocks_its_route_for_the_retry_after_and_queues_what_follows(stage: Stage) -> None:
    slack = stage.proxy["hooks.slack.com"]
    slack.script(Reply(429, {"ok": False}, headers={"Retry-After": "30"}), Reply(200, "ok"))
    rt = stage.runtime(rate_limits={"slack": "1/s", "twilio": "1/s"})  # the defaults (the suite runs unpaced)
    store = stage.store()
    worker = Worker(rt, store, stage.clock)
    open_unsent(stage, rt, store, "security", "SEC-2026-001")
    worker.tick()
    [budget] = [b for b in store.budgets() if b.route == "slack:default"]
    assert budget.bucket.throttled == 1 and budget.blocked_until == stage.clock.now() + timedelta(seconds=30)
    before = len(slack.requests)
    open_unsent(stage, rt, store, "security", "SEC-2026-002")  # its Slack page comes due while the route is blocked
    for _ in range(100):  # 25 s: the route stays blocked
        stage.clock.advance(QUARTER)
        worker.tick()
    assert len(slack.requests) == before
    assert {q.route for q in store.queued()} == {"slack:default"}
    run_worker(stage, worker, store)
    assert len(slack.requests) > before


def test_a_page_queued_past_a_tenth_of_its_sla_is_flagged_in_status_and_metrics(stage: Stage) -> None:
    from dispatcher.app.queues import route_queues
    from dispatcher.server.metrics import Metrics

    from .helpers import SLACK_HOOK

    rt = stage.runtime(rate_limits={"slack": "1/min"})
    store = stage.store()
    worker = Worker(rt, store, stage.clock)
    ids = [open_unsent(stage, rt, store, "security", f"SEC-2026-{n:03d}") for n in range(1, 4)]
    worker.tick()  # one Slack page goes, two wait for the next minute's token
    stage.clock.advance(timedelta(seconds=95))  # the security class's response SLA is 15 minutes: 90 s is a tenth
    flagged = [i for i in ids if "LATE: a page queued 95 s, over a tenth of its 15 min response SLA"
               in status_text(status_document(rt, store, i, stage.clock.now()))]
    assert flagged == ids[1:]
    doc = status_document(rt, store, ids[1], stage.clock.now())
    [slack] = [d for d in doc["deliveries"] if d["channel"] == "slack"]
    assert slack["outcome"] == "pending" and slack["queued"]["route"] == "slack:default"
    assert slack["queued"]["late"] is True and slack["queued"]["waited_seconds"] == 95.0

    scraped = Metrics(store, stage.clock.now, queues=lambda: route_queues(rt, store, stage.clock.now())).render()
    text = scraped.decode()
    assert 'notify_route_queue_depth{route="slack:default"} 2.0' in text
    assert 'notify_route_queue_wait_seconds{route="slack:default"} 95.0' in text
    assert 'notify_route_late_pages{route="slack:default"} 2.0' in text
    assert 'notify_route_throttled_total{route="slack:default"} 0.0' in text
    assert SLACK_HOOK not in text and "hooks.slack.com" not in text and "+1" not in text  # names, never URLs or numbers
