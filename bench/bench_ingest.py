"""Ingest: `notify serve` stores >= 1,000 Alertmanager alerts/s, first delivery p50 < 10 ms, idle PSS < 100 MB.

    .venv/bin/python bench/bench_ingest.py [--n 1,100,1000] [--concurrency 32] [--samples 50]
                                           [--rounds 3] [--notify OTHER_TREE/.venv/bin/notify]

One `notify serve --no-auth` per run (the installed console script, shipped
configuration, its own fresh store) with NOTIFY_EMAIL_URL and NOTIFY_WEBHOOK_URL
pointing at local sinks (below); Slack, SMS and phone are not configured, so
their step-0 rows fail at once (recorded, with their fallbacks).
Every alert is one Alertmanager v4 webhook (the real sample in
tests/payloads/, severity=critical, so each opens an outage incident) with its
own groupKey and fingerprint.

- idle memory: VmRSS of the serve process two seconds after it answers /healthz,
  and of its sender child; "PSS" adds both processes' proportional set sizes
  (pages they share are counted once; since issue 17 the child is a spawned
  `notify worker`, not a fork, so they share little). Target < 100 MB (issue 17);
- low load: `--samples` single alerts, one at a time; for each, the time from
  just before the POST is written to its incident's step-0 webhook arriving at
  the HTTP sink, and to its first step-0 delivery of any kind (the answer
  itself, POST to 202, is reported too);
- bursts of N = 1, 100, 1,000 alerts from `--concurrency` keep-alive senders:
  alerts/s accepted (202 = durably stored in the inbox), per-alert time to the
  webhook and to the first delivery (p50/p99), the time from the last POST
  until every incident has had its first delivery (issue 21: within 2 s for
  1,000), and the time until every step-0 delivery of the burst is done (the
  outbox is drained and every incident's email and webhook have arrived); and
  the CPU the server and its senders spent on the burst, per alert (steadier
  than wall time on a shared machine);
- the repeat path: the same 1,000 alerts again (same groupKeys: queued, then
  `duplicate`, nothing planned), alerts/s;
- the accept path alone: another burst of the largest N
  new alerts with the sender child stopped (SIGSTOP) until every 202 is in;
- RSS after all of it.

The sender is always serve's child process (a spawned `notify worker` since
issue 17; the `--worker-thread` mode and `--senders thread` are gone). With
`--notify` another tree's serve runs too, alternating with this one, one fresh
server each, `--rounds` times; with `--alertmanager`, Alertmanager 0.25 too
(bench_alertmanager.py: the same alerts, one per request, webhook to a local
sink, group_wait 0s; what it measures has the same names); the summary gives
medians over the rounds (min..max) and the ratio to this tree.

Two sinks, each its own process: the SMTP sink (bench/_smtp_sink.py) for the
step-0 emails, and a local HTTP sink (bench/_endpoint.py, answering at once)
for the outbound webhook (NOTIFY_WEBHOOK_URL), which every incident's step 0
also sends. The p50 target is judged on an incident's first step-0 delivery
of either kind; the webhook's own arrival at the HTTP sink is printed beside
it (it is the last of the step-0 rows, so its notice is rendered after the
people's: about 6 ms later).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (NOTIFY, ROOT, children, clean_env, cpu_seconds, endpoint, endpoint_records, free_port, machine,  # noqa: E402
                     median, percentile, post_all, scratch, verdict)

SAMPLE = json.loads((ROOT / "tests" / "payloads" / "alertmanager-0.25-webhook-v4.json").read_text())


def alert_summary(run: str, seq: int) -> str:
    return f"bench alert {run}-{seq}"


def alert(run: str, seq: int) -> bytes:
    labels = {"alertname": "BenchLatency", "instance": "127.0.0.1:9100", "run": run, "seq": str(seq),
              "service": "checkout", "severity": "critical"}
    body = json.loads(json.dumps(SAMPLE))
    body["alerts"][0]["labels"] = labels
    body["alerts"][0]["fingerprint"] = f"{abs(hash((run, seq))):016x}"[:16]
    body["alerts"][0]["annotations"]["summary"] = body["commonAnnotations"]["summary"] = alert_summary(run, seq)
    body["alerts"][0]["startsAt"] = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")  # a fresh alert
    body["groupLabels"] = body["commonLabels"] = labels
    body["groupKey"] = "{}:{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    return json.dumps(body).encode()


class Sink:
    """The SMTP sink process and the arrival times it reports, by incident id."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("_smtp_sink.py"))],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        self.port = int(line.split()[1])
        self.arrivals: dict[str, list[float]] = {}
        self.order: list[tuple[str, float]] = []
        self.count = 0
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            _, at, incident, *_ = line.split()
            with self.cond:
                self.arrivals.setdefault(incident, []).append(float(at))
                self.order.append((incident, float(at)))
                self.count += 1
                self.cond.notify_all()

    def next_new(self, seen: int, timeout: float = 10.0) -> tuple[str, float] | None:
        """The first message after the first `seen` whose incident had no message before: (incident, time)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                known = {incident for incident, _ in self.order[:seen]}
                for incident, at in self.order[seen:]:
                    if incident not in known:
                        return incident, at
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def first(self, incident: str, timeout: float = 10.0) -> float | None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while incident not in self.arrivals:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)
            return min(self.arrivals[incident])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)



def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def pending(port: int) -> float:
    """Deliveries in the outbox plus webhooks stored and not handled yet (a notify without an inbox has none)."""
    waiting = {}
    for line in get(port, "/metrics")[1].decode().splitlines():
        if line.startswith(("notify_pending_deliveries ", "notify_inbox_waiting ")):
            waiting[line.split()[0]] = float(line.split()[1])
    return sum(waiting.values()) if "notify_pending_deliveries" in waiting else float("nan")


def wait_idle(port: int, timeout: float = 300.0) -> None:
    """Until the sender has nothing left to do (so that stopping it never stops it inside a write)."""
    deadline = time.monotonic() + timeout
    while pending(port) != 0:
        if time.monotonic() > deadline:
            raise SystemExit("the sender never became idle")
        time.sleep(0.05)
    time.sleep(0.3)



def settled(port: int, timeout: float = 300.0) -> None:
    """Until every stored webhook is handled and the outbox is empty (a cheap count on /metrics).

    Waited for before asking for the burst's incidents: listing every incident (/incidents) ten times a
    second while the burst is handled took about a sixth of a core from the server being measured.
    The arrival times come from the sinks, so when the bench looks does not change what it measures.
    """
    deadline = time.monotonic() + timeout
    while pending(port) != 0:
        if time.monotonic() > deadline:
            raise SystemExit("the server never handled the burst")
        time.sleep(0.1)


def incidents_of(port: int, run: str, n: int, timeout: float = 300.0) -> list[str]:
    """The incident ids of alerts run-0 .. run-(n-1), once the worker loop has opened them all."""
    settled(port, timeout)
    deadline = time.monotonic() + timeout
    wanted = {alert_summary(run, seq): seq for seq in range(n)}
    while time.monotonic() < deadline:
        found = {}
        for item in json.loads(get(port, "/incidents")[1])["incidents"]:
            if item["summary"] in wanted:
                found[wanted[item["summary"]]] = item["id"]
        if len(found) == n:
            return [found[seq] for seq in range(n)]
        time.sleep(0.1)
    raise SystemExit(f"{run}: the worker loop did not open all {n} incidents in time")


def wait_drained(port: int, sink: Sink, incidents: list[str], timeout: float = 300.0) -> float:
    """Wait until the outbox is empty and every incident has mail; return the last arrival among them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sink.cond:
            all_there = all(i in sink.arrivals for i in incidents)
        if all_there and pending(port) == 0:
            time.sleep(0.3)  # let the last in-flight messages land
            with sink.cond:
                return max(max(sink.arrivals[i]) for i in incidents)
        time.sleep(0.05)
    raise SystemExit("the burst's deliveries did not all arrive in time")


