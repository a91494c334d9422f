"""Paced sends (issue 21): a burst of incidents against stand-ins that enforce one message a second per route.

    .venv/bin/python bench/bench_pacing.py [--incidents 50] [--updates 10] [--rounds 2] [--rate 1.0]

In a run: an in-process SMTP server and the providers' stand-ins behind a TLS
proxy (dispatcher.testing), Slack's webhook and Twilio enforcing `--rate`
messages a second per route (its webhook; each sender number's messages;
calls) on the system clock and answering 429 with Retry-After past it
(dispatcher.testing.limits); a real SQLite store; one `Worker` looping in a
thread on the system clock, as `notify serve` runs it. `--incidents` security
incidents are stored at once (step 0 each: email, the #security-alerts Slack
post, the primary's call and SMS), then a status update on each of the first
`--updates` of them (Slack and email notices), and the worker is woken. The run
ends when every one of those deliveries is final (or after 10 minutes).

Measured per run: the 429s the stand-ins answered, whether every step-0 page
on a route was accepted before any update on that route, the seconds from
storing the burst to the last step-0 delivery accepted, and the step-0
deliveries that ended failed. Two modes, alternating per round: "paced" (the
defaults: Slack and Twilio 1/s per route) and "unpaced" (NOTIFY_RATE_LIMITS
turning Slack and Twilio off, as before this change). Printed: each run, then
the medians over the rounds. Not part of the test suite; it runs for about
a minute per paced run at the defaults.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import config_copy  # noqa: E402

SLACK_HOOK = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXX"
TWILIO = "twilio://AC0123456789abcdef0123456789abcdef:token@+15550100000"
FIELDS = {"customer": "Acme Corp", "reported_by": "jane@acme.example", "summary": "Unusual admin logins"}
UNPACED = {"slack": "off", "twilio": "off"}



def one_run(incidents: int, updates: int, rate: float, paced: bool) -> dict[str, float]:
    from dispatcher.app import engine
    from dispatcher.app.incidents import post_update
    from dispatcher.app.worker import Worker
    from dispatcher.clock import SystemClock
    from dispatcher.config.settings import load_settings
    from dispatcher.domain.plan import plan_step
    from dispatcher.store import open_store
    from dispatcher.testing.limits import RateLimitedRecorder, slack_route, twilio_route
    from dispatcher.testing.providers import Recorder, Reply
    from dispatcher.testing.proxy import PROVIDER_HOSTS, ProviderProxy
    from dispatcher.testing.smtp import SmtpServer

    work = Path(tempfile.mkdtemp(prefix="bench-pacing-"))
    config, clock = config_copy(work), SystemClock()
    limited = {"hooks.slack.com": (Reply(200, "ok"), slack_route),
               "api.twilio.com": (Reply(201, {"sid": "SM0001", "status": "queued"}), twilio_route)}

    def recorder(host: str) -> Recorder:
        if host not in limited:
            return Recorder()
        reply, route = limited[host]
        return RateLimitedRecorder(reply, rate=rate, now=time.monotonic, route=route)

    with SmtpServer() as smtp, ProviderProxy(PROVIDER_HOSTS, recorder=recorder) as proxy:
        os.environ.update(proxy.env())
        settings = load_settings(email_url=smtp.url(**{"from": "notify@teamflow.example"}), slack_url=SLACK_HOOK,
                                 sms_url=TWILIO, phone_url=TWILIO + "?method=call", ca_bundle=proxy.ca_bundle_path,
                                 state_dir=work, rate_limits={} if paced else UNPACED)
        rt = engine.load_runtime(config, settings)
        store = open_store(f"sqlite:///{work / 'notify.db'}")
        worker = Worker(rt, store, clock)
        stop, wake = threading.Event(), threading.Event()
        loop = threading.Thread(target=worker.run, args=(stop, 5.0, wake), daemon=True)
        ids = []
        started_wall = clock.now()
        started = time.monotonic()
        for n in range(incidents):
            incident = engine.new_incident(rt, "security", FIELDS, now=clock.now(), drill=False,
                                           incident_id=f"SEC-2026-{n + 1:03d}")
            planned = plan_step(incident, rt.klass("security"), 0, rt.directory)
            opened, _ = store.open_incident(engine.incident_record(incident),
                                            [engine.outbox_row(p) for p in planned],
                                            prefix="SEC", year=clock.now().year, now=clock.now())
            ids.append(opened)
        for incident_id in ids[:updates]:
            post_update(rt, store, incident_id, "Investigating", "ben.okafor", clock.now())
        stored = time.monotonic() - started
        loop.start()
        wake.set()
        deadline = time.monotonic() + 600
        try:
            while time.monotonic() < deadline:
                rows = [d for i in ids for d in store.deliveries(i)]
                if all(d.status.is_final for d in rows):
                    break
                time.sleep(0.2)
        finally:
            stop.set()
            wake.set()
            loop.join(60)
        rows = [d for i in ids for d in store.deliveries(i)]
        log = store.attempts()
        store.close()
        refused = sum(len(proxy[h].refused) for h in limited)
    shutil.rmtree(work, ignore_errors=True)

    accepted = [a for a in log if a.outcome in ("delivered", "posted")]
    pages = [a for a in accepted if a.kind == "step"]
    last_page = max((a.at - started_wall).total_seconds() for a in pages) if pages else float("nan")
    first = True
    for channel in ("slack", "email", "sms", "phone"):
        page_times = [a.at for a in pages if a.channel == channel]
        update_times = [a.at for a in accepted if a.kind == "update" and a.channel == channel]
        if page_times and update_times and max(page_times) > min(update_times):
            first = False
            late = [a for a in pages if a.channel == channel and a.at > min(update_times)]
            print(f"   {channel}: {len(late)} step-0 deliveries accepted after its first update "
                  f"(at most {(max(page_times) - min(update_times)).total_seconds():.2f} s after; attempts "
                  f"{sorted({a.attempt for a in late})}, kinds of the first update's channel rows)", file=sys.stderr)
    return {"stored_s": stored, "429s": refused, "pages_first": float(first), "last_page_s": last_page,
            "pages": len([d for d in rows if d.kind == "step"]),
            "failed_pages": len([d for d in rows if d.kind == "step" and d.status.is_failure]),
            "attempts": len(log)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=50)
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rate", type=float, default=1.0, help="the stand-ins' messages a second per route")
    args = parser.parse_args()
    print(f"== bench_pacing: {args.incidents} incidents + {args.updates} updates at once, stand-ins at {args.rate:g}/s "
          f"per route; load {os.getloadavg()[0]:.2f}", flush=True)
    if args.rate != 1.0:
        os.environ["NOTIFY_RATE_LIMITS"] = f'{{"slack": "{args.rate:g}/s", "twilio": "{args.rate:g}/s"}}'
    results: dict[str, list[dict[str, float]]] = {"paced": [], "unpaced": []}
    for round_no in range(args.rounds):
        for mode in results:
            run = one_run(args.incidents, args.updates, args.rate, paced=mode == "paced")
            results[mode].append(run)
            print(f"-- round {round_no + 1} {mode:>8}: 429s {run['429s']:4.0f}  pages first "
                  f"{'yes' if run['pages_first'] else 'NO '}  last step-0 delivery {run['last_page_s']:6.1f} s  "
                  f"failed step-0 {run['failed_pages']:3.0f}/{run['pages']:.0f}  attempts {run['attempts']:.0f}",
                  flush=True)
    print(f"== medians over {args.rounds} rounds; load {os.getloadavg()[0]:.2f}")
    for mode, runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"   {mode:>8}: 429s {med['429s']:.0f}, pages first in {sum(r['pages_first'] for r in runs):.0f}/"
              f"{len(runs)} runs, last step-0 delivery {med['last_page_s']:.1f} s, failed step-0 "
              f"{med['failed_pages']:.0f}/{med['pages']:.0f}")


if __name__ == "__main__":
    main()
