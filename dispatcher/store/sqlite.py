"""The embedded store: one SQLite file, WAL mode, versioned schema.

Every write that must be atomic (an id allocated with its incident and all its
planned deliveries; a timer's event with its notices) happens in one
``BEGIN IMMEDIATE`` transaction, so two tired engineers triggering the same id
at once page nobody twice, and a timer fires once however often it is ticked.

Writes are group-committed (see :meth:`SQLiteStore._write`): writes from other
threads that arrive while a commit is in progress share the next transaction,
each in its own savepoint, and its one COMMIT. Writes one thread makes one
after another share one inside :meth:`SQLiteStore.writes_together`. Every write is still atomic and
durable (``synchronous=FULL``: the WAL is synced at each commit) before the
call returns; what changes is that one fsync covers many of them, so the
disk's sync rate no longer caps how many incidents or attempts per second one
process records.

The statements and the methods are shared with PostgreSQL (sql.py, sql_store.py); this
module holds how they run here: the connections, the group commit and BEGIN IMMEDIATE.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar

from .base import StoreError
from .schema import MIGRATIONS, SCHEMA_VERSION
from .sql import SQLITE
from .sql_store import SQLStore

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]

T = TypeVar("T")

# RETURNING (3.35) and UPDATE ... FROM (3.33), in the statements shared with PostgreSQL (see sql.py).
MIN_SQLITE = (3, 35)


class SQLiteStore(SQLStore):
    """Incidents, outbox, timeline and attempt log in one SQLite file; safe to share between threads."""

    dialect = SQLITE
    migrations = MIGRATIONS

    def __init__(self, conn: sqlite3.Connection, path: str, reader: sqlite3.Connection | None = None) -> None:
        self._conn = conn
        self._lock = threading.Lock()  # one connection, serialised: SQLite writes are serial anyway
        # Reads use their own connection: in WAL mode a reader never waits for a writer, so a read
        # does not queue behind a group's COMMIT (an fsync), nor behind another process's write.
        self._reader = reader or conn
        self._reader_lock = threading.Lock() if reader is not None else self._lock
        self.path = path
        self.upgraded = (0, 0)  # (from, to) when this open applied migrations
        self._queue: list[_Write] = []  # writes waiting for the next group commit
        self._together = threading.local()  # .begun: this thread is inside writes_together (None: not)
        self._queue_lock = threading.Lock()
        self._leading = False  # a thread is committing a group; the next one waits in the queue

    # -- opening -----------------------------------------------------------

    @classmethod
    def open(cls, path: str, *, upgrade: bool = False) -> "SQLiteStore":
        """Open the store, creating it when new; refuse one that is behind unless upgrading."""
        if path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                # People's phone numbers and addresses, and alert bodies: readable by notify's user only.
                # SQLite gives its -wal and -shm files the database file's permissions.
                os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
            except OSError as exc:
                raise StoreError(f"cannot create the state directory {Path(path).parent} or the store in it "
                                 f"(NOTIFY_STATE_DIR or NOTIFY_STORE_URL): {exc.strerror}") from None
        store = cls(_connect(path), path, None if path == ":memory:" else _connect(path, wal=False))
        try:
            store._settle_schema(upgrade)
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def open_readonly(cls, path: str) -> "SQLiteStore | None":
        if path == ":memory:" or not os.path.exists(path):
            return None
        return cls(_connect(f"file:{path}?mode=ro", uri=True), path)

    def close(self) -> None:
        self._conn.close()
        if self._reader is not self._conn:
            self._reader.close()

    def schema_version(self) -> int:
        with self._reader_lock, _store_errors(self.path):
            return _version(self._reader)

    def upgrade(self) -> tuple[int, int]:
        """Apply pending migrations in one transaction; returns (from, to) versions.

        The version is read inside the write lock, so two processes creating a new store at
        the same moment apply the schema once.
        """
        def work(conn: sqlite3.Connection) -> int:
            before = _version(conn)
            self._migrate(conn, before)
            return before

        return self._write(work), SCHEMA_VERSION

    @contextmanager
    def writes_together(self) -> Iterator[None]:
        """The writes this thread makes inside the block share one transaction, committed (one fsync) at its end;
        an exception rolls all of them back. Its reads see them (they use the writing connection). The connection
        is this thread's meanwhile, and once written to, the file's write lock: keep the block short.

        A write that fails inside is rolled back alone (its savepoint) and raises, as outside.
        """
        if self._reader is self._conn or getattr(self._together, "begun", None) is not None:
            yield  # :memory: (one connection, its lock is the reads' too), or nested: as the writes come
            return
        with self._lock:
            self._together.begun = False
            try:
                yield
                if self._together.begun:
                    with _store_errors(self.path):
                        self._conn.execute("COMMIT")
            except BaseException:
                _rollback(self._conn)
                raise
            finally:
                self._together.begun = None

    def _write_together(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """A write inside writes_together: in its transaction (begun by the first), in a savepoint of its own."""
        conn = self._conn
        with _store_errors(self.path):
            if not self._together.begun:
                _begin_immediate(conn)
                self._together.begun = True
            conn.execute("SAVEPOINT write")
        try:
            result = self._sealing(work)(conn)
        except Exception as exc:  # noqa: BLE001 - undone alone, raised again (a StoreError, or as it is)
            if not _undo_savepoint(conn):
                raise StoreError(f"store {self.path}: a failed write took the transaction with it") from None
            raise _as_store_error(exc, self.path) from None
        with _store_errors(self.path):
            conn.execute("RELEASE write")
        return result

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work(conn)`` in a write transaction that is committed before this returns.

        The first writer commits at once. Writers that arrive during that commit queue up; when it
        is done, the first of them commits the whole queue in one transaction, each write in its
        own savepoint: a write that fails is rolled back alone and raises in its own thread, the
        others commit. A failed BEGIN or COMMIT fails every write of the group, and none of them
        is stored. A database failure is a StoreError naming the store; an IntegrityError (a bug
        in our SQL) is raised as it is.
        """
        if getattr(self._together, "begun", None) is not None:
            return self._write_together(work)
        write = _Write(self._sealing(work))  # wrapped here, in the caller's thread (see requests_sql)
        with self._queue_lock:
            self._queue.append(write)
            if not self._leading:
                self._leading = write.lead = True
        while not write.done:
            if write.lead:
                write.lead = False
                self._commit_queue()
                continue
            write.wake.wait()
            write.wake.clear()
        if write.error is not None:
            raise write.error
        return write.result  # type: ignore[return-value]

    def _commit_queue(self) -> None:
        """Commit every queued write as one group, then hand the lead to the first write queued since."""
        with self._queue_lock:
            group, self._queue = self._queue, []
        try:
            with self._lock:
                self._run_group(group)
        except BaseException as exc:  # noqa: BLE001 - never leave a writer waiting; each gets the failure
            for write in group:
                if write.error is None:
                    write.error, write.result = exc, None
        finally:
            with self._queue_lock:
                following = self._queue[0] if self._queue else None
                if following is not None:
                    following.lead = True
                else:
                    self._leading = False
            for write in group:
                write.done = True
                write.wake.set()
            if following is not None:
                following.wake.set()

    def _run_group(self, group: list["_Write"]) -> None:
        """One transaction for the group, one savepoint per write (none for a write alone)."""
        conn = self._conn
        try:
            _begin_immediate(conn)
        except sqlite3.Error as exc:
            _fail_all(group, _as_store_error(exc, self.path))
            return
        try:
            for write in group:
                if len(group) == 1:
                    write.result = write.work(conn)  # its failure rolls the transaction back, below
                    continue
                conn.execute("SAVEPOINT write")
                try:
                    write.result = write.work(conn)
                except Exception as exc:  # noqa: BLE001 - raised again in the writer's own thread
                    write.error = _as_store_error(exc, self.path)
                    if not _undo_savepoint(conn):
                        raise StoreError(f"store {self.path}: a failed write took the transaction with it; "
                                         "nothing of it was stored") from None
                    continue
                conn.execute("RELEASE write")
            conn.execute("COMMIT")
        except BaseException as exc:
            _rollback(conn)
            _fail_all(group, _as_store_error(exc, self.path))  # nothing of this group was stored
            if not isinstance(exc, Exception):
                raise

    def _read(self, query: str, args: Iterable[Any] = ()) -> list[tuple]:
        if getattr(self._together, "begun", None) is not None:  # inside writes_together: see its writes
            with _store_errors(self.path):
                return self._conn.execute(query, tuple(args)).fetchall()
        with self._reader_lock, _store_errors(self.path):
            return self._reader.execute(query, tuple(args)).fetchall()


    def _statement(self, query: str, args: Iterable[Any] = ()) -> tuple[int, list[tuple]]:
        """One write statement in its own write (group-committed like any other); (rowcount, rows)."""
        def work(conn: sqlite3.Connection) -> tuple[int, list[tuple]]:
            cursor = conn.execute(query, tuple(args))
            rows = cursor.fetchall() if cursor.description else []
            return cursor.rowcount, rows  # read after fetchall: RETURNING counts its rows as they are stepped

        return self._write(work)

    def _serialise(self, conn: sqlite3.Connection, scope: str, key: str | None = None) -> None:
        """Nothing to do: BEGIN IMMEDIATE already makes this store's writes one at a time, across processes."""


