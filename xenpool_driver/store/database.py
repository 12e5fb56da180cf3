"""The aggregate store: one database's transactions and the aggregates in it.

:class:`Store` opens (and on first use creates or upgrades) the database,
runs every operation in one transaction, and turns the database's failures
into :class:`~.errors.StoreUnavailable`. The aggregates it returns are
:class:`~.aggregate.StoredAggregate`; the host inventory's operations come
from :class:`~.inventory.HostInventory`, the history's (``record_operation``,
``history``) from :class:`~.history.OperationHistory`.

Every write is one database transaction that first locks the aggregate's row
(``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the transaction itself
holds the database write lock from its ``BEGIN IMMEDIATE``), then reads,
compares and writes. Two writers of one aggregate - threads, processes or
services sharing a database - are therefore serialised by the database, not
by Python.
"""

import collections
import contextlib
import datetime
import sqlite3
import threading
import time

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from xenpool_driver.store import aggregate as aggregate_mod
from xenpool_driver.store import checks
from xenpool_driver.store import conf as store_conf
from xenpool_driver.store import engine as store_engine
from xenpool_driver.store import errors, inventory, migrations, models
from xenpool_driver.store import history as history_mod

_agg = models.aggregates
_meta = models.aggregate_metadata
_ahosts = models.aggregate_hosts


def _first_line(error):
    """The first line of a database error's own text (not SQLAlchemy's)."""
    detail = str(getattr(error, 'orig', error) or error).strip().splitlines()
    return detail[0] if detail else type(error).__name__


def _is_not_a_database(error):
    """Tell whether ``error`` says the SQLite file is corrupt or foreign."""
    # NOTE: pysqlite raises the base DatabaseError itself only for result
    # codes it has no subclass for - in practice SQLITE_CORRUPT ("database
    # disk image is malformed") and SQLITE_NOTADB ("file is not a
    # database"). Integrity errors (a subclass) must reach
    # create_aggregate's Conflict; PostgreSQL's errors are not sqlite3's.
    return type(getattr(error, 'orig', error)) is sqlite3.DatabaseError


