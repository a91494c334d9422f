"""Worker processes sharing one PostgreSQL store: every delivery once, and a killed worker's rows taken over.

Real `python -m dispatcher worker` processes, a real PostgreSQL schema and a
local HTTP receiver that counts each Idempotency-Key it gets. The counts are
printed (run with -s to see them).
"""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator

import pytest

from dispatcher.store import NewDelivery, open_store

from . import pg

pytestmark = pytest.mark.slow  # notify worker processes against PostgreSQL

TOTAL = 2000
INCIDENT = "TEC-2026-900"
CONCURRENCY = 8  # per worker; also the most rows a worker holds leased at once


class Sink(ThreadingHTTPServer):
    """A webhook receiver that counts each Idempotency-Key it gets, answering after a short pause."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, delay: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay = delay
        self.keys: Counter[str] = Counter()
        self.lock = threading.Lock()

    def received(self) -> int:
        with self.lock:
            return sum(self.keys.values())


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(self.server.delay)
        with self.server.lock:
            self.server.keys[self.headers["Idempotency-Key"]] += 1
        try:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        except (BrokenPipeError, ConnectionResetError):  # the worker was killed while waiting for this answer
            pass

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink(delay=0.01)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def seed(store_url: str, total: int = TOTAL) -> None:
    """One incident with `total` webhook deliveries in the outbox, as a trigger would leave them."""
    store = open_store(store_url)
    now = datetime.now(timezone.utc)
    rows = [NewDelivery("0", 0, f"p{i:04d}", f"P {i}", "load", "webhook", "NOTIFY_WEBHOOK_URL", "webhook", "email")
            for i in range(total)]
    record = {"id": INCIDENT, "class": "technical", "drill": False, "dedup_key": "", "started": now,
              "fields": {"summary": "load"}}
    store.open_incident(record, rows, prefix="TEC", year=2026, now=now)
    store.close()


def environment(store_url: str, sink: Sink) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "HTTP", "http"))}
    env.update(NOTIFY_STORE_URL=store_url, NOTIFY_WEBHOOK_URL=f"http://127.0.0.1:{sink.server_port}/hook",
               NOTIFY_CONCURRENCY=str(CONCURRENCY), NOTIFY_CONNECT_TIMEOUT="1", NOTIFY_READ_TIMEOUT="1")
    return env


def start_worker(env: dict[str, str], log: Path, *extra: str) -> subprocess.Popen:
    """A worker process; its output goes to a file, so a chatty worker never blocks on a full pipe."""
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "-m", "dispatcher", "worker", *extra], env=env,
                                stdout=out, stderr=subprocess.STDOUT, text=True)


def outbox(store_url: str) -> Counter[tuple[str, str | None]]:
    """(status, lease owner) -> rows, read straight from the table: the store's rows do not show owners."""
    import psycopg

    with psycopg.connect(store_url) as conn:
        return Counter({(status, owner): n for status, owner, n in conn.execute(
            "SELECT status, lease_owner, COUNT(*) FROM deliveries GROUP BY 1, 2")})


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def kill_holding_leases(victim: subprocess.Popen, held: Callable[[], int]) -> None:
    """SIGKILL a worker at a moment it holds leased rows (frozen with SIGSTOP to look, so the look is exact)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        victim.send_signal(signal.SIGSTOP)
        wait_for(lambda: _state(victim.pid) == "T", 5, "the worker to stop")
        if held():
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)
            return
        victim.send_signal(signal.SIGCONT)  # between two batches: let it lease the next one
        time.sleep(0.003)
    raise AssertionError("the worker never held a lease when looked at")


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def stop(procs: list[subprocess.Popen], logs: list[Path]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc, log in zip(procs, logs):
        proc.wait(timeout=60)
        assert proc.returncode in (0, -signal.SIGKILL), log.read_text()


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_worker_processes_drain_the_outbox_with_no_duplicate_and_none_lost(
        workers: int, sink: Sink, tmp_path: Path) -> None:
    with pg.schema("workers") as url:
        seed(url)
        env = environment(url, sink)
        logs = [tmp_path / f"worker-{i}.log" for i in range(workers)]
        started = time.monotonic()
        procs = [start_worker(env, log, "--interval", "0.05") for log in logs]
        try:
            wait_for(lambda: sink.received() >= TOTAL and outbox(url) == {("delivered", None): TOTAL}, 120,
                     f"{TOTAL} deliveries")
            elapsed = time.monotonic() - started
        finally:
            stop(procs, logs)
        store = open_store(url)
        rows = store.deliveries(INCIDENT)
        attempts = store.attempts(incident_id=INCIDENT)
        store.close()
    twice = sum(count > 1 for count in sink.keys.values())
    print(f"\n{workers} worker(s): {TOTAL} deliveries, {len(sink.keys)} received, {twice} duplicates, "
          f"{TOTAL - len(sink.keys)} lost, {sum(r.possible_duplicate for r in rows)} flagged, {elapsed:.1f} s "
          f"(process start included)")
    assert len(sink.keys) == TOTAL and twice == 0
    assert {r.status for r in rows} == {"delivered"} and len(attempts) == TOTAL
    assert not any(r.possible_duplicate for r in rows)


def test_a_killed_workers_rows_are_taken_over_after_its_lease_expires(sink: Sink, tmp_path: Path) -> None:
    with pg.schema("kill") as url:
        seed(url)
        env = environment(url, sink)
        logs = [tmp_path / f"worker-{i}.log" for i in range(4)]
        procs = [start_worker(env, log, "--interval", "0.05") for log in logs]
        victim, survivors = procs[0], procs[1:]
        try:
            wait_for(lambda: sink.received() >= TOTAL // 4, 60, "a quarter of the deliveries")
            dead = f"worker-{socket.gethostname()}-{victim.pid}"
            kill_holding_leases(victim, lambda: outbox(url)[("in-flight", dead)])
            received_at_kill = sink.received()
            # The survivors send everything but the dead worker's rows, whose lease (2 x (1 + 1) + 30 s) holds.
            wait_for(lambda: set(outbox(url)) <= {("delivered", None), ("in-flight", dead)}, 120,
                     "the survivors to send every row but the dead worker's")
            in_doubt = outbox(url)[("in-flight", dead)]
        finally:
            stop(procs, logs)
        assert 0 < received_at_kill < TOTAL, "the kill must land mid-run"
        assert 0 < in_doubt <= CONCURRENCY

        # Three survivors tick at once as if 40 s had passed: the dead lease has expired, its rows are taken over.
        later = (datetime.now(timezone.utc) + timedelta(seconds=40)).isoformat()
        ticks = [subprocess.Popen([sys.executable, "-m", "dispatcher", "worker", "--once", "--yes", "--at", later], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
        takeover = [(p, *p.communicate(timeout=120)) for p in ticks]
        assert all(p.returncode == 0 for p, _, _ in takeover), [err for _, _, err in takeover]

        store = open_store(url)
        rows = store.deliveries(INCIDENT)
        flagged = {f"{INCIDENT}:0:{r.person}:webhook" for r in rows if r.possible_duplicate}
        log_flags = {f"{INCIDENT}:0:{a.person}:webhook" for a in store.attempts(incident_id=INCIDENT)
                     if a.possible_duplicate}
        store.close()
    twice = {key for key, count in sink.keys.items() if count > 1}
    print(f"\nkill test: 4 workers, {TOTAL} deliveries, {received_at_kill} received at SIGKILL, "
          f"{len(sink.keys)} delivered, {len(twice)} duplicates, {TOTAL - len(sink.keys)} lost, "
          f"{len(flagged)} flagged possibly duplicated (rows the killed worker held: {in_doubt})")
    assert Counter(r.status for r in rows) == {"delivered": TOTAL}
    assert len(sink.keys) == TOTAL  # none lost
    assert twice <= flagged and all(count <= 2 for count in sink.keys.values())  # a repeat only where flagged
    assert len(flagged) == in_doubt  # exactly the rows the dead worker held, no others
    assert log_flags == flagged  # and the delivery log says so


def test_timers_ticked_by_four_worker_processes_at_once_fire_once(tmp_path: Path) -> None:
    with pg.schema("timers") as url:
        store = open_store(url)
        started = datetime(2026, 11, 26, 3, 0, tzinfo=timezone.utc)
        store.open_incident({"id": "SEC-2026-001", "class": "security", "drill": False, "dedup_key": "",
                             "started": started, "fields": {"summary": "Unusual admin logins",
                                                                        "customer": "Acme Corp"}},
                            [], prefix="SEC", year=2026, now=started)
        store.close()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "HTTP", "http"))}
        env.update(NOTIFY_STORE_URL=url)
        at = (started + timedelta(minutes=31)).isoformat()  # step 1, two escalations, a reminder, a missed update
        ticks = [subprocess.Popen([sys.executable, "-m", "dispatcher", "worker", "--once", "--yes", "--at", at], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
        outputs = [(p, *p.communicate(timeout=120)) for p in ticks]
        assert all(p.returncode == 0 for p, _, _ in outputs), [err for _, _, err in outputs]
        store = open_store(url)
        events = store.events("SEC-2026-001")
        rows = store.deliveries("SEC-2026-001")
        attempts = store.attempts(incident_id="SEC-2026-001")
        store.close()
    fired = [int(out.split(": ")[1].split(" timer")[0]) for _, out, _ in outputs]
    timers = [e.key for e in events if e.kind != "triggered"]
    print(f"\ntimers: 4 processes ticked at +31 min; fired per process {fired}; {len(timers)} timer events; "
          f"{len(rows)} deliveries, {len(attempts)} attempts")
    assert sum(fired) == len(timers) == len(set(timers)) == 5  # each timer fired by exactly one process
    assert {e.kind for e in events} == {"triggered", "step", "escalation", "reminder", "overdue"}
    # no channel has settings here, so each row fails once, finally; none was attempted by two processes
    assert all(r.attempts == 1 for r in rows if r.status != "skipped") and \
        len(attempts) == sum(r.attempts for r in rows)


def test_webhooks_stored_by_serve_are_handled_by_one_worker_at_a_time_in_the_order_received(
        sink: Sink, tmp_path: Path) -> None:
    """Every group fires, resolves and fires again; three workers must never split that order between them."""
    groups = 60
    payload = json.loads((Path(__file__).parent / "payloads" / "alertmanager-0.25-webhook-v4.json").read_text())

    def notification(group: int, status: str) -> str:
        body = copy.deepcopy(payload)
        body["groupKey"], body["status"] = f'{{}}:{{alertname="Load{group}"}}', status
        body["alerts"] = body["alerts"][:1]
        body["alerts"][0].update(status=status, fingerprint=f"{group:016x}")
        return json.dumps(body)

    with pg.schema("inbox") as url:
        store = open_store(url)
        now = datetime.now(timezone.utc)
        for status in ("firing", "resolved", "firing"):  # all firings, then all resolves, then all firings again
            for group in range(groups):
                body = notification(group, status)
                store.enqueue("alertmanager", "alertmanager:" + json.loads(body)["groupKey"], body, now)
        store.close()
        env = environment(url, sink)
        logs = [tmp_path / f"worker-{i}.log" for i in range(3)]
        procs = [start_worker(env, log, "--interval", "0.05") for log in logs]
        try:
            wait_for(lambda: _inbox_left(url) == 0, 120, "the inbox to be handled")
        finally:
            stop(procs, logs)
        import psycopg

        with psycopg.connect(url) as conn:
            incidents = conn.execute("SELECT dedup_key, status FROM incidents ORDER BY id").fetchall()
    by_group: dict[str, list[str]] = {}
    for dedup_key, status in incidents:
        by_group.setdefault(dedup_key, []).append(status)
    assert len(by_group) == groups and all(s == ["resolved", "open"] for s in by_group.values()), by_group


def _inbox_left(url: str) -> int:
    store = open_store(url)
    try:
        return store.inbox_counts()[0]
    finally:
        store.close()