def _version(conn: sqlite3.Connection) -> int:
    if conn.execute("SELECT name FROM sqlite_master WHERE name = 'meta'").fetchone() is None:
        return 0
    value = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(value[0]) if value else 0


class _Write:
    """One queued write: its work, and its result or error once its group is committed."""

    __slots__ = ("work", "result", "error", "done", "lead", "wake")

    def __init__(self, work: Callable[[sqlite3.Connection], Any]) -> None:
        self.work = work
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = False  # its group's COMMIT (or failure) is over
        self.lead = False  # this writer's thread commits the next group
        self.wake = threading.Event()


def _as_store_error(exc: BaseException, path: str) -> BaseException:
    """As _store_errors: a database failure becomes a StoreError; a constraint bug or any other error stays."""
    if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.IntegrityError):
        error = StoreError(f"store {path}: {exc}")
        error.__suppress_context__ = True
        return error
    return exc


BUSY_TIMEOUT = 30.0  # seconds a write waits for another process's write before it fails
_BUSY_STEP = 0.0002


def _begin_immediate(conn: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE, waiting for another process's write transaction in steps of 0.2 ms.

    SQLite's own busy handler backs off 1, 2, 5, 10 ... 100 ms, which a write in another process
    (`notify serve`'s sender child records each attempt) costs this process again and again, while
    the other's transaction takes a fraction of a millisecond. Reads keep the connection's busy
    timeout; the write lock is asked for here without it, under the connection lock.
    """
    conn.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
            time.sleep(_BUSY_STEP)
    finally:
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")


def _undo_savepoint(conn: sqlite3.Connection) -> bool:
    """Roll one write of a group back to its savepoint; False when the whole transaction is gone."""
    try:
        conn.execute("ROLLBACK TO write")
        conn.execute("RELEASE write")
    except sqlite3.Error:
        return False
    return conn.in_transaction


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def _fail_all(group: list[_Write], error: BaseException) -> None:
    """Nothing of this group was stored: every write that had not failed on its own gets `error`."""
    for write in group:
        if write.error is None:
            write.error, write.result = error, None


@contextmanager
def _store_errors(path: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.IntegrityError:
        raise  # a bug in our SQL, not an outage: let it show
    except sqlite3.Error as exc:
        raise StoreError(f"store {path}: {exc}") from None


def _connect(target: str, uri: bool = False, *, wal: bool = True) -> sqlite3.Connection:
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        raise StoreError(f"cannot open store {target}: this Python's SQLite is {sqlite3.sqlite_version}, notify "
                         f"needs {'.'.join(map(str, MIN_SQLITE))} or later (a newer Python, or NOTIFY_STORE_URL "
                         "naming a PostgreSQL store)")
    try:
        conn = sqlite3.connect(target, uri=uri, isolation_level=None, check_same_thread=False, timeout=30)
        if wal and not uri:
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
        return conn
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open store {target}: {exc}") from None
