"""Issue 16, item 3: `notify serve` under slow clients without credentials, while valid hooks keep coming.

    .venv/bin/python bench/bench_front_end.py [--runs 3] [--slow 2000] [--bodies 200] [--attack-seconds 25]
                                              [--compare TREE]   # another tree's serve, alternating runs
                                                                 # (TREE/.venv/bin/notify when TREE has a venv)

Loopback only, bounded in count and time, stops by itself. One fresh
`notify serve` per run (token auth, the shipped configuration, no channel
configured, its own store); for each run:

- baseline: valid Alertmanager hooks (the real v4 sample, a fresh groupKey
  each), one new connection each, `--rate` a second for `--baseline-seconds`:
  the POST -> 202 latency;
- attack, for `--attack-seconds`, from a separate process (so the attackers'
  CPU is not the measuring thread's): `--slow` connections that send a request
  line and then one header line a second (a new connection when the server
  closes one, after 1 s), and `--bodies` clients that announce a 1 MiB body
  without credentials and send it in 32 KiB pieces every 0.5 s (the same),
  while the same stream of valid hooks goes on and is timed;
- PSS of serve and its sender child together, sampled every 0.5 s (the
  maximum is reported), and serve's log (stderr) at the end: its size, and
  its lines about connections (refused, timed out, failed accepts).

The valid hooks re-send one alert group per run (the first opens an incident,
the rest are duplicates), so the log's size is mostly the attack's doing.

Every number printed is a median over the runs (min..max beside it). The
attack process never opens more than --slow + --bodies connections at once,
nor more than 100,000 in all, and exits after --attack-seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import NOTIFY, ROOT, children, clean_env, compare_command, machine, median, percentile, scratch  # noqa: E402

TOKEN = "bench-front-end-token"
SAMPLE = json.loads((ROOT / "tests" / "payloads" / "alertmanager-0.25-webhook-v4.json").read_text())
MAX_ATTACK_CONNECTIONS = 100_000  # in all, per attack: a hard bound whatever the server does
HOST = "127.0.0.1"


def hook_body(run: str) -> bytes:
    """One alert group per run: Alertmanager re-sending it, as it does every group_interval (stored, then a
    duplicate: the log then holds a line or two per hook, not an incident's twenty)."""
    body = json.loads(json.dumps(SAMPLE))
    body["groupKey"] = f'{{}}:{{alertname="Bench", run="{run}"}}'
    return json.dumps(body).encode()


def post_hook(port: int, body: bytes) -> tuple[int, float]:
    started = time.perf_counter()
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("POST", "/hooks/alertmanager", body=body,
                     headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        answer = conn.getresponse()
        answer.read()
        return answer.status, time.perf_counter() - started
    except OSError:
        return 0, time.perf_counter() - started
    finally:
        conn.close()


def steady_hooks(port: int, run: str, seconds: float, rate: float) -> tuple[list[float], dict[int, int]]:
    """Post valid hooks at `rate`/s for `seconds`; their latencies (202s only) and the statuses counted."""
    latencies, statuses = [], {}
    start = time.monotonic()
    for seq in range(int(seconds * rate)):
        wait = start + seq / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        status, took = post_hook(port, hook_body(run))
        statuses[status] = statuses.get(status, 0) + 1
        if status == 202:
            latencies.append(took)
    return latencies, statuses


# --- the attack (its own process) ---------------------------------------------------------------

async def slow_headers(port: int, until: float, stats: dict[str, int]) -> None:
    while time.monotonic() < until and stats["connections"] < MAX_ATTACK_CONNECTIONS:
        stats["connections"] += 1
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(b"POST /hooks/alertmanager HTTP/1.1\r\nHost: notify\r\n")
            while time.monotonic() < until:
                try:
                    data = await asyncio.wait_for(reader.read(4096), 1.0)
                    if not data or data.startswith(b"HTTP/1.1 "):
                        stats[f"headers: {data[9:12].decode() or 'closed'}"] += 1
                        break
                except asyncio.TimeoutError:
                    writer.write(b"X-Slow: a\r\n")
                    await writer.drain()
            writer.close()
        except OSError:
            stats["connect errors"] += 1
        await asyncio.sleep(1.0)


async def slow_body(port: int, until: float, stats: dict[str, int]) -> None:
    piece = b"x" * 32768
    while time.monotonic() < until and stats["connections"] < MAX_ATTACK_CONNECTIONS:
        stats["connections"] += 1
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(b"POST /hooks/alertmanager HTTP/1.1\r\nHost: notify\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1048576\r\n\r\n")
            sent = 0
            while time.monotonic() < until:
                try:
                    data = await asyncio.wait_for(reader.read(4096), 0.5)
                    stats[f"bodies: {data[9:12].decode() or 'closed'}"] += 1
                    break
                except asyncio.TimeoutError:
                    if sent < 1048576:
                        writer.write(piece)
                        sent += len(piece)
                        await writer.drain()
            writer.close()
        except OSError:
            stats["connect errors"] += 1
        await asyncio.sleep(1.0)


async def attack(port: int, seconds: float, slow: int, bodies: int) -> dict[str, int]:
    from collections import Counter

    stats: Counter = Counter()
    until = time.monotonic() + seconds
    tasks = []
    for n in range(slow + bodies):
        tasks.append(asyncio.create_task(slow_headers(port, until, stats) if n < slow else
                                         slow_body(port, until, stats)))
        if n % 100 == 99:
            await asyncio.sleep(0.05)  # a ramp, not a SYN flood
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), seconds + 30)
    return dict(stats)


