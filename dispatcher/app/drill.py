"""The drill use case: play a scenario through the real engine on a simulated clock, in a store of its own.

The trigger, acks, updates and resolution go through the same functions the
CLI uses; timers and retries through the same worker tick, every
`TICK` of simulated time. With `--instant` the clock jumps from tick to
tick; with `--speed N` it runs N times faster than real time; a live drill
(no sandbox) runs at real speed.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from ..clock import Clock, FakeClock, SystemClock
from ..config.policy import audience_problems, is_audience
from ..config.problems import ConfigError, error
from ..drill.sandbox import Sandbox
from ..drill.scenario import (
    Event,
    Scenario,
    drill_file_problems,
    load_scenario,
    scenario_problems,
)
from ..errors import InputError
from ..store import AttemptRow, DeliveryRow, EventRow, IncidentRow, Store, open_store
from . import engine
from .actions import acknowledge
from .drill_acts import Answered, Callbacks, answer_page
from .incidents import post_update, resolve
from .worker import Worker

# Sandbox and the scenario's loaders are re-exported: `notify drill` and `notify check` reach drill/ through here.
__all__ = ["Answered", "Callbacks", "DrillOutcome", "LiveClock", "Sandbox", "ScaledClock", "allowed_recipients",
           "drill_file_problems", "load_scenario", "play", "scenario_problems"]

TICK = timedelta(seconds=10)


class ScaledClock:
    """Simulated time paced `speed` times faster than real time, in which the work itself takes no time.

    The simulated clock moves only when the drill waits for its next tick (`wait_until`)
    or a sender sleeps before a retry (`sleep`), exactly as `--instant` moves it; the
    speed only sets how long those waits take for real. Real time spent sending must
    not count: at x600 a 0.1 s send would read as a minute of simulated lag, and a
    drill that passes at x60 would fail at x600. `real` (monotonic, sleep) is injected
    for tests.
    """

    def __init__(self, speed: float, start: datetime, *, real: Clock | None = None) -> None:
        self.speed = speed
        self._real = real or SystemClock()
        self._start = self._now = start
        self._real0 = self._real.monotonic()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        return self.now().timestamp()

    def sleep(self, seconds: float) -> None:
        self.wait_until(self.now() + timedelta(seconds=max(seconds, 0)))

    def wait_until(self, moment: datetime) -> None:
        """Wait until `moment` is due at this pace (at once if the work ran late), then read `moment`."""
        real_due = self._real0 + (moment - self._start).total_seconds() / self.speed
        behind = real_due - self._real.monotonic()
        if behind > 0:
            self._real.sleep(behind)
        with self._lock:
            self._now = max(self._now, moment)  # concurrent sleepers: the latest wake-up wins, none add up


class LiveClock(SystemClock):
    """A live drill's clock: the real one (sending takes the real time it takes)."""

    def wait_until(self, moment: datetime) -> None:
        self.sleep(max((moment - self.now()).total_seconds(), 0))


@dataclass
class DrillOutcome:
    incident: IncidentRow
    deliveries: list[DeliveryRow]
    attempts: list[AttemptRow]
    events: list[EventRow]
    t0: datetime
    end: datetime
    store_path: str | None  # None: the temporary store was removed
    received: list = field(default_factory=list)


def allowed_recipients(directory: Any, allow: tuple[str, ...]) -> tuple[str, ...]:
    """A live drill's --allow list as planning matches it (a person id, or an audience such as role:cto); an entry
    naming nobody is refused (InputError): a typo would leave that person out and the report would not say why."""
    found = []
    for given in allow:
        who = given.strip().removeprefix("person:")  # person:cto and cto are one person
        if ":" in who:
            wrong = audience_problems(who, directory) if is_audience(who) else [f"{who.partition(':')[0]!r} is no "
                                                                                "kind of audience"]
        else:
            wrong = [] if who in directory.people else [f"no person {who!r} in contacts.toml"]
        if wrong:
            raise InputError("--allow", f"{given!r}: {wrong[0]} (give a person id, or list:ID, slack:ID, role:ID)")
        found.append(who)
    return tuple(found)


def play(rt: engine.Runtime, scenario: Scenario, *, clock: FakeClock | ScaledClock | LiveClock,
         state_dir: Path | None, keep: bool = False, sandbox=None, allow: tuple[str, ...] | None = None,
         progress: Callable[[str], None] = lambda line: None, callbacks: Callable[..., Any] | None = None,
         source: str = "drill") -> DrillOutcome:
    """Run the whole timeline and return everything that happened.

    `callbacks(rt, store, clock)` builds serve's app on the drill's store and clock, for the acks
    `via` a channel (a :class:`Callbacks` with a ``close()``); `source` names the drill file in errors.

    Without `state_dir` the store goes in a new temporary directory, removed at the end
    unless `keep` (one database left behind per run adds up); the outcome's `store_path`
    is then None. A `state_dir` is the caller's and stays.
    """
    temporary = state_dir is None
    directory = Path(state_dir or tempfile.mkdtemp(prefix="notify-drill-"))
    try:
        directory.mkdir(parents=True, exist_ok=True)
        store_path = directory / "drill.db"
        outcome = _play_in(rt, scenario, store_path, clock, _Acts(sandbox, callbacks, source), allow, progress)
    finally:
        if temporary and not keep:
            shutil.rmtree(directory, ignore_errors=True)
    return replace(outcome, store_path=None) if temporary and not keep else outcome


