"""Alembic environment: runs against the connection handed over by tickdeck.core.db.upgrade."""

from alembic import context

from tickdeck.core.db import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")

if connection is None:  # invoked by the alembic CLI: build an engine from the ini / env
    import os

    from sqlalchemy import create_engine

    url = context.config.get_main_option("sqlalchemy.url") or os.environ["TICKDECK_SQL_URL"]
    with create_engine(url).begin() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
