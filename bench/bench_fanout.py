"""Target 3, fan-out: 200 deliveries to a local endpoint that answers in 200 ms complete in under 1 s.

    .venv/bin/python bench/bench_fanout.py [--runs 5] [--n 200] [--delay 0.2] [--concurrency 32,64,128,200]

The endpoint (bench/_endpoint.py) is its own process and answers every POST
after `--delay` seconds. Each round sends the same N deliveries:

- apprise: `Apprise.notify` over N `json://127.0.0.1:PORT/nI` URLs (its own
  thread pool, min(32, cpu + 4) workers);
- notify: N webhook deliveries (routes to the same N URLs) written to a fresh
  SQLite outbox in one transaction, then leased, sent and recorded by the
  Sender (one attempt row per delivery), at each NOTIFY_CONCURRENCY given.

The N-second floor is ceil(N / concurrency) x delay.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import endpoint, header, interleave, median, scratch, spread, verdict  # noqa: E402
from _outbox import through_outbox  # noqa: E402

from channels.webhook import WebhookChannel  # noqa: E402
from dispatcher.api import ChannelConfig  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--concurrency", default="32,64,128,200")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    import apprise

    logging.getLogger("apprise").setLevel(logging.CRITICAL)
    with scratch() as work, endpoint(args.delay) as port:
        urls = [f"json://127.0.0.1:{port}/n{i}" for i in range(args.n)]

        def with_apprise() -> float:
            import time

            ap = apprise.Apprise()
            for url in urls:
                ap.add(url)
            started = time.perf_counter()
            ok = ap.notify(title="[P1] API returns 503", body="API returns 503 for EU customers since 03:12 UTC.")
            elapsed = time.perf_counter() - started
            if not ok:
                raise SystemExit("apprise reported a failed notification")
            return elapsed

        def webhook() -> WebhookChannel:
            return WebhookChannel(ChannelConfig(routes={f"t{i}": url for i, url in enumerate(urls)},
                                                connect_timeout=5, read_timeout=10))

        def with_notify(concurrency: int) -> float:
            elapsed, delivered = through_outbox(work / "fanout.db", "webhook", webhook, args.n, concurrency)
            if delivered != args.n:
                raise SystemExit(f"notify delivered {delivered} of {args.n}")
            return elapsed

        subjects = {"apprise Apprise.notify": with_apprise}
        for level in levels:
            subjects[f"notify outbox, concurrency {level}"] = lambda level=level: with_notify(level)
        results = interleave(subjects, args.runs, warmup=1)
        header(f"fan-out: {args.n} deliveries to an endpoint answering in {args.delay * 1000:.0f} ms", args.runs)
        base = median(results["apprise Apprise.notify"])
        for name, values in results.items():
            line = f"   {name:<32} {spread(values)}"
            if name.startswith("notify"):
                line += f"   {base / median(values):.1f}x faster than apprise  (target < 1 s: " \
                        f"{verdict(median(values) < 1.0)})"
            else:
                line += "   baseline"
            print(line)


if __name__ == "__main__":
    main()
