"""The shared store: PostgreSQL, for several `notify serve` and `notify worker` processes on one or many hosts.

The same contract and the same rows as :class:`~dispatcher.store.sqlite.SQLiteStore`.
What SQLite gets from having one writer at a time, this store gets from row locks:

- an id is allocated by ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` on its
  counter row, which stays locked until the incident is committed;
- a monitoring group opens one incident: a transaction-scoped advisory lock on its
  dedup key serialises the look-up and the insert;
- a timer fires once: events are unique per (incident, key) and inserted
  ``ON CONFLICT DO NOTHING``, together with their notices, in one transaction;
- a delivery is sent by one process: :meth:`PostgresStore.claim` locks due rows
  ``FOR UPDATE SKIP LOCKED`` and leases them until an expiry; a row whose lease
  expired (its owner died) is taken over and marked possibly duplicated;
- each group of monitoring webhooks in the inbox has one owner at a time: claims
  take a transaction-scoped advisory lock first, so each sees the leases of the
  one before it and two workers never split a group's "firing" and "resolved".

The statements and the methods are shared with SQLite (sql.py, sql_store.py); this module
holds how they run here: a small pool of connections (the sender calls the store from many
threads), transactions retried when PostgreSQL picks them as deadlock victims, advisory locks.
"""

from __future__ import annotations

import math
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus

from .base import StoreError, StoreRejected
from .pg_schema import MIGRATIONS, SCHEMA_VERSION
from .sql import POSTGRES
from .sql_store import SQLStore
from .urls import mask_store_url, store_passwords

__all__ = ["SCHEMA_VERSION", "PostgresStore"]

T = TypeVar("T")

POOL_SIZE = 10  # connections per process: enough for the sender's threads, which hold one only per statement
_RETRIES = 3  # a transaction PostgreSQL aborted as a deadlock victim is run again (it was rolled back whole)


NO_SCHEMA = ("the search_path names no existing schema; create it first (CREATE SCHEMA ...) "
             "or fix options=-csearch_path=... in NOTIFY_STORE_URL")


class PostgresStore(SQLStore):
    """Incidents, outbox, timeline and attempt log in one PostgreSQL schema; safe to share between threads."""

    dialect = POSTGRES
    migrations = MIGRATIONS

    def __init__(self, pool: "_Pool", name: str) -> None:
        self._pool = pool
        self.name = name  # the URL with its password masked: safe to print
        self.path = name  # what SQLiteStore calls its file, for messages
        self.upgraded = (0, 0)  # (from, to) when this open applied migrations

    # -- opening -----------------------------------------------------------

    @classmethod
    def open(cls, url: str, *, upgrade: bool = False, pool_size: int = POOL_SIZE,
             timeout: float | None = None) -> "PostgresStore":
        """Open the store, creating its tables when the schema is empty; refuse one that is behind unless upgrading."""
        store = cls(_Pool(url, pool_size, timeout), mask_store_url(url))
        try:
            store._pool.check()
            store._settle_schema(upgrade)
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def open_readonly(cls, url: str) -> "PostgresStore | None":
        """Open an existing store for reading, or None when its schema has no tables yet."""
        store = cls(_Pool(url, 2), mask_store_url(url))
        try:
            store._pool.check()
            if store.schema_version() == 0:
                if store.current_schema() is None:  # no tables, and nowhere to create them: say so now
                    raise StoreError(f"store {store.name}: {NO_SCHEMA}")
                store.close()
                return None
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        self._pool.close()

    def schema_version(self) -> int:
        with self._connection() as conn:
            return _version(conn)

    def current_schema(self) -> str | None:
        """The schema tables are created in; None when the search_path names none that exists."""
        with self._connection() as conn:
            return conn.execute("SELECT current_schema()").fetchone()[0]

    def upgrade(self) -> tuple[int, int]:
        """Apply pending migrations in one transaction; returns (from, to) versions.

        The version is read under an advisory lock, so two processes opening a new schema at
        the same moment apply it once (PostgreSQL's DDL is transactional: all or nothing).
        """
        def apply(conn: psycopg.Connection) -> int:
            if conn.execute("SELECT current_schema()").fetchone()[0] is None:
                raise StoreError(f"store {self.name}: {NO_SCHEMA}")
            self._serialise(conn, "upgrade")
            before = _version(conn)
            self._migrate(conn, before)
            return before

        return self._write(apply), SCHEMA_VERSION

    # -- transactions -----------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection in autocommit mode; a database failure becomes a StoreError naming the store."""
        with _store_errors(self.name, self._pool.passwords), self._pool.connection() as conn:
            yield conn

    def _write(self, work: Callable[[psycopg.Connection], T]) -> T:
        """Run `work` in one transaction; a deadlock victim is rolled back whole and run again."""
        work = self._sealing(work)  # this thread's signed request, recorded with its effect (see requests_sql)

        with self._connection() as conn:  # retried inside: its error wrapper would hide the deadlock

            def transaction() -> T:
                with conn.transaction():
                    return work(conn)

            return _deadlock_retries()(transaction)

    def _statement(self, query: str, args: Iterable[Any] = ()) -> tuple[int, list[tuple]]:
        """One write statement, atomic on its own: one round trip, no BEGIN/COMMIT around it; (rowcount, rows).

        The outbox's hot path (claim, record_attempt, heartbeat) is written as single statements,
        because every round trip is latency a busy worker pays once per row.
        """
        with self._connection() as conn:

            def statement() -> tuple[int, list[tuple]]:
                cursor = conn.execute(query, tuple(args))
                return cursor.rowcount, cursor.fetchall() if cursor.description else []

            return _deadlock_retries()(statement)

    def _read(self, query: str, args: Iterable[Any] = ()) -> list[tuple]:
        with self._connection() as conn:
            return conn.execute(query, tuple(args)).fetchall()


    def _serialise(self, conn: psycopg.Connection, scope: str, key: str | None = None) -> None:
        """Hold a transaction-scoped advisory lock on `scope` (and `key`) in this schema until the write ends.

        The lock's name is 'notify:<scope>:<schema>[:<key>]', as earlier versions wrote it, so
        processes of both versions sharing a store during an upgrade still exclude each other.
        """
        name = "'notify:' || %s || ':' || current_schema()" + ("" if key is None else " || ':' || %s")
        conn.execute(f"SELECT pg_advisory_xact_lock(hashtextextended({name}, 0))",
                     (scope,) if key is None else (scope, key))