@dataclass
class _Acts:
    """What the timeline acts through: the sandbox's stand-ins, and serve's app for acks `via` a channel."""

    sandbox: Any
    build: Callable[..., Any] | None
    source: str
    callbacks: Any = None


def _play_in(rt: engine.Runtime, scenario: Scenario, store_path: Path, clock, acts: _Acts, allow,
             progress: Callable[[str], None]) -> DrillOutcome:
    store = open_store(f"sqlite:///{store_path.resolve()}")
    worker = Worker(rt, store, clock)
    sandbox = acts.sandbox
    if acts.build is not None and any(e.via for e in scenario.events):
        acts.callbacks = acts.build(rt, store, clock)
    try:
        t0 = clock.now()
        incident_id = _run(rt, scenario, store, worker, clock, t0, acts, allow, progress)
        return DrillOutcome(store.incident(incident_id), store.deliveries(incident_id),
                            store.attempts(incident_id=incident_id), store.events(incident_id), t0, clock.now(),
                            str(store_path), sandbox.received() if sandbox else [])
    finally:
        if acts.callbacks is not None:
            acts.callbacks.close()
        worker.close()
        store.close()


def _run(rt, scenario: Scenario, store: Store, worker: Worker, clock, t0: datetime, acts: _Acts, allow,
         progress: Callable[[str], None]) -> str:
    pending = list(enumerate(scenario.events))
    incident_id = ""
    seen = 0
    offset = timedelta(0)
    while offset <= scenario.length:
        _advance(clock, t0 + offset)
        while pending and pending[0][1].at <= offset:
            n, event = pending.pop(0)
            progress(f"[+{_mmss(offset)}] {_describe(event)}")
            if event.via:
                _answer(rt, store, acts, event, (acts.source, f"events[{n}]"), incident_id, progress)
                continue
            incident_id = _apply(rt, scenario, store, clock, event, incident_id, acts.sandbox, allow) or incident_id
        worker.tick()
        seen = _report_new_attempts(store, incident_id, seen, t0, progress)
        offset += TICK
    return incident_id


def _advance(clock, moment: datetime) -> None:
    if isinstance(clock, FakeClock):
        if moment > clock.now():
            clock.advance(moment - clock.now())
    else:
        clock.wait_until(moment)


def _apply(rt, scenario: Scenario, store: Store, clock, event: Event, incident_id: str, sandbox,
           allow) -> str | None:
    now = clock.now()
    if event.action == "trigger":
        incident = engine.new_incident(rt, scenario.klass, scenario.fields, now=now, drill=True)
        incident = replace(incident, allow=allow)
        report = engine.trigger(rt, "drill", incident, store=store, clock=clock, wait=0)
        return report.incident["id"]
    if event.action == "ack":
        acked = acknowledge(rt, store, incident_id, event.by, now, via="drill")
        engine.send_pending(rt, store, clock, engine.incident_from_row(acked.row), acked.notices, wait=0)
    elif event.action == "update":
        posted = post_update(rt, store, incident_id, event.message, event.by, now)
        engine.send_pending(rt, store, clock, posted.incident, posted.rows, wait=0)
    elif event.action == "resolve":
        incident, rows, _ = resolve(rt, store, incident_id, event.message, event.by, now)
        engine.send_pending(rt, store, clock, incident, rows, wait=0)
    elif event.action == "fail":
        sandbox.fail(event.channel, event.status, event.times)
    elif event.action == "recover":
        sandbox.recover(event.channel)
    return None


def _answer(rt, store: Store, acts: _Acts, event: Event, where: tuple[str, str], incident_id: str,
            progress: Callable[[str], None]) -> None:
    """An ack as a person makes it: answering their page through serve's app (drill_acts.py)."""
    if acts.sandbox is None or acts.callbacks is None:
        raise ConfigError([error(where[0], f"{where[1]}.via", "an ack via a channel answers a page the sandbox's "
                                 "stand-in took, through serve's app: it needs --sandbox")])
    answered = answer_page(rt, store, acts.sandbox, acts.callbacks, event, where, incident_id)
    # TwiML or a link's page: their words, not their markup (nor the page's style sheet)
    said = " ".join(re.sub(r"<style.*?</style>|<[^>]+>", " ", answered.text, flags=re.DOTALL).split())[:160]
    progress(f"          serve answered {answered.status}: {said or '(an empty body, as Slack expects)'}")


def _report_new_attempts(store: Store, incident_id: str, seen: int, t0: datetime,
                         progress: Callable[[str], None]) -> int:
    if not incident_id:
        return seen
    attempts = store.attempts(incident_id=incident_id)
    for a in attempts[seen:]:
        at = a.at - t0
        note = "" if a.outcome.is_accepted else f" ({a.reason})"
        progress(f"[+{_mmss(at)}]   {a.kind:<10} {a.person} by {a.channel}: {a.outcome.label}{note}")
    return len(attempts)


def _describe(event: Event) -> str:
    extra = {"ack": f" by {event.by}" + (f" via {event.via}" if event.via else ""), "update": f": {event.message}", "resolve": f": {event.message or ''}",
             "fail": f" {event.channel} answers {event.status}" + (f" x{event.times}" if event.times else ""),
             "recover": f" {event.channel}"}.get(event.action, "")
    return f"{event.action}{extra}"


def _mmss(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 60:3d}m{seconds % 60:02d}s"
