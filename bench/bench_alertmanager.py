"""The baseline of issue 21 item 5: Alertmanager 0.25 taking the bench's alerts one per request, webhook to a local sink.

    .venv/bin/python bench/bench_alertmanager.py [--n 1,100,1000] [--concurrency 32] [--samples 50] [--rounds 1]

Debian's `prometheus-alertmanager` (0.25), started here with a temporary
configuration and data directory on free ports (no cluster), one webhook
receiver pointing at a local HTTP sink (a process of its own, this script run
with `--sink`), `group_by: ['...']` (every alert its own group, as notify opens
an incident per alert group), `group_wait: 0s`. The alerts are bench_ingest.py's
(same labels and annotations, one per request), POSTed to Alertmanager's
`/api/v2/alerts` from `--concurrency` keep-alive senders. Measured as
bench_ingest.py measures notify: alerts/s accepted (200: held in memory; Alertmanager
keeps alerts in memory only, where notify writes every alert and attempt to disk
first), per alert the time from its POST to its webhook at the sink (p50),
the time from the last POST until every alert's webhook has arrived, and until
all have; at low load `--samples` single alerts, POST to webhook.

`bench_ingest.py --alertmanager` runs this in the same rounds as notify, alternating
(the comparison the issue asks for: "in the same run").
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import free_port, machine, median, percentile, post_all, scratch  # noqa: E402

BINARY = "/usr/bin/prometheus-alertmanager"
LABEL = "alertmanager 0.25"

CONFIG = """\
route:
  receiver: sink
  group_by: ['...']
  group_wait: 0s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: sink
    webhook_configs:
      - url: http://127.0.0.1:{port}/hook
        send_resolved: false
"""


def alert(run: str, seq: int) -> bytes:
    """bench_ingest.py's alert (labels, annotations, a fresh startsAt) in Alertmanager's API form, one per request."""
    labels = {"alertname": "BenchLatency", "instance": "127.0.0.1:9100", "run": run, "seq": str(seq),
              "service": "checkout", "severity": "critical"}
    return json.dumps([{
        "labels": labels,
        "annotations": {"summary": f"bench alert {run}-{seq}", "description": "p99 latency over 2 s for 5 minutes"},
        "startsAt": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "generatorURL": "http://127.0.0.1:9090/graph"}]).encode()


# -- the sink: a process of its own, one line per alert in each webhook ---------------------------------------

class _Hook(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        at = time.monotonic()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        lines = [f"HOOK {at!r} {a['labels'].get('run', '-')}-{a['labels'].get('seq', '-')}"
                 for a in json.loads(body).get("alerts", [])]
        with self.server.lock:  # type: ignore[attr-defined]
            sys.stdout.write("".join(line + "\n" for line in lines))
            sys.stdout.flush()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


def sink_main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.lock = threading.Lock()  # type: ignore[attr-defined]
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


class Sink:
    """The sink process and the arrival time of each alert (run-seq), by the machine's monotonic clock."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--sink"], stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline().split()[1])  # type: ignore[union-attr]
        self.arrivals: dict[str, float] = {}
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            _, at, key = line.split()
            with self.cond:
                self.arrivals.setdefault(key, float(at))
                self.cond.notify_all()

    def wait_for(self, keys: list[str], timeout: float = 300.0) -> dict[str, float]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not all(k in self.arrivals for k in keys):
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = sum(k not in self.arrivals for k in keys)
                    raise SystemExit(f"{missing} of {len(keys)} alerts never reached the sink")
                self.cond.wait(left)
            return {k: self.arrivals[k] for k in keys}

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


# -- Alertmanager -------------------------------------------------------------------------------------------------



