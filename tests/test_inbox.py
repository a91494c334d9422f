"""The worker's side of the inbox: what a crash or a stall in the middle of a batch leaves behind.

A real SQLite store and the shipped policy; the faults come from a store that
passes every call through to the real one and fails (or stalls) one of them.
Pages are counted as the step-0 rows the store holds: a group paged twice
would have two incidents with step-0 rows.
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from dispatcher.clock import FakeClock
from dispatcher.app.engine import load_runtime
from dispatcher.app.inbox import GIVE_UP_AFTER, INBOX_LEASE, TOGETHER, TOGETHER_FOR, Inbox, retry_delay
from dispatcher.config.settings import load_settings
from dispatcher.store import StoreError, open_store

PAYLOAD = json.loads((Path(__file__).parent / "payloads" / "alertmanager-0.25-webhook-v4.json").read_text())


class FaultyStore:
    """The real store, except that the n-th open_incident first runs `fault` (which may raise)."""

    def __init__(self, store: Any, n: int, fault: Callable[[], None], **more: Callable[[], None]) -> None:
        self._store, self._calls = store, 0
        self._faults = {n: fault, **{int(k.removeprefix("then_")): f for k, f in more.items()}}

    def reset(self) -> None:
        """Count open_incident calls from zero again (the fault strikes the n-th one again)."""
        self._calls = 0

    def open_incident(self, *args: Any, **kwargs: Any) -> Any:
        self._calls += 1
        if self._calls in self._faults:
            self._faults[self._calls]()
        return self._store.open_incident(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.fixture
def setup(config_dir: Path, tmp_path: Path) -> Iterator[tuple[Any, Any, FakeClock]]:
    store = open_store(f"sqlite:///{tmp_path / 'notify.db'}")
    yield load_runtime(config_dir, load_settings()), store, FakeClock()
    store.close()


def notification(group: int, status: str = "firing") -> tuple[str, str]:
    body = copy.deepcopy(PAYLOAD)
    body["groupKey"], body["status"] = f'{{}}:{{alertname="G{group}"}}', status
    body["alerts"] = [dict(body["alerts"][0], status=status, fingerprint=f"{group:016x}")]
    body["commonAnnotations"] = body["alerts"][0]["annotations"] = {"summary": f"G{group}"}
    return "alertmanager:" + body["groupKey"], json.dumps(body)


def enqueue(store: Any, clock: FakeClock, *events: tuple[int, str]) -> None:
    for group, status in events:
        key, body = notification(group, status)
        store.enqueue("alertmanager", key, body, clock.now())


def incidents_by_group(store: Any) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for row in sorted(store.incidents(), key=lambda r: r.id):
        groups.setdefault(row.fields["summary"], []).append(row.status)
    return groups


def test_a_store_failure_mid_batch_is_retried_soon_and_holds_up_only_its_group(setup, caplog) -> None:
    rt, store, clock = setup
    enqueue(store, clock, (1, "firing"), (2, "firing"), (1, "resolved"), (2, "resolved"), (3, "firing"))

    def outage() -> None:
        raise StoreError("store gone for a moment")

    failing = Inbox(rt, FaultyStore(store, 2, outage), clock, "worker-a")  # the 2nd open_incident fails
    assert failing.drain(send=lambda: None) == 5
    assert "attempts=1 retry_at=2026-11-26T03:00:02" in caplog.text  # a store hiccup costs 2 s, not a minute
    assert incidents_by_group(store) == {"G1": ["resolved"], "G3": ["open"]}  # 2's resolve waited behind it
    assert store.inbox_counts() == (2, 1, 0)
    assert Inbox(rt, store, clock, "worker-a").drain(send=lambda: None) == 0  # not before the retry time
    clock.advance(timedelta(seconds=2))
    while Inbox(rt, store, clock, "worker-a").drain(send=lambda: None):
        pass
    assert store.inbox_counts() == (0, 0, 0)
    assert incidents_by_group(store) == {"G1": ["resolved"], "G2": ["resolved"], "G3": ["open"]}


def test_a_row_that_keeps_failing_is_given_up_after_ten_attempts_and_its_group_goes_on(setup, caplog) -> None:
    rt, store, clock = setup
    enqueue(store, clock, (1, "firing"), (1, "resolved"))

    def broken() -> None:
        raise RuntimeError("a bug")

    inbox = Inbox(rt, FaultyStore(store, 1, broken), clock, "worker-a")
    for attempt in range(1, GIVE_UP_AFTER + 1):
        assert inbox.drain(send=lambda: None) == 2  # the firing fails; its resolve is skipped behind it
        inbox.store.reset()
        clock.advance(retry_delay(attempt))
    assert 'inbox.given-up incident=- inbox_event=1 source=alertmanager' in caplog.text
    assert f'attempts={GIVE_UP_AFTER} reason="RuntimeError: a bug"' in caplog.text
    assert inbox.drain(send=lambda: None) == 1  # the resolve, no longer held up
    assert store.inbox_counts() == (0, 0, 1)  # given up: no longer waiting
    assert incidents_by_group(store) == {}  # its resolve was handled: nothing of that group was opened


def test_a_worker_killed_mid_batch_leaves_no_handled_row_but_the_last_to_replay(setup) -> None:
    """On SQLite the rows of a batch commit together (Inbox TOGETHER at a time): a worker killed between two
    of them leaves neither group 1's incident nor its delete, and group 1 is handled again, once."""
    rt, store, clock = setup
    enqueue(store, clock, (1, "firing"), (2, "firing"), (3, "firing"))

    def killed() -> None:
        raise SystemExit("SIGKILL")  # the process ends here, between two rows of its batch

    with pytest.raises(SystemExit):
        Inbox(rt, FaultyStore(store, 2, killed), clock, "worker-a").drain(send=lambda: None)
    assert store.inbox_counts() == (3, 0, 0) and store.incidents() == []  # nothing of the batch committed
    clock.advance(INBOX_LEASE)  # the dead worker's hold runs out
    while Inbox(rt, store, clock, "worker-b").drain(send=lambda: None):
        pass
    assert len(store.incidents()) == 3 and store.inbox_counts() == (0, 0, 0)


