"""What /healthz answers: is this instance able to take webhooks now?

Reading the store is not enough: a full disk still reads, while every hook is
answered 503. So health also reflects the writes requests made (the latest
failed, and none succeeded since) and the worker loop's progress (a tick that
completed without a store failure, not one merely started).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from ..errors import StoreError, StoreRejected

if TYPE_CHECKING:  # the store is the caller's; here it is only read through
    from ..app.stores import Store

__all__ = ["WriteHealth", "health_report", "health_window", "worker_alive"]

T = TypeVar("T")


def health_window(interval: float) -> timedelta:
    """How long a failure counts, and how long the loop may go without progress: six ticks, at least 30 s."""
    return timedelta(seconds=max(30.0, 6 * interval))


def worker_alive(last_tick: datetime | None, now: datetime, interval: float) -> bool:
    """The worker loop completed a tick within the health window."""
    return last_tick is not None and now - last_tick < health_window(interval)


class WriteHealth:
    """The outcome of the store writes made for requests: is the latest one a failure nothing has cleared?

    A failure counts until a later write succeeds, or for the health window: an instance a load
    balancer took out gets no writes to prove itself with, so it is tried again after that.
    """

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._failed: tuple[datetime, str] | None = None

    def track(self, func: Callable[..., T]) -> Callable[..., T]:
        """`func`, a request's store write, with its outcome recorded."""
        def tracked(*args: Any) -> T:
            try:
                result = func(*args)
            except StoreRejected:  # this request's data, refused for good: the store itself is fine
                raise
            except StoreError as exc:
                with self._lock:
                    self._failed = (self._now(), str(exc))
                raise
            with self._lock:
                self._failed = None
            return result

        return tracked

    def failing(self, now: datetime, interval: float) -> str | None:
        """Why writes fail (the latest error), or None when the latest write succeeded or is long past."""
        with self._lock:
            failed = self._failed
        if failed is None or now - failed[0] >= health_window(interval):
            return None
        return failed[1]


def health_report(store: Store, writes: WriteHealth, last_tick: datetime | None, now: datetime,
                  interval: float) -> dict[str, Any]:
    """The /healthz document: ok only when the store reads, writes are not failing and the loop progresses."""
    alive = worker_alive(last_tick, now, interval)
    worker = {"ok": alive, "last_tick": last_tick.isoformat() if last_tick else None}
    try:
        version = store.schema_version()
        waiting, failing, given_up = store.inbox_counts()
    except StoreError as exc:  # the message masks secrets
        return {"ok": False, "store": {"ok": False, "error": str(exc)}, "worker": worker}
    inbox = {"waiting": waiting, "failing": failing, "given_up": given_up}
    error = writes.failing(now, interval)
    if error is not None:
        return {"ok": False, "store": {"ok": False, "schema": version, "error": f"writes failing: {error}"},
                "worker": worker, "inbox": inbox}
    return {"ok": alive, "store": {"ok": True, "schema": version}, "worker": worker, "inbox": inbox}
