"""Head-of-line blocking (issue 21): other channels' first delivery while Twilio hangs, this tree and another.

    .venv/bin/python bench/bench_hol.py --compare /tmp/before21 [--rounds 2] [--samples 12] [--gap 0.3]
    (/tmp/before21: `git archive 0c37a92 | tar -x -C /tmp/before21`, the tree before issue 21)

Each run is a child process (`--child`) with PYTHONPATH set to its tree, so one
script times two versions of the worker. In a run: an in-process SMTP server
and the providers' stand-ins behind a TLS proxy (dispatcher.testing), Twilio
scripted to hang (it takes each request and answers nothing for 5 s, its
stand-in's cap; the read timeout is 10 s); a real SQLite store; one `Worker`
looping in a thread on the system clock, woken as `notify serve` wakes it.
Then `--samples` times: a security incident's step-0 rows are stored (email,
Slack, and the primary's call and SMS, which hang), the worker woken; `--gap`
seconds later a technical incident with only its Slack rows (the Alertmanager
alert of the issue), the worker woken. Timed: from storing each incident to the
arrival of its first Slack request at the stand-in (polled every millisecond).
The next sample starts once that page arrived and the hung sends have ended,
so each sample starts alike. One warm-up sample first is not counted (the
first render, TLS and SMTP connections). Printed per tree: p50 and p99 (with
12 samples, p99 is the slowest) of both, medians over the rounds, trees
alternating (A B A B); and, as the normal latency, this tree with Twilio
answering at once ("this tree, no hang"). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from _common import config_copy  # noqa: E402
SLACK_HOOK = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXX"
TWILIO = "twilio://AC0123456789abcdef0123456789abcdef:token@+15550100000"
FIELDS = {"customer": "Acme Corp", "reported_by": "jane@acme.example", "summary": "Unusual admin logins"}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# -- one run, in the child (imports the tree on PYTHONPATH) ------------------------------------


def child(samples: int, gap: float, hang: bool) -> dict[str, list[float]]:
    from dispatcher.app import engine
    from dispatcher.app.worker import Worker
    from dispatcher.clock import SystemClock
    from dispatcher.config.settings import load_settings
    from dispatcher.domain.plan import plan_step
    from dispatcher.store import open_store
    from dispatcher.testing.providers import HANG, Reply
    from dispatcher.testing.proxy import ProviderProxy
    from dispatcher.testing.smtp import SmtpServer

    work = Path(tempfile.mkdtemp(prefix="bench-hol-"))
    config = config_copy(work)
    clock = SystemClock()
    times: dict[str, list[float]] = {"security": [], "technical": []}
    with SmtpServer() as smtp, ProviderProxy() as proxy:
        os.environ.update(proxy.env())
        proxy["api.twilio.com"].script(HANG if hang else Reply(201, {"sid": "SM0001", "status": "queued"}))
        proxy["hooks.slack.com"].script()  # answers "ok"
        settings = load_settings(email_url=smtp.url(**{"from": "notify@teamflow.example"}), slack_url=SLACK_HOOK,
                                 sms_url=TWILIO, phone_url=TWILIO + "?method=call", ca_bundle=proxy.ca_bundle_path,
                                 read_timeout=10.0, state_dir=work)
        rt = engine.load_runtime(config, settings)
        store = open_store(f"sqlite:///{work / 'notify.db'}")
        worker = Worker(rt, store, clock)
        stop, wake = threading.Event(), threading.Event()
        loop = threading.Thread(target=worker.run, args=(stop, 5.0, wake), daemon=True)
        loop.start()

        def open_unsent(klass: str, n: int, channels: set[str] | None = None) -> str:
            incident = engine.new_incident(rt, klass, FIELDS, now=clock.now(), drill=False,
                                           incident_id=f"{klass[:3].upper()}-2026-{n + 1:03d}")
            planned = [p for p in plan_step(incident, rt.klass(klass), 0, rt.directory)
                       if channels is None or p.address.channel in channels]
            opened, _ = store.open_incident(engine.incident_record(incident), [engine.outbox_row(p) for p in planned],
                                            prefix=rt.klass(klass).prefix, year=clock.now().year,
                                            now=clock.now())
            wake.set()
            return opened

        def slack_arrived(incident_id: str) -> bool:
            return any(incident_id in r.json.get("text", "") for r in proxy["hooks.slack.com"].requests)

        try:
            for n in range(samples + 1):  # sample 0: the warm-up
                stored = {"security": time.monotonic()}
                security = open_unsent("security", n)
                pending, deadline = {"security": security}, time.monotonic() + 60
                while (pending or "technical" not in stored) and time.monotonic() < deadline:
                    if "technical" not in stored and time.monotonic() >= stored["security"] + gap:
                        stored["technical"] = time.monotonic()
                        pending["technical"] = open_unsent("technical", n, channels={"slack"})
                    for name, incident_id in list(pending.items()):
                        if slack_arrived(incident_id):
                            if n:
                                times[name].append(time.monotonic() - stored[name])
                            del pending[name]
                    time.sleep(0.001)
                while any(d.status == "in-flight" for d in store.deliveries(security)):  # the hang ends (5 s)
                    time.sleep(0.05)
        finally:
            stop.set()
            wake.set()
            loop.join(30)
            store.close()
    shutil.rmtree(work, ignore_errors=True)
    return times


# -- the parent: alternate the trees ------------------------------------------------------------


def run_tree(tree: Path, samples: int, gap: float, hang: bool) -> dict[str, list[float]]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", "--samples", str(samples),
                           "--gap", str(gap), *([] if hang else ["--no-hang"])], cwd=tree, env=env, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{tree}: exited {done.returncode}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", metavar="TREE", help="another source tree (a `git archive` copy of the base)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--samples", type=int, default=12)
    parser.add_argument("--gap", type=float, default=0.3, help="seconds between the security and technical incidents")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-hang", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.samples, args.gap, hang=not args.no_hang)))
        return
    trees = {"this tree": (ROOT, True), "no hang": (ROOT, False),
             **({Path(args.compare).name: (Path(args.compare).resolve(), True)} if args.compare else {})}
    print(f"== bench_hol: Twilio hanging, {args.samples} samples, gap {args.gap} s; load {os.getloadavg()[0]:.2f}")
    results: dict[str, dict[str, list[float]]] = {name: {} for name in trees}
    for round_no in range(args.rounds):
        for name, (tree, hang) in trees.items():
            times = run_tree(tree, args.samples, args.gap, hang)
            for kind, values in times.items():
                results[name].setdefault(kind, []).append((percentile(values, 50), percentile(values, 99)))
                print(f"-- round {round_no + 1}, {name:>10}, {kind:>9}: p50 {percentile(values, 50) * 1000:7.1f} ms"
                      f"  p99 {percentile(values, 99) * 1000:7.1f} ms  (n={len(values)})", flush=True)
    print(f"== medians over the rounds; load {os.getloadavg()[0]:.2f}")
    for name, kinds in results.items():
        for kind, pairs in kinds.items():
            p50 = statistics.median(p for p, _ in pairs) * 1000
            p99 = statistics.median(p for _, p in pairs) * 1000
            print(f"   {name:>10} {kind:>9} first Slack page: p50 {p50:7.1f} ms  p99 {p99:7.1f} ms")


if __name__ == "__main__":
    main()
