"""Target 4, email: 100 recipients over reused SMTP connections >= 4x faster than one apprise mailto URL each.

    .venv/bin/python bench/bench_email.py [--runs 7] [--n 100] [--concurrency 32]

One local SMTP server (bench/_smtp_sink.py: aiosmtpd in its own process,
plain SMTP on 127.0.0.1) receives, in each round:

- apprise: `Apprise.notify` over N `mailto://127.0.0.1:PORT?to=oncall-I@...`
  URLs, one per recipient (apprise's documented way to mail several people
  separately; each URL is its own plugin: connect, EHLO, MAIL, RCPT, DATA, QUIT);
- notify, straight: EmailChannel.send for the N recipients from a thread pool of
  `--concurrency` (its pool keeps at most 4 connections to the server, reused
  for every message);
- notify, through the outbox: the same N as stored deliveries, leased, sent and
  recorded by the Sender (what a trigger does).

Every message must arrive (the sink's count is checked after each run).
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import header, interleave, median, scratch, spread, verdict  # noqa: E402
from _outbox import NOTICE, straight, through_outbox  # noqa: E402

from channels.email import EmailChannel  # noqa: E402
from dispatcher.api import ChannelConfig  # noqa: E402


class Sink:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("_smtp_sink.py"))],
                                     stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline().split()[1])
        self.count = 0
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for _ in self.proc.stdout:
            with self.cond:
                self.count += 1
                self.cond.notify_all()

    def wait_for(self, total: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.count < total:
                if not self.cond.wait(max(deadline - time.monotonic(), 0)):
                    raise SystemExit(f"only {self.count} of {total} messages arrived")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    n = args.n
    import apprise

    logging.getLogger("apprise").setLevel(logging.CRITICAL)
    sink = Sink()
    expected = 0
    try:
        with scratch() as work:
            base = f"mailto://127.0.0.1:{sink.port}?from=notify@teamflow.example&mode=insecure"

            def counted(run):
                def timed() -> float:
                    nonlocal expected
                    expected += n
                    seconds = run()
                    sink.wait_for(expected)
                    return seconds
                return timed

            def with_apprise() -> float:
                ap = apprise.Apprise()
                for i in range(n):
                    ap.add(f"{base}&to=oncall-{i}@example.com")
                started = time.perf_counter()
                ok = ap.notify(title=NOTICE.subject, body=NOTICE.text)
                elapsed = time.perf_counter() - started
                if not ok:
                    raise SystemExit("apprise reported a failed notification")
                return elapsed

            def channel() -> EmailChannel:
                return EmailChannel(ChannelConfig(url=base, connect_timeout=5, read_timeout=10))

            def checked(result: tuple[float, int]) -> float:
                if result[1] != n:
                    raise SystemExit(f"notify delivered {result[1]} of {n}")
                return result[0]

            subjects = {
                "apprise, one mailto URL each": counted(with_apprise),
                "notify EmailChannel, straight": counted(
                    lambda: checked(straight("email", channel, n, args.concurrency))),
                "notify, through the outbox": counted(
                    lambda: checked(through_outbox(work / "email.db", "email", channel, n, args.concurrency))),
            }
            results = interleave(subjects, args.runs, warmup=1)
    finally:
        sink.stop()
    header(f"email: {n} recipients, one local SMTP server", args.runs)
    base_time = median(results["apprise, one mailto URL each"])
    for name, values in results.items():
        line = f"   {name:<32} {spread(values)}  {n / median(values):7.0f} messages/s"
        if name.startswith("notify"):
            ratio = base_time / median(values)
            line += f"   {ratio:.1f}x faster than apprise (target >= 4x: {verdict(ratio >= 4)})"
        else:
            line += "   baseline"
        print(line)


if __name__ == "__main__":
    main()
