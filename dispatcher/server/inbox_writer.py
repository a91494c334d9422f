"""Alertmanager and Grafana webhooks stored by one writer thread, every one queued meanwhile in one transaction.

A burst posts hundreds of webhooks a second. Stored one request at a time, each
paid a hop to the thread pool and back, a transaction of its own (or a seat in
the store's group commit, with a thread wake-up each), a wake of the sender and
a timeout task on the event loop. Here the event loop queues the webhook and
waits on a future; the writer thread takes everything queued, stores it in one
transaction (:func:`enqueue_group`), wakes the sender once, and settles the
futures with one call into the loop. While it commits, the next group queues.

Nothing changes for the sender of a webhook: its 202 still comes only once the
transaction that holds its webhook is committed (durable, as each write is),
a failed transaction fails every webhook of it (nothing of it was stored: 503,
retry), and a store that does not answer within NOTIFY_STORE_TIMEOUT is
answered 503 while the write goes on.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import weakref
from typing import Any, Callable, Sequence

from ..app.ingest import scoped_key
from ..errors import NotifyError, StoreError, StoreRejected
from ..eventlog import emit
from .http_error import StoreTimeout

__all__ = ["MAX_GROUP", "InboxWriter", "enqueue_group", "queued_answer"]

log = logging.getLogger("notify.server")

MAX_GROUP = 256  # webhooks in one transaction at most (a burst's group is what arrived during one commit)


def enqueue_group(store: Any, now: Callable[[], Any], wake: Callable[[int], None],
                  webhooks: Sequence[tuple[str, bytes, Any]]) -> list[Any]:
    """Store webhooks, each (source, body, parsed AlertEvent), together; each one's answer, or the error that
    refused it. One refused for good (StoreRejected: its value) is stored alone, so that only its sender is told
    not to retry; any other failure fails them all (nothing was stored)."""
    keyed = [(source, scoped_key(event), body.decode("utf-8")) for source, body, event in webhooks]
    try:  # parse() has checked each body: UTF-8, and storable
        ids: list[Any] = store.enqueue_many(keyed, now())
    except StoreRejected:
        if len(keyed) == 1:
            raise
        ids = [_alone(store, now, webhook) for webhook in keyed]
    stored = sum(not isinstance(queued, BaseException) for queued in ids)
    if stored:
        wake(stored)  # once for the group, as soon as it is committed: the sender need not wait for the answers
    return [queued if isinstance(queued, BaseException) else queued_answer(source, key, queued)
            for (source, key, _), queued in zip(keyed, ids)]


def queued_answer(source: str, key: str, inbox_id: int) -> dict[str, Any]:
    """A stored webhook's log line and its answer: queued, with its inbox id and group."""
    emit("hook.received", None, source=source, outcome="queued", inbox_event=inbox_id, group=key)
    return {"schema": 1, "outcome": "queued", "event": inbox_id, "dedup_key": key}


def _alone(store: Any, now: Callable[[], Any], webhook: tuple[str, str, str]) -> Any:
    """One webhook stored on its own: its id, or the error that refused it. Any store error is this webhook's
    answer alone: those stored before it were committed and must be answered 202 (a 503 would have their
    senders store them twice)."""
    try:
        return store.enqueue_many([webhook], now())[0]
    except StoreError as exc:
        return exc


class InboxWriter:
    """The writer thread (started with the first webhook) and its queue; `store` is awaited by the request."""

    def __init__(self, store_group: Callable[[list[tuple[str, bytes, Any]]], list[Any]], timeout: float,
                 answer: Callable[[BaseException], BaseException]) -> None:
        self.store_group, self.timeout = store_group, timeout
        self.answer = answer  # a NotifyError as the HTTP answer to give (app.answer); any other error stays
        self._lock = threading.Lock()
        self._queued: list[tuple[tuple[str, bytes, Any], asyncio.Future, asyncio.AbstractEventLoop]] = []
        self._ready = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._deadlines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Deadlines] = weakref.WeakKeyDictionary()

    async def store(self, source: str, body: bytes, event: Any) -> Any:
        """The webhook's answer once its group is committed; StoreTimeout past the timeout (the write goes on)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            if self._closed:
                raise StoreTimeout(self.timeout)  # shutting down: the sender retries elsewhere or later
            self._queued.append(((source, body, event), future, loop))
            self._ready.set()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="notify-inbox-writer", daemon=True)
                self._thread.start()
        deadlines = self._deadlines.get(loop)
        if deadlines is None:
            deadlines = self._deadlines[loop] = _Deadlines(loop, self.timeout)
        deadlines.add(future)
        return await future

    def close(self) -> None:
        """Store what is queued, then stop the thread."""
        with self._lock:
            self._closed = True
            self._ready.set()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            self._ready.wait()
            with self._lock:
                group, self._queued = self._queued[:MAX_GROUP], self._queued[MAX_GROUP:]
                if not self._queued and not self._closed:
                    self._ready.clear()
                closed = self._closed
            if not group:
                if closed:
                    return
                continue
            try:
                outcomes = self.store_group([webhook for webhook, _, _ in group])
            except BaseException as exc:  # noqa: BLE001 - nothing of the group was stored: each request hears why
                outcomes = [exc] * len(group)
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, Any]]] = {}
            for (_, future, loop), outcome in zip(group, outcomes):
                by_loop.setdefault(loop, []).append((future, outcome))
            for loop, settled in by_loop.items():
                try:
                    loop.call_soon_threadsafe(self._settle, settled)
                except RuntimeError:  # that loop is closed: nobody waits for these answers
                    log.warning("inbox writer: %d answers had no event loop to go to", len(settled))

    def _settle(self, settled: list[tuple[asyncio.Future, Any]]) -> None:
        """On the event loop: each request's answer, or its error as the HTTP answer."""
        for future, outcome in settled:
            if future.done():  # answered 503 at the timeout already
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(self.answer(outcome) if isinstance(outcome, NotifyError) else outcome)
            else:
                future.set_result(outcome)


class _Deadlines:
    """The requests of one event loop waiting for their group, oldest first, and one timer for the oldest not yet
    answered: a timer per request (heap pushes, cancels) cost a tenth of the event loop's time in a burst."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.loop, self.timeout = loop, timeout
        self.waiting: collections.deque[tuple[float, asyncio.Future]] = collections.deque()
        self.timer: asyncio.TimerHandle | None = None

    def add(self, future: asyncio.Future) -> None:
        self.waiting.append((self.loop.time() + self.timeout, future))
        if self.timer is None:
            self.timer = self.loop.call_at(self.waiting[0][0], self._check)

    def _check(self) -> None:
        """Answer 503 to each request past its deadline; the timer then waits for the oldest still waiting."""
        self.timer = None
        now, waiting = self.loop.time(), self.waiting
        while waiting and (waiting[0][1].done() or waiting[0][0] <= now):
            _, future = waiting.popleft()
            if not future.done():
                log.error("store failure: no answer within %g s (NOTIFY_STORE_TIMEOUT)", self.timeout)
                future.set_exception(StoreTimeout(self.timeout))
        if waiting:
            self.timer = self.loop.call_at(waiting[0][0], self._check)
