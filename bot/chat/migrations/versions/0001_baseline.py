"""The schema before PostgreSQL support (SQLite user_version 2); a file of version 1 lacks the last two tables.

Every table is created only if missing, so an existing SQLite file is adopted as it stands.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

ChatId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("chat_id", ChatId, primary_key=True, autoincrement=False),
        sa.Column("time", sa.Text, nullable=False),
        sa.Column("timezone", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("last_day", sa.Text),
        sa.Column("updated_at", sa.Float, nullable=False),
        if_not_exists=True,
    )
    op.create_table(
        "excerpts",
        sa.Column("chat_id", ChatId, primary_key=True, autoincrement=False),
        sa.Column("round", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("passage_id", sa.Text, primary_key=True),
        sa.Column("sent_at", sa.Float, nullable=False),
        if_not_exists=True,
    )
    op.create_table(
        "queries",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("chat_id", ChatId),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("hits", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        if_not_exists=True,
    )
    op.create_index("queries_created", "queries", ["created_at"], if_not_exists=True)
    op.create_table(
        "deliveries",
        sa.Column("chat_id", ChatId, primary_key=True, autoincrement=False),
        sa.Column("day", sa.Text),
        sa.Column("passage_id", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        if_not_exists=True,
    )
    op.create_table(
        "reindex",
        sa.Column("id", sa.Integer, sa.CheckConstraint("id = 1"), primary_key=True, autoincrement=False),
        sa.Column("chat_id", ChatId, nullable=False),
        sa.Column("message_id", sa.Integer, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        if_not_exists=True,
    )
