"""CPU per delivery of the sender's per-row path: compose (templates, facts) + send + record, as the worker runs it.

    .venv/bin/python bench/bench_send_path.py [--incidents 100] [--runs 3] [--class technical] [--leads]

N incidents of one class are written to a fresh SQLite outbox with their step-0 rows, exactly as a
trigger plans them with the repository's contacts.toml and policy.toml (people's emails to a local SMTP
sink, the outbound webhook to a local HTTP sink, the channels with no settings failing at once). The
worker's Sender (engine.make_sender, the worker's incident cache) then claims and sends them all with
attempt_due; the process CPU seconds (time.process_time: every thread of this process, not the sinks)
are divided by the rows sent. Medians of `--runs` fresh rounds. The SMTP sink's own CPU (its process,
from /proc) is printed per message too: on a machine of two cores it is part of what a burst costs.

`--leads`: only each incident's lead (its first step-0 page, what a burst's triage sends first,
domain/priority.py) is claimed and sent: the CPU of "every incident's first page" in bench_ingest.py.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parent.parent

from _common import cpu_seconds, endpoint, scratch  # noqa: E402


def one_round(work: Path, klass: str, n: int, leads: bool = False) -> tuple[float, Counter]:
    from dispatcher.app.engine import incident_from_row, load_runtime, make_sender, new_incident, outbox_row, \
        webhook_planned
    from dispatcher.clock import SystemClock
    from dispatcher.delivery.registry import Registry
    from dispatcher.domain.plan import plan_step
    from dispatcher.store import open_store

    db = work / f"send-{time.monotonic_ns()}.db"
    store = open_store(f"sqlite:///{db}")
    rt = load_runtime(ROOT)
    clock = SystemClock()
    now = datetime.now(timezone.utc)
    for i in range(n):
        incident = new_incident(rt, klass, {"summary": f"bench alert {i}: checkout latency above 2 s",
                                            "services": ["checkout"]}, now=now, drill=False)
        planned = plan_step(incident, rt.klass(klass), 0, rt.directory) + webhook_planned(rt, 0)
        from dispatcher.app.engine import incident_record
        store.open_incident(incident_record(incident), [outbox_row(p) for p in planned],
                            prefix=rt.klass(klass).prefix, year=now.year, now=now)
    cache: dict = {}

    def incidents(incident_id: str, epoch: int = 0):
        if incident_id not in cache:
            cache[incident_id] = incident_from_row(store.incident(incident_id))
        return cache[incident_id]

    registry = Registry(rt.settings, rt.directory)
    sender = make_sender(rt, store, clock, registry, owner="bench", incidents=incidents)
    started = time.process_time()
    while sender.attempt_due(limit=256, leads_only=leads):
        pass
    cpu = time.process_time() - started
    sender.close()
    registry.close()
    outcomes = Counter(f"{r.channel}:{r.status.value}" for incident_id in cache for r in store.deliveries(incident_id))
    store.close()
    return cpu, outcomes


def _discard(lines) -> None:
    for _ in lines:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--class", dest="klass", default="outage")
    parser.add_argument("--leads", action="store_true", help="send only each incident's lead")
    args = parser.parse_args()
    import subprocess

    sink = subprocess.Popen([sys.executable, str(Path(__file__).with_name("_smtp_sink.py"))],
                            stdout=subprocess.PIPE, text=True)
    port = int(sink.stdout.readline().split()[1])
    # The sink prints a line per message; unread, its pipe fills after about 1,300 of them and the sink
    # blocks in that write, with every connection after it waiting in its listen queue.
    threading.Thread(target=_discard, args=(sink.stdout,), daemon=True).start()
    try:
        with scratch() as work, endpoint(0.0) as hook:
            for key in [k for k in os.environ if k.startswith("NOTIFY_")]:
                del os.environ[key]
            os.environ.update(XDG_STATE_HOME=str(work / "state"),
                              NOTIFY_EMAIL_URL=f"mailto://127.0.0.1:{port}?from=notify@teamflow.example&mode=insecure",
                              NOTIFY_WEBHOOK_URL=f"http://127.0.0.1:{hook}/hook")
            one_round(work, args.klass, 5)  # warm: imports, template compilation
            cpus, sink_ms = [], []
            for _ in range(args.runs):
                sink_before = cpu_seconds(sink.pid)
                cpu, outcomes = one_round(work, args.klass, args.incidents, args.leads)
                cpus.append(cpu)
                emails = sum(n for key, n in outcomes.items() if key.startswith("email:"))
                sink_ms.append((cpu_seconds(sink.pid) - sink_before) / max(emails, 1) * 1000)
            print(dict(sorted(outcomes.items())))
            print(f"the SMTP sink's CPU per message: median {statistics.median(sink_ms):.2f} ms")
            print(f"{args.incidents} incidents ({args.klass}), CPU s per round: "
                  + ", ".join(f"{c:.3f}" for c in cpus)
                  + f"; median {statistics.median(cpus):.3f} s, {statistics.median(cpus) / args.incidents * 1000:.2f} "
                  "ms per incident")
    finally:
        sink.terminate()


if __name__ == "__main__":
    main()
