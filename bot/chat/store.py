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

SCHEMA_VERSION = 3  # 3: the feedback and quiz tables (_SCHEMA_FEEDBACK)
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

# ---------------------------------------------------------------------- schema 3: feedback and quizzes
# Votes under answers (one per user per answer, on the `queries` row the buttons carry), questions the
# corpus could not answer, each chat's quiz switch, the quiz polls sent and their answers (from
# poll_answer updates). All additive: a version-2 file gains these tables and loses nothing.
_SCHEMA_FEEDBACK = """
CREATE TABLE IF NOT EXISTS votes (
    query_id   TEXT    NOT NULL,
    user_id    INTEGER NOT NULL,
    up         INTEGER NOT NULL,
    voted_at   REAL    NOT NULL,
    PRIMARY KEY (query_id, user_id)
);
CREATE INDEX IF NOT EXISTS votes_time ON votes (voted_at);
CREATE TABLE IF NOT EXISTS refusals (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id    INTEGER,
    question   TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    asked_at   REAL    NOT NULL
);
CREATE INDEX IF NOT EXISTS refusals_time ON refusals (asked_at);
CREATE TABLE IF NOT EXISTS quiz_chats (
    chat_id    INTEGER PRIMARY KEY,
    enabled    INTEGER NOT NULL,
    updated_at REAL    NOT NULL
);
CREATE TABLE IF NOT EXISTS quiz_polls (
    poll_id    TEXT    PRIMARY KEY,
    chat_id    INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    passage_id TEXT    NOT NULL,
    correct    INTEGER NOT NULL,
    sent_at    REAL    NOT NULL
);
CREATE INDEX IF NOT EXISTS quiz_polls_chat ON quiz_polls (chat_id, sent_at);
CREATE TABLE IF NOT EXISTS quiz_answers (
    poll_id    TEXT    NOT NULL,
    user_id    INTEGER NOT NULL,
    name       TEXT    NOT NULL,
    correct    INTEGER NOT NULL,
    answered_at REAL   NOT NULL,
    PRIMARY KEY (poll_id, user_id)
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
            self._db.executescript(_SCHEMA_FEEDBACK)
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
        return _query(row) if row is not None else None

    # ------------------------------------------------------------------ schema 3: feedback and quizzes
    def vote(self, query_id: str, user_id: int, up: bool) -> bool | None:
        """One vote per user per answer, the latest counting; None when the answer is no longer stored,
        False when this user had already voted the same way."""
        with self._write() as db:
            if db.execute("SELECT 1 FROM queries WHERE id=?", (query_id,)).fetchone() is None:
                return None
            row = db.execute("SELECT up FROM votes WHERE query_id=? AND user_id=?", (query_id, user_id)).fetchone()
            if row is not None and bool(row["up"]) == up:
                return False
            db.execute(
                "INSERT OR REPLACE INTO votes (query_id, user_id, up, voted_at) VALUES (?, ?, ?, ?)",
                (query_id, user_id, int(up), time.time()),
            )
            return True

    def log_refusal(self, chat_id: int | None, question: str, reason: str) -> None:
        now = time.time()
        with self._write() as db:
            db.execute("DELETE FROM refusals WHERE asked_at < ?", (now - QUERY_TTL_SECONDS,))
            db.execute(
                "INSERT INTO refusals (chat_id, question, reason, asked_at) VALUES (?, ?, ?, ?)",
                (chat_id, question, reason, now),
            )

    def refusals(self, since: float) -> list[tuple[int | None, str, str, float]]:
        """(chat_id, question, reason, asked_at) since then, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT chat_id, question, reason, asked_at FROM refusals WHERE asked_at >= ? ORDER BY asked_at DESC",
                (since,),
            ).fetchall()
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def voted_down(self, since: float) -> list[tuple[StoredQuery, float]]:
        """Answers whose latest votes are mostly down, voted on since then: (the answer, last vote time)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT q.*, MAX(v.voted_at) AS last_vote FROM votes v JOIN queries q ON q.id = v.query_id "
                "GROUP BY q.id HAVING SUM(1 - v.up) > SUM(v.up) AND MAX(v.voted_at) >= ? ORDER BY last_vote DESC",
                (since,),
            ).fetchall()
        return [(_query(row), float(row["last_vote"])) for row in rows]

    def set_quiz(self, chat_id: int, enabled: bool) -> bool:
        """True when this changed the chat's setting."""
        with self._write() as db:
            was = db.execute("SELECT enabled FROM quiz_chats WHERE chat_id=?", (chat_id,)).fetchone()
            db.execute(
                "INSERT OR REPLACE INTO quiz_chats (chat_id, enabled, updated_at) VALUES (?, ?, ?)",
                (chat_id, int(enabled), time.time()),
            )
            return (bool(was["enabled"]) if was else False) != enabled

    def quiz_enabled(self, chat_id: int) -> bool:
        with self._lock:
            row = self._db.execute("SELECT enabled FROM quiz_chats WHERE chat_id=?", (chat_id,)).fetchone()
        return bool(row and row["enabled"])

    def save_quiz_poll(self, poll_id: str, chat_id: int, message_id: int, passage_id: str, correct: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO quiz_polls (poll_id, chat_id, message_id, passage_id, correct, sent_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (poll_id, chat_id, message_id, passage_id, correct, time.time()),
            )

    def record_quiz_answer(self, poll_id: str, user_id: int, name: str, option_ids: list[int]) -> bool | None:
        """Whether the user's answer to one of our quizzes is right; None for a poll that is not ours.
        A retracted answer (no options) removes it; otherwise the first answer stays, as Telegram's quizzes
        allow only one."""
        with self._write() as db:
            poll = db.execute("SELECT correct FROM quiz_polls WHERE poll_id=?", (poll_id,)).fetchone()
            if poll is None:
                return None
            if not option_ids:
                db.execute("DELETE FROM quiz_answers WHERE poll_id=? AND user_id=?", (poll_id, user_id))
                return False
            had = db.execute(
                "SELECT correct FROM quiz_answers WHERE poll_id=? AND user_id=?", (poll_id, user_id)
            ).fetchone()
            if had is not None:
                return bool(had["correct"])
            right = option_ids == [poll["correct"]]
            db.execute(
                "INSERT INTO quiz_answers (poll_id, user_id, name, correct, answered_at) VALUES (?, ?, ?, ?, ?)",
                (poll_id, user_id, name, int(right), time.time()),
            )
            return right

    def quiz_standing(self, chat_id: int, since: float) -> tuple[int, list[tuple[int, str, int, int]]]:
        """Quizzes sent to the chat since then, and per member (user_id, name, answered, correct), best first."""
        with self._lock:
            sent = self._db.execute(
                "SELECT COUNT(*) FROM quiz_polls WHERE chat_id=? AND sent_at >= ?", (chat_id, since)
            ).fetchone()[0]
            rows = self._db.execute(
                "SELECT a.user_id, MAX(a.name), COUNT(*), SUM(a.correct) FROM quiz_answers a "
                "JOIN quiz_polls p ON p.poll_id = a.poll_id WHERE p.chat_id=? AND p.sent_at >= ? "
                "GROUP BY a.user_id ORDER BY SUM(a.correct) DESC, COUNT(*) DESC, MIN(a.answered_at)",
                (chat_id, since),
            ).fetchall()
        return int(sent), [(int(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in rows]


def _query(row: sqlite3.Row) -> StoredQuery:
    hits = [(str(pid), str(aid)) for pid, aid in json.loads(row["hits"])]
    return StoredQuery(row["id"], row["chat_id"], row["question"], hits, row["created_at"])


def _subscription(row: sqlite3.Row) -> Subscription:
    return Subscription(row["chat_id"], row["time"], row["timezone"], bool(row["enabled"]), row["last_day"])


def _delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(row["chat_id"], row["day"], row["passage_id"], DeliveryState(row["state"]))