# --- one server ---------------------------------------------------------------------------------

def pss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class PssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            self.peak = max(self.peak, sum(pss_mb(p) for p in [self.pid, *children(self.pid)]))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def one_run(tree: str | None, run: str, args: argparse.Namespace) -> dict[str, float]:
    with scratch() as work:
        port = free_port()
        env = clean_env(work, XDG_STATE_HOME=str(work / "state"), NOTIFY_WEBHOOK_TOKEN=TOKEN)
        argv = [NOTIFY, "serve", "--port", str(port)]
        if tree:
            env["PYTHONPATH"] = str(Path(tree).resolve())
            argv = [*compare_command(tree), "serve", "--port", str(port)]
        log_path = work / "serve.log"
        with open(log_path, "wb") as log:
            server = subprocess.Popen(argv, env=env, cwd=work, stderr=log, stdout=log)
        try:
            return measure(server, port, run, log_path, args)
        finally:
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()


def measure(server: subprocess.Popen, port: int, run: str, log_path: Path,
            args: argparse.Namespace) -> dict[str, float]:
    deadline = time.monotonic() + 60
    while post_hook(port, hook_body(run))[0] != 202:
        if time.monotonic() > deadline or server.poll() is not None:
            raise SystemExit(f"notify serve did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.1)
    time.sleep(2.0)  # the sender child (spawned since issue 17) imports its libraries after serve answers
    out: dict[str, float] = {"idle PSS MB": sum(pss_mb(p) for p in [server.pid, *children(server.pid)])}
    base, base_statuses = steady_hooks(port, run, args.baseline_seconds, args.rate)
    sampler = PssSampler(server.pid)
    sampler.start()
    attacker = subprocess.Popen([sys.executable, __file__, "--attack", str(port), "--attack-seconds",
                                 str(args.attack_seconds), "--slow", str(args.slow), "--bodies", str(args.bodies)],
                                stdout=subprocess.PIPE, text=True)
    time.sleep(min(5.0, args.attack_seconds / 4))  # let the attackers connect before timing
    under, statuses = steady_hooks(port, run, args.attack_seconds - min(5.0, args.attack_seconds / 4),
                                   args.rate)
    stats = json.loads(attacker.communicate(timeout=args.attack_seconds + 120)[0] or "{}")
    sampler.stop.set()
    sampler.join()
    out.update({
        "baseline p50 ms": median(base) * 1000 if base else float("nan"),
        "baseline p99 ms": percentile(base, 99) * 1000 if base else float("nan"),
        "under attack p50 ms": median(under) * 1000 if under else float("nan"),
        "under attack p99 ms": percentile(under, 99) * 1000 if under else float("nan"),
        "valid hooks not 202 under attack": sum(n for s, n in statuses.items() if s != 202),
        "peak PSS under attack MB": sampler.peak,
        "log KB": log_path.stat().st_size / 1024,
        "log lines about the front end": front_end_lines(log_path),
    })
    print(f"   run {run}: baseline {dict(base_statuses)}, under attack {dict(statuses)}; attack {stats}")
    print("   " + ", ".join(f"{k} {v:.1f}" for k, v in out.items()))
    return out


def front_end_lines(log_path: Path) -> int:
    """Lines about connections (refused, timed out, failed accepts), not about the valid hooks' events."""
    marks = ("serve: closed a connection", "serve: refused a connection", "cannot accept", "out of system resource",
             "Too many open files", "Traceback")
    return sum(any(m in line for m in marks) for line in log_path.read_text(errors="replace").splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--slow", type=int, default=2000, help="slow-header connections at once")
    parser.add_argument("--bodies", type=int, default=200, help="slow 1 MiB bodies without credentials at once")
    parser.add_argument("--attack-seconds", type=float, default=25.0)
    parser.add_argument("--baseline-seconds", type=float, default=8.0)
    parser.add_argument("--rate", type=float, default=10.0, help="valid hooks a second")
    parser.add_argument("--compare", metavar="TREE", help="another tree's serve (its .venv/bin/notify, else python -m dispatcher), "
                        "alternating")
    parser.add_argument("--attack", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.attack:
        print(json.dumps(asyncio.run(attack(args.attack, args.attack_seconds, args.slow, args.bodies))))
        return
    if args.slow + args.bodies > 10_000 or args.attack_seconds > 300:
        raise SystemExit("bounded: at most 10,000 attack connections at once and 300 s")
    print(f"== front end: {args.slow} slow-header connections and {args.bodies} slow 1 MiB bodies without "
          f"credentials, {args.rate:g} valid hooks/s\n   {machine()}; load average {os.getloadavg()[0]:.2f}")
    trees = {"this tree": None, **({f"compare {Path(args.compare).name}": args.compare} if args.compare else {})}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for n in range(args.runs):
        for name, tree in trees.items():
            print(f"-- {name}, run {n + 1}")
            results[name].append(one_run(tree, f"{name[:4]}{n}", args))
    print("== medians over the runs (min..max)")
    for name, runs in results.items():
        print(f"   {name}:")
        for key in runs[0]:
            values = [r[key] for r in runs]
            print(f"     {key:36} {median(values):9.1f} ({min(values):.1f}..{max(values):.1f})")
    print(f"   load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
