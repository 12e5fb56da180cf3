"""Engines for the store: SQLite configured for real transactions.

pysqlite, left alone, starts transactions lazily (only before a write) and
issues a plain ``BEGIN`` (deferred: shared lock first, write lock later).
Two connections can then both read a row, both decide to write, and one
fails with "database is locked" instead of waiting - or, worse, a
read-compare-write is not atomic at all. We follow SQLAlchemy's pysqlite
recipe ("Serializable isolation / Savepoints / Transactional DDL"): turn off
pysqlite's own transaction handling and emit ``BEGIN IMMEDIATE`` ourselves, so
each transaction takes the database's write lock when it starts and other
writers (threads or processes) wait for it, up to the busy timeout.

File databases use the write-ahead log. The journal mode is a property of
the file, not of a connection: :func:`use_write_ahead_log` switches a file
once (a file already in WAL is only read) when a
:class:`~.database.Store` opens it, never on every connect.
"""

import dataclasses
import os
import sqlite3
import time
import typing

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy import pool as sa_pool

from xenpool_driver.store import errors


def parse_url(url):
    """Parse ``url`` into a SQLAlchemy ``URL``.

    :param url: a string or ``sqlalchemy.engine.URL``.
    :raises InvalidInput: not a URL SQLAlchemy understands.
    """
    if not url or not isinstance(url, (str, sa.engine.URL)):
        raise errors.InvalidInput('store URL must be a non-empty string, '
                                  'got %r' % (url,))
    try:
        return sa.engine.make_url(url)
    except sa_exc.ArgumentError as e:
        raise errors.InvalidInput('bad store URL: %s' % e) from None


def is_sqlite_memory(url):
    """Tell whether ``url`` (a ``URL``) names an in-memory SQLite database."""
    if url.get_backend_name() != 'sqlite':
        return False
    return (url.database in (None, '', ':memory:')
            or url.query.get('mode') == 'memory')


def create_engine(url, busy_timeout):
    """Return an ``Engine`` for ``url``, SQLite set up for locking.

    Post-condition: on SQLite every transaction begins with
    ``BEGIN IMMEDIATE``, foreign keys are enforced, a busy database is
    waited for ``busy_timeout`` seconds, and the file's directory exists.
    The journal mode is left to :func:`use_write_ahead_log`.

    :param url: a SQLAlchemy URL (string or ``URL``).
    :param busy_timeout: seconds a SQLite writer waits for another one
        (the caller reads ``[store] busy_timeout``: importing the engine
        registers and reads no option).
    :raises InvalidInput: the URL is malformed or names an unknown driver.
    :raises StoreUnavailable: the SQLite file's directory cannot be made.
    """
    url = parse_url(url)
    if url.get_backend_name() != 'sqlite':
        try:
            # NOTE: pre_ping: a shared PostgreSQL restarts; a stale pooled
            # connection must not turn into an error for the operator.
            return sa.create_engine(url, pool_pre_ping=True)
        except (sa_exc.ArgumentError, ImportError) as e:
            raise errors.InvalidInput('cannot use store URL %s: %s' % (
                url.render_as_string(hide_password=True), e)) from None

    kwargs = {'connect_args': {'timeout': busy_timeout,
                               # NOTE: the pool hands a connection to one
                               # thread at a time; that is enough.
                               'check_same_thread': False}}
    if is_sqlite_memory(url):
        # NOTE: every connection to ":memory:" is a new empty database; keep
        # exactly one (the Store serialises its use with a lock).
        kwargs['poolclass'] = sa_pool.StaticPool
    elif url.database:
        _make_directory(url)
    engine = sa.create_engine(url, **kwargs)

    @event.listens_for(engine, 'connect')
    def _on_connect(dbapi_connection, connection_record):
        # NOTE: None = pysqlite emits no BEGIN of its own (autocommit mode);
        # the 'begin' listener below emits ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute('PRAGMA foreign_keys = ON')
        cursor.execute('PRAGMA busy_timeout = %d' % int(busy_timeout * 1000))
        cursor.close()

    @event.listens_for(engine, 'begin')
    def _on_begin(conn):
        conn.exec_driver_sql('BEGIN IMMEDIATE')

    return engine


