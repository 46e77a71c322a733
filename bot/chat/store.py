"""The bot's persistent state in one SQLite file: daily subscriptions, excerpt history and answered questions.

Everything a restart must not forget lives here (not in PTB's memory): which chats want an excerpt and
when, which excerpts each chat has already had (so a restart neither repeats nor skips one), and the hit
list behind each answer's inline buttons (callback data is limited to 64 bytes, so buttons carry only a
short id). The `deliveries` table is an outbox: a daily excerpt is claimed together with its row, so a
kill -9 at any step leaves enough behind for the restart to neither repeat nor silently drop it.

One connection guarded by a lock, called from worker threads (async code wraps every call in
`asyncio.to_thread`: a write can wait seconds for another process's lock, the event loop must not).
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
QUERY_TTL_SECONDS = 90 * 24 * 3600

_SCHEMA = """
CREATE TABLE IF NOT EXISTS subscriptions (
    chat_id    INTEGER PRIMARY KEY,
    time       TEXT    NOT NULL,
    timezone   TEXT    NOT NULL,
    enabled    INTEGER NOT NULL DEFAULT 1,
    last_day   TEXT,
    updated_at REAL    NOT NULL
);
CREATE TABLE IF NOT EXISTS excerpts (
    chat_id    INTEGER NOT NULL,
    round      INTEGER NOT NULL,
    passage_id TEXT    NOT NULL,
    sent_at    REAL    NOT NULL,
    PRIMARY KEY (chat_id, round, passage_id)
);
CREATE TABLE IF NOT EXISTS queries (
    id         TEXT PRIMARY KEY,
    chat_id    INTEGER,
    question   TEXT NOT NULL,
    hits       TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS queries_created ON queries (created_at);
CREATE TABLE IF NOT EXISTS deliveries (
    chat_id    INTEGER PRIMARY KEY,
    day        TEXT,
    passage_id TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    updated_at REAL    NOT NULL
);
CREATE TABLE IF NOT EXISTS reindex (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    chat_id    INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    started_at REAL    NOT NULL
);
"""

_SETTLE_DAY = "UPDATE subscriptions SET last_day=MAX(COALESCE(last_day, ''), ?) WHERE chat_id=?"  # never backwards


class DeliveryState(StrEnum):
    CLAIMED = "claimed"  # chosen and recorded, not yet handed to the transport: a restart sends it
    SENDING = "sending"  # handed to the transport, so it may have arrived: a restart counts it as sent


@dataclass(frozen=True)
class Subscription:
    chat_id: int
    time: str  # "HH:MM", local to `timezone`
    timezone: str
    enabled: bool
    last_day: str | None  # the last local day (YYYY-MM-DD) whose excerpt is settled: sent, or subscribed too late


@dataclass(frozen=True)
class Delivery:
    """A daily excerpt on its way to one chat (at most one per chat)."""

    chat_id: int
    day: str | None  # the local day it is for; None in interval mode
    passage_id: str
    state: DeliveryState


@dataclass(frozen=True)
class StoredQuery:
    id: str
    chat_id: int | None
    question: str
    hits: list[tuple[str, str]]  # (passage_id, article_id), best first
    created_at: float


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction under the lock.

        SQLite rolls a transaction back by itself after some errors (a full disk among them), so ROLLBACK
        runs only while one is still open: otherwise its own "cannot rollback - no transaction is active"
        would replace the error that says what went wrong.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    try:
                        self._db.execute("ROLLBACK")
                    except sqlite3.Error:
                        log.exception("ROLLBACK failed after an error in a write transaction")
                raise

    # ------------------------------------------------------------------ subscriptions
    def subscribe(self, chat_id: int, at: str, timezone: str, last_day: str | None = None) -> Subscription:
        """Create or change a subscription; `last_day` marks today as settled when its time has already passed."""
        with self._lock:
            self._db.execute(
                "INSERT INTO subscriptions (chat_id, time, timezone, enabled, last_day, updated_at) "
                "VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT(chat_id) DO UPDATE SET time=excluded.time, "
                "timezone=excluded.timezone, enabled=1, "
                "last_day=COALESCE(MAX(subscriptions.last_day, excluded.last_day), subscriptions.last_day, "
                "excluded.last_day), updated_at=excluded.updated_at",
                (chat_id, at, timezone, last_day, time.time()),
            )
        sub = self.subscription(chat_id)
        assert sub is not None, "the row was just written"
        return sub

    def unsubscribe(self, chat_id: int) -> bool:
        """Disable (not delete) so the history stays; True if there was an enabled subscription."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE subscriptions SET enabled=0, updated_at=? WHERE chat_id=? AND enabled=1", (time.time(), chat_id)
            )
            return cursor.rowcount > 0

    def subscription(self, chat_id: int) -> Subscription | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM subscriptions WHERE chat_id=?", (chat_id,)).fetchone()
        return _subscription(row) if row else None

    def subscriptions(self, enabled_only: bool = True) -> list[Subscription]:
        sql = "SELECT * FROM subscriptions" + (" WHERE enabled=1" if enabled_only else "") + " ORDER BY chat_id"
        with self._lock:
            rows = self._db.execute(sql).fetchall()
        return [_subscription(row) for row in rows]

    def mark_day(self, chat_id: int, day: str) -> None:
        with self._lock:
            self._db.execute("UPDATE subscriptions SET last_day=? WHERE chat_id=?", (day, chat_id))

    # ------------------------------------------------------------------ excerpt rotation
    def claim_excerpt(self, chat_id: int, ordered_ids: list[str]) -> str | None:
        """The first id of `ordered_ids` this chat has not had in its current round, recorded as sent.

        Claiming and recording in one transaction means two deliveries racing for one chat never pick the
        same passage; when a round is complete the next one starts from the top.
        """
        if not ordered_ids:
            return None
        with self._write():
            return self._claim(chat_id, ordered_ids)

    def peek_excerpt(self, chat_id: int, ordered_ids: list[str]) -> str | None:
        """What `claim_excerpt` would pick, recording nothing: /today can still show one when writes fail."""
        if not ordered_ids:
            return None
        with self._lock:
            return self._next_unsent(chat_id, ordered_ids)[1]

    def _next_unsent(self, chat_id: int, ordered_ids: list[str]) -> tuple[int, str]:
        row = self._db.execute("SELECT MAX(round) FROM excerpts WHERE chat_id=?", (chat_id,)).fetchone()
        current = row[0] if row[0] is not None else 0
        sent = {
            r[0]
            for r in self._db.execute("SELECT passage_id FROM excerpts WHERE chat_id=? AND round=?", (chat_id, current))
        }
        choice = next((pid for pid in ordered_ids if pid not in sent), None)
        return (current, choice) if choice is not None else (current + 1, ordered_ids[0])

    def _claim(self, chat_id: int, ordered_ids: list[str]) -> str:
        """Inside a write transaction."""
        current, choice = self._next_unsent(chat_id, ordered_ids)
        self._db.execute(
            "INSERT INTO excerpts (chat_id, round, passage_id, sent_at) VALUES (?, ?, ?, ?)",
            (chat_id, current, choice, time.time()),
        )
        return choice

    # ------------------------------------------------------------------ daily delivery outbox
    def claim_delivery(self, chat_id: int, ordered_ids: list[str], day: str | None) -> str | None:
        """The excerpt this chat's delivery is to send, with its `deliveries` row in the same transaction.

        A passage claimed earlier and never handed over is the one (dated `day` now), so a kill -9 between
        claiming and sending loses nothing; otherwise the next of the rotation is claimed. Settle a row left
        in `sending` first (`settle_interrupted`): this replaces it.
        """
        with self._write() as db:
            row = db.execute("SELECT passage_id, state FROM deliveries WHERE chat_id=?", (chat_id,)).fetchone()
            if row is not None and row["state"] == DeliveryState.CLAIMED and row["passage_id"] in ordered_ids:
                db.execute("UPDATE deliveries SET day=?, updated_at=? WHERE chat_id=?", (day, time.time(), chat_id))
                return str(row["passage_id"])
            if not ordered_ids:  # nothing left to excerpt (a claimed passage left the corpus with the rest)
                db.execute("DELETE FROM deliveries WHERE chat_id=?", (chat_id,))
                return None
            choice = self._claim(chat_id, ordered_ids)
            db.execute(
                "INSERT OR REPLACE INTO deliveries (chat_id, day, passage_id, state, updated_at) VALUES (?, ?, ?, ?, ?)",
                (chat_id, day, choice, DeliveryState.CLAIMED, time.time()),
            )
            return choice

    def delivery(self, chat_id: int) -> Delivery | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM deliveries WHERE chat_id=?", (chat_id,)).fetchone()
        return _delivery(row) if row else None

    def set_delivery_state(self, chat_id: int, state: DeliveryState) -> None:
        """Committed before each send (`sending`) and after a failure proven not to have delivered (`claimed`)."""
        with self._lock:
            self._db.execute(
                "UPDATE deliveries SET state=?, updated_at=? WHERE chat_id=?", (state, time.time(), chat_id)
            )

    def finish_delivery(self, chat_id: int, day: str | None) -> None:
        """Sent: the day is settled and the row goes in one transaction, so a restart never sends it again."""
        with self._write() as db:
            if day is not None:
                db.execute(_SETTLE_DAY, (day, chat_id))
            db.execute("DELETE FROM deliveries WHERE chat_id=?", (chat_id,))

    def drop_delivery(self, chat_id: int, *, give_back: bool) -> None:
        """Not delivered. `give_back` returns the passage to the rotation (the chat never saw it); without
        it the passage stays consumed, for one Telegram refused and would refuse again."""
        with self._write() as db:
            row = db.execute("SELECT passage_id FROM deliveries WHERE chat_id=?", (chat_id,)).fetchone()
            if row is not None and give_back:
                db.execute(
                    "DELETE FROM excerpts WHERE chat_id=? AND passage_id=? AND round="
                    "(SELECT MAX(round) FROM excerpts WHERE chat_id=?)",
                    (chat_id, row["passage_id"], chat_id),
                )
            db.execute("DELETE FROM deliveries WHERE chat_id=?", (chat_id,))

    def settle_interrupted(self, chat_id: int) -> Delivery | None:
        """A row a killed process left in `sending`: the message may have arrived, so it counts as sent
        (at most once per day rather than possibly twice). Returns the row it settled."""
        with self._write() as db:
            row = db.execute(
                "SELECT * FROM deliveries WHERE chat_id=? AND state=?", (chat_id, DeliveryState.SENDING)
            ).fetchone()
            if row is None:
                return None
            if row["day"] is not None:
                db.execute(_SETTLE_DAY, (row["day"], chat_id))
            db.execute("DELETE FROM deliveries WHERE chat_id=?", (chat_id,))
        return _delivery(row)

    def excerpt_history(self, chat_id: int) -> list[tuple[int, str]]:
        """(round, passage_id) in the order they were sent."""
        with self._lock:
            rows = self._db.execute(
                "SELECT round, passage_id FROM excerpts WHERE chat_id=? ORDER BY sent_at, rowid", (chat_id,)
            ).fetchall()
        return [(r[0], r[1]) for r in rows]

    # ------------------------------------------------------------------ reindex in progress
    def begin_reindex(self, chat_id: int, message_id: int) -> None:
        """Where a running rebuild shows its progress, so a restart after kill -9 can pick it up there."""
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO reindex (id, chat_id, message_id, started_at) VALUES (1, ?, ?, ?)",
                (chat_id, message_id, time.time()),
            )

    def end_reindex(self) -> None:
        with self._write() as db:
            db.execute("DELETE FROM reindex")

    def unfinished_reindex(self) -> tuple[int, int] | None:
        """(chat_id, message_id) of a rebuild that never finished: its process died."""
        with self._lock:
            row = self._db.execute("SELECT chat_id, message_id FROM reindex").fetchone()
        return (int(row[0]), int(row[1])) if row else None

    # ------------------------------------------------------------------ answered questions
    def save_query(self, chat_id: int | None, question: str, hits: list[tuple[str, str]]) -> str:
        """A short random id (fits any callback data) for the hit list behind an answer's buttons."""
        now = time.time()
        with self._lock:
            self._db.execute("DELETE FROM queries WHERE created_at < ?", (now - QUERY_TTL_SECONDS,))
            while True:
                query_id = secrets.token_urlsafe(6)
                try:
                    self._db.execute(
                        "INSERT INTO queries (id, chat_id, question, hits, created_at) VALUES (?, ?, ?, ?, ?)",
                        (query_id, chat_id, question, json.dumps(hits, ensure_ascii=False), now),
                    )
                    return query_id
                except sqlite3.IntegrityError:  # 48-bit ids practically never collide; retry if one does
                    continue

    def query(self, query_id: str) -> StoredQuery | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM queries WHERE id=?", (query_id,)).fetchone()
        if row is None:
            return None
        hits = [(str(pid), str(aid)) for pid, aid in json.loads(row["hits"])]
        return StoredQuery(row["id"], row["chat_id"], row["question"], hits, row["created_at"])


def _subscription(row: sqlite3.Row) -> Subscription:
    return Subscription(row["chat_id"], row["time"], row["timezone"], bool(row["enabled"]), row["last_day"])


def _delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(row["chat_id"], row["day"], row["passage_id"], DeliveryState(row["state"]))
