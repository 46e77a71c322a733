"""The state tables as the store queries them; `bot/chat/migrations` creates and changes them.

A chat, user or update id (`ChatId`) is an SQLite INTEGER (the row id, as files written before PostgreSQL
support have it) and a PostgreSQL BIGINT: Telegram's group ids do not fit 32 bits. Days are ISO text, so
text order is day order.
"""

from __future__ import annotations

import sqlalchemy as sa

ChatId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData()

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("chat_id", ChatId, primary_key=True, autoincrement=False),
    sa.Column("time", sa.Text, nullable=False),
    sa.Column("timezone", sa.Text, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("last_day", sa.Text),
    sa.Column("updated_at", sa.Float, nullable=False),
)

excerpts = sa.Table(
    "excerpts",
    metadata,
    sa.Column("chat_id", ChatId, primary_key=True, autoincrement=False),
    sa.Column("round", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("passage_id", sa.Text, primary_key=True),
    sa.Column("sent_at", sa.Float, nullable=False),
)

queries = sa.Table(
    "queries",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("chat_id", ChatId),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("hits", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("chat_id", ChatId, primary_key=True, autoincrement=False),
    sa.Column("day", sa.Text),
    sa.Column("passage_id", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

reindex = sa.Table(
    "reindex",
    metadata,
    sa.Column("id", sa.Integer, sa.CheckConstraint("id = 1"), primary_key=True, autoincrement=False),
    sa.Column("chat_id", ChatId, nullable=False),
    sa.Column("message_id", sa.Integer, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
)

seen_updates = sa.Table(
    "seen_updates",
    metadata,
    sa.Column("update_id", ChatId, primary_key=True, autoincrement=False),
    sa.Column("seen_at", sa.Float, nullable=False),
)

rate_events = sa.Table(
    "rate_events",
    metadata,
    sa.Column("key", ChatId, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)

rate_notices = sa.Table(
    "rate_notices",
    metadata,
    sa.Column("key", ChatId, primary_key=True, autoincrement=False),
    sa.Column("until", sa.Float, nullable=False),
)

index_version = sa.Table(
    "index_version",
    metadata,
    sa.Column("id", sa.Integer, sa.CheckConstraint("id = 1"), primary_key=True, autoincrement=False),
    sa.Column("version", sa.Text, nullable=False),
    sa.Column("published_at", sa.Float, nullable=False),
)

# feedback under answers, questions the corpus could not answer, and the daily quiz (migration 0003)

votes = sa.Table(
    "votes",
    metadata,
    sa.Column("query_id", sa.Text, primary_key=True),
    sa.Column("user_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("up", sa.Boolean, nullable=False),
    sa.Column("voted_at", sa.Float, nullable=False, index=True),
)

refusals = sa.Table(
    "refusals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("chat_id", ChatId),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("asked_at", sa.Float, nullable=False, index=True),
)

quiz_chats = sa.Table(
    "quiz_chats",
    metadata,
    sa.Column("chat_id", ChatId, primary_key=True, autoincrement=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

quiz_polls = sa.Table(
    "quiz_polls",
    metadata,
    sa.Column("poll_id", sa.Text, primary_key=True),
    sa.Column("chat_id", ChatId, nullable=False),
    sa.Column("message_id", sa.BigInteger, nullable=False),
    sa.Column("passage_id", sa.Text, nullable=False),
    sa.Column("correct", sa.Integer, nullable=False),
    sa.Column("sent_at", sa.Float, nullable=False),
    sa.Index("quiz_polls_chat", "chat_id", "sent_at"),
)

digests = sa.Table(
    "digests",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("period", sa.Text, primary_key=True),
    sa.Column("sent_at", sa.Float, nullable=False),
)

quiz_answers = sa.Table(
    "quiz_answers",
    metadata,
    sa.Column("poll_id", sa.Text, primary_key=True),
    sa.Column("user_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("correct", sa.Boolean, nullable=False),
    sa.Column("answered_at", sa.Float, nullable=False),
)
