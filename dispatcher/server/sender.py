"""The worker loop of `notify serve` in a `notify worker` subprocess, so sending uses the second core.

As threads of one process, the HTTP server and the worker loop share one GIL:
under a burst of webhooks each slows the other (measured: 242 alerts/s
accepted with the loop as a thread, 2,223/s with it in a process of its own).
So `notify serve` starts `notify worker --report-fd N`, which runs
:class:`~dispatcher.app.worker.Worker` on its own connection to the same store,
with the same configuration directory and the same environment. One Unix
socket pair, the child's end inherited as fd N, joins them:

- parent -> child: one byte after each stored event that put rows in the
  outbox; the child wakes at once (no polling interval between a webhook and
  its first send). End of file means stop;
- child -> parent: a line per delivery attempt and per stored webhook handled
  (for /metrics), and per tick (for /healthz).

The child stops when the parent's end closes: on a clean shutdown, and when
the parent dies however it died (the kernel closes its sockets), so no sender
outlives its server. Stopping means what SIGTERM means to `notify worker`: the
current sends finish and leases are given back. SIGTERM sent to the child
stops it the same way; SIGINT is ignored there (a terminal's Ctrl-C reaches
the whole process group, and the parent decides when its child stops). A
sender that exits unasked is replaced by a new one (:mod:`.run`). After a
burst, a second sender of the same kind drains the backlog (:mod:`.burst`).
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import threading
from datetime import datetime
from typing import Callable

from ..app.engine import Runtime
from ..app.stores import Store
from ..app.worker import Worker
from ..clock import Clock

__all__ = ["SenderProcess", "run_child"]

log = logging.getLogger("notify.server")

AttemptHook = Callable[[str, str, int, float], None]
IngestHook = Callable[[str, str], None]


class SenderProcess:
    """The parent's handle on its sender subprocess: wake it, hear its attempts and ticks, stop it."""

    def __init__(self, process: subprocess.Popen[bytes], sock: socket.socket) -> None:
        self.process, self.sock = process, sock
        self.pid = process.pid
        self._reader: threading.Thread | None = None

    @classmethod
    def spawn(cls, argv: list[str]) -> "SenderProcess":
        """Start `argv --report-fd N`, N being the child's end of a new socket pair, inherited."""
        parent_end, child_end = socket.socketpair()
        try:
            process = subprocess.Popen([*argv, "--report-fd", str(child_end.fileno())], stdin=subprocess.DEVNULL,
                                       pass_fds=(child_end.fileno(),))
        except BaseException:
            parent_end.close()
            raise
        finally:
            child_end.close()
        return cls(process, parent_end)

    @property
    def exit_status(self) -> int | None:
        """The child's exit status once it has gone (negative: the signal that killed it)."""
        return self.process.returncode

    def listen(self, on_attempt: AttemptHook, on_ingest: IngestHook, on_tick: Callable[[datetime], None],
               on_exit: Callable[[int], None]) -> None:
        """Read the child's reports in a thread; `on_exit(status)` once it has gone."""
        def read() -> None:
            buffered = b""
            while True:
                try:
                    data = self.sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    break
                buffered += data
                *lines, buffered = buffered.split(b"\n")
                for line in lines:
                    _dispatch(line.decode(), on_attempt, on_ingest, on_tick)
            on_exit(self.process.wait())

        self._reader = threading.Thread(target=read, name="notify-sender-reports", daemon=True)
        self._reader.start()

    def wake(self) -> None:
        """Tell the child a stored event waits; a full socket means it has wakes unread already."""
        try:
            self.sock.send(b"w", socket.MSG_DONTWAIT)
        except (BlockingIOError, OSError):
            pass

    def stop(self, timeout: float = 60.0) -> int | None:
        """Close our end (the child finishes its sends, gives back leases, exits); kill it after `timeout`."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("sender process %d did not stop within %.0f s: killed", self.pid, timeout)
            self.process.kill()
            self.process.wait()
        if self._reader is not None:  # the child's end is closed now: its last reports are read
            self._reader.join()
        self.sock.close()
        return self.exit_status


def _dispatch(line: str, on_attempt: AttemptHook, on_ingest: IngestHook, on_tick: Callable[[datetime], None]) -> None:
    kind, _, rest = line.partition("\t")
    try:
        if kind == "a":
            channel, outcome, attempt_no, latency = rest.split("\t")
            on_attempt(channel, outcome, int(attempt_no), float(latency))
        elif kind == "i":
            source, outcome = rest.split("\t")
            on_ingest(source, outcome)
        elif kind == "t":
            on_tick(datetime.fromisoformat(rest))
    except ValueError:
        log.warning("unreadable report from the sender process: %r", line)


class _Reports:
    """The child's end: attempts, handled webhooks and ticks as lines, one writer at a time (senders are threads)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.lock = sock, threading.Lock()

    def attempt(self, channel: str, outcome: str, attempt_no: int, latency_ms: float) -> None:
        self._send(f"a\t{channel}\t{outcome}\t{attempt_no}\t{latency_ms!r}\n")

    def ingest(self, source: str, outcome: str) -> None:
        self._send(f"i\t{source}\t{outcome}\n")

    def tick(self, at: datetime) -> None:
        self._send(f"t\t{at.isoformat()}\n")

    def _send(self, line: str) -> None:
        with self.lock:
            try:
                self.sock.sendall(line.encode())
            except OSError:
                pass  # the parent is gone: the wake reader sees end of file and stops the loop


def run_child(rt: Runtime, open_store: Callable[[], Store], clock: Clock, interval: float,
              sock: socket.socket, *, fires_timers: bool = True) -> None:
    """The child's life (`notify worker --report-fd`): a worker on its own store, woken by the parent,
    stopped by end of file or SIGTERM. ``fires_timers=False``: a second sender, which triages stored webhooks
    and sends, and leaves the timers to the first."""
    stop, wake = threading.Event(), threading.Event()

    def on_term(*_: object) -> None:
        stop.set()
        wake.set()

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, on_term)
    store = open_store()
    reports = _Reports(sock)
    worker = Worker(rt, store, clock, on_attempt=reports.attempt, on_ingest=reports.ingest, on_tick=reports.tick,
                    fires_timers=fires_timers)

    def wakes() -> None:
        while True:
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            if not data:  # the parent closed its end or died
                on_term()
                return
            wake.set()

    threading.Thread(target=wakes, name="notify-sender-wakes", daemon=True).start()
    try:
        worker.run(stop, interval, wake)
    finally:
        store.close()
        sock.close()
