"""The bot's persistent state: daily subscriptions, excerpt history, answered questions; SQLite or PostgreSQL.

Everything a restart must not forget lives here (not in PTB's memory): which chats want an excerpt and
when, which excerpts each chat has already had (so a restart neither repeats nor skips one), and the hit
list behind each answer's inline buttons (callback data is limited to 64 bytes, so buttons carry only a
short id). The `deliveries` table is an outbox: a daily excerpt is claimed together with its row, so a
kill -9 at any step leaves enough behind for the restart to neither repeat nor silently drop it.

`Store(target)` takes an SQLite file path (the embedded default) or a database URL (`Settings.database_url`,
e.g. `postgresql://user@host/db` for replicas). One code path serves both through SQLAlchemy Core; what
differs lives in `bot.chat.dialect`. SQLAlchemy Core rather than raw psycopg + sqlite3: one query text is
compiled for each dialect (upserts, RETURNING, booleans, 64-bit ids) and pooled, and Alembic, its
migration tool, versions the schema on both; psycopg 3 is the PostgreSQL driver underneath.
Calls block (a write can wait seconds for another process's lock), so
async code wraps every call in `asyncio.to_thread`. Errors surface as `StoreError`.

Schema changes are Alembic migrations in `bot/chat/migrations/versions`, applied by `Store()` itself at
start-up, idempotently, under a lock (an advisory lock on PostgreSQL, the write lock on SQLite), so replicas
starting together migrate once. To add a table:

1. declare it in `bot/chat/tables.py` (what the queries use);
2. add `bot/chat/migrations/versions/NNNN_what.py` with `revision = "NNNN"`, `down_revision` = the latest
   one, and an `upgrade()` that creates it with `op.create_table(...)` (columns spelled out there, not
   imported: a migration is frozen history);
3. write the store methods, each in one `with self._tx() as conn:` block; take `self._dialect.lock(conn,
   name, key)` first when two replicas must not interleave the same read-then-write;
4. run `tests/unit/test_store.py`, which runs every test on both backends.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.chat.dialect import Dialect
from bot.chat.tables import (
    deliveries,
    digests,
    excerpts,
    index_version,
    queries,
    quiz_answers,
    quiz_chats,
    quiz_polls,
    rate_events,
    rate_notices,
    refusals,
    reindex,
    seen_updates,
    subscriptions,
    votes,
)

log = logging.getLogger(__name__)

StoreError = SQLAlchemyError
QUERY_TTL_SECONDS = 90 * 24 * 3600
UPDATE_TTL_SECONDS = 7 * 24 * 3600  # Telegram keeps retrying an unanswered webhook update for about a day
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


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


def _later(old: Any, new: Any) -> Any:
    """The later of two days, either possibly NULL: a settled day never moves backwards."""
    return sa.case((sa.and_(new.is_not(None), sa.or_(old.is_(None), old < new)), new), else_=old)


def upgrade(dialect: Dialect) -> None:
    """Alembic to the newest revision, once however many processes start together."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with dialect.serial, dialect.engine.begin() as conn:
        dialect.lock(conn, "migrations")
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


