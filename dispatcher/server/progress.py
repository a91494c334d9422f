"""Wake the requests that wait for delivery outcomes (`POST /hooks/generic?wait=S`) when an attempt is recorded.

Attempts are reported from other threads (the sender child's report reader, or an
in-process worker), after the attempt is committed to the store. Each waiting
request listens before it reads the store, so an attempt recorded between its read
and its wait still wakes it: the wait ends when the outcomes are known, not on a poll.
"""

from __future__ import annotations

import asyncio
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

__all__ = ["Progress", "also"]


class Progress:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def attempted(self, *_: object) -> None:
        """An attempt was recorded (any thread; the on_attempt signature): wake every listener."""
        with self._lock:
            listeners = list(self._listeners)
        for loop, event in listeners:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # its loop has closed: the server is stopping, nobody waits any more
                pass

    @contextmanager
    def listening(self) -> Iterator[asyncio.Event]:
        """An event set by the next attempt; enter it before reading the store (from the event loop)."""
        listener = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._listeners.add(listener)
        try:
            yield listener[1]
        finally:
            with self._lock:
                self._listeners.discard(listener)


def also(first: Callable[..., None], second: Callable[..., None]) -> Callable[..., None]:
    """One on_attempt hook that calls two (metrics, then waiting requests)."""
    def both(*args: object) -> None:
        first(*args)
        second(*args)

    return both
