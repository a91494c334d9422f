"""The ASGI application behind `notify serve`: small, framework-free, every answer JSON.

Endpoints (all but /healthz and /metrics need the inbound token or signature):

    POST /hooks/alertmanager | /hooks/grafana   202 once stored; the worker loop triages it
    POST /hooks/generic[?wait=S]  202 once stored; the answer says what it did (opened, resolved...) and
                                  how its deliveries stand; with ?wait (at most 30 s), once they are known
    POST /incidents/{id}/ack      {"by": "name"}
    POST /incidents/{id}/resolve  {"message": "...", "by": "..."}
    GET  /incidents               open and recent incidents
    GET  /incidents/{id}          the JSON timeline (as `notify status --json`)
    GET  /healthz                 store reachable and worker loop alive
    GET  /metrics                 Prometheus text format

A 2xx is sent only after the event is durably stored; when storing fails the
answer is 503 so the sender retries. Store calls run in a thread pool, so a
slow disk never blocks the event loop.

Alertmanager and Grafana webhooks are checked (a malformed one is refused here,
naming the field), stored as received in the inbox, and answered: neither tool
reads the answer's body, and a burst of them is then accepted as fast as it can
be written. The worker loop, woken at once, triages them in the order received.
The generic hook, which scripts call and read, is handled before it is answered;
its answer counts the deliveries planned and still pending (it answers before
anything is sent), or with `?wait=SECONDS` waits for their outcomes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable

from ..hooks.model import PayloadError, parse
from ..problems import ConfigError
from ..store import StoreError
from .auth import SIGNATURE_HEADERS, Authenticator
from .metrics import Metrics
from .progress import Progress

__all__ = ["App", "MAX_BODY"]

log = logging.getLogger("notify.server")
MAX_BODY = 1024 * 1024
UNCOUNTED = frozenset({"/healthz", "/metrics"})  # cheap, and what monitoring reads under load
HOOK = re.compile(r"^/hooks/(alertmanager|grafana|generic)$")
QUEUED = frozenset({"alertmanager", "grafana"})  # stored as received, triaged by the worker loop
INCIDENT_ACTION = re.compile(r"^/incidents/([A-Za-z0-9-]+)/(ack|resolve)$")
INCIDENT = re.compile(r"^/incidents/([A-Za-z0-9-]+)$")
MAX_WAIT = 30.0  # seconds a generic hook's caller may wait for outcomes: longer and its HTTP client gives up
RECHECK = 1.0  # a waiting request reads the store again at least this often (a send by another process)


class HTTPError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


@dataclass
class Services:
    """What the app calls into; each is a blocking function run in the thread pool."""

    ingest: Callable[[Any], Any]  # AlertEvent -> IngestResult
    enqueue: Callable[[str, bytes, Any], dict[str, Any]]  # (source, body, AlertEvent) -> the answer
    ack: Callable[[str, str], Any]
    resolve: Callable[[str, str | None, str | None], Any]
    incidents: Callable[[], list[dict[str, Any]]]
    status: Callable[[str], dict[str, Any]]
    health: Callable[[], dict[str, Any]]
    wake: Callable[[], None]  # tell the worker loop a stored event is waiting
    deliveries: Callable[[str, tuple[int, ...]], dict[str, int]]  # (incident, ids) -> ingest.delivery_counts


class App:
    def __init__(self, services: Services, auth: Authenticator, metrics: Metrics, threads: int = 8,
                 progress: Progress | None = None, max_in_flight: int = 64) -> None:
        self.services, self.auth, self.metrics = services, auth, metrics
        self.max_in_flight, self.in_flight = max_in_flight, 0  # requests read or handled now (each may hold 1 MiB)
        self.progress = progress or Progress()  # wired to the sender's attempts by run.py
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="notify-store")

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]], send: Callable) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = _Body(scope, receive)
        counted = scope["path"] not in UNCOUNTED
        try:
            if counted and self.in_flight >= self.max_in_flight:
                raise HTTPError(503, f"{self.max_in_flight} requests in progress; retry later")
            self.in_flight += counted
            try:
                status, payload, content_type = await self._route(scope, request)
            finally:
                self.in_flight -= counted
        except ClientGone:
            return  # the server closed the connection (its body deadline): nobody to answer
        except HTTPError as exc:
            self.metrics.rejected.labels(str(exc.status)).inc()
            status, content_type = exc.status, "application/json"
            payload = {"error": exc.message, **({"field": exc.field} if exc.field else {})}
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
        if request.unread:  # answered before the body was read (refused): close rather than read the rest
            headers.append((b"connection", b"close"))
        if status == 503:
            headers.append((b"retry-after", b"1"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Callable, send: Callable) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.pool.shutdown(wait=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _route(self, scope: dict, request: _Body) -> tuple[int, Any, str]:
        method, path = scope["method"], scope["path"]
        if path == "/healthz" and method == "GET":
            health = await self._run(self.services.health)
            return (200 if health["ok"] else 503), health, "application/json"
        if path == "/metrics" and method == "GET":
            return 200, await self._run(self.metrics.render), "text/plain; version=0.0.4; charset=utf-8"
        headers = _headers(scope)
        if not (self.auth.hmac_secret and any(name in headers for name in SIGNATURE_HEADERS)):
            # Only a bearer token can let this request in: check it before reading a byte of the body,
            # so an unauthenticated client cannot make the server buffer (or wait for) 1 MiB.
            self.auth.check(headers, b"")
        body = await request.read()
        self.auth.check(headers, body)
        if (match := HOOK.match(path)) and method == "POST":
            return await self._hook(match.group(1), body, _wait(scope, match.group(1)))
        if (match := INCIDENT_ACTION.match(path)) and method == "POST":
            return await self._incident_action(match.group(1).upper(), match.group(2),
                                               _json_object(body, optional=True))
        if path == "/incidents" and method == "GET":
            return 200, {"schema": 1, "incidents": await self._run(self.services.incidents)}, "application/json"
        if (match := INCIDENT.match(path)) and method == "GET":
            return 200, await self._run(self.services.status, match.group(1).upper()), "application/json"
        raise HTTPError(404 if method in ("GET", "POST") else 405, f"no route for {method} {path}")

    async def _hook(self, source: str, body: bytes, wait: float) -> tuple[int, Any, str]:
        try:
            event = parse(source, body)
        except PayloadError as exc:
            raise HTTPError(400 if exc.field == "body" else 422, str(exc), exc.field) from None
        if source in QUEUED:  # the services wake the worker loop themselves, from the store thread
            return 202, await self._run(self.services.enqueue, source, body, event), "application/json"
        result = await self._run(self.services.ingest, event)
        self.metrics.ingested.labels(source, result.outcome).inc()
        return 202, result.as_json(await self._deliveries(result, wait)), "application/json"

    async def _deliveries(self, result: Any, wait: float) -> dict[str, int]:
        """The event's delivery counts now, or once none is pending (each recorded attempt wakes us) or `wait` ends."""
        if not result.delivery_ids:
            return {"planned": 0, "delivered": 0, "failed": 0, "pending": 0}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            with self.progress.listening() as attempted:
                counts = await self._run(self.services.deliveries, result.incident_id, result.delivery_ids)
                left = deadline - loop.time()
                if not counts["pending"] or left <= 0:
                    return counts
                try:
                    await asyncio.wait_for(attempted.wait(), min(left, RECHECK))
                except asyncio.TimeoutError:
                    pass

    async def _incident_action(self, incident_id: str, action: str, body: dict) -> tuple[int, Any, str]:
        by = body.get("by")
        if action == "ack":
            if not isinstance(by, str) or not by.strip():
                raise HTTPError(422, "field 'by' (who acknowledges) is required", "by")
            return 200, await self._run(self.services.ack, incident_id, by), "application/json"
        message = body.get("message")
        if message is not None and not isinstance(message, str):
            raise HTTPError(422, "field 'message' must be a string", "message")
        result = await self._run(self.services.resolve, incident_id, message, by if isinstance(by, str) else None)
        self.services.wake()
        return 200, result, "application/json"

    async def _run(self, func: Callable, *args: Any) -> Any:
        """Run a blocking store call off the event loop; map its failures to HTTP answers."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self.pool, func, *args)
        except PayloadError as exc:
            raise HTTPError(400 if exc.field == "body" else 422, str(exc), exc.field) from None
        except ConfigError as exc:
            status = 404 if any("no such incident" in p.message for p in exc.problems) else 422
            raise HTTPError(status, "; ".join(f"{p.key}: {p.message}" for p in exc.problems)) from None
        except StoreError as exc:
            log.error("store failure: %s", exc)
            raise HTTPError(503, "the store is unavailable; nothing was stored, retry later") from None


class ClientGone(Exception):
    """The connection closed before the body was all read."""


class _Body:
    """A request's body as the app reads it: refused past MAX_BODY before it is all read; knows whether it was read."""

    def __init__(self, scope: dict, receive: Callable[[], Awaitable[dict]]) -> None:
        self.scope, self.receive = scope, receive
        headers = _headers(scope)
        self.unread = headers.get("content-length", "0").strip().lstrip("0") != "" or "transfer-encoding" in headers

    async def read(self) -> bytes:
        declared = _headers(self.scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
            raise HTTPError(413, f"body of {declared} bytes is over the {MAX_BODY} byte limit")
        chunks, size = [], 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientGone()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                raise HTTPError(413, f"body is over the {MAX_BODY} byte limit")
            chunks.append(chunk)
            if not message.get("more_body"):
                self.unread = False
                return b"".join(chunks)


def _wait(scope: dict, source: str) -> float:
    """The ?wait=SECONDS of a hook: 0 when absent; only the generic hook waits, at most MAX_WAIT."""
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("wait")
    if not values:
        return 0.0
    if source in QUEUED:
        raise HTTPError(422, f"?wait: the {source} hook is answered once stored, it does not wait "
                             "(only /hooks/generic does)", "wait")
    try:
        wait = float(values[-1])
    except ValueError:
        wait = -1.0
    if not 0 <= wait <= MAX_WAIT:  # NaN fails this too
        raise HTTPError(422, f"?wait: expected seconds from 0 to {MAX_WAIT:g}, got {values[-1][:40]!r}", "wait")
    return wait


def _headers(scope: dict) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _json_object(body: bytes, *, optional: bool = False) -> dict:
    if optional and not body.strip():
        return {}
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HTTPError(400, f"body is not valid JSON: {exc}", "body") from None
    if not isinstance(value, dict):
        raise HTTPError(400, "body must be a JSON object", "body")
    return value


def worker_alive(last_tick: datetime | None, now: datetime, interval: float) -> bool:
    return last_tick is not None and now - last_tick < timedelta(seconds=max(30.0, 6 * interval))
