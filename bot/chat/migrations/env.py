"""Alembic runs the migrations on the connection `bot.chat.migrate.upgrade` hands it, inside its transaction."""

from alembic import context

context.configure(connection=context.config.attributes["connection"])
with context.begin_transaction():
    context.run_migrations()
