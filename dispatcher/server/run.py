"""Wire `notify serve`: the store, the ingest services, the worker loop (a child process) and uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import signal
import threading
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator

from ..clock import Clock
from ..engine import Runtime
from ..eventlog import emit
from ..incidents import acknowledge, incident_items, resolve, status_document
from ..ingest import delivery_counts, ingest, log_ingested, scoped_key
from ..store import Store, StoreError
from ..store.requests_sql import REQUESTS_KEEP
from ..worker import Worker, worker_id
from .app import App, Services
from .auth import Authenticator, Credentials
from .front_end import FrontEndLimits, RateLimitedLog, fd_budget, loop_exception_handler, uvicorn_config
from .health import WriteHealth, health_report
from .metrics import Metrics
from .progress import Progress, also
from .sender import SenderProcess, run_child
from .throttle import FailureThrottle

__all__ = ["build", "serve", "server_class"]

CHILD_STOP_GRACE = 5.0  # seconds the server waits for its own stop after its sender stopped cleanly

log = logging.getLogger("notify.server")


def build(rt: Runtime, store: Store, clock: Clock, *, interval: float = 5.0,
          limits: FrontEndLimits = FrontEndLimits()) -> tuple[App, Worker, threading.Event]:
    """The app and an in-process worker that share one store; `wake` tells the worker a stored event waits."""
    metrics, progress = Metrics(store, clock.now), Progress()
    worker = Worker(rt, store, clock, on_attempt=also(metrics.on_attempt, progress.attempted),
                    on_ingest=metrics.on_ingest)
    wake = threading.Event()
    app = _app(rt, store, clock, metrics, progress, wake.set, lambda: worker.last_tick, interval, limits)
    return app, worker, wake


def _app(rt: Runtime, store: Store, clock: Clock, metrics: Metrics, progress: Progress, wake: Callable[[], None],
         last_tick: Callable[[], datetime | None], interval: float, limits: FrontEndLimits) -> App:
    writes = WriteHealth(clock.now)

    def health() -> dict[str, Any]:
        report = health_report(store, writes, last_tick(), clock.now(), interval)
        if not report["ok"]:  # the answer a load balancer reads, as JSON; said in the log too
            log.error("health check: %s", json.dumps(report, sort_keys=True))
        return report

    def do_resolve(incident_id: str, message: str | None, by: str | None) -> dict[str, Any]:
        _, rows, done = resolve(rt, store, incident_id, message, by, clock.now())
        if done:
            emit("incident.resolved", incident_id, via="api", by=by, deliveries=len(rows))
        return {"schema": 1, "incident": incident_id, "resolved": done, "notices": len(rows)}

    def do_ack(incident_id: str, by: str) -> dict[str, Any]:
        done, row = acknowledge(store, incident_id, by, clock.now())
        if done:
            emit("incident.acknowledged", incident_id, via="api", by=by)
        return {"schema": 1, "incident": incident_id, "acknowledged": done, "status": row.status,
                "acked_by": row.acked_by, "acked_at": row.acked_at}

    def do_ingest(event: Any) -> Any:
        result = ingest(rt, store, event, clock.now())
        if result.delivery_ids:
            wake()  # from the store thread, as soon as it is stored: the sender need not wait for the answer
        emit("hook.received", result.incident_id, source=event.source, outcome=result.outcome)
        log_ingested(event.source, result)
        return result

    def do_enqueue(source: str, body: bytes, event: Any) -> dict[str, Any]:
        key = scoped_key(event)  # parse() has checked the body: UTF-8, and storable
        queued = store.enqueue(source, key, body.decode("utf-8"), clock.now().isoformat())
        wake()  # from the store thread, as soon as it is stored (as do_ingest does)
        emit("hook.received", None, source=source, outcome="queued", inbox_event=queued, group=key)
        return {"schema": 1, "outcome": "queued", "event": queued, "dedup_key": key}

    def deliveries(incident_id: str, ids: tuple[int, ...]) -> dict[str, int]:
        return delivery_counts(store.deliveries(incident_id), ids)

    def remember(key: str, status: int, answer: dict[str, Any]) -> None:
        now = clock.now()
        store.remember_answer(key, now.isoformat(), status, answer,
                              (now - timedelta(seconds=REQUESTS_KEEP)).isoformat())

    services = Services(
        ingest=writes.track(do_ingest), enqueue=writes.track(do_enqueue), ack=writes.track(do_ack),
        resolve=writes.track(do_resolve),
        incidents=lambda: incident_items(store, open_only=False),
        status=lambda incident_id: status_document(rt, store, incident_id, clock.now()),
        health=health, wake=wake, deliveries=deliveries,
        sealed=lambda key: store.sealed(key, clock.now().isoformat()), replayed=store.request_answer,
        remember=remember)
    credentials = Credentials.from_settings(rt.settings)
    # No credential at all: `serve --no-auth` (the CLI refuses to start so otherwise)
    auth = Authenticator(credentials if credentials != Credentials() else None, now=lambda: clock.now().timestamp(),
                         throttle=FailureThrottle(now=clock.monotonic), on_failure=metrics.on_auth_failure)
    return App(services, auth, metrics, progress=progress, store_timeout=rt.settings.store_timeout,
               max_in_flight=limits.max_in_flight)


def serve(rt: Runtime, open_store: Callable[[], Store], clock: Clock, *, host: str, port: int, interval: float,
          sender_process: bool = True, limits: FrontEndLimits = FrontEndLimits()) -> None:
    """Run the API and the worker loop until SIGTERM/SIGINT; then finish sends and give back leases.

    The worker loop runs in a child process (see :mod:`.sender`), forked here before any thread
    starts and before this process opens its store; with `sender_process=False`, or when threads
    run already, it is a thread of this process. If the child dies, a thread takes over its work.
    """
    child = None
    if sender_process and threading.active_count() == 1 and hasattr(os, "fork"):
        child = SenderProcess.fork(functools.partial(run_child, rt, open_store, clock, interval))
    try:
        store = open_store()
    except BaseException:
        if child is not None:
            child.stop()
        raise
    try:
        _serve(rt, store, clock, child, host=host, port=port, interval=interval, limits=limits)
    finally:
        store.close()


def _serve(rt: Runtime, store: Store, clock: Clock, child: SenderProcess | None, *, host: str, port: int,
           interval: float, limits: FrontEndLimits) -> None:
    limits = fd_budget(limits)
    metrics, progress = Metrics(store, clock.now), Progress()
    sending = _Sending(rt, store, clock, metrics, interval, child, also(metrics.on_attempt, progress.attempted))
    app = _app(rt, store, clock, metrics, progress, sending.wake, sending.last_tick, interval, limits)
    # log_config=None: uvicorn's own lines go through notify's handler (dispatcher.eventlog), JSON lines included
    config = uvicorn_config(app, limits, host=host, port=port, on_refused=lambda status: metrics.rejected.labels(
        str(status)).inc(), log_level="warning", lifespan="on", access_log=False, log_config=None)
    try:
        server_class(limits.log_interval)(config).run()
    finally:
        sending.close()


class _Sending:
    """The worker loop as the app sees it (wake it, when did it last tick): the child, or a thread."""

    def __init__(self, rt: Runtime, store: Store, clock: Clock, metrics: Metrics, interval: float,
                 child: SenderProcess | None, on_attempt: Callable[[str, str, int, float], None]) -> None:
        self.rt, self.store, self.clock, self.metrics, self.interval = rt, store, clock, metrics, interval
        self.on_attempt = on_attempt  # metrics, and the requests waiting for outcomes
        self.child = child
        self.stop, self.woken = threading.Event(), threading.Event()
        self.worker: Worker | None = None
        self.thread: threading.Thread | None = None
        self.child_tick: datetime | None = None
        self.lock = threading.Lock()
        if child is not None:
            child.listen(on_attempt, metrics.on_ingest, self._ticked, self._child_exited)
        else:
            self._start_thread()

    def wake(self) -> None:
        if self.thread is None and self.child is not None:
            self.child.wake()
        else:
            self.woken.set()

    def last_tick(self) -> datetime | None:
        return self.worker.last_tick if self.worker is not None else self.child_tick

    def _ticked(self, at: datetime) -> None:
        self.child_tick = at

    def _child_exited(self, status: int) -> None:
        if status == 0 and not self.stop.is_set():
            # A clean stop the server did not ask for: most likely the SIGTERM a service manager sends
            # to the whole process group, which is stopping the server too. Give that a moment.
            threading.Thread(target=self._replace_child_unless_stopping, args=(status, CHILD_STOP_GRACE),
                             name="notify-sender-exit", daemon=True).start()
            return
        self._replace_child_unless_stopping(status, 0)

    def _replace_child_unless_stopping(self, status: int, grace: float) -> None:
        if self.stop.wait(grace):
            return
        with self.lock:
            if self.stop.is_set():
                return
            log.error("the sender process exited with status %s; sending from this process instead", status)
            # Its hold on the inbox would keep stored webhooks waiting for the lease to run out (60 s).
            # Handling a webhook again is harmless; its in-flight deliveries keep their leases (they may
            # have been sent), and are taken over, marked possibly duplicated, when those expire.
            with contextlib.suppress(StoreError):
                self.store.release_inbox(worker_id(self.child.pid))
            self._start_thread()

    def _start_thread(self) -> None:
        self.worker = Worker(self.rt, self.store, self.clock, on_attempt=self.on_attempt,
                             on_ingest=self.metrics.on_ingest)
        self.thread = threading.Thread(target=self.worker.run, args=(self.stop, self.interval, self.woken),
                                       name="notify-worker", daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop the loop: its current sends finish and its leases are given back."""
        with self.lock:
            self.stop.set()
            self.woken.set()
        if self.child is not None:
            self.child.stop(timeout=60)
        if self.thread is not None:
            self.thread.join(timeout=60)


def server_class(log_interval: float = FrontEndLimits.log_interval) -> type:
    """uvicorn's Server as `notify serve` runs it (signals, and failed accepts logged once a minute)."""
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn re-raises SIGTERM after its shutdown, killing the process before the worker loop
        can finish its sends and give back its leases; here the signal only stops the server."""

        async def startup(self, sockets: Any = None) -> None:
            # Out of descriptors, asyncio logs a traceback per failed accept, thousands a second.
            asyncio.get_running_loop().set_exception_handler(loop_exception_handler(RateLimitedLog(log_interval)))
            await super().startup(sockets=sockets)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server