def _make_directory(url):
    directory = os.path.dirname(os.path.abspath(url.database))
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise errors.StoreUnavailable('store %s unavailable: cannot create '
                                      'directory %s: %s' % (
                                          url.render_as_string(
                                              hide_password=True), directory,
                                          e.strerror or e)) from None


def is_busy(error):
    """Tell whether a DBAPI ``error`` is SQLite's SQLITE_BUSY."""
    # NOTE: sqlite_errorcode exists from Python 3.11; before, the message of
    # SQLITE_BUSY (sqlite3_errstr) is the only sign.
    code = getattr(error, 'sqlite_errorcode', None)
    if code is not None:
        return code & 0xFF == 5
    return 'database is locked' in str(error)


@dataclasses.dataclass(frozen=True)
class BusyRetry:
    """Retry a SQLite statement that fails SQLITE_BUSY without waiting.

    SQLite's busy handler is not called for every lock it waits for (the
    journal mode switch is one), so such a statement is retried here, with
    a doubling delay, for at most ``timeout`` seconds - the busy timeout
    that would have applied.

    :ivar timeout: seconds to keep trying; 0: one try.
    :ivar first_delay: seconds before the first retry.
    :ivar max_delay: cap of the doubling delay.
    :ivar clock: monotonic clock (injectable).
    :ivar sleep: sleep function (injectable: tests never sleep).
    """

    timeout: float
    first_delay: float = 0.001
    max_delay: float = 0.05
    clock: typing.Callable[[], float] = time.monotonic
    sleep: typing.Callable[[float], None] = time.sleep

    def __call__(self, fn):
        """Return ``fn()``, retried while it raises SQLITE_BUSY.

        :raises sqlite3.OperationalError: not SQLITE_BUSY, or still busy
            when the next try would start after ``timeout``.
        """
        deadline = self.clock() + self.timeout
        delay = self.first_delay
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as e:
                if not is_busy(e) or self.clock() + delay > deadline:
                    raise
            self.sleep(delay)
            delay = min(delay * 2, self.max_delay)


def _switch_to_wal(dbapi_connection):
    cursor = dbapi_connection.cursor()
    try:
        # NOTE: reading the mode takes no lock a writer holds; a file already
        # in WAL (every one but a new or pre-WAL file) is never written.
        if cursor.execute('PRAGMA journal_mode').fetchone()[0] == 'wal':
            return False
        # NOTE: write-ahead log: a commit is one append + one fsync of the
        # log (the rollback journal costs several), still durable with the
        # default synchronous=FULL; readers never block the writer. SQLite
        # keeps the mode in the file: every later connection uses it. A
        # file system without shared memory keeps its journal (no error).
        cursor.execute('PRAGMA journal_mode = WAL')
        return True
    finally:
        cursor.close()


def use_write_ahead_log(engine, retry):
    """Put the SQLite file database behind ``engine`` in WAL mode, once.

    Pre-condition: ``engine`` comes from :func:`create_engine`.
    Post-condition: the file is in WAL mode (where its file system allows);
    other backends and in-memory databases are left alone.

    :param engine: the store's ``Engine``.
    :param retry: a :class:`BusyRetry` (its timeout: the busy timeout).
    :returns: True when this call switched the file.
    :raises sqlite3.OperationalError: still locked after ``retry.timeout``.
    :raises sqlite3.DatabaseError: the file is not a SQLite database.
    """
    if engine.url.get_backend_name() != 'sqlite' or is_sqlite_memory(
            engine.url):
        return False
    # NOTE: a raw DBAPI connection: in autocommit mode (see _on_connect) it
    # runs no BEGIN, and SQLite refuses to change the mode in a transaction.
    raw = engine.raw_connection()
    try:
        return retry(lambda: _switch_to_wal(raw.dbapi_connection))
    finally:
        raw.close()
