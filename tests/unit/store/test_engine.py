"""SQLite engine set-up: locking, foreign keys, write-ahead log, busy retries."""

import sqlite3

import pytest

from xenpool_driver.store import engine as engine_mod


def _pragma(engine, name):
    with engine.connect() as conn:
        return conn.exec_driver_sql('PRAGMA %s' % name).scalar()


def _raw_pragma(engine, name):
    """Read a pragma on a new pooled connection, outside any transaction."""
    raw = engine.raw_connection()
    try:
        return raw.cursor().execute('PRAGMA %s' % name).fetchone()[0]
    finally:
        raw.close()


class FakeTime:
    """A clock that advances only when slept on; ``on_sleep`` runs each time."""

    def __init__(self, on_sleep=None):
        self.now = 100.0
        self.sleeps = []
        self.on_sleep = on_sleep

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep()


def _retry(fake, timeout=30.0):
    return engine_mod.BusyRetry(timeout, clock=fake.clock, sleep=fake.sleep)


@pytest.fixture
def rollback_file(tmp_path):
    """A SQLite file in the rollback-journal mode (a new or pre-WAL store)."""
    path = tmp_path / 'a.sqlite'
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute('CREATE TABLE t (a)')
    conn.close()
    return path


@pytest.fixture
def writer(rollback_file):
    """Another connection holding the file's write lock (BEGIN IMMEDIATE)."""
    conn = sqlite3.connect(rollback_file, isolation_level=None)
    conn.execute('BEGIN IMMEDIATE')
    conn.execute('INSERT INTO t VALUES (1)')
    yield conn
    if conn.in_transaction:
        conn.execute('COMMIT')
    conn.close()


def _engine(path, busy_timeout=30.0):
    return engine_mod.create_engine('sqlite:///%s' % path, busy_timeout)


def test_file_database_uses_the_write_ahead_log(tmp_path):
    engine = _engine(tmp_path / 'a.sqlite')
    try:
        assert engine_mod.use_write_ahead_log(engine, _retry(FakeTime()))
        assert _pragma(engine, 'journal_mode') == 'wal'
        assert _pragma(engine, 'foreign_keys') == 1
        # NOTE: durability unchanged: FULL (2) is SQLite's default
        assert _pragma(engine, 'synchronous') == 2
    finally:
        engine.dispose()


def test_write_ahead_log_is_set_once_per_file(tmp_path):
    first, second = _engine(tmp_path / 'a.sqlite'), _engine(tmp_path / 'a.sqlite')
    try:
        assert engine_mod.use_write_ahead_log(first, _retry(FakeTime())) is True
        assert engine_mod.use_write_ahead_log(second, _retry(FakeTime())) is False
        assert _pragma(second, 'journal_mode') == 'wal'
    finally:
        first.dispose()
        second.dispose()


def test_connecting_does_not_touch_the_journal_mode(rollback_file, writer):
    # NOTE: switching to WAL while another connection writes fails at once,
    # busy timeout or not: a connect that switched made first use flaky.
    engine = _engine(rollback_file)
    try:
        assert _raw_pragma(engine, 'journal_mode') == 'delete'
    finally:
        engine.dispose()


def test_switch_waits_for_the_writer_under_the_busy_timeout(rollback_file, writer):
    fake = FakeTime(on_sleep=lambda: writer.execute('COMMIT'))
    engine = _engine(rollback_file)
    try:
        assert engine_mod.use_write_ahead_log(engine, _retry(fake)) is True
        assert _pragma(engine, 'journal_mode') == 'wal'
        assert fake.sleeps == [0.001]
    finally:
        engine.dispose()


def test_switch_gives_up_after_the_busy_timeout(rollback_file, writer):
    fake = FakeTime()
    engine = _engine(rollback_file)
    try:
        with pytest.raises(sqlite3.OperationalError, match='locked'):
            engine_mod.use_write_ahead_log(engine, _retry(fake, timeout=0.5))
        assert sum(fake.sleeps) <= 0.5
        assert fake.sleeps[:4] == [0.001, 0.002, 0.004, 0.008]
        assert max(fake.sleeps) == 0.05
    finally:
        engine.dispose()


@pytest.mark.parametrize('url', ['sqlite://', 'sqlite:///:memory:'])
def test_memory_database_keeps_its_journal(url):
    engine = engine_mod.create_engine(url, 30.0)
    try:
        assert engine_mod.use_write_ahead_log(engine, _retry(FakeTime())) is False
        assert _pragma(engine, 'journal_mode') == 'memory'
    finally:
        engine.dispose()


def _busy():
    return sqlite3.OperationalError('database is locked')


@pytest.mark.parametrize('timeout, failures, outcome, sleeps', [
    (0.0, 1, 'raises', []),                         # 0: one try, no wait
    (1.0, 2, 'ok', [0.001, 0.002]),
    (0.01, 10, 'raises', [0.001, 0.002, 0.004]),    # 0.007 + 0.008 > 0.01
])
def test_busy_retry_is_bounded_by_its_timeout(timeout, failures, outcome, sleeps):
    fake = FakeTime()
    calls = []

    def statement():
        calls.append(1)
        if len(calls) <= failures:
            raise _busy()
        return 'ok'

    retry = _retry(fake, timeout=timeout)
    if outcome == 'raises':
        with pytest.raises(sqlite3.OperationalError):
            retry(statement)
    else:
        assert retry(statement) == 'ok'
    assert fake.sleeps == sleeps


def test_busy_retry_does_not_retry_other_errors():
    fake = FakeTime()

    def statement():
        raise sqlite3.OperationalError('no such table: t')

    with pytest.raises(sqlite3.OperationalError, match='no such table'):
        _retry(fake)(statement)
    assert fake.sleeps == []


@pytest.mark.parametrize('error, busy', [
    (sqlite3.OperationalError('database is locked'), True),
    (sqlite3.OperationalError('disk I/O error'), False),
])
def test_is_busy_by_message(error, busy):
    assert engine_mod.is_busy(error) is busy


def test_is_busy_by_extended_code(rollback_file, writer):
    other = sqlite3.connect(rollback_file, isolation_level=None, timeout=0)
    try:
        with pytest.raises(sqlite3.OperationalError) as exc:
            other.execute('BEGIN IMMEDIATE')
        assert engine_mod.is_busy(exc.value)
    finally:
        other.close()


def test_busy_timeout_reaches_every_connection(tmp_path):
    engine = _engine(tmp_path / 'a.sqlite', busy_timeout=1.5)
    try:
        assert _pragma(engine, 'busy_timeout') == 1500
        assert _raw_pragma(engine, 'busy_timeout') == 1500
    finally:
        engine.dispose()


def test_a_directory_that_cannot_be_made_is_store_unavailable(tmp_path):
    (tmp_path / 'file').write_text('')
    with pytest.raises(engine_mod.errors.StoreUnavailable, match='cannot create'):
        engine_mod.create_engine('sqlite:///%s' % (tmp_path / 'file' / 'a.sqlite'), 30.0)