class Store:
    def __init__(self, target: str | Path) -> None:
        self._dialect = Dialect(target)
        self._engine = self._dialect.engine
        upgrade(self._dialect)

    def close(self) -> None:
        self._dialect.dispose()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        """One transaction (on SQLite holding the write lock from its start), committed unless it raises."""
        with self._dialect.serial, self._engine.begin() as conn:
            yield conn

    def _lock_chat(self, conn: sa.Connection, chat_id: int) -> None:
        self._dialect.lock(conn, "chat", chat_id)

    # ------------------------------------------------------------------ subscriptions
    def subscribe(self, chat_id: int, at: str, timezone: str, last_day: str | None = None) -> Subscription:
        """Create or change a subscription; `last_day` marks today as settled when its time has already passed."""
        insert = self._dialect.insert(subscriptions).values(
            chat_id=chat_id, time=at, timezone=timezone, enabled=True, last_day=last_day, updated_at=time.time()
        )
        new = insert.excluded
        with self._tx() as conn:
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[subscriptions.c.chat_id],
                    set_={
                        "time": new["time"],
                        "timezone": new["timezone"],
                        "enabled": True,
                        "last_day": _later(subscriptions.c.last_day, new["last_day"]),
                        "updated_at": new["updated_at"],
                    },
                )
            )
            row = conn.execute(subscriptions.select().where(subscriptions.c.chat_id == chat_id)).one()
        return _subscription(row)

    def unsubscribe(self, chat_id: int) -> bool:
        """Disable (not delete) so the history stays; True if there was an enabled subscription."""
        with self._tx() as conn:
            result = conn.execute(
                subscriptions.update()
                .where(subscriptions.c.chat_id == chat_id, subscriptions.c.enabled.is_(True))
                .values(enabled=False, updated_at=time.time())
            )
            return result.rowcount > 0

    def subscription(self, chat_id: int) -> Subscription | None:
        with self._tx() as conn:
            row = conn.execute(subscriptions.select().where(subscriptions.c.chat_id == chat_id)).first()
        return _subscription(row) if row else None

    def subscriptions(self, enabled_only: bool = True) -> list[Subscription]:
        select = subscriptions.select().order_by(subscriptions.c.chat_id)
        if enabled_only:
            select = select.where(subscriptions.c.enabled.is_(True))
        with self._tx() as conn:
            rows = conn.execute(select).all()
        return [_subscription(row) for row in rows]

    def mark_day(self, chat_id: int, day: str) -> None:
        with self._tx() as conn:
            conn.execute(subscriptions.update().where(subscriptions.c.chat_id == chat_id).values(last_day=day))

    # ------------------------------------------------------------------ excerpt rotation
    def claim_excerpt(self, chat_id: int, ordered_ids: list[str]) -> str | None:
        """The first id of `ordered_ids` this chat has not had in its current round, recorded as sent.

        Claiming and recording in one transaction under the chat's lock means two deliveries racing for one
        chat (in any process) never pick the same passage; when a round is complete the next one starts from
        the top.
        """
        if not ordered_ids:
            return None
        with self._tx() as conn:
            self._lock_chat(conn, chat_id)
            return self._claim(conn, chat_id, ordered_ids)

    def peek_excerpt(self, chat_id: int, ordered_ids: list[str]) -> str | None:
        """What `claim_excerpt` would pick, recording nothing: /today can still show one when writes fail."""
        if not ordered_ids:
            return None
        with self._tx() as conn:
            return self._next_unsent(conn, chat_id, ordered_ids)[1]

    @staticmethod
    def _next_unsent(conn: sa.Connection, chat_id: int, ordered_ids: list[str]) -> tuple[int, str, float]:
        """(round, passage id, time of the latest excerpt) of the chat's next excerpt."""
        current, latest = conn.execute(
            sa.select(sa.func.max(excerpts.c.round), sa.func.max(excerpts.c.sent_at)).where(
                excerpts.c.chat_id == chat_id
            )
        ).one()
        current = current if current is not None else 0
        sent = set(
            conn.execute(
                sa.select(excerpts.c.passage_id).where(excerpts.c.chat_id == chat_id, excerpts.c.round == current)
            ).scalars()
        )
        choice = next((pid for pid in ordered_ids if pid not in sent), None)
        at = latest if latest is not None else 0.0
        return (current, choice, at) if choice is not None else (current + 1, ordered_ids[0], at)

    def _claim(self, conn: sa.Connection, chat_id: int, ordered_ids: list[str]) -> str:
        """Inside a transaction holding the chat's lock. `sent_at` strictly increases per chat, so it orders
        the history even when two claims fall within the clock's resolution."""
        current, choice, latest = self._next_unsent(conn, chat_id, ordered_ids)
        sent_at = max(time.time(), latest + 1e-6)
        conn.execute(excerpts.insert().values(chat_id=chat_id, round=current, passage_id=choice, sent_at=sent_at))
        return choice

    # ------------------------------------------------------------------ daily delivery outbox
    def claim_delivery(self, chat_id: int, ordered_ids: list[str], day: str | None) -> str | None:
        """The excerpt this chat's delivery is to send, with its `deliveries` row in the same transaction.

        A passage claimed earlier and never handed over is the one (dated `day` now), so a kill -9 between
        claiming and sending loses nothing; otherwise the next of the rotation is claimed. Settle a row left
        in `sending` first (`settle_interrupted`): this replaces it.
        """
        now = time.time()
        with self._tx() as conn:
            self._lock_chat(conn, chat_id)
            row = conn.execute(deliveries.select().where(deliveries.c.chat_id == chat_id)).first()
            if row is not None and row.state == DeliveryState.CLAIMED and row.passage_id in ordered_ids:
                conn.execute(deliveries.update().where(deliveries.c.chat_id == chat_id).values(day=day, updated_at=now))
                return str(row.passage_id)
            if not ordered_ids:  # nothing left to excerpt (a claimed passage left the corpus with the rest)
                conn.execute(deliveries.delete().where(deliveries.c.chat_id == chat_id))
                return None
            choice = self._claim(conn, chat_id, ordered_ids)
            insert = self._dialect.insert(deliveries).values(
                chat_id=chat_id, day=day, passage_id=choice, state=DeliveryState.CLAIMED, updated_at=now
            )
            new = insert.excluded
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[deliveries.c.chat_id],
                    set_={name: new[name] for name in ("day", "passage_id", "state", "updated_at")},
                )
            )
            return choice

    def delivery(self, chat_id: int) -> Delivery | None:
        with self._tx() as conn:
            row = conn.execute(deliveries.select().where(deliveries.c.chat_id == chat_id)).first()
        return _delivery(row) if row else None

    def set_delivery_state(self, chat_id: int, state: DeliveryState) -> None:
        """Committed before each send (`sending`) and after a failure proven not to have delivered (`claimed`)."""
        with self._tx() as conn:
            conn.execute(
                deliveries.update().where(deliveries.c.chat_id == chat_id).values(state=state, updated_at=time.time())
            )

    def finish_delivery(self, chat_id: int, day: str | None) -> None:
        """Sent: the day is settled and the row goes in one transaction, so a restart never sends it again."""
        with self._tx() as conn:
            self._lock_chat(conn, chat_id)
            if day is not None:
                self._settle_day(conn, chat_id, day)
            conn.execute(deliveries.delete().where(deliveries.c.chat_id == chat_id))

    @staticmethod
    def _settle_day(conn: sa.Connection, chat_id: int, day: str) -> None:
        conn.execute(
            subscriptions.update()
            .where(subscriptions.c.chat_id == chat_id)
            .values(last_day=_later(subscriptions.c.last_day, sa.literal(day, sa.Text)))
        )

    def drop_delivery(self, chat_id: int, *, give_back: bool) -> None:
        """Not delivered. `give_back` returns the passage to the rotation (the chat never saw it); without
        it the passage stays consumed, for one Telegram refused and would refuse again."""
        with self._tx() as conn:
            self._lock_chat(conn, chat_id)
            passage_id = conn.execute(
                sa.select(deliveries.c.passage_id).where(deliveries.c.chat_id == chat_id)
            ).scalar_one_or_none()
            if passage_id is not None and give_back:
                latest = sa.select(sa.func.max(excerpts.c.round)).where(excerpts.c.chat_id == chat_id).scalar_subquery()
                conn.execute(
                    excerpts.delete().where(
                        excerpts.c.chat_id == chat_id, excerpts.c.passage_id == passage_id, excerpts.c.round == latest
                    )
                )
            conn.execute(deliveries.delete().where(deliveries.c.chat_id == chat_id))

    def settle_interrupted(self, chat_id: int) -> Delivery | None:
        """A row a killed process left in `sending`: the message may have arrived, so it counts as sent
        (at most once per day rather than possibly twice). Returns the row it settled."""
        with self._tx() as conn:
            self._lock_chat(conn, chat_id)
            row = conn.execute(
                deliveries.select().where(deliveries.c.chat_id == chat_id, deliveries.c.state == DeliveryState.SENDING)
            ).first()
            if row is None:
                return None
            if row.day is not None:
                self._settle_day(conn, chat_id, row.day)
            conn.execute(deliveries.delete().where(deliveries.c.chat_id == chat_id))
        return _delivery(row)

    def excerpt_history(self, chat_id: int) -> list[tuple[int, str]]:
        """(round, passage_id) in the order they were sent."""
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(excerpts.c.round, excerpts.c.passage_id)
                .where(excerpts.c.chat_id == chat_id)
                .order_by(excerpts.c.sent_at, excerpts.c.round)
            ).all()
        return [(int(r[0]), str(r[1])) for r in rows]

    # ------------------------------------------------------------------ reindex in progress
    def begin_reindex(self, chat_id: int, message_id: int) -> None:
        """Where a running rebuild shows its progress, so a restart after kill -9 can pick it up there."""
        insert = self._dialect.insert(reindex).values(
            id=1, chat_id=chat_id, message_id=message_id, started_at=time.time()
        )
        new = insert.excluded
        with self._tx() as conn:
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[reindex.c.id],
                    set_={name: new[name] for name in ("chat_id", "message_id", "started_at")},
                )
            )

    def end_reindex(self) -> None:
        with self._tx() as conn:
            conn.execute(reindex.delete())

    def unfinished_reindex(self) -> tuple[int, int] | None:
        """(chat_id, message_id) of a rebuild that never finished: its process died."""
        with self._tx() as conn:
            row = conn.execute(sa.select(reindex.c.chat_id, reindex.c.message_id)).first()
        return (int(row[0]), int(row[1])) if row else None

    # ------------------------------------------------------------------ shared by replicas
    def try_hold(self, name: str, key: int = 0) -> bool:
        """Exclusive across processes and replicas until `release`, or until the holder dies (kill -9 too):
        one delivery per chat, one index build. False: someone else holds it now."""
        return self._dialect.try_hold(name, key)

    def release(self, name: str, key: int = 0) -> None:
        self._dialect.release(name, key)

    def first_sighting(self, update_id: int) -> bool:
        """True the first time any replica sees this Telegram update; a retried webhook delivery is False."""
        now = time.time()
        insert = self._dialect.insert(seen_updates).values(update_id=update_id, seen_at=now)
        with self._tx() as conn:
            conn.execute(seen_updates.delete().where(seen_updates.c.seen_at < now - UPDATE_TTL_SECONDS))
            taken = insert.on_conflict_do_nothing(index_elements=[seen_updates.c.update_id])
            return conn.execute(taken.returning(seen_updates.c.update_id)).first() is not None

    def rate_hit(self, key: int, limit: int, window: float) -> float:
        """0.0 and counted when allowed; otherwise the seconds until the oldest event leaves the window."""
        now = time.time()
        with self._tx() as conn:
            self._dialect.lock(conn, "rate", key)
            mine = rate_events.c.key == key
            conn.execute(rate_events.delete().where(mine, rate_events.c.at <= now - window))
            count, oldest = conn.execute(sa.select(sa.func.count(), sa.func.min(rate_events.c.at)).where(mine)).one()
            if count >= limit:
                return float(oldest) + window - now
            conn.execute(rate_events.insert().values(key=key, at=now))
            return 0.0

    def rate_notice(self, key: int, wait: float) -> bool:
        """True once per refusal period for this key, whichever replica asks."""
        now = time.time()
        insert = self._dialect.insert(rate_notices).values(key=key, until=now + wait)
        with self._tx() as conn:
            result = conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[rate_notices.c.key],
                    set_={"until": insert.excluded["until"]},
                    where=rate_notices.c.until <= now,
                ).returning(rate_notices.c.key)
            )
            return result.first() is not None

    def publish_index(self, version: str) -> None:
        """The build every replica is to serve (a folder name under the shared index's builds/)."""
        insert = self._dialect.insert(index_version).values(id=1, version=version, published_at=time.time())
        with self._tx() as conn:
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[index_version.c.id],
                    set_={"version": insert.excluded["version"], "published_at": insert.excluded["published_at"]},
                )
            )

    def index_version(self) -> str | None:
        with self._tx() as conn:
            return conn.execute(sa.select(index_version.c.version)).scalar_one_or_none()

    # ------------------------------------------------------------------ answered questions
    def save_query(self, chat_id: int | None, question: str, hits: list[tuple[str, str]]) -> str:
        """A short random id (fits any callback data) for the hit list behind an answer's buttons."""
        now = time.time()
        with self._tx() as conn:
            conn.execute(queries.delete().where(queries.c.created_at < now - QUERY_TTL_SECONDS))
        row = {
            "chat_id": chat_id,
            "question": question,
            "hits": json.dumps(hits, ensure_ascii=False),
            "created_at": now,
        }
        while True:
            query_id = secrets.token_urlsafe(6)
            try:
                with self._tx() as conn:
                    conn.execute(queries.insert().values(id=query_id, **row))
                return query_id
            except IntegrityError:  # 48-bit ids practically never collide; retry if one does
                continue

    def query(self, query_id: str) -> StoredQuery | None:
        with self._tx() as conn:
            row = conn.execute(queries.select().where(queries.c.id == query_id)).first()
        return _query(row) if row is not None else None

    # ------------------------------------------------------------------ feedback and gaps
    def vote(self, query_id: str, user_id: int, up: bool) -> bool | None:
        """One vote per user per answer, the latest counting; None when the answer is no longer stored,
        False when this user had already voted the same way."""
        insert = self._dialect.insert(votes).values(query_id=query_id, user_id=user_id, up=up, voted_at=time.time())
        with self._tx() as conn:
            if conn.execute(sa.select(queries.c.id).where(queries.c.id == query_id)).first() is None:
                return None
            was = conn.execute(
                sa.select(votes.c.up).where(votes.c.query_id == query_id, votes.c.user_id == user_id)
            ).scalar_one_or_none()
            if was is not None and bool(was) == up:
                return False
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[votes.c.query_id, votes.c.user_id],
                    set_={"up": insert.excluded.up, "voted_at": insert.excluded.voted_at},
                )
            )
            return True

    def voted_down(self, since: float) -> list[tuple[StoredQuery, float]]:
        """Answers whose votes are mostly down, voted on since then: (the answer, its last vote), newest first."""
        down = sa.func.sum(sa.case((votes.c.up.is_(False), 1), else_=0))
        last = sa.func.max(votes.c.voted_at)
        voted = (
            sa.select(votes.c.query_id, last.label("last_vote"))
            .group_by(votes.c.query_id)
            .having(down * 2 > sa.func.count(), last >= since)
            .subquery()
        )
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(queries, voted.c.last_vote)
                .join(voted, voted.c.query_id == queries.c.id)
                .order_by(voted.c.last_vote.desc())
            ).all()
        return [(_query(row), float(row.last_vote)) for row in rows]

    def log_refusal(self, chat_id: int | None, question: str, reason: str) -> None:
        """A question the corpus could not answer, for /gaps; kept as long as the answers behind buttons."""
        now = time.time()
        with self._tx() as conn:
            conn.execute(refusals.delete().where(refusals.c.asked_at < now - QUERY_TTL_SECONDS))
            conn.execute(refusals.insert().values(chat_id=chat_id, question=question, reason=reason, asked_at=now))

    def refusals(self, since: float) -> list[tuple[int | None, str, str, float]]:
        """(chat_id, question, reason, asked_at) since then, newest first."""
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(refusals.c.chat_id, refusals.c.question, refusals.c.reason, refusals.c.asked_at)
                .where(refusals.c.asked_at >= since)
                .order_by(refusals.c.asked_at.desc(), refusals.c.id.desc())
            ).all()
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def claim_digest(self, name: str, period: str) -> bool:
        """True for the one process (of all replicas) that is to send this period's digest."""
        insert = self._dialect.insert(digests).values(name=name, period=period, sent_at=time.time())
        with self._tx() as conn:
            taken = insert.on_conflict_do_nothing(index_elements=[digests.c.name, digests.c.period])
            return conn.execute(taken.returning(digests.c.name)).first() is not None

    # ------------------------------------------------------------------ daily quiz
    def set_quiz(self, chat_id: int, enabled: bool) -> None:
        insert = self._dialect.insert(quiz_chats).values(chat_id=chat_id, enabled=enabled, updated_at=time.time())
        with self._tx() as conn:
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[quiz_chats.c.chat_id],
                    set_={"enabled": insert.excluded.enabled, "updated_at": insert.excluded.updated_at},
                )
            )

    def quiz_enabled(self, chat_id: int) -> bool:
        with self._tx() as conn:
            return bool(conn.execute(sa.select(quiz_chats.c.enabled).where(quiz_chats.c.chat_id == chat_id)).scalar())

    def save_quiz_poll(self, poll_id: str, chat_id: int, message_id: int, passage_id: str, correct: int) -> None:
        with self._tx() as conn:
            conn.execute(
                quiz_polls.insert().values(
                    poll_id=poll_id,
                    chat_id=chat_id,
                    message_id=message_id,
                    passage_id=passage_id,
                    correct=correct,
                    sent_at=time.time(),
                )
            )

    def record_quiz_answer(self, poll_id: str, user_id: int, name: str, option_ids: list[int]) -> bool | None:
        """Whether the user's answer to one of our quizzes is right; None for a poll that is not ours.
        A retracted answer (no options) removes it; otherwise the first answer stays, as Telegram's quizzes
        allow only one."""
        with self._tx() as conn:
            correct = conn.execute(
                sa.select(quiz_polls.c.correct).where(quiz_polls.c.poll_id == poll_id)
            ).scalar_one_or_none()
            if correct is None:
                return None
            mine = sa.and_(quiz_answers.c.poll_id == poll_id, quiz_answers.c.user_id == user_id)
            if not option_ids:
                conn.execute(quiz_answers.delete().where(mine))
                return False
            had = conn.execute(sa.select(quiz_answers.c.correct).where(mine)).scalar_one_or_none()
            if had is not None:
                return bool(had)
            right = option_ids == [correct]
            insert = self._dialect.insert(quiz_answers).values(
                poll_id=poll_id, user_id=user_id, name=name, correct=right, answered_at=time.time()
            )
            conn.execute(insert.on_conflict_do_nothing())
            return right

    def quiz_standing(self, chat_id: int, since: float) -> tuple[int, list[tuple[int, str, int, int]]]:
        """Quizzes sent to the chat since then, and per member (user_id, name, answered, correct), best first."""
        right = sa.func.sum(sa.case((quiz_answers.c.correct.is_(True), 1), else_=0))
        answered = sa.func.count()
        with self._tx() as conn:
            sent = conn.execute(
                sa.select(sa.func.count()).where(quiz_polls.c.chat_id == chat_id, quiz_polls.c.sent_at >= since)
            ).scalar_one()
            rows = conn.execute(
                sa.select(quiz_answers.c.user_id, sa.func.max(quiz_answers.c.name), answered, right)
                .join(quiz_polls, quiz_polls.c.poll_id == quiz_answers.c.poll_id)
                .where(quiz_polls.c.chat_id == chat_id, quiz_polls.c.sent_at >= since)
                .group_by(quiz_answers.c.user_id)
                .order_by(right.desc(), answered.desc(), sa.func.min(quiz_answers.c.answered_at))
            ).all()
        return int(sent), [(int(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in rows]


def _query(row: sa.Row[Any]) -> StoredQuery:
    hits = [(str(pid), str(aid)) for pid, aid in json.loads(row.hits)]
    return StoredQuery(row.id, row.chat_id, row.question, hits, row.created_at)


def _subscription(row: sa.Row[Any]) -> Subscription:
    return Subscription(row.chat_id, row.time, row.timezone, bool(row.enabled), row.last_day)


def _delivery(row: sa.Row[Any]) -> Delivery:
    return Delivery(row.chat_id, row.day, row.passage_id, DeliveryState(row.state))
