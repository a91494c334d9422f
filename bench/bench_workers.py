"""Throughput of `notify worker` processes sharing one PostgreSQL store, against an endpoint that answers in 50 ms.

    .venv/bin/python bench/bench_workers.py [--workers 1,2,4] [--runs 3] [--total 2000]

For each worker count and run: a fresh schema on 127.0.0.1:5432/test
(NOTIFY_BENCH_POSTGRES_URL names another database), N `python -m dispatcher
worker --interval 0.05` processes with NOTIFY_CONCURRENCY=4, started and
ticking on an empty outbox (so process start-up is not timed); then one
incident with TOTAL webhook deliveries is committed, and the clock runs until
the endpoint has every key and the store says every row is delivered. Throughput is deliveries per second, the median of the
runs; the ratio is against the one-worker median. Every run also checks that no
key arrived twice and none is missing. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dispatcher.store import NewDelivery, open_store  # noqa: E402

BASE_URL = os.environ.get("NOTIFY_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


class Endpoint(ThreadingHTTPServer):
    """A webhook receiver that answers every POST in `delay` seconds and counts Idempotency-Keys."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, delay: float, expected: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay = delay
        self.expected = expected
        self.keys: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.all_received = threading.Event()  # so the bench waits without polling the database


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(self.server.delay)
        with self.server.lock:
            self.server.keys[self.headers["Idempotency-Key"]] += 1
            if len(self.server.keys) >= self.server.expected:
                self.server.all_received.set()
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


@contextmanager
def fresh_schema() -> Iterator[str]:
    name = f"notify_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(BASE_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        separator = "&" if "?" in BASE_URL else "?"
        yield f"{BASE_URL}{separator}options={quote(f'-csearch_path={name}')}"
    finally:
        with psycopg.connect(BASE_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def seed(url: str, total: int) -> None:
    store = open_store(url)
    now = datetime.now(timezone.utc)
    rows = [NewDelivery("0", 0, f"p{i:05d}", f"P {i}", "load", "webhook", "NOTIFY_WEBHOOK_URL", "webhook", "email")
            for i in range(total)]
    store.open_incident({"id": "TEC-2026-999", "class": "technical", "drill": False, "dedup_key": "",
                         "started": now, "fields": {"summary": "bench"}}, rows, prefix="TEC", year=2026, now=now)
    store.close()


def count(conn: psycopg.Connection, query: str) -> int:
    return conn.execute(query).fetchone()[0]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def one_run(workers: int, total: int, concurrency: int, delay: float, logs: Path) -> tuple[float, float, int, int]:
    """Seconds to deliver `total` rows with `workers` processes, their CPU ms per delivery, duplicates, missing."""
    endpoint = Endpoint(delay, total)
    threading.Thread(target=endpoint.serve_forever, daemon=True).start()
    with fresh_schema() as url:
        open_store(url).close()  # create the tables before the workers race to
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "HTTP", "http"))}
        env.update(NOTIFY_STORE_URL=url, NOTIFY_WEBHOOK_URL=f"http://127.0.0.1:{endpoint.server_port}/hook",
                   NOTIFY_CONCURRENCY=str(concurrency))
        procs = []
        for i in range(workers):
            with (logs / f"worker-{workers}-{i}.log").open("w") as out:
                procs.append(subprocess.Popen([sys.executable, "-m", "dispatcher", "worker", "--interval", "0.05"],
                                              env=env, stdout=out, stderr=subprocess.STDOUT))
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                deadline = time.monotonic() + 60
                while count(conn, "SELECT COUNT(*) FROM workers") < workers:  # every worker is ticking
                    if time.monotonic() > deadline:
                        raise SystemExit(f"workers did not start; see {logs}")
                    time.sleep(0.02)
                cpu_before = cpu_seconds([p.pid for p in procs])
                started = time.monotonic()
                seed(url, total)
                if not endpoint.all_received.wait(timeout=600):
                    raise SystemExit(f"not drained after 600 s; see {logs}")
                # the last attempts are recorded a moment after their request arrived
                while count(conn, "SELECT COUNT(*) FROM deliveries WHERE status = 'delivered'") < total:
                    time.sleep(0.002)
                elapsed = time.monotonic() - started
                cpu_ms = (cpu_seconds([p.pid for p in procs]) - cpu_before) * 1000 / total
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(timeout=60)
    endpoint.shutdown()
    endpoint.server_close()
    duplicates = sum(n > 1 for n in endpoint.keys.values())
    return elapsed, cpu_ms, duplicates, total - len(endpoint.keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,4", help="worker process counts, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--total", type=int, default=2000, help="deliveries per run")
    parser.add_argument("--concurrency", type=int, default=4, help="NOTIFY_CONCURRENCY of each worker")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds the endpoint takes to answer")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    with psycopg.connect(BASE_URL) as conn:
        server = conn.info.parameter_status("server_version")
    print(f"{datetime.now(timezone.utc):%Y-%m-%d}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"PostgreSQL {server}; {args.total} deliveries, "
          f"endpoint {args.delay * 1000:.0f} ms, NOTIFY_CONCURRENCY={args.concurrency}, median of {args.runs} runs")
    medians: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="notify-bench-") as tmp:
        for workers in counts:
            rates = []
            for run in range(args.runs):
                elapsed, cpu_ms, duplicates, missing = one_run(workers, args.total, args.concurrency, args.delay,
                                                               Path(tmp))
                rates.append(args.total / elapsed)
                print(f"  {workers} worker(s), run {run + 1}: {elapsed:6.2f} s, {rates[-1]:6.1f} deliveries/s, "
                      f"worker CPU {cpu_ms:.1f} ms/delivery, {duplicates} duplicates, {missing} missing", flush=True)
                if duplicates or missing:
                    raise SystemExit("a delivery was duplicated or lost: the numbers above do not count")
            medians[workers] = statistics.median(rates)
    baseline = medians[counts[0]]
    ideal = args.concurrency / args.delay
    print(f"\n{'workers':>7} {'deliveries/s':>13} {'ratio':>6} {'of ideal':>9}")
    for workers, rate in medians.items():
        print(f"{workers:>7} {rate:>13.1f} {rate / baseline:>5.2f}x {rate / (ideal * workers):>8.0%}")


if __name__ == "__main__":
    main()
