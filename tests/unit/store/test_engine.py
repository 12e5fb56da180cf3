"""SQLite engine set-up: locking, foreign keys, write-ahead log."""

import pytest

from xenpool_driver.store import engine as engine_mod


def _pragma(engine, name):
    with engine.connect() as conn:
        return conn.exec_driver_sql('PRAGMA %s' % name).scalar()


def test_file_database_uses_the_write_ahead_log(tmp_path):
    engine = engine_mod.create_engine('sqlite:///%s' % (tmp_path / 'a.sqlite'))
    try:
        assert _pragma(engine, 'journal_mode') == 'wal'
        assert _pragma(engine, 'foreign_keys') == 1
        # NOTE: durability unchanged: FULL (2) is SQLite's default
        assert _pragma(engine, 'synchronous') == 2
    finally:
        engine.dispose()


@pytest.mark.parametrize('url', ['sqlite://', 'sqlite:///:memory:'])
def test_memory_database_keeps_its_journal(url):
    engine = engine_mod.create_engine(url)
    try:
        assert _pragma(engine, 'journal_mode') == 'memory'
    finally:
        engine.dispose()
