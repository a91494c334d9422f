"""The replay record: signed requests already handled, shared by both stores (SQL written with %s).

A signed request (notify's v1 signature, or Grafana's) is recorded in the same
transaction as its effect: :meth:`RequestSeals.sealed` marks the calling thread,
and the first write the store makes for that thread inserts the request's key
with it. A second delivery of the same request then fails that insert and rolls
back whole (:class:`AlreadyHandled`), so a replay changes nothing; its answer is
the original one, read with :meth:`RequestSeals.request_answer`. The record is in
the store, so every `notify serve` sharing it shares the record too.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Callable, Iterator, TypeVar

from .base import AlreadyHandled

__all__ = ["REQUESTS_KEEP", "RequestSeals"]

T = TypeVar("T")

# How long a handled request is remembered. A signature is accepted within 5 minutes of its timestamp,
# either side, so 10 minutes after it was received it can no longer be replayed; an hour is ample.
REQUESTS_KEEP = 3600

SEAL = "INSERT INTO requests (key, at) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING"
ANSWER = "SELECT status, answer FROM requests WHERE key = %s"
REMEMBER = ("INSERT INTO requests (key, at, status, answer) VALUES (%s, %s, %s, %s) ON CONFLICT (key) "
            "DO UPDATE SET status = EXCLUDED.status, answer = EXCLUDED.answer")
FORGET = "DELETE FROM requests WHERE at < %s"


class RequestSeals:
    """The replay record's methods. A store provides `dialect`, `_read(query, args)` and `_write(work)`,
    and wraps each write's work with :meth:`_sealing`."""

    def _seal_slot(self) -> threading.local:
        slot = self.__dict__.get("_seal_local")
        if slot is None:
            slot = self.__dict__.setdefault("_seal_local", threading.local())
        return slot

    @contextmanager
    def sealed(self, key: str, at: datetime) -> Iterator[None]:
        """Record `key` with the first write this thread makes inside the block (AlreadyHandled if it is there)."""
        slot = self._seal_slot()
        slot.seal = (key, self.dialect.t(at, "at"))
        try:
            yield
        finally:
            slot.seal = None

    def _sealing(self, work: Callable[[Any], T]) -> Callable[[Any], T]:
        """`work`, preceded by this thread's pending seal (taken: only the first write carries it)."""
        slot = self._seal_slot()
        seal = getattr(slot, "seal", None)
        if seal is None:
            return work
        slot.seal = None
        statement = self.dialect.q(SEAL)

        def sealed_work(conn: Any) -> T:
            if conn.execute(statement, seal).rowcount != 1:
                raise AlreadyHandled(seal[0])
            return work(conn)

        return sealed_work

    def request_answer(self, key: str) -> tuple[int | None, dict[str, Any] | None] | None:
        """(status, answer) of a request handled before (both None while it is still being handled); None if new."""
        rows = self._read(self.dialect.q(ANSWER), (key,))
        if not rows:
            return None
        status, answer = rows[0]
        return status, json.loads(answer) if answer else None

    def remember_answer(self, key: str, at: datetime, status: int, answer: dict[str, Any],
                        forget_before: datetime) -> None:
        """Keep a handled request's answer for its replays, and forget requests too old to be replayed."""
        q = self.dialect.q
        at, forget_before = self.dialect.t(at, "at"), self.dialect.t(forget_before, "forget_before")

        def work(conn: Any) -> None:
            conn.execute(q(REMEMBER), (key, at, status, json.dumps(answer)))
            conn.execute(q(FORGET), (forget_before,))

        self._write(work)
