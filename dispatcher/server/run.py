"""Wire `notify serve`: the store, the ingest services, the worker loop (a `notify worker` subprocess) and uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import signal
import threading
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ..app.actions import acknowledge, escalate_now
from ..app.engine import Runtime
from ..app.heartbeats import beat
from ..app.incidents import incident_items, post_update, resolve, status_document
from ..app.ingest import delivery_counts, ingest, log_ingested, scoped_key
from ..app.link_actions import act_by_link, open_link
from ..app.queues import route_queues
from ..app.reclassify import reclassify
from ..app.stores import REQUESTS_KEEP
from ..app.tokens import acting_as, caller_of
from ..app.pagerduty_webhooks import pagerduty_event
from ..app.replies import answer_button, answer_keypress, answer_sms
from ..app.web import WebAccess
from ..app.web import send_login_link as send_login_link_to
from ..app.web_actions import act
from ..app.web_views import Filters, incident_list, incident_page, on_call_page, quiet_page
from ..app.oncall import feed_calendar, new_feed
from ..app.worker import Worker, worker_id
from ..clock import Clock, iso
from ..config.callbacks import callbacks
from ..errors import InputError, StoreError
from ..eventlog import emit
from .app import App, Services
from .auth import Authenticator, Credentials
from .burst import BurstSender
from .front_end import (
    FrontEndLimits,
    RateLimitedLog,
    fd_budget,
    loop_exception_handler,
    uvicorn_config,
)
from .health import WriteHealth, health_report
from .inbox_writer import enqueue_group, queued_answer
from .link_pages import LinkPages
from .metrics import Metrics
from .progress import Progress, also
from .providers import ProviderCalls, Providers
from .slack_actions import post_response
from .sender import SenderProcess
from .silence_routes import SilenceRoutes
from .throttle import FailureThrottle
from .ui import UI, UIServices

if TYPE_CHECKING:  # stores are opened by the caller (cli/serve.py); here they are only used
    from ..app.stores import Store

__all__ = ["build", "serve", "server_class"]

SENDER_RESTART_PAUSE = 5.0  # seconds before a sender that exited cleanly or failed at start is replaced

log = logging.getLogger("notify.server")


def _metrics(rt: Runtime, store: Store, clock: Clock) -> Metrics:
    """This process's metrics, with the provider routes' queues read from the store at each scrape."""
    return Metrics(store, clock.now, queues=lambda: route_queues(rt, store, clock.now()))


def build(rt: Runtime, store: Store, clock: Clock, *, interval: float = 5.0,
          limits: FrontEndLimits = FrontEndLimits()) -> tuple[App, Worker, threading.Event]:
    """The app and an in-process worker that share one store; `wake` tells the worker a stored event waits."""
    metrics, progress = _metrics(rt, store, clock), Progress()
    worker = Worker(rt, store, clock, on_attempt=also(metrics.on_attempt, progress.attempted),
                    on_ingest=metrics.on_ingest)
    wake = threading.Event()
    app = _app(rt, store, clock, metrics, progress, lambda count=1: wake.set(), lambda: worker.last_tick, interval,
               limits)
    return app, worker, wake


def _app(rt: Runtime, store: Store, clock: Clock, metrics: Metrics, progress: Progress, wake: Callable[..., None],
         last_tick: Callable[[], datetime | None], interval: float, limits: FrontEndLimits) -> App:
    writes = WriteHealth(clock.now)
    said = RateLimitedLog(limits.log_interval, logger=log)  # a load balancer probes every few seconds

    def health() -> dict[str, Any]:
        report = health_report(store, writes, last_tick(), clock.now(), interval)
        if not report["ok"]:  # the answer a load balancer reads, as JSON; said in the log too, at a bounded rate
            said("health", logging.ERROR, f"health check: {json.dumps(report, sort_keys=True)}")
        return report

    def do_resolve(incident_id: str, message: str | None, by: str | None) -> dict[str, Any]:
        _, rows, done = resolve(rt, store, incident_id, message, by, clock.now())
        if done:
            emit("incident.resolved", incident_id, via="api", by=by, deliveries=len(rows))
        return {"schema": 1, "incident": incident_id, "resolved": done, "notices": len(rows)}

    def do_ack(incident_id: str, by: str, via: str) -> dict[str, Any]:
        acked = acknowledge(rt, store, incident_id, by, clock.now(), via=via)
        if acked.done:
            emit("incident.acknowledged", incident_id, via=via, by=by, cancelled=len(acked.cancelled))
        row = acked.row
        return {"schema": 1, "incident": incident_id, "acknowledged": acked.done, "status": row.status,
                "acked_by": row.acked_by, "acked_at": iso(row.acked_at), "via": via,
                "cancelled": [f"{d.person}/{d.channel}" for d in acked.cancelled]}

    def do_escalate(incident_id: str, by: str, via: str) -> dict[str, Any]:
        fired = escalate_now(rt, store, incident_id, by, clock.now(), via=via)
        emit("incident.escalated", incident_id, via=via, by=by, stage=fired.stage)
        return {"schema": 1, "incident": incident_id, "stage": fired.stage, "audience": fired.audience,
                "deliveries": len(fired.rows)}

    def do_update(incident_id: str, message: str, by: str | None) -> dict[str, Any]:
        posted = post_update(rt, store, incident_id, message, by, clock.now())
        emit("incident.updated", incident_id, via="api", by=by, counted=posted.counted)
        return {"schema": 1, "incident": incident_id, "counted": posted.counted, "why_not": posted.why_not,
                "still_due": posted.still_due, "notices": len(posted.rows), "reached_nobody": posted.reached_nobody}

    def link_act(token: str, action: str) -> Any:
        outcome = act_by_link(rt, store, token, action, clock.now())
        if outcome.done:
            event = {"ack": "acknowledged", "escalate": "escalated", "resolve": "resolved"}[action]
            emit(f"incident.{event}", outcome.incident_id, via="link")
        return outcome

    def do_reclassify(incident_id: str, klass: str, by: str) -> dict[str, Any]:
        done = reclassify(rt, store, incident_id, klass, by, clock.now())
        if done.outcome != "unchanged":
            emit("incident.reclassified", incident_id, via="api", by=by, outcome=done.outcome,
                 previous=done.previous, klass=klass, deliveries=len(done.rows))
        return done.as_json()

    def replied(reply: Any, via: str) -> Any:
        if reply.done:
            event = {"ack": "acknowledged", "escalate": "escalated", "resolve": "resolved"}[reply.action]
            emit(f"incident.{event}", reply.incident_id, via=via, by=reply.by)
        else:  # an unknown number, a closed incident, a STOP: visible in the log, as answered
            emit("reply.changed-nothing", reply.incident_id, level=logging.WARNING, via=via,
                 action=reply.action or "none", answer=reply.message)
        return reply

    calls = ProviderCalls(
        sms=writes.track(lambda number, text: replied(answer_sms(rt, store, number, text, clock.now()), "sms")),
        keypress=writes.track(lambda number, digits, incident_id: replied(answer_keypress(
            rt, store, number, digits, incident_id, clock.now()), "voice")),
        button=writes.track(lambda user, action, incident_id: replied(answer_button(
            rt, store, user, action, incident_id, clock.now()), "slack")),
        respond=functools.partial(post_response, ca_bundle=str(rt.settings.ca_bundle or "") or None,
                                  proxy=rt.settings.sandbox_proxy or rt.settings.proxy,
                                  timeout=rt.settings.connect_timeout + rt.settings.read_timeout),
        pagerduty=writes.track(lambda event_type, key, agent: replied(pagerduty_event(
            rt, store, event_type, key, agent, clock.now()), "pagerduty")))

    def do_ingest(event: Any) -> Any:
        result = ingest(rt, store, event, clock.now())
        if result.delivery_ids:
            wake()  # from the store thread, as soon as it is stored: the sender need not wait for the answer
        emit("hook.received", result.incident_id, source=event.source, outcome=result.outcome)
        log_ingested(event.source, result)
        return result

    def do_enqueue(source: str, body: bytes, event: Any) -> dict[str, Any]:
        key = scoped_key(event)  # parse() has checked the body: UTF-8, and storable
        queued = store.enqueue(source, key, body.decode("utf-8"), clock.now())
        wake()  # from the store thread, as soon as it is stored (as do_ingest does)
        return queued_answer(source, key, queued)

    def deliveries(incident_id: str, ids: tuple[int, ...]) -> dict[str, int]:
        return delivery_counts(store.deliveries(incident_id), ids)

    def remember(key: str, status: int, answer: dict[str, Any]) -> None:
        now = clock.now()
        store.remember_answer(key, now, status, answer, now - timedelta(seconds=REQUESTS_KEEP))

    services = Services(
        ingest=writes.track(do_ingest), enqueue=writes.track(do_enqueue), ack=writes.track(do_ack),
        enqueue_many=writes.track(functools.partial(enqueue_group, store, clock.now, wake)),
        resolve=writes.track(do_resolve), escalate=writes.track(do_escalate), update=writes.track(do_update),
        reclassify=writes.track(do_reclassify),
        link_view=lambda token: open_link(rt, store, token, clock.now()), link_act=writes.track(link_act),
        incidents=lambda: incident_items(store, open_only=False),
        status=lambda incident_id: status_document(rt, store, incident_id, clock.now()),
        health=health, wake=wake, deliveries=deliveries,
        sealed=lambda key: store.sealed(key, clock.now()), replayed=store.request_answer,
        remember=remember, caller=lambda digest: caller_of(store, rt.directory, digest, clock.now()),
        acting=lambda caller, by: acting_as(caller, by if isinstance(by, str) else None, rt.directory),
        provider_calls=calls, routes=(SilenceRoutes(rt, store, clock, wake, writes.track),),
        beat=writes.track(lambda name, every, grace: beat(rt, store, name, clock.now(), interval=every, grace=grace)))
    credentials = Credentials.from_settings(rt.settings)
    # No credential at all: `serve --no-auth` (the CLI refuses to start so otherwise)
    auth = Authenticator(credentials if credentials != Credentials() else None, now=lambda: clock.now().timestamp(),
                         throttle=FailureThrottle(now=clock.monotonic), on_failure=metrics.on_auth_failure)
    link_secret = rt.settings.link_secret.get_secret_value() if rt.settings.link_secret else None
    ui = UI(_web_view(rt, store, clock, services, writes), public_url=rt.settings.public_url, key=link_secret,
            throttle=auth.throttle, session_hours=rt.settings.session_hours)
    return App(services, auth, metrics, progress=progress, store_timeout=rt.settings.store_timeout,
               max_in_flight=limits.max_in_flight, pages=LinkPages(link_secret, now=lambda: clock.now().timestamp()),
               providers=Providers(rt.settings.public_url, callbacks(rt.settings), now=lambda: clock.now().timestamp()),
               ui=ui)


def _web_view(rt: Runtime, store: Store, clock: Clock, services: Services, writes: WriteHealth) -> UIServices:
    """The web view's use cases over the same store and clock as the API (see ui.py)."""

    def send_login_link(person: str) -> Any:
        if not rt.settings.public_url:  # a link must point where the person's browser can reach this server
            raise InputError("NOTIFY_PUBLIC_URL", "is unset: sign-in links need it; sign in with a personal token")
        sent = send_login_link_to(rt, store, person, rt.settings.public_url, clock.now())
        emit("web.login-link", None, person=sent.person, channel=sent.channel, target=sent.target)
        return sent

    return UIServices(
        access=WebAccess(rt, store, clock), filters=Filters.read,
        incident_list=lambda filters: incident_list(rt, store, clock.now(), filters),
        incident_page=lambda incident_id: incident_page(rt, store, incident_id, clock.now()),
        act=writes.track(lambda incident_id, action, by, form: act(rt, store, incident_id, action, by, form,
                                                                    clock.now())),
        on_call=lambda: on_call_page(rt, clock.now()), quiet=lambda: quiet_page(rt, store, clock.now()),
        feeds=store.feeds,
        new_feed=lambda maker, kind, subject: new_feed(store, rt.directory, maker, kind, subject, clock.now()),
        revoke_feed=lambda digest, person: store.revoke_feed(digest, person, clock.now()),
        calendar=lambda token: feed_calendar(rt.directory, store, token, clock.now()),
        send_login_link=send_login_link, link_view=services.link_view, wake=services.wake)


