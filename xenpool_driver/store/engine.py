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
"""

import os

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


def create_engine(url, busy_timeout=30.0):
    """Return an ``Engine`` for ``url``, SQLite set up for locking.

    Post-condition: on SQLite every transaction begins with
    ``BEGIN IMMEDIATE``, foreign keys are enforced, a busy database is
    waited for ``busy_timeout`` seconds, and the file's directory exists.

    :param url: a SQLAlchemy URL (string or ``URL``).
    :param busy_timeout: seconds a SQLite writer waits for another one.
    :raises InvalidInput: the URL is malformed or names an unknown driver.
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
        directory = os.path.dirname(os.path.abspath(url.database))
        os.makedirs(directory, exist_ok=True)
    engine = sa.create_engine(url, **kwargs)
    wal = not is_sqlite_memory(url)

    @event.listens_for(engine, 'connect')
    def _on_connect(dbapi_connection, connection_record):
        # NOTE: None = pysqlite emits no BEGIN of its own (autocommit mode);
        # the 'begin' listener below emits ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute('PRAGMA foreign_keys = ON')
        cursor.execute('PRAGMA busy_timeout = %d' % int(busy_timeout * 1000))
        if wal:
            # NOTE: write-ahead log: a commit is one append + one fsync of the
            # log (the rollback journal costs several), still durable with
            # the default synchronous=FULL; readers never block the writer.
            cursor.execute('PRAGMA journal_mode = WAL')
        cursor.close()

    @event.listens_for(engine, 'begin')
    def _on_begin(conn):
        conn.exec_driver_sql('BEGIN IMMEDIATE')

    return engine
