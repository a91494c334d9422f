"""The ASGI application behind `notify serve`: small, framework-free; JSON but for link pages and TwiML.

Endpoints, and the credential each takes (see auth.py and docs/reference/http-api.md; /healthz answers
without one, /metrics too unless NOTIFY_METRICS_TOKEN is set):

    POST /hooks/alertmanager | /hooks/grafana   202 once stored; the worker loop triages it  (webhook credential)
    POST /heartbeat/{name}[?interval=5m]  a monitor's dead man's switch (webhook credential; heartbeats.py)
    POST /hooks/generic[?wait=S]  202 once stored; the answer says what it did (opened, resolved...) and
                                  how its deliveries stand; with ?wait (at most 30 s), once they are known
    POST /incidents/{id}/ack|escalate|update|resolve|reclassify   {"by": ..., "message": ..., "class": ...}
                                  (API token, or a personal token: acts as its person; incident_actions.py)
    GET|POST /a/{token}           an action link's confirmation page (changes nothing) and its form (the token)
    POST /providers/...           Twilio, Slack and PagerDuty callbacks (providers.py)  (the provider's signature)
    GET  /incidents               open and recent incidents
    GET|POST /silences, /maintenance; POST /silences/{id}/expire   (API token; silence_routes.py)
    GET  /incidents/{id}          the JSON timeline (as `notify status --json`)
    GET  /healthz                 store reachable and worker loop alive: "ok" and the failing checks' names;
                                  the details with the API token
    GET  /metrics                 Prometheus text format
    GET  / and /ui/...            the web view for people (ui.py): signed in by its own session cookie

A signed hook handled once is answered again as it was, marked "duplicate", and changes nothing.
/healthz and /metrics are read on a thread of their own, one scrape at a time, so a flood of them
never holds up a hook.

A 2xx is sent only after the event is durably stored; when storing fails the answer is 503 so the
sender retries. Store calls run in a thread pool, so a slow disk never blocks the event loop; unsigned
Alertmanager and Grafana hooks are stored by one writer thread, a group per transaction (inbox_writer.py).

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
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from ..app.webhooks import load_object, parse
from ..errors import (
    AlreadyHandled,
    ConfigError,
    NotifyError,
    PayloadError,
    StoreError,
    StoreRejected,
)
from .auth import Admission, Authenticator, Refusal, RequestHead
from .heartbeats import HEARTBEAT, heartbeat_answer
from .http_error import HTTPError, StoreTimeout, no_route, replayed_answer
from .inbox_writer import InboxWriter
from .incident_actions import BadField, parsed
from .link_pages import HTML, HTML_HEADERS, LinkPages, link_answer
from .metrics import Metrics
from .progress import Progress
from .providers import Providers
from .query import hook_wait

__all__ = ["MAX_BODY", "App", "HTTPError", "StoreTimeout", "answer"]

log = logging.getLogger("notify.server")
MAX_BODY = 1024 * 1024
UNCOUNTED = frozenset({"/healthz", "/metrics"})  # cheap, and what monitoring reads under load
HOOK = re.compile(r"^/hooks/(alertmanager|grafana|generic)$")
QUEUED = frozenset({"alertmanager", "grafana"})  # stored as received, triaged by the worker loop
INCIDENT_ACTION = re.compile(r"^/incidents/([A-Za-z0-9-]+)/(ack|escalate|update|resolve|reclassify)$")
LINK = re.compile(r"^/a/([A-Za-z0-9_-]{1,64})$")
INCIDENT = re.compile(r"^/incidents/([A-Za-z0-9-]+)$")
ROUTES = {"GET": (re.compile(r"^/(healthz|metrics|incidents)$"), INCIDENT, LINK),  # what _route serves (405's Allow)
          "POST": (HOOK, HEARTBEAT, INCIDENT_ACTION, LINK, re.compile(r"^/providers/"))}
RECHECK = 1.0  # a waiting request reads the store again at least this often (a send by another process)


def answer(exc: NotifyError) -> HTTPError:
    """The HTTP answer to an error: its status by type (``http_status``, errors.py's tree), its words by kind."""
    status = exc.http_status
    if isinstance(exc, StoreRejected):  # a retry would fail the same way: the sender must not be told to retry
        log.error("store refused a request: %s", exc)
        return HTTPError(status, f"{exc}; nothing was stored")
    if isinstance(exc, StoreError):
        log.error("store failure: %s", exc)
        return HTTPError(status, "the store is unavailable; nothing was stored, retry later")
    if isinstance(exc, ConfigError):
        return HTTPError(status, "; ".join(f"{p.key}: {p.message}" for p in exc.problems))
    if status >= 500:  # ours, not the caller's: the details go to the log, not to whoever sent the request
        log.error("request failed: %s: %s", type(exc).__name__, exc)
        return HTTPError(status, "internal error; see the server's log")
    return HTTPError(status, str(exc), getattr(exc, "field", None))


@dataclass
class Services:
    """What the app calls into; each is a blocking function run in the thread pool."""

    ingest: Callable[[Any], Any]  # AlertEvent -> IngestResult
    enqueue: Callable[[str, bytes, Any], dict[str, Any]]  # (source, body, AlertEvent) -> the answer
    ack: Callable[[str, str, str], Any]  # (incident, by, via)
    resolve: Callable[[str, str | None, str | None], Any]
    escalate: Callable[[str, str, str], Any]  # (incident, by, via)
    update: Callable[[str, str, str | None], Any]  # (incident, message, by)
    reclassify: Callable[[str, str, str], dict[str, Any]]  # (incident, class, by) -> app.reclassify's answer
    link_view: Callable[[str], Any]  # token -> the confirmation page's LinkView; changes nothing
    link_act: Callable[[str, str], Any]  # (token, action) -> LinkOutcome
    incidents: Callable[[], list[dict[str, Any]]]
    status: Callable[[str], dict[str, Any]]
    health: Callable[[], dict[str, Any]]
    wake: Callable[[], None]  # tell the worker loop a stored event is waiting
    deliveries: Callable[[str, tuple[int, ...]], dict[str, int]]  # (incident, ids) -> ingest.delivery_counts
    # The replay record of signed requests (store/requests_sql.py): a context marking this thread's first
    # write with the key; the answer given to it before (None: new); keep the answer given now.
    sealed: Callable[[str], Any]
    replayed: Callable[[str], tuple[int | None, dict[str, Any] | None] | None]
    remember: Callable[[str, int, dict[str, Any]], None]
    caller: Callable[[str], Any] = lambda digest: None  # a personal token's hash -> app.tokens.Caller, or None
    acting: Callable[[Any, Any], Any] = lambda caller, by: by  # (caller, body "by") -> whom to record
    provider_calls: Any = None  # providers.ProviderCalls: what SMS replies, keypresses and buttons do
    # More routes, each answer(method, path, body, run) -> (status, payload, type), or None when not its path
    # (silence_routes.py: silences and maintenance windows): they take the API token, as access_of says.
    routes: tuple[Any, ...] = ()
    beat: Callable[[str, str | None, str | None], Any] | None = None  # (name, interval, grace) -> app.heartbeats.Beat
    # [(source, body, AlertEvent)] -> each one's answer or error, stored together: unsigned Alertmanager and
    # Grafana hooks go through one writer thread (inbox_writer.py) instead of `enqueue` on the pool
    enqueue_many: Callable[[list[tuple[str, bytes, Any]]], list[Any]] | None = None


class App:
    def __init__(self, services: Services, auth: Authenticator, metrics: Metrics, threads: int = 8,
                 progress: Progress | None = None, store_timeout: float = 2.0, max_in_flight: int = 64,
                 pages: LinkPages | None = None, providers: Providers | None = None, ui: Any = None) -> None:
        self.services, self.auth, self.metrics, self.ui = services, auth, metrics, ui  # ui: ui.UI, the web view
        self.pages, self.providers = pages or LinkPages(None), providers or Providers(None, {})
        self.store_timeout = store_timeout  # NOTIFY_STORE_TIMEOUT: a hung store is answered 503, not waited for
        self.max_in_flight, self.in_flight = max_in_flight, 0  # requests read or handled now (each may hold 1 MiB)
        self.progress = progress or Progress()  # wired to the sender's attempts by run.py
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="notify-store")
        # /healthz and /metrics: their own thread, so a flood of scrapes queues there, not ahead of hooks
        self.probes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notify-probe")
        self._probing: dict[str, asyncio.Future] = {}  # the health check or scrape in progress, shared
        many = services.enqueue_many
        self.inbox = InboxWriter(many, store_timeout, answer) if many is not None else None

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]], send: Callable) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if self.ui is not None and self.ui.claims(scope["path"]):  # the web view: its own sessions (ui.py)
            return await self.ui.serve(scope, receive, send, self._run)
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
            extra: list[tuple[bytes, bytes]] = []
        except ClientGone:
            return  # the server closed the connection (its body deadline): nobody to answer
        except HTTPError as exc:
            self.metrics.rejected.labels(str(exc.status)).inc()
            status, content_type, extra = exc.status, "application/json", exc.headers
            payload = {"error": exc.message, **({"field": exc.field} if exc.field else {})}
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()), *extra]
        if content_type == HTML:
            headers += HTML_HEADERS
        if request.unread:  # answered before the body was read (refused): close rather than read the rest
            headers.append((b"connection", b"close"))
        if status == 503 and not any(name == b"retry-after" for name, _ in headers):
            headers.append((b"retry-after", b"1"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Callable, send: Callable) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.inbox is not None:
                    self.inbox.close()
                self.pool.shutdown(wait=True)
                self.probes.shutdown(wait=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _route(self, scope: dict, request: _Body) -> tuple[int, Any, str]:
        method, path = scope["method"], scope["path"]
        head = request_head(scope)
        admission = _admitted(self.auth.before_body, head)
        if path == "/healthz" and method == "GET":
            try:
                health = await self._shared("health", self.services.health)
            except StoreTimeout as exc:
                health = {"ok": False, "store": {"ok": False, "error": exc.message}}
            shown = health if admission.details else {"ok": health["ok"], "failing": _failing(health)}
            return (200 if health["ok"] else 503), shown, "application/json"
        if path == "/metrics" and method == "GET":
            return 200, await self._shared("metrics", self.metrics.render), "text/plain; version=0.0.4; charset=utf-8"
        # The headers alone decide a bearer token (before_body above): the body is read only once they admit
        # the request, so an unauthenticated client cannot make the server buffer (or wait for) 1 MiB.
        caller = await self._run(self.services.caller, admission.personal) if admission.personal else None
        if admission.personal and caller is None:  # a personal token the store does not know, or revoked
            _admitted(self.auth.unknown_personal, head)
        body = await request.read()
        if admission.needs_body:
            admission = _admitted(self.auth.after_body, head, body)
        if (match := HOOK.match(path)) and method == "POST":
            return await self._signed_hook(match.group(1), body, hook_wait(scope, match.group(1), QUEUED), admission)
        if (match := HEARTBEAT.match(path)) and method == "POST":
            return await heartbeat_answer(match.group(1), scope, run=self._run, services=self.services)
        if (match := LINK.match(path)) and method in ("GET", "POST"):
            return await link_answer(self.pages, match.group(1), method, body, run=self._run,
                                     services=self.services)
        if path.startswith("/providers/") and method == "POST":
            return await self.providers.answer(path, head.headers, scope.get("query_string", b"").decode("latin-1"),
                                               body, run=self._run, services=self.services)
        if (match := INCIDENT_ACTION.match(path)) and method == "POST":
            return await self._incident_action(match.group(1).upper(), match.group(2), _action_body(body), caller)
        if path == "/incidents" and method == "GET":
            return 200, {"schema": 1, "incidents": await self._run(self.services.incidents)}, "application/json"
        if (match := INCIDENT.match(path)) and method == "GET":
            return 200, await self._run(self.services.status, match.group(1).upper()), "application/json"
        for routes in self.services.routes:
            if (answered := await routes.answer(method, path, body, self._run)) is not None:
                return answered
        raise no_route(method, path, ROUTES, self.services.routes)

    async def _shared(self, kind: str, work: Callable[[], Any]) -> Any:
        """`work` on the probe thread, or the run of it in progress: a flood of health checks or scrapes costs
        one at a time, and no probe waits out the store timeout in a queue behind the others."""
        running = self._probing.get(kind)
        if running is None or running.done():
            running = self._probing[kind] = asyncio.ensure_future(self._run(work, pool=self.probes))
        return await asyncio.shield(running)

    async def _signed_hook(self, source: str, body: bytes, wait: float, admission: Admission) -> tuple[int, Any, str]:
        """A hook; a signed one is recorded with its effect, and a replay gets the first answer and changes nothing."""
        seal = admission.seal
        if seal is None:
            return await self._hook(source, body, wait, None)
        if (earlier := await self._run(self.services.replayed, seal)) is not None:
            return replayed_answer(earlier)
        try:
            status, payload, content_type = await self._hook(source, body, wait, seal)
        except AlreadyHandled:  # the same request, handled by another thread or process meanwhile
            return replayed_answer(await self._run(self.services.replayed, seal))
        try:
            await self._run(self.services.remember, seal, status, payload)
        except HTTPError:  # the effect is stored; a replay is then answered "duplicate" without the details
            log.warning("could not keep the answer to a signed %s hook for its replays", source)
        return status, payload, content_type

    async def _hook(self, source: str, body: bytes, wait: float, seal: str | None) -> tuple[int, Any, str]:
        try:
            event = parse(source, body)
        except PayloadError as exc:
            raise answer(exc) from None
        if source in QUEUED and seal is None and self.inbox is not None:  # stored with the others queued meanwhile
            return 202, await self.inbox.store(source, body, event), "application/json"
        if source in QUEUED:  # the services wake the worker loop themselves, from the store thread
            return 202, await self._run(self._sealed, seal, self.services.enqueue, source, body, event), \
                "application/json"
        result = await self._run(self._sealed, seal, self.services.ingest, event)
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

    async def _incident_action(self, incident_id: str, action: str, body: dict,
                               caller: Any = None) -> tuple[int, Any, str]:
        if caller is not None:  # a personal token acts as its person (a "by" naming another is refused), via the API
            body = {**body, "by": await self._run(self.services.acting, caller, body.get("by")), "via": "api"}
        elif isinstance(body.get("by"), str):  # the operator's token: a person's id names them, as in the CLI
            body = {**body, "by": await self._run(self.services.acting, None, body["by"])}
        try:
            service, args = parsed(action, body)
        except BadField as exc:
            raise HTTPError(422, exc.message, exc.field) from None
        result = await self._run(getattr(self.services, service), incident_id, *args)
        self.services.wake()  # the notices it planned (an ack's to the Slack channel, an escalation's pages)
        return 200, result, "application/json"

    def _sealed(self, seal: str | None, func: Callable, *args: Any) -> Any:
        """`func(*args)` on this store thread, its first write recording the signed request `seal`."""
        if seal is None:
            return func(*args)
        with self.services.sealed(seal):
            return func(*args)

    async def _run(self, func: Callable, *args: Any, pool: ThreadPoolExecutor | None = None) -> Any:
        """Run a blocking store call off the event loop; map its failures to HTTP answers.

        The call is given NOTIFY_STORE_TIMEOUT, waiting for a free thread included: a hung store is
        answered 503 at once, while the call goes on in its thread until the store answers or fails.
        """
        call = asyncio.get_running_loop().run_in_executor(pool or self.pool, func, *args)
        try:
            return await asyncio.wait_for(call, self.store_timeout)
        except asyncio.TimeoutError:
            log.error("store failure: no answer within %g s (NOTIFY_STORE_TIMEOUT)", self.store_timeout)
            raise StoreTimeout(self.store_timeout) from None
        except NotifyError as exc:
            raise answer(exc) from None


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


def _headers(scope: dict) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def request_head(scope: dict) -> RequestHead:
    """What authentication reads of an ASGI request: method, path, headers, and the client's address."""
    client = scope.get("client")
    return RequestHead(scope["method"], scope["path"], _headers(scope), str(client[0]) if client else "unknown")


def _admitted(decide: Callable[..., Admission], *args: Any) -> Admission:
    """An auth decision, its Refusal as the HTTP answer (429 with Retry-After)."""
    try:
        return decide(*args)
    except Refusal as exc:
        headers = [(b"retry-after", str(max(1, round(exc.retry_after))).encode())] if exc.retry_after else []
        raise HTTPError(exc.status, exc.message, headers=headers) from None


def _failing(health: dict[str, Any]) -> list[str]:
    """The names of the health checks that fail (what /healthz shows without a token)."""
    return [name for name, check in health.items() if isinstance(check, dict) and check.get("ok") is False]


def _action_body(body: bytes) -> dict:
    """An ack or resolve body (may be empty), read as strictly as a hook's body: a NUL is refused naming its field."""
    if not body.strip():
        return {}
    try:
        return load_object(body)
    except PayloadError as exc:
        raise answer(exc) from None
