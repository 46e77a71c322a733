"""Votes under answers, refused questions, the weekly digests sent, and the daily quiz: switches, polls
sent, answers received."""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

ChatId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "votes",
        sa.Column("query_id", sa.Text, primary_key=True),
        sa.Column("user_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("up", sa.Boolean, nullable=False),
        sa.Column("voted_at", sa.Float, nullable=False),
    )
    op.create_index("ix_votes_voted_at", "votes", ["voted_at"])
    op.create_table(
        "refusals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("chat_id", ChatId),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("asked_at", sa.Float, nullable=False),
    )
    op.create_index("ix_refusals_asked_at", "refusals", ["asked_at"])
    op.create_table(
        "digests",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("period", sa.Text, primary_key=True),
        sa.Column("sent_at", sa.Float, nullable=False),
    )
    op.create_table(
        "quiz_chats",
        sa.Column("chat_id", ChatId, primary_key=True, autoincrement=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "quiz_polls",
        sa.Column("poll_id", sa.Text, primary_key=True),
        sa.Column("chat_id", ChatId, nullable=False),
        sa.Column("message_id", sa.BigInteger, nullable=False),
        sa.Column("passage_id", sa.Text, nullable=False),
        sa.Column("correct", sa.Integer, nullable=False),
        sa.Column("sent_at", sa.Float, nullable=False),
    )
    op.create_index("quiz_polls_chat", "quiz_polls", ["chat_id", "sent_at"])
    op.create_table(
        "quiz_answers",
        sa.Column("poll_id", sa.Text, primary_key=True),
        sa.Column("user_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("correct", sa.Boolean, nullable=False),
        sa.Column("answered_at", sa.Float, nullable=False),
    )
