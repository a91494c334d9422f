"""The worker's sends, each driven on its own: a bounded pool with a bound per provider route, so none waits for another.

Before this, the worker leased a batch, waited for every send in it, and only
then went on: with Twilio hanging, a Slack-only page stored 0.3 s after a
security alert went out more than 6 s later (issue 21), and timers and stored
webhooks waited as long. Now each claimed delivery is a task of its own and the
loop goes straight back to its work. A provider route (the sender names it:
Twilio's SMS and calls from one number are one) has at most `per_route` tasks
at once, so a hanging provider ties up only its own slots; the sender claims no
row of a full route (and gives back at once any it claimed past a route's
room), so those rows stay in the outbox for whoever has room: this process when
a slot frees, or another sender. (A fallback is driven in the task of the send
that failed, on that send's slot.)

While anything is in flight the leases of this owner are renewed (a slow send
is not a dead sender); closing the pool waits for the sends in flight, each
bounded by the send deadline.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from .lease_keeper import LeaseKeeper

__all__ = ["SendPool", "provider_route"]

log = logging.getLogger("notify.delivery")


class SendPool:
    """At most `size` sends at once, at most `per_route` on one route; `on_done()` after each one ends.

    A task's exception is kept and raised by the next :meth:`raise_failures` (the worker loop's next
    turn): a store failure mid-send reaches the loop that knows how to wait it out.
    """

    def __init__(self, size: int, per_route: int, renew: Callable[[], object], renew_every: float,
                 on_done: Callable[[], None] = lambda: None) -> None:
        self.size, self.per_route = size, max(1, min(per_route, size))
        self.on_done = on_done
        self._renew = renew
        self._renew_every = renew_every
        self._running: Counter[str] = Counter()
        self._keys: set[int] = set()  # the rows in flight here
        self._changed = threading.Condition()
        self._failures: list[BaseException] = []
        self._executor: ThreadPoolExecutor | None = None
        self._keeper: LeaseKeeper | None = None

    # -- room ---------------------------------------------------------------------------------

    def free(self) -> int:
        """Sends that could start now (whatever their channel)."""
        with self._changed:
            return self.size - sum(self._running.values())

    def full_routes(self) -> set[str]:
        """Routes with no slot left: their rows are not to be claimed now."""
        with self._changed:
            return {route for route, n in self._running.items() if n >= self.per_route}

    def has_room(self, route: str) -> bool:
        """Whether a send on `route` could start now."""
        with self._changed:
            return sum(self._running.values()) < self.size and self._running[route] < self.per_route

    def sending(self, key: int) -> bool:
        """Whether row `key` is being sent here (claimed again after its lease ran out: not to be sent twice)."""
        with self._changed:
            return key in self._keys

    def in_flight(self) -> int:
        with self._changed:
            return sum(self._running.values())

    # -- sending ------------------------------------------------------------------------------

    def start(self, route: str, key: int, work: Callable[[], None]) -> bool:
        """Run `work` as the send of row `key` on `route` if the pool and the route have a slot; False if not."""
        with self._changed:
            if sum(self._running.values()) >= self.size or self._running[route] >= self.per_route:
                return False
            self._running[route] += 1
            self._keys.add(key)
            executor = self._started()
        executor.submit(self._run, route, key, work)
        return True

    def _started(self) -> ThreadPoolExecutor:
        """The threads and the lease keeper, made on the first send (a worker that never sends makes none)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="notify-send")
            self._keeper = LeaseKeeper(self._renew_while_busy, self._renew_every).__enter__()
        return self._executor

    def _run(self, route: str, key: int, work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - kept for the loop, which raises it (see the class)
            with self._changed:
                self._failures.append(exc)
        finally:
            with self._changed:
                self._running[route] -= 1
                self._keys.discard(key)
                if not self._running[route]:
                    del self._running[route]
                self._changed.notify_all()
            self.on_done()

    def _renew_while_busy(self) -> None:
        if self.in_flight():
            self._renew()

    # -- waiting ------------------------------------------------------------------------------

    def raise_failures(self) -> None:
        """Raise the first exception a send raised since the last call (the others are logged)."""
        with self._changed:
            failures, self._failures = self._failures, []
        for extra in failures[1:]:
            log.error("a send also failed: %s: %s", type(extra).__name__, extra)
        if failures:
            raise failures[0]

    def wait_idle(self) -> None:
        """Until no send is in flight."""
        with self._changed:
            self._changed.wait_for(lambda: not self._running)

    def close(self) -> None:
        """Let the sends in flight finish, then stop the threads and the lease keeper."""
        self.wait_idle()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._keeper is not None:
            self._keeper.__exit__(None, None, None)
            self._keeper = None


def provider_route(url: str | None) -> str | None:
    """The route a channel URL sends over: its scheme and host (a Twilio URL's host is its sender number, an
    SMTP URL's its server); None without a host. Used only to count slots: never logged or shown."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # an unparseable URL: the channel itself says what is wrong with it when it sends
        return None
    return f"{parts.scheme}://{host}" if host else None
