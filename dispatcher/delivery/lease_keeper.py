"""Keep a sender's leases alive while its sends run, so a slow send is never taken over as a dead one.

A lease says "this row is being sent; if it is still in flight when the lease
ends, its sender died". A send that is merely slow must not look dead: with two
workers on PostgreSQL and a slow Slack, the second took over rows the first was
still sending, and both posted. So while a fan-out runs, a thread extends every
lease its owner holds, a third of a lease at a time; when the process dies, the
renewals stop and the rows are taken over as before.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from ..store import StoreError

__all__ = ["LeaseKeeper"]

log = logging.getLogger("notify.delivery")


class LeaseKeeper:
    """Call `renew` every `every` real seconds between entering and leaving the block."""

    def __init__(self, renew: Callable[[], object], every: float) -> None:
        self._renew = renew
        self._every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "LeaseKeeper":
        self._thread = threading.Thread(target=self._run, name="notify-lease-keeper", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._renew()
            except StoreError as exc:  # the store is away: the next renewal may land before the lease ends
                log.warning("could not renew leases: %s", exc)