# -- connections ------------------------------------------------------------------------

_RETRYABLE = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)


def _deadlock_retries() -> Any:
    """A fresh tenacity schedule (its state is per call): a deadlock victim, rolled back whole, runs again
    after 10, then 20 ms; the third failure is raised."""
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_incrementing

    return Retrying(retry=retry_if_exception_type(_RETRYABLE), stop=stop_after_attempt(_RETRIES),
                    wait=wait_incrementing(start=0.01, increment=0.01), reraise=True)


class _Pool:
    """Up to `size` autocommit connections, opened on demand and reused; a broken one is dropped.

    A connection idle for a while is pinged before it is handed out, so a database restart
    costs a reconnect, not a failed write.
    """

    IDLE_CHECK = 2.0  # seconds idle after which a connection is pinged before use
    WAIT = 30.0  # seconds a caller waits for a free connection

    def __init__(self, url: str, size: int, timeout: float | None = None) -> None:
        self.passwords = store_passwords(url)
        try:
            params = conninfo_to_dict(url)
        except psycopg.Error as exc:
            raise StoreError(f"NOTIFY_STORE_URL: {mask_store_url(url)} is not a valid PostgreSQL URL: "
                             f"{_one_line(exc, self.passwords)}") from None
        if params.get("password"):
            self.passwords = tuple(sorted({*self.passwords, params["password"]}, key=len, reverse=True))
        self._url = url
        # A hung server (accepting, never answering) holds a connect this long; libpq's minimum is 2 s.
        connect_timeout = str(max(2, math.ceil(timeout))) if timeout else "10"
        self._extra = {k: v for k, v in (("connect_timeout", connect_timeout), ("application_name", "notify"))
                       if k not in params}
        self.wait = timeout or self.WAIT
        self._idle: list[tuple[psycopg.Connection, float]] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)
        self._closed = False
        self.name = mask_store_url(url)

    def check(self) -> None:
        """Connect once now, so that a wrong URL fails at open with a clear message."""
        with _store_errors(self.name, self.passwords, opening=True), self.connection():
            pass

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        if self._closed:  # as a closed SQLite store does; never a silent new connection nobody will close
            raise StoreError(f"store {self.name} is closed")
        if not self._slots.acquire(timeout=self.wait):
            raise StoreError(f"store {self.name}: no free database connection after {self.wait:g} s")
        try:
            conn = self._take()
            try:
                yield conn
            finally:
                self._give_back(conn)
        finally:
            self._slots.release()

    def _take(self) -> psycopg.Connection:
        while True:
            with self._lock:
                if not self._idle:
                    break
                conn, since = self._idle.pop()
            if time.monotonic() - since < self.IDLE_CHECK:
                return conn
            try:
                conn.execute("SELECT 1")
                return conn
            except psycopg.Error:  # closed by the server (restart, idle timeout): open another
                conn.close()
        return psycopg.connect(self._url, autocommit=True, **self._extra)

    def _give_back(self, conn: psycopg.Connection) -> None:
        if self._closed or conn.closed or conn.broken or conn.info.transaction_status != TransactionStatus.IDLE:
            conn.close()
            return
        with self._lock:
            self._idle.append((conn, time.monotonic()))

    def close(self) -> None:
        self._closed = True
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            conn.close()


@contextmanager
def _store_errors(name: str, passwords: tuple[str, ...], *, opening: bool = False) -> Iterator[None]:
    try:
        yield
    except psycopg.IntegrityError:
        raise  # a bug in our SQL, not an outage: let it show
    except (psycopg.DataError, pg_errors.ProgramLimitExceeded) as exc:  # this value, never: not "retry later"
        raise StoreRejected(f"store {name} cannot hold this value: {_one_line(exc, passwords)}") from None
    except psycopg.Error as exc:
        what = f"cannot open store {name}" if opening else f"store {name}"
        raise StoreError(f"{what}: {_one_line(exc, passwords)}") from None


def _one_line(exc: BaseException, passwords: tuple[str, ...]) -> str:
    """A driver's message on one line, without the password (it may quote the whole URL)."""
    text = " ".join(str(exc).split())
    for password in passwords:
        text = text.replace(password, "***")
    return text


def _version(conn: psycopg.Connection) -> int:
    if conn.execute("SELECT to_regclass('meta')").fetchone()[0] is None:
        return 0
    value = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(value[0]) if value else 0
