"""The schema head read from the migration files is Alembic's head, and a database already at
head is opened without running (or importing) Alembic."""

from __future__ import annotations

from sqlalchemy import text

from tickdeck.core import db


def test_head_revision_is_alembics_head(tmp_path):
    from alembic.script import ScriptDirectory

    engine = db.open_engine(f"sqlite:///{tmp_path / 'c.db'}", migrate=False)
    try:
        assert db.head_revision() == ScriptDirectory.from_config(db.alembic_config(engine)).get_current_head()
    finally:
        engine.dispose()


def test_upgrade_runs_on_a_new_or_older_database_and_is_skipped_at_head(tmp_path):
    engine = db.open_engine(f"sqlite:///{tmp_path / 'c.db'}", migrate=False)
    try:
        assert not db._at_head(engine)  # a new database: no alembic_version table
        db.upgrade(engine, "0004")  # an older schema
        with engine.connect() as c:
            assert c.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0004"
        assert not db._at_head(engine)
        db.upgrade(engine)
        with engine.connect() as c:
            assert c.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == db.head_revision()
        assert db._at_head(engine)
        db.upgrade(engine)  # at head: returns without running a migration
    finally:
        engine.dispose()