class Store(inventory.HostInventory, history_mod.OperationHistory):
    """Aggregates, a host inventory and the history of operations in a SQL database.

    Safe to share between threads; several processes or services may open
    the same database. The schema is created or upgraded on construction.
    :meth:`from_conf` opens the store a ``ConfigOpts`` configures.

    :param url: SQLAlchemy URL (``sqlite:///path``, ``postgresql+psycopg://
        ...``).
    :param busy_timeout: seconds a SQLite writer waits for another one; the
        default is that of ``[store] busy_timeout``.
    :param sleep: the sleep of the WAL switch's retries (tests inject it).
    :param owns_host_lists: the workflow keeps its aggregates' host lists
        (the ``xenpool`` command); False: the caller does (as a compute
        service does).
    :raises InvalidInput: malformed URL.
    :raises StoreUnavailable: the database cannot be reached, stays locked
        longer than ``busy_timeout``, or is not a database (corrupt file).
    :raises SchemaError: the database was made by a newer release.
    """

    def __init__(self, url, busy_timeout=store_conf.DEFAULT_BUSY_TIMEOUT,
                 sleep=time.sleep, owns_host_lists=False):
        #: whether its aggregates' host lists are the workflow's to keep.
        self.owns_host_lists = owns_host_lists
        parsed = store_engine.parse_url(url)
        #: the URL, password hidden (safe to show).
        self.url = parsed.render_as_string(hide_password=True)
        self._engine = store_engine.create_engine(parsed, busy_timeout)
        # NOTE: one in-memory SQLite connection is shared by all threads, so
        # its transactions must not interleave; real databases need no lock.
        self._serial = (threading.RLock()
                        if store_engine.is_sqlite_memory(parsed)
                        else contextlib.nullcontext())
        try:
            with self._guard():
                store_engine.use_write_ahead_log(self._engine,
                                                 store_engine.BusyRetry(
                                                     busy_timeout, sleep=sleep))
                migrations.upgrade(self._engine)
        except BaseException:
            self._engine.dispose()
            raise

    @classmethod
    def from_conf(cls, conf, url=None, **kwargs):
        """Open the store that ``conf`` configures (as the ``xenpool`` command does).

        :param conf: a parsed ``ConfigOpts`` with ``[store]`` registered
            (:func:`xenpool_driver.store.conf.register_opts`).
        :param url: a URL that overrides ``[store] connection`` (``--store``);
            None: :func:`~xenpool_driver.store.conf.connection_url` of ``conf``.
        :param kwargs: ``sleep`` and ``owns_host_lists`` of :class:`Store`;
            the busy timeout is ``[store] busy_timeout``.
        :raises InvalidInput, StoreUnavailable, SchemaError: as :class:`Store`.
        """
        if url is None:
            url = store_conf.connection_url(conf)
        return cls(url, busy_timeout=conf.store.busy_timeout, **kwargs)

    # --- plumbing ---

    @contextlib.contextmanager
    def _guard(self):
        """Translate "unreachable / locked / not a database" into StoreUnavailable.

        Errors of SQLAlchemy and of raw sqlite3 connections alike (the WAL
        switch runs on a raw one).
        """
        try:
            yield
        except (sa_exc.OperationalError, sqlite3.OperationalError) as e:
            raise errors.StoreUnavailable('store %s unavailable: %s' % (
                self.url, _first_line(e))) from None
        except (sa_exc.DatabaseError, sqlite3.DatabaseError) as e:
            if not _is_not_a_database(e):
                raise
            raise errors.StoreUnavailable(
                'store %s is not a usable database (corrupt, or not a SQLite '
                'file): %s' % (self.url, _first_line(e))) from None

    @contextlib.contextmanager
    def _transaction(self):
        with self._serial, self._guard(), self._engine.begin() as conn:
            yield conn

    def _read(self, agg_id):
        """Return a fresh :class:`~.aggregate.StoredAggregate` of ``agg_id``."""
        with self._transaction() as conn:
            return aggregate_mod.load(self, conn,
                                      aggregate_mod.find_row(conn, agg_id))

    def _write(self, agg_id, change, *args):
        """Run ``change(conn, agg_id, metadata, *args)`` under the row lock.

        :returns: ``(change's result, fresh StoredAggregate)``, both from the
            same transaction.
        """
        with self._transaction() as conn:
            # NOTE: lock first, read after: on PostgreSQL (READ COMMITTED)
            # the reads below then see whatever the previous lock holder
            # committed; on SQLite BEGIN IMMEDIATE already excludes writers.
            row = aggregate_mod.find_row(conn, agg_id, lock=True)
            result = change(conn, row.id,
                            aggregate_mod.metadata_of(conn, row.id), *args)
            return result, aggregate_mod.load(self, conn, row)

    # --- aggregates ---

    def create_aggregate(self, name, metadata=None):
        """Create an aggregate with ``metadata`` and no hosts.

        :param name: unique, non-empty name.
        :param metadata: optional mapping of str to str (None values skipped).
        :returns: the new :class:`~.aggregate.StoredAggregate`.
        :raises InvalidInput: bad name or metadata (nothing created).
        :raises Conflict: an aggregate of that name exists.
        """
        checks.check_name(name, 'aggregate name')
        metadata = checks.check_mapping(metadata or {}, 'metadata',
                                        allow_none=True)
        metadata = {k: v for k, v in metadata.items() if v is not None}
        try:
            with self._transaction() as conn:
                if conn.execute(sa.select(_agg.c.id).where(
                        _agg.c.name == name)).first():
                    raise errors.Conflict('aggregate %s exists already' % name)
                agg_id = conn.execute(sa.insert(_agg).values(
                    name=name,
                    created_at=datetime.datetime.now(datetime.timezone.utc)
                ).returning(_agg.c.id)).scalar_one()
                if metadata:
                    conn.execute(sa.insert(_meta), [
                        {'aggregate_id': agg_id, 'key': k, 'value': v}
                        for k, v in metadata.items()])
                return aggregate_mod.load(
                    self, conn, aggregate_mod.find_row(conn, agg_id))
        except sa_exc.IntegrityError:
            # NOTE: another service created the name between our check and
            # our insert (PostgreSQL READ COMMITTED); same answer.
            raise errors.Conflict('aggregate %s exists already' % name) from None

    def get_aggregate(self, name_or_id):
        """Return the aggregate of that name (or id).

        :param name_or_id: its name, its int id, or its id as a string
            (tried after the name).
        :raises InvalidInput: neither a name nor an id.
        :raises NotFound: no such aggregate.
        """
        with self._transaction() as conn:
            return aggregate_mod.load(self, conn,
                                      aggregate_mod.find_row(conn, name_or_id))

    def list_aggregates(self):
        """Return every aggregate, sorted by name, read in one transaction."""
        with self._transaction() as conn:
            rows = conn.execute(sa.select(_agg).order_by(_agg.c.name)).all()
            metadata = collections.defaultdict(dict)
            for r in conn.execute(sa.select(_meta)):
                metadata[r.aggregate_id][r.key] = r.value
            hosts = collections.defaultdict(list)
            for r in conn.execute(sa.select(_ahosts).order_by(_ahosts.c.host)):
                hosts[r.aggregate_id].append(r.host)
            return [aggregate_mod.StoredAggregate(self, r, metadata[r.id],
                                                  hosts[r.id])
                    for r in rows]

    def delete_aggregate(self, name_or_id):
        """Remove the aggregate's rows (its metadata and host list too).

        Only the rows: whether deleting is allowed (hosts left, state) is the
        workflow's decision, taken before calling this. Its history stays
        (see :meth:`history`).

        :raises InvalidInput: neither a name nor an id.
        :raises NotFound: no such aggregate.
        """
        with self._transaction() as conn:
            row = aggregate_mod.find_row(conn, name_or_id, lock=True)
            # NOTE: explicit, not only ON DELETE CASCADE: a SQLite connection
            # made without our PRAGMA foreign_keys would leave orphans.
            conn.execute(sa.delete(_meta).where(_meta.c.aggregate_id == row.id))
            conn.execute(sa.delete(_ahosts).where(
                _ahosts.c.aggregate_id == row.id))
            conn.execute(sa.delete(_agg).where(_agg.c.id == row.id))

    # --- lifecycle ---

    def schema_version(self):
        """Return the schema version recorded in the database."""
        with self._transaction() as conn:
            return migrations.current_version(conn)

    def close(self):
        """Release every pooled connection; the store is unusable after."""
        self._engine.dispose()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
