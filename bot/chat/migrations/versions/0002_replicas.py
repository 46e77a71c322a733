"""What replicas share: Telegram updates already taken, the per-user question window, the index being served."""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "seen_updates",
        sa.Column("update_id", Key, primary_key=True, autoincrement=False),
        sa.Column("seen_at", sa.Float, nullable=False),
    )
    op.create_index("seen_updates_at", "seen_updates", ["seen_at"])
    op.create_table(
        "rate_events",
        sa.Column("key", Key, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("rate_events_key_at", "rate_events", ["key", "at"])
    op.create_table(
        "rate_notices",
        sa.Column("key", Key, primary_key=True, autoincrement=False),
        sa.Column("until", sa.Float, nullable=False),
    )
    op.create_table(
        "index_version",
        sa.Column("id", sa.Integer, sa.CheckConstraint("id = 1"), primary_key=True, autoincrement=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("published_at", sa.Float, nullable=False),
    )
