"""Target 6, the durable outbox's overhead: deliveries/s through the outbox vs. straight sends.

    .venv/bin/python bench/bench_outbox.py [--runs 5] [--n 1000] [--concurrency 32]

Three ways to send the same N notices, in each round:

- straight: `channel.send` for every recipient from a thread pool of the same
  concurrency, nothing stored (the floor: what the channel itself costs);
- outbox: N deliveries written to a fresh SQLite store in one transaction,
  then leased, sent and recorded by the Sender: one attempt row and one state
  change per delivery, every one committed (fsync'd) before the Sender moves on;
- and both again with a channel that answers at once without any I/O
  (`null`), which isolates what the outbox costs per delivery.

The webhook channel posts to bench/_endpoint.py (its own process, answering at once).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import endpoint, header, interleave, median, scratch  # noqa: E402
from _outbox import straight, through_outbox  # noqa: E402

from channels.webhook import WebhookChannel  # noqa: E402
from dispatcher.api import Capabilities, ChannelConfig, DeliveryResult, TargetKind  # noqa: E402


class NullChannel:
    """Answers every send with 'delivered' at once: the cost of everything but the channel."""

    name = "webhook"
    capabilities = Capabilities(target=TargetKind.URL, template="email")

    def configured(self) -> bool:
        return True

    def send(self, notice, address) -> DeliveryResult:
        return DeliveryResult.delivered(status=200)

    def close(self) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    n, c = args.n, args.concurrency
    with scratch() as work, endpoint(0.0) as port:
        url = f"json://127.0.0.1:{port}/hook"

        def webhook() -> WebhookChannel:
            return WebhookChannel(ChannelConfig(url=url, connect_timeout=5, read_timeout=10))

        def run(how, make) -> float:
            elapsed, delivered = how(make)
            if delivered != n:
                raise SystemExit(f"delivered {delivered} of {n}")
            return elapsed

        subjects = {
            "webhook, straight sends": lambda: run(lambda m: straight("webhook", m, n, c), webhook),
            "webhook, through the outbox": lambda: run(
                lambda m: through_outbox(work / "outbox.db", "webhook", m, n, c), webhook),
            "null channel, straight": lambda: run(lambda m: straight("webhook", m, n, c), NullChannel),
            "null channel, through the outbox": lambda: run(
                lambda m: through_outbox(work / "outbox.db", "webhook", m, n, c), NullChannel),
        }
        results = interleave(subjects, args.runs, warmup=1)
        header(f"outbox overhead: {n} deliveries, concurrency {c}", args.runs)
        for name, values in results.items():
            rate = n / median(values)
            print(f"   {name:<34} {median(values) * 1000:8.1f} ms  {rate:8.0f} deliveries/s  "
                  f"(min {min(values) * 1000:.1f}, max {max(values) * 1000:.1f} ms)")
        for kind in ("webhook", "null channel"):
            a = median(results[f"{kind}, straight" + (" sends" if kind == "webhook" else "")])
            b = median(results[f"{kind}, through the outbox"])
            print(f"   {kind}: the outbox costs {(b - a) / n * 1e6:.0f} us per delivery; "
                  f"outbox/straight throughput {a / b:.2f}")


if __name__ == "__main__":
    main()