def serve(rt: Runtime, open_store: Callable[[], Store], clock: Clock, *, host: str, port: int, interval: float,
          sender: list[str], limits: FrontEndLimits = FrontEndLimits()) -> None:
    """Run the API, and the worker loop as the subprocess `sender` (see :mod:`.sender`), until SIGTERM/SIGINT;
    then the sender finishes its sends and gives back its leases. A sender that exits unasked is replaced.
    A second sender runs while a burst's backlog drains (:mod:`.burst`)."""
    store = open_store()
    try:
        _serve(rt, store, clock, sender, host=host, port=port, interval=interval, limits=limits)
    finally:
        store.close()


def _serve(rt: Runtime, store: Store, clock: Clock, sender: list[str], *, host: str, port: int,
           interval: float, limits: FrontEndLimits) -> None:
    limits = fd_budget(limits)
    metrics, progress = _metrics(rt, store, clock), Progress()
    sending = _Sending(store, sender, also(metrics.on_attempt, progress.attempted), metrics.on_ingest, clock)
    try:
        app = _app(rt, store, clock, metrics, progress, sending.wake, sending.last_tick, interval, limits)
        # log_config=None: uvicorn's own lines go through notify's handler (dispatcher.eventlog), JSON lines included
        config = uvicorn_config(app, limits, host=host, port=port, on_refused=lambda status: metrics.rejected.labels(
            str(status)).inc(), log_level="warning", lifespan="on", access_log=False, log_config=None)
        server_class(limits.log_interval)(config).run()
    finally:
        sending.close()


