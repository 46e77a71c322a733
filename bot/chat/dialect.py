"""What differs between SQLite and PostgreSQL, in one place, so the store has a single code path over both.

SQLite is one file behind one connection: a thread lock serialises the process and `BEGIN IMMEDIATE` takes
the file's write lock at the start of every transaction, so two processes never deadlock upgrading a read
lock. PostgreSQL gets a small pool and no process lock; what must not interleave across replicas takes a
transaction-scoped advisory lock (`lock`), which on SQLite is already held by the transaction itself.
Upserts use each dialect's own `INSERT … ON CONFLICT` construct; both spell it the same way.
"""

from __future__ import annotations

import contextlib
import threading
import zlib
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.pool import StaticPool


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
                url, poolclass=StaticPool, connect_args={"check_same_thread": False, "timeout": 10}
            )
            sa.event.listen(self.engine, "connect", _sqlite_connect)
            sa.event.listen(self.engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
            self.serial = threading.Lock()
            self._insert: Any = sqlite.insert
        else:
            self.engine = sa.create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)
            self.serial = contextlib.nullcontext()
            self._insert = postgresql.insert

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


def _int32(value: int) -> int:
    return (value % 2**32) - 2**31


def _sqlite_connect(dbapi_connection: Any, _record: object) -> None:
    dbapi_connection.isolation_level = None  # transactions are begun by the engine's "begin" event
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
