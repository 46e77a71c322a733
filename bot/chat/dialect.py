"""What differs between SQLite and PostgreSQL, in one place, so the store has a single code path over both.

SQLite is one file behind one connection: a thread lock serialises the process and `BEGIN IMMEDIATE` takes
the file's write lock at the start of every transaction, so two processes never deadlock upgrading a read
lock. PostgreSQL gets a small pool and no process lock; what must not interleave across replicas takes a
transaction-scoped advisory lock (`lock`), which on SQLite is already held by the transaction itself.
Upserts use each dialect's own `INSERT … ON CONFLICT` construct; both spell it the same way.

A hold (`try_hold`) is a mutex across processes that outlives transactions and dies with its holder, so a
kill -9 frees it at once and no lease has to expire: a session-level advisory lock on one connection kept
for the purpose on PostgreSQL, an flock on a file beside the database on SQLite (same box only). If that
PostgreSQL connection itself is lost while the process lives, its holds are gone too; the delivery outbox
still keeps a second sender from repeating a settled day.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.pool import StaticPool

SQLITE_TIMEOUT = 10.0  # seconds an SQLite statement waits for another process's lock


def url_of(target: str | Path) -> sa.URL:
    """A path is an SQLite file; `postgresql://` URLs (as libpq writes them) use psycopg 3."""
    if isinstance(target, Path):
        return sa.URL.create("sqlite", database=str(target))
    url = sa.make_url(target)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url


class Dialect:
    def __init__(self, target: str | Path) -> None:
        url = url_of(target)
        self.is_sqlite = url.get_backend_name() == "sqlite"
        self.serial: contextlib.AbstractContextManager[Any]
        if self.is_sqlite:
            if url.database:
                Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = sa.create_engine(
                url, poolclass=StaticPool, connect_args={"check_same_thread": False, "timeout": SQLITE_TIMEOUT}
            )
            sa.event.listen(self.engine, "connect", _sqlite_connect)
            sa.event.listen(self.engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
            self.serial = threading.Lock()
            self._insert: Any = sqlite.insert
            self._holds: _Holds = _FileHolds(Path(f"{url.database}.holds"))
        else:
            self.engine = sa.create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)
            self.serial = contextlib.nullcontext()
            self._insert = postgresql.insert
            self._holds = _AdvisoryHolds(self.engine)
        self._held: dict[tuple[str, int], object] = {}
        self._held_lock = threading.Lock()

    def try_hold(self, name: str, key: int = 0) -> bool:
        """True when this caller now holds (name, key): no other process, and no other caller here, does."""
        with self._held_lock:
            if (name, key) in self._held:
                return False
            handle = self._holds.acquire(name, key)
            if handle is None:
                return False
            self._held[(name, key)] = handle
            return True

    def release(self, name: str, key: int = 0) -> None:
        with self._held_lock:
            handle = self._held.pop((name, key), None)
            if handle is not None:
                self._holds.release(name, key, handle)

    def dispose(self) -> None:
        with self._held_lock:
            for (name, key), handle in self._held.items():
                self._holds.release(name, key, handle)
            self._held.clear()
            self._holds.close()
        self.engine.dispose()

    def insert(self, table: sa.Table) -> Any:
        """`INSERT` with `.on_conflict_do_update` / `.on_conflict_do_nothing` and `.excluded`."""
        return self._insert(table)

    def lock(self, conn: sa.Connection, name: str, key: int = 0) -> None:
        """Held until the transaction ends; distinct (name, key) pairs rarely collide, and a collision only waits."""
        if not self.is_sqlite:
            conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(CAST(:name AS integer), CAST(:key AS integer))"),
                {"name": _int32(zlib.crc32(name.encode())), "key": _int32(key)},
            )


class _Holds:
    def acquire(self, name: str, key: int) -> object | None:
        raise NotImplementedError

    def release(self, name: str, key: int, handle: object) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class _FileHolds(_Holds):
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def acquire(self, name: str, key: int) -> object | None:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / f"{name}.{key}", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def release(self, name: str, key: int, handle: object) -> None:
        assert isinstance(handle, int)
        os.close(handle)  # closing the only descriptor drops the flock


class _AdvisoryHolds(_Holds):
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._conn: sa.Connection | None = None

    def _session(self) -> sa.Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def _call(self, function: str, name: str, key: int) -> bool:
        row = self._session().execute(
            sa.text(f"SELECT {function}(CAST(:name AS integer), CAST(:key AS integer))"),
            {"name": _int32(zlib.crc32(name.encode())), "key": _int32(key)},
        )
        return bool(row.scalar())

    def acquire(self, name: str, key: int) -> object | None:
        return True if self._call("pg_try_advisory_lock", name, key) else None

    def release(self, name: str, key: int, handle: object) -> None:
        self._call("pg_advisory_unlock", name, key)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _int32(value: int) -> int:
    return (value % 2**32) - 2**31


def _sqlite_connect(dbapi_connection: Any, _record: object) -> None:
    """WAL, retried: switching the journal mode needs the file to itself and fails at once, without SQLite's
    busy timeout, while another process opening the same new database does the same."""
    dbapi_connection.isolation_level = None  # transactions are begun by the engine's "begin" event
    deadline = time.monotonic() + SQLITE_TIMEOUT
    while True:
        try:
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
