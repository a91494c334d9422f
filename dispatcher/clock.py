"""Time, injected: the real clock for production, a fake one for tests and drills.

Nothing in notify calls `time.sleep` or `datetime.now` directly; it asks its
clock, so a test can run an hour of retries and timers in no time at all.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Callable, Protocol

__all__ = ["Clock", "FakeClock", "StartedClock", "SystemClock", "iso", "parse_instant"]


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock time and real sleeping."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class StartedClock:
    """The real clock's pace from a chosen start (``NOTIFY_NOW``): retries and waits take real seconds.

    ``source`` says who chose the start, so a command can tell its reader it ran on a made-up time.
    """

    def __init__(self, start: datetime, source: str, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.start = start
        self.source = source
        self._monotonic = monotonic
        self._m0 = monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self._monotonic() - self._m0)

    def monotonic(self) -> float:
        return self._monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def describe(self) -> dict[str, str]:
        """What `--json` documents carry as their "clock"."""
        return {"source": self.source, "start": self.start.isoformat()}


def iso(moment: datetime | None) -> str | None:
    """A time as documents and messages show it: ISO 8601 (a store row's times are UTC); None stays None."""
    return moment.isoformat() if moment is not None else None


def parse_instant(text: str, name: str) -> datetime:
    """An ISO 8601 time with a UTC offset (``2026-12-07T17:01:00Z``); ValueError naming ``name`` otherwise.

    An offset is required: a bare local time means a different instant on every machine.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not an ISO 8601 time (e.g. 2026-12-07T17:01:00Z)") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name}: {text!r} has no UTC offset; add one (Z, +00:00, -08:00)")
    return moment


class FakeClock:
    """A clock that moves only when slept on or advanced; records every sleep."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 26, 3, 0, tzinfo=timezone.utc)
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._now.timestamp()

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._now += timedelta(seconds=seconds)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta
