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