def restart_pause(status: int, ran_for: float) -> float:
    """Seconds to wait before replacing a sender that exited unasked with ``status`` after ``ran_for`` seconds.

    One that crashed after running a while is replaced at once: pages wait for it. A clean exit unasked is
    most likely the SIGTERM a service manager sends to the whole process group, which is stopping the server
    too; and one that fails as it starts must not be restarted in a tight loop: both pause.
    """
    return 0.0 if status != 0 and ran_for >= SENDER_RESTART_PAUSE else SENDER_RESTART_PAUSE


class _Sending:
    """The worker loop as the app sees it (wake it, when did it last tick): the sender subprocess of the moment,
    and a second one while a burst's backlog drains (:mod:`.burst`)."""

    def __init__(self, store: Store, argv: list[str], on_attempt: Callable[[str, str, int, float], None],
                 on_ingest: Callable[[str, str], None], clock: Clock) -> None:
        self.store, self.argv = store, argv
        self.on_attempt, self.on_ingest = on_attempt, on_ingest  # metrics, and the requests waiting for outcomes
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ticked: datetime | None = None
        self.started = 0.0
        self.burst = BurstSender(self._start_second, functools.partial(backlog, store, clock),
                                 clock.monotonic).watch()
        self.child = self._start()

    def _start(self) -> SenderProcess:
        child = SenderProcess.spawn(self.argv)
        self.started = time.monotonic()
        child.listen(self.on_attempt, self._ingested, self._ticked, functools.partial(self._child_exited, child))
        return child

    def wake(self, count: int = 1) -> None:
        """`count` events were stored (a group of webhooks wakes the sender once)."""
        self.child.wake()
        self.burst.stored(count)

    def _start_second(self, on_exit: Callable[[int], None]) -> SenderProcess:
        """A second sender, reporting like the first, that triages stored webhooks and sends, and leaves the
        timers to the first."""
        helper = SenderProcess.spawn([*self.argv, "--no-timers"])

        def exited(status: int) -> None:
            self._release_inbox(helper, status)
            on_exit(status)
            helper.sock.close()  # its reports are all read; stop() closing it again is harmless

        helper.listen(self.on_attempt, self.on_ingest, self._ticked, exited)
        return helper

    def _ingested(self, source: str, outcome: str) -> None:
        """The first sender handled a stored webhook: its pages are in the outbox for a second sender to take."""
        self.on_ingest(source, outcome)
        self.burst.planned()

    def last_tick(self) -> datetime | None:
        return self.ticked

    def _ticked(self, at: datetime) -> None:
        self.ticked = at

    def _child_exited(self, child: SenderProcess, status: int) -> None:
        """On the dead child's reader thread: give back its hold on the inbox, pause, start another."""
        self._release_inbox(child, status)  # at a shutdown too: one killed after the stop timeout held rows
        if self.stop.is_set():
            return
        child.sock.close()
        pause = restart_pause(status, time.monotonic() - self.started)
        while not self.stop.wait(pause):
            pause = SENDER_RESTART_PAUSE
            with self.lock:
                if self.stop.is_set():
                    return
                log.error("the sender process %d exited with status %s; starting another", child.pid, status)
                try:
                    self.child = self._start()
                    return
                except OSError as exc:  # out of processes or descriptors: the webhooks wait, stored
                    log.error("could not start a sender process, trying again in %.0f s: %s",
                              SENDER_RESTART_PAUSE, exc)

    def _release_inbox(self, child: SenderProcess, status: int) -> None:
        """A sender that died: its hold on the inbox would keep its stored webhooks waiting for the lease to run
        out (60 s). Handling a webhook again is harmless; its in-flight deliveries keep their leases (they may
        have been sent), and are taken over, marked possibly duplicated, when those expire."""
        if status != 0:
            with contextlib.suppress(StoreError):
                self.store.release_inbox(worker_id(child.pid))

    def close(self) -> None:
        """Stop the sender: its current sends finish and its leases are given back."""
        with self.lock:
            self.stop.set()
        self.burst.close()
        self.child.stop(timeout=60)


def backlog(store: Store, clock: Clock) -> int:
    """What the senders have to do now: stored webhooks waiting, and deliveries due (retries due later are not)."""
    return store.inbox_counts()[0] + int(store.stats(clock.now())["pending"])


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
