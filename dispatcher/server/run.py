"""Wire `notify serve`: the store, the ingest services, the in-process worker loop, and uvicorn."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator

from ..clock import Clock
from ..engine import Runtime
from ..incidents import acknowledge, incident_items, resolve, status_document
from ..ingest import ingest
from ..store import Store
from ..worker import Worker
from .app import App, Services, worker_alive
from .auth import Authenticator
from .metrics import Metrics

__all__ = ["build", "serve"]


def build(rt: Runtime, store: Store, clock: Clock, *, interval: float = 5.0) -> tuple[App, Worker, threading.Event]:
    """The app and the worker that share one store; `wake` tells the worker a stored event waits."""
    metrics = Metrics(store, clock.now)
    worker = Worker(rt, store, clock, on_attempt=metrics.on_attempt)
    wake = threading.Event()

    def health() -> dict[str, Any]:
        version = store.schema_version()
        alive = worker_alive(worker.last_tick, clock.now(), interval)
        return {"ok": alive, "store": {"ok": True, "schema": version},
                "worker": {"ok": alive, "last_tick": worker.last_tick.isoformat() if worker.last_tick else None}}

    def do_resolve(incident_id: str, message: str | None, by: str | None) -> dict[str, Any]:
        _, rows, done = resolve(rt, store, incident_id, message, by, clock.now())
        return {"schema": 1, "incident": incident_id, "resolved": done, "notices": len(rows)}

    def do_ack(incident_id: str, by: str) -> dict[str, Any]:
        done, row = acknowledge(store, incident_id, by, clock.now())
        return {"schema": 1, "incident": incident_id, "acknowledged": done, "status": row.status,
                "acked_by": row.acked_by, "acked_at": row.acked_at}

    def do_ingest(event: Any) -> Any:
        result = ingest(rt, store, event, clock.now())
        if result.delivery_ids:
            wake.set()  # from the store thread, as soon as it is stored: the sender need not wait for the answer
        return result

    services = Services(
        ingest=do_ingest, ack=do_ack, resolve=do_resolve,
        incidents=lambda: incident_items(store, open_only=False),
        status=lambda incident_id: status_document(rt, store, incident_id, clock.now()),
        health=health, wake=wake.set)
    settings = rt.settings
    token = settings.webhook_token.get_secret_value() if settings.webhook_token else None
    secret = settings.webhook_hmac_secret.get_secret_value() if settings.webhook_hmac_secret else None
    return App(services, Authenticator(token, secret), metrics), worker, wake


def serve(rt: Runtime, store: Store, clock: Clock, *, host: str, port: int, interval: float) -> None:
    """Run the API and the worker loop until SIGTERM/SIGINT; then finish sends and give back leases."""
    import uvicorn

    _Server = _server_class()
    app, worker, wake = build(rt, store, clock, interval=interval)
    stop = threading.Event()
    loop = threading.Thread(target=worker.run, args=(stop, interval, wake), name="notify-worker", daemon=True)
    loop.start()
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on", access_log=False)
    try:
        _Server(config).run()
    finally:
        stop.set()
        wake.set()
        loop.join(timeout=60)


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn re-raises SIGTERM after its shutdown, killing the process before the worker loop
        can finish its sends and give back its leases; here the signal only stops the server."""

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