def one_alertmanager(sizes: list[int], concurrency: int, samples: int) -> dict[str, float]:
    """One fresh Alertmanager (temporary config and data): low-load samples, then a burst of each size."""
    sink = Sink()
    try:
        with scratch("alertmanager-bench-") as work:
            port = free_port()
            (work / "alertmanager.yml").write_text(CONFIG.format(port=sink.port))
            with (work / "alertmanager.log").open("wb") as log:
                proc = subprocess.Popen([BINARY, f"--config.file={work / 'alertmanager.yml'}",
                                         f"--storage.path={work / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                                         "--cluster.listen-address=", "--log.level=warn"],
                                        stdout=log, stderr=log)
            try:
                _ready(port, proc, work / "alertmanager.log")
                return _measure(port, sink, sizes, concurrency, samples)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    finally:
        sink.stop()


def _ready(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/-/ready")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"alertmanager did not become ready: {log.read_text(errors='replace')[-2000:]}")


def _measure(port: int, sink: Sink, sizes: list[int], concurrency: int, samples: int) -> dict[str, float]:
    out: dict[str, float] = {}
    run_id = f"am{time.monotonic_ns()}"
    lows = []
    for seq in range(samples + 3):
        (sent, _, status, _), = post_all(port, "/api/v2/alerts", [alert(f"{run_id}-low", seq)], 1)
        if status != 200:
            raise SystemExit(f"low-load alert {seq}: status {status}")
        at = sink.wait_for([f"{run_id}-low-{seq}"], timeout=30)[f"{run_id}-low-{seq}"]
        if seq >= 3:  # as bench_ingest: the first few warm connections
            lows.append(at - sent)
    if lows:
        out["low load: first delivery p50 ms"] = percentile(lows, 50) * 1000
        print(f"   low load, {len(lows)} single alerts: POST -> webhook at the sink p50 {percentile(lows, 50) * 1000:.1f} "
              f"ms, p99 {percentile(lows, 99) * 1000:.1f} ms")
    for n in sizes:
        run = f"{run_id}-burst{n}"
        bodies = [alert(run, seq) for seq in range(n)]
        started = time.monotonic()
        results = post_all(port, "/api/v2/alerts", bodies, concurrency)
        accepted_at, last_post = max(r[1] for r in results), max(r[0] for r in results)
        if any(r[2] != 200 for r in results):
            raise SystemExit(f"burst of {n}: {sum(r[2] != 200 for r in results)} answers were not 200")
        arrived = sink.wait_for([f"{run}-{seq}" for seq in range(n)])
        to_sink = [arrived[f"{run}-{seq}"] - r[0] for seq, r in enumerate(results)]
        last = max(arrived.values())
        rate = n / (accepted_at - started)
        out[f"burst {n}: accepted"] = rate
        out[f"burst {n}: first delivery p50 ms"] = percentile(to_sink, 50) * 1000
        out[f"burst {n}: every first delivery, after the last POST ms"] = (last - last_post) * 1000
        out[f"burst {n}: all delivered ms"] = (last - started) * 1000
        print(f"   burst of {n:>5}: accepted {rate:7.0f} alerts/s; POST -> webhook at the sink p50 "
              f"{percentile(to_sink, 50) * 1000:.1f} ms, p99 {percentile(to_sink, 99) * 1000:.1f} ms; every webhook "
              f"{(last - last_post) * 1000:.1f} ms after the last POST, {(last - started) * 1000:.1f} ms after the first")
    return out


def main() -> None:
    if sys.argv[1:] == ["--sink"]:
        sink_main()
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", default="1,100,1000")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    sizes = [int(n) for n in args.n.split(",")]
    print(f"== {LABEL}: one alert per request, webhook to a local sink, group_wait 0s")
    print(f"   {machine()}; load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    rounds: list[dict[str, Any]] = []
    for round_no in range(args.rounds):
        print(f"-- round {round_no + 1}")
        rounds.append(one_alertmanager(sizes, args.concurrency, args.samples))
    if args.rounds > 1:
        for key in rounds[0]:
            values = [r[key] for r in rounds]
            print(f"   {key:52} {median(values):.1f} ({min(values):.1f}..{max(values):.1f})")


if __name__ == "__main__":
    main()