def test_an_owner_that_stalls_past_its_lease_stops_and_nothing_is_paged_twice(
        setup, caplog: pytest.LogCaptureFixture) -> None:
    rt, store, clock = setup
    enqueue(store, clock, (1, "firing"), (2, "firing"), (3, "firing"))
    other = Inbox(rt, store, clock, "worker-b")
    taken_over: list[int] = []

    def stall_until_another_takes_over() -> None:
        clock.advance(INBOX_LEASE + timedelta(seconds=1))  # a 61 s stall inside one write
        taken_over.append(other.drain(send=lambda: None))

    stalled = Inbox(rt, FaultyStore(store, 1, stall_until_another_takes_over), clock, "worker-a")
    stalled.drain(send=lambda: None)
    assert taken_over == [3]  # b took the whole inbox once a's lease ran out
    assert "webhook 1: this worker's hold on the inbox ran out and another took over" in caplog.text
    assert store.inbox_counts() == (0, 0, 0)
    assert sorted(store.open_by_dedup_key(notification(g)[0]).id for g in (1, 2, 3)) == \
        sorted(row.id for row in store.incidents())  # three groups, three incidents, none opened twice
    assert all(len(store.deliveries(row.id, 0)) > 0 for row in store.incidents())


def test_a_worker_keeps_only_the_recently_used_incidents_read(setup, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker runs for months: what it keeps per incident it sent for must not grow with every incident."""
    from dispatcher.app import worker as worker_module

    rt, store, clock = setup
    monkeypatch.setattr(worker_module, "INCIDENT_CACHE", 2)
    enqueue(store, clock, (1, "firing"), (2, "firing"), (3, "firing"))
    worker = worker_module.Worker(rt, store, clock)
    worker.tick()
    assert len(store.incidents()) == 3
    assert all(d.attempts == 1 for row in store.incidents() for d in store.deliveries(row.id, 0)
               if d.status != "skipped")  # every incident's rows were sent for (and failed: no settings here)
    assert len(worker._incidents) == 2


def test_a_long_batch_renews_its_hold_so_no_other_owner_takes_over_midway(setup) -> None:
    rt, store, clock = setup
    enqueue(store, clock, (1, "firing"), (2, "firing"), (3, "firing"))
    tried: list[list] = []

    def slow() -> None:
        clock.advance(timedelta(seconds=50))  # the first row took 50 s: the next starts with 10 s of lease left

    def another_owner_looks() -> None:
        clock.advance(timedelta(seconds=15))  # past the claim's 60 s, not past the renewal's
        tried.append(store.claim_inbox("worker-b", clock.now(), clock.now() + INBOX_LEASE, limit=10))

    Inbox(rt, FaultyStore(store, 1, slow, then_3=another_owner_looks), clock, "worker-a").drain(send=lambda: None)
    assert tried == [[]]  # the inbox was still worker-a's
    assert store.inbox_counts() == (0, 0, 0) and len(store.incidents()) == 3


def test_a_full_tick_handles_a_bounded_number_of_batches_so_timers_and_sends_get_their_turn(
        setup, monkeypatch: pytest.MonkeyPatch) -> None:
    from dispatcher.app import worker as worker_module

    rt, store, clock = setup
    monkeypatch.setattr(worker_module, "BATCHES_PER_TICK", 2)
    enqueue(store, clock, *((g, "firing") for g in range(1, 6)))
    worker = worker_module.Worker(rt, store, clock, inbox_batch=1)
    worker.tick()
    assert store.inbox_counts() == (3, 0, 0) and len(store.incidents()) == 2  # the rest: the next tick, or a wake
    worker.tick()
    worker.tick()
    assert store.inbox_counts() == (0, 0, 0) and len(store.incidents()) == 5


def test_webhooks_commit_together_in_transactions_bounded_in_count_and_in_time(setup, tmp_path: Path) -> None:
    """The store's write lock, which the server's accept path needs, is held for at most TOGETHER rows and
    TOGETHER_FOR seconds of the (injected) clock: what another connection sees tells where commits fell."""
    rt, store, clock = setup
    enqueue(store, clock, *((g, "firing") for g in range(1, TOGETHER + 4)))
    other = open_store(f"sqlite:///{tmp_path / 'notify.db'}")
    seen: list[int] = []

    def look() -> None:  # before each open_incident: the incidents committed so far
        seen.append(len(other.incidents()))

    def slow() -> None:  # this row's triage takes longer than the transaction may
        look()
        clock.advance(timedelta(seconds=TOGETHER_FOR * 2))

    faults = {f"then_{n}": look for n in range(2, TOGETHER + 4)}
    faults["then_2"] = slow
    try:
        Inbox(rt, FaultyStore(store, 1, look, **faults), clock, "worker-a").drain(send=lambda: None)
    finally:
        other.close()
    # row 1 and the slow row 2 in one transaction; rows 3 .. TOGETHER + 2 in the next (TOGETHER of them); then the rest
    assert seen == [0, 0, *[2] * TOGETHER, 2 + TOGETHER]
    assert len(store.incidents()) == TOGETHER + 3
