"""The bot's persistent state in one SQLite file: daily subscriptions, excerpt history and answered questions.

Everything a restart must not forget lives here (not in PTB's memory): which chats want an excerpt and
when, which excerpts each chat has already had (so a restart neither repeats nor skips one), and the hit
list behind each answer's inline buttons (callback data is limited to 64 bytes, so buttons carry only a
short id). One connection guarded by a lock: calls come from the event loop and from worker threads.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA_VERSION = 1
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
"""


@dataclass(frozen=True)
class Subscription:
    chat_id: int
    time: str  # "HH:MM", local to `timezone`
    timezone: str
    enabled: bool
    last_day: str | None  # the last local day (YYYY-MM-DD) whose excerpt is settled: sent, or subscribed too late


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
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT MAX(round) FROM excerpts WHERE chat_id=?", (chat_id,)).fetchone()
                current = row[0] if row[0] is not None else 0
                sent = {
                    r[0]
                    for r in self._db.execute(
                        "SELECT passage_id FROM excerpts WHERE chat_id=? AND round=?", (chat_id, current)
                    )
                }
                choice = next((pid for pid in ordered_ids if pid not in sent), None)
                if choice is None:
                    current, choice = current + 1, ordered_ids[0]
                self._db.execute(
                    "INSERT INTO excerpts (chat_id, round, passage_id, sent_at) VALUES (?, ?, ?, ?)",
                    (chat_id, current, choice, time.time()),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return choice

    def release_excerpt(self, chat_id: int, passage_id: str) -> None:
        """Undo a claim whose message never reached the chat, so the passage is not skipped."""
        with self._lock:
            self._db.execute(
                "DELETE FROM excerpts WHERE chat_id=? AND passage_id=? AND round="
                "(SELECT MAX(round) FROM excerpts WHERE chat_id=?)",
                (chat_id, passage_id, chat_id),
            )

    def excerpt_history(self, chat_id: int) -> list[tuple[int, str]]:
        """(round, passage_id) in the order they were sent."""
        with self._lock:
            rows = self._db.execute(
                "SELECT round, passage_id FROM excerpts WHERE chat_id=? ORDER BY sent_at, rowid", (chat_id,)
            ).fetchall()
        return [(r[0], r[1]) for r in rows]

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