def hook_posts(port: int, bodies: list[bytes], concurrency: int) -> list[tuple[float, float, int, dict]]:
    """Each body posted to notify's Alertmanager hook (_common.post_all); (sent, answered, status, JSON answer)."""
    return [(sent, answered, status, json.loads(body or b"{}"))
            for sent, answered, status, body in post_all(port, "/hooks/alertmanager", bodies, concurrency)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", default="1,100,1000")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--notify", action="append", default=[],
                        help="the notify console script of another tree (its own venv), for before/after in the "
                             "same rounds; repeat the option for more; default: this tree's")
    parser.add_argument("--alertmanager", action="store_true",
                        help="also Alertmanager 0.25 (bench_alertmanager.py), in the same rounds, after the notify trees")
    args = parser.parse_args()
    sizes = [int(n) for n in args.n.split(",")]
    print("== ingest: notify serve, Alertmanager v4 webhooks, one alert per request")
    print(f"   {machine()}; load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    trees = [NOTIFY] + args.notify
    label = {tree: "this tree" if tree == NOTIFY else tree for tree in trees}
    results: dict[str, list[dict[str, float]]] = {label[tree]: [] for tree in trees}
    if args.alertmanager:
        import bench_alertmanager

        results[bench_alertmanager.LABEL] = []
    for round_no in range(args.rounds):
        for tree in trees:
            print(f"-- round {round_no + 1}, {label[tree]}")
            args.notify_now = tree
            sink = Sink()  # a fresh store numbers its incidents from 001 again: a fresh sink too
            try:
                results[label[tree]].append(one_server(sink, sizes, args))
            finally:
                sink.stop()
        if args.alertmanager:
            print(f"-- round {round_no + 1}, {bench_alertmanager.LABEL}")
            results[bench_alertmanager.LABEL].append(
                bench_alertmanager.one_alertmanager(sizes, args.concurrency, args.samples))
    if args.rounds > 1 or len(results) > 1:
        summary(results)
    print(f"   load average after {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


def one_server(sink: "Sink", sizes: list[int], args: argparse.Namespace) -> dict[str, float]:
    with scratch() as work, endpoint(0.0) as hook:
        port = free_port()
        env = clean_env(work, XDG_STATE_HOME=str(work / "state"),
                        NOTIFY_EMAIL_URL=f"mailto://127.0.0.1:{sink.port}?from=notify@teamflow.example"
                                         f"&mode=insecure",
                        NOTIFY_WEBHOOK_URL=f"http://127.0.0.1:{hook}/hook",
                        PYTHONPATH=str(Path(args.notify_now).resolve().parents[2]))  # <tree>/.venv/bin/notify
        argv = [args.notify_now, "serve", "--no-auth", "--port", str(port)]
        # Its log to a file: a pipe nobody reads fills up (some 5 KB a failing alert) and blocks the server.
        with (work / "serve.log").open("wb") as log:
            server = subprocess.Popen(argv, env=env, cwd=work, stderr=log)
        try:
            return run(server, work / "serve.log", port, sink, hook, sizes, args)
        finally:
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()


def summary(results: dict[str, list[dict[str, float]]]) -> None:
    print("== medians over the rounds (min..max)" + ("; the ratio is to the first column" if len(results) > 1 else ""))
    names = list(results)
    if len(names) > 1:
        print("   " + " | ".join(names))
    for key in results[names[0]][0]:
        unit = " MB" if "MB" in key else (" ms" if "ms" in key else "/s")
        cells, first = [], None
        for name in names:
            values = [r[key] for r in results[name] if key in r]
            if not values:
                cells.append("-")
                continue
            first = median(values) if first is None and name == names[0] else first
            ratio = f" ({median(values) / first:.2f}x)" if name != names[0] and first else ""
            cells.append(f"{median(values):.1f}{unit} ({min(values):.1f}..{max(values):.1f}){ratio}")
        print(f"   {key:44} " + " | ".join(cells))


def webhooks(hook: int, incidents: list[str], timeout: float = 60.0) -> dict[str, float]:
    """The first arrival of each incident's outbound webhook at the HTTP sink, once all have arrived."""
    deadline = time.monotonic() + timeout
    while True:
        first: dict[str, float] = {}
        for record in endpoint_records(hook):
            if record["incident"]:
                first[record["incident"]] = min(record["at"], first.get(record["incident"], record["at"]))
        if all(i in first for i in incidents):
            return first
        if time.monotonic() > deadline:
            raise SystemExit(f"{sum(i not in first for i in incidents)} webhooks never reached the HTTP sink")
        time.sleep(0.05)


def run(server: subprocess.Popen, log: Path, port: int, sink: Sink, hook: int, sizes: list[int],
        args: argparse.Namespace) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if get(port, "/healthz")[0] == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise SystemExit(f"notify serve did not become healthy: {log.read_text(errors='replace')}")
        time.sleep(0.05)
    time.sleep(2.0)  # the spawned sender child imports its libraries after serve answers: let it settle
    out: dict[str, float] = {}
    kids = children(server.pid)
    idle_rss = out["idle RSS, server MB"] = rss_mb(server.pid)
    if kids:
        out["idle RSS, sender child MB"] = rss_mb(kids[0])
    out["idle PSS, server + child MB"] = sum(pss_mb(pid) for pid in [server.pid, *kids])
    idle_pss = out["idle PSS, server + child MB"]
    print(f"   idle RSS {idle_rss:.1f} MB"
          + (f"; sender child RSS {out['idle RSS, sender child MB']:.1f} MB" if kids else "")
          + f"; PSS of both {idle_pss:.1f} MB (target < 100 MB: {verdict(idle_pss < 100)})")

    run_id = f"r{os.getpid()}"
    first, hooked, acked = [], [], []
    for seq in range(args.samples + 3):
        with sink.cond:
            seen = len(sink.order)
        (sent, answered, status, doc), = hook_posts(port, [alert(run_id + "-low", seq)], 1)
        arrived = sink.next_new(seen) if status == 202 else None
        if arrived is None:
            raise SystemExit(f"low-load alert {seq}: status {status}, no delivery arrived")
        at_hook = webhooks(hook, [arrived[0]])[arrived[0]]
        if seq >= 3:  # the first few warm the templates and connections
            first.append(min(arrived[1], at_hook) - sent)
            hooked.append(at_hook - sent)
            acked.append(answered - sent)
        wait_drained(port, sink, [arrived[0]])
    if os.environ.get("BENCH_VERBOSE"):
        print("   samples (ms):", " ".join(f"{x * 1000:.0f}" for x in first))
    p50 = percentile(hooked, 50)
    out["low load: webhook at the HTTP sink p50 ms"] = p50 * 1000
    out["low load: webhook at the HTTP sink p99 ms"] = percentile(hooked, 99) * 1000
    out["low load: first delivery p50 ms"] = percentile(first, 50) * 1000
    out["low load: POST -> 202 p50 ms"] = percentile(acked, 50) * 1000
    first_p50 = percentile(first, 50)
    print(f"   low load, {len(first)} single alerts: POST -> first step-0 delivery (webhook or email) p50 "
          f"{ms(first_p50)}, p99 {ms(percentile(first, 99))} (target p50 < 10 ms: {verdict(first_p50 < 0.010)}); "
          f"the webhook at the HTTP sink p50 {ms(p50)}, p99 {ms(percentile(hooked, 99))}; "
          f"POST -> 202 p50 {ms(percentile(acked, 50))}, p99 {ms(percentile(acked, 99))}")

    for n in sizes:
        bodies = [alert(f"{run_id}-burst{n}", seq) for seq in range(n)]
        cpu = CpuWatch(server.pid)
        started = time.monotonic()
        results = hook_posts(port, bodies, args.concurrency)
        accepted_at, last_post = max(r[1] for r in results), max(r[0] for r in results)
        bad = [r for r in results if r[2] != 202 or r[3].get("outcome") not in ("queued", "opened")]
        if bad:  # "opened": a notify from before the inbox, which triaged before answering
            raise SystemExit(f"burst of {n}: {len(bad)} answers were not '202 queued' (or opened): {bad[0]}")
        incidents = incidents_of(port, f"{run_id}-burst{n}", n)
        at_hook = webhooks(hook, incidents, timeout=300)
        last = max(wait_drained(port, sink, incidents), *(at_hook[i] for i in incidents))
        firsts = [min(sink.first(i), at_hook[i]) - r[0] for i, r in zip(incidents, results)]
        last_first = max(min(sink.first(i), at_hook[i]) for i in incidents) - last_post
        hooked = [at_hook[i] - r[0] for i, r in zip(incidents, results)]
        server_cpu, senders_cpu = cpu.stop()
        rate = n / (accepted_at - started)
        out[f"burst {n}: accepted"] = rate
        out[f"burst {n}: webhook p50 ms"] = percentile(hooked, 50) * 1000
        out[f"burst {n}: first delivery p50 ms"] = percentile(firsts, 50) * 1000
        out[f"burst {n}: every first delivery, after the last POST ms"] = last_first * 1000
        out[f"burst {n}: all delivered ms"] = (last - started) * 1000
        out[f"burst {n}: server CPU per alert ms"] = server_cpu / n * 1000
        out[f"burst {n}: senders' CPU per alert ms"] = senders_cpu / n * 1000
        print(f"   burst of {n:>5}: accepted (stored) {rate:7.0f} alerts/s in {ms(accepted_at - started)}; "
              f"POST -> 202 p50 {ms(percentile([r[1] - r[0] for r in results], 50))}, "
              f"p99 {ms(percentile([r[1] - r[0] for r in results], 99))}; "
              f"webhook at the HTTP sink p50 {ms(percentile(hooked, 50))}, p99 {ms(percentile(hooked, 99))}; "
              f"first delivery p50 {ms(percentile(firsts, 50))}, p99 {ms(percentile(firsts, 99))}; "
              f"every incident's first delivery {ms(last_first)} after the last POST; "
              f"every step-0 delivery (emails and webhooks) done after {ms(last - started)}; "
              f"CPU per alert: server {ms(server_cpu / n)}, senders {ms(senders_cpu / n)}"
              + (f" (target >= 1,000 alerts/s: {verdict(rate >= 1000)})" if n >= 1000 else ""))
        if n == max(sizes):
            started = time.monotonic()
            again = hook_posts(port, bodies, args.concurrency)
            done = max(r[1] for r in again)
            outcomes = {r[3].get("outcome") for r in again}
            out[f"repeat {n}: accepted"] = n / (done - started)
            print(f"   repeat of the {n} (same groupKeys, answered {sorted(outcomes)}): "
                  f"{n / (done - started):7.0f} alerts/s; POST -> 202 p50 "
                  f"{ms(percentile([r[1] - r[0] for r in again], 50))}, "
                  f"p99 {ms(percentile([r[1] - r[0] for r in again], 99))}")
    if kids:
        n = max(sizes)
        out[f"burst {n}, sender stopped: accepted"] = paused_burst(port, sink, kids[0], n, run_id, args)
    out["RSS after, server MB"] = rss_mb(server.pid)
    print(f"   RSS after the bursts {out['RSS after, server MB']:.1f} MB"
          + (f"; sender child {rss_mb(kids[0]):.1f} MB" if kids else ""))
    return out


def paused_burst(port: int, sink: Sink, child: int, n: int, run_id: str, args: argparse.Namespace) -> float:
    """The accept path alone: new alerts with the sender child stopped until every 202 is in."""
    bodies = [alert(f"{run_id}-paused{n}", seq) for seq in range(n)]
    wait_idle(port)  # the repeats before were answered, maybe not yet handled
    os.kill(child, signal.SIGSTOP)
    try:
        started = time.monotonic()
        results = hook_posts(port, bodies, args.concurrency)
        rate = n / (max(r[1] for r in results) - started)
    finally:
        os.kill(child, signal.SIGCONT)
    if any(r[2] != 202 for r in results):
        raise SystemExit("sender stopped: some answers were not 202")
    wait_drained(port, sink, incidents_of(port, f"{run_id}-paused{n}", n))
    print(f"   burst of {n:>5}, sender child stopped (the accept path alone): {rate:7.0f} alerts/s")
    return rate


class CpuWatch:
    """CPU seconds the server and its senders spend from now to stop(): on a loaded machine the CPU a burst
    costs is steadier than its wall time. Senders come and go (the second one), so a thread reads each
    child's CPU every 50 ms and keeps the last reading of each (one that exits in the last 50 ms is
    short by at most that)."""

    def __init__(self, server: int) -> None:
        self.server = server
        self.start = {pid: cpu_seconds(pid) for pid in [server, *children(server)]}
        self.last: dict[int, float] = dict(self.start)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.done.wait(0.05):
            self._read()

    def _read(self) -> None:
        for pid in [self.server, *children(self.server)]:
            try:
                self.last[pid] = cpu_seconds(pid)
            except (OSError, IndexError):
                pass

    def stop(self) -> tuple[float, float]:
        """(server, senders) CPU seconds since the start."""
        self.done.set()
        self.thread.join()
        self._read()
        spent = {pid: at - self.start.get(pid, 0.0) for pid, at in self.last.items()}
        return spent.pop(self.server), sum(spent.values())


def pss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return float("nan")


if __name__ == "__main__":
    main()
