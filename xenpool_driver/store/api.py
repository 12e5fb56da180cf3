"""The aggregate store: aggregates, their metadata and hosts, and an inventory.

:class:`Store` opens (and on first use creates or upgrades) the database;
:class:`StoredAggregate` implements the aggregate contract of
:mod:`xenpool_driver.aggregates.contract`, including the atomic
``compare_and_set_metadata``.

Every write is one database transaction that first locks the aggregate's row
(``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the transaction itself
holds the database write lock from its ``BEGIN IMMEDIATE``), then reads,
compares and writes. Two writers of one aggregate - threads, processes or
services sharing a database - are therefore serialised by the database, not
by Python.
"""

import collections
import collections.abc
import contextlib
import datetime
import sqlite3
import threading
import time
import urllib.parse

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from xenpool_driver.aggregates import bookkeeping
from xenpool_driver.store import engine as store_engine
from xenpool_driver.store import errors, migrations, models

HostRecord = collections.namedtuple('HostRecord', 'name url uuid')
HostRecord.__doc__ = """One inventory entry: compute host name, xapi URL, uuid.

``uuid`` is the XenServer host uuid when known, else None.
"""

_KEEP = object()  # "leave the stored uuid as it is"

_agg = models.aggregates
_meta = models.aggregate_metadata
_ahosts = models.aggregate_hosts
_inv = models.hosts


# --- input checks (before any database access: bad input changes nothing) ---

def _check_name(value, what):
    if not isinstance(value, str) or not value.strip():
        raise errors.InvalidInput('%s must be a non-empty string, got %r'
                                  % (what, value))
    if value != value.strip():
        raise errors.InvalidInput('%s %r has leading or trailing blanks'
                                  % (what, value))
    if len(value) > models.NAME_LENGTH:
        raise errors.InvalidInput('%s is longer than %d characters'
                                  % (what, models.NAME_LENGTH))
    return value


def _check_mapping(mapping, what, allow_none):
    if not isinstance(mapping, collections.abc.Mapping):
        raise errors.InvalidInput('%s must be a mapping, got %s'
                                  % (what, type(mapping).__name__))
    checked = {}
    for key, value in mapping.items():
        _check_name(key, '%s key' % what)
        if value is None and allow_none:
            checked[key] = None
        elif isinstance(value, str):
            checked[key] = value
        else:
            raise errors.InvalidInput(
                '%s value of %r must be a string%s, got %r'
                % (what, key, ' or None' if allow_none else '', value))
    return checked


def check_host_name(host):
    """Check a compute host name, as the aggregate contract uses it.

    :param host: the name.
    :returns: ``host``.
    :raises InvalidInput: not a usable name, or one of
        ``bookkeeping.RESERVED_KEYS`` (the message lists them).
    """
    _check_name(host, 'host name')
    # NOTE: the classic layout records a host as the metadata key "<host>":
    # a host called "operational_state" would overwrite the pool's state.
    if host in bookkeeping.RESERVED_KEYS:
        raise errors.InvalidInput(
            'host name %r is reserved (an aggregate metadata key); reserved '
            'names: %s' % (host, ', '.join(sorted(bookkeeping.RESERVED_KEYS))))
    return host


def check_url(url):
    """Check a host's xapi URL: ``http(s)://address[:port]``, no userinfo.

    :param url: the URL.
    :returns: ``url``.
    :raises InvalidInput: not such a URL; a URL with ``user:password@`` is
        refused (not stripped) and the message never repeats its userinfo.
    """
    if not isinstance(url, str) or not url:
        raise errors.InvalidInput('xapi URL must be a non-empty string, '
                                  'got %r' % (url,))
    parts = urllib.parse.urlsplit(url)
    if '@' in parts.netloc:
        # NOTE: refused rather than stripped: the operator learns that the
        # password was not used, and it is never stored nor echoed.
        raise errors.InvalidInput(
            'refused xapi URL %s://<userinfo>@%s: credentials in a URL are '
            'never stored; give the URL without "user:password@" (the '
            'password comes from [xenserver] connection_password or the lab '
            'file)' % (parts.scheme, parts.netloc.rsplit('@', 1)[1]))
    if parts.scheme not in ('http', 'https') or not parts.netloc:
        # NOTE: "root:secret@host" (no scheme) has no netloc: not echoed.
        shown = '<not shown: it has an "@">' if '@' in url else repr(url)
        raise errors.InvalidInput('xapi URL must be http(s)://host[:port], '
                                  'got %s' % shown)
    return url


class StoredAggregate:
    """An aggregate held in a :class:`Store` (the aggregate contract).

    The attributes are a snapshot: every method that writes leaves
    ``metadata`` and ``hosts`` equal to the stored state as of its own
    transaction; :meth:`refresh` re-reads them.

    :ivar id: the aggregate's integer id.
    :ivar name: its unique name.
    :ivar created_at: creation time (aware datetime on PostgreSQL; naive UTC
        on SQLite, which stores no zone).
    :ivar hosts: sorted list of compute host names.
    :ivar metadata: dict of str to str.
    :ivar host_list_is_ours: the host list is the driver's to keep (see
        :func:`xenpool_driver.aggregates.contract.owns_host_list`): True when
        the :class:`Store` was opened with ``owns_host_lists`` (the
        ``xenpool`` command); False when a caller plays the compute service's
        part and changes the list around each hook itself.
    """

    def __init__(self, store, row, metadata, hosts):
        self._store = store
        self.host_list_is_ours = store.owns_host_lists
        self.id = row.id
        self.name = row.name
        self.created_at = row.created_at
        self.metadata = metadata
        self.hosts = hosts

    def __repr__(self):
        return '<StoredAggregate %s %r hosts=%s>' % (self.id, self.name,
                                                     self.hosts)

    def _refresh_from(self, other):
        self.name = other.name
        self.metadata = other.metadata
        self.hosts = other.hosts

    def refresh(self):
        """Re-read ``metadata`` and ``hosts`` from the store.

        :raises NotFound: the aggregate was deleted.
        """
        self._refresh_from(self._store._read(self.id))

    def update_metadata(self, updates):
        """Apply ``updates`` in one transaction; a ``None`` value deletes.

        Post-condition: ``metadata`` is the stored metadata after the write.

        :param updates: mapping of str to str or None.
        :raises InvalidInput: a key or value is malformed (nothing changed).
        :raises NotFound: the aggregate was deleted.
        """
        updates = _check_mapping(updates, 'metadata', allow_none=True)
        self._refresh_from(self._store._write(self.id, _apply_updates,
                                              updates)[1])

    def compare_and_set_metadata(self, expected, updates):
        """Atomically: if the stored values match ``expected``, apply ``updates``.

        Compare and write happen in one transaction holding the aggregate's
        lock, so of several concurrent callers expecting the same value at
        most one succeeds.

        Post-condition: ``metadata`` is the stored metadata (whether or not
        the updates were applied).

        :param expected: mapping of key to the value it must have (``None``:
            the key must be absent).
        :param updates: mapping of str to str or None (``None`` deletes).
        :returns: True when the updates were applied, False when a value
            differed (then nothing was changed).
        :raises InvalidInput: a key or value is malformed (nothing changed).
        :raises NotFound: the aggregate was deleted.
        """
        expected = _check_mapping(expected, 'expected', allow_none=True)
        updates = _check_mapping(updates, 'metadata', allow_none=True)

        def cas(conn, agg_id, current):
            if any(current.get(k) != v for k, v in expected.items()):
                return False
            _apply_updates(conn, agg_id, current, updates)
            return True

        done, fresh = self._store._write(self.id, cas)
        self._refresh_from(fresh)
        return done

    def add_host(self, host):
        """Record ``host`` as a member (the classic aggregate method).

        :param host: compute host name.
        :raises InvalidInput: bad or reserved host name (nothing changed).
        :raises Conflict: ``host`` is a member already (nothing changed).
        :raises NotFound: the aggregate was deleted.
        """
        check_host_name(host)

        def add(conn, agg_id, current):
            if conn.execute(sa.select(_ahosts.c.host).where(
                    _ahosts.c.aggregate_id == agg_id,
                    _ahosts.c.host == host)).first():
                raise errors.Conflict('host %s is already in aggregate %s'
                                      % (host, self.name))
            conn.execute(sa.insert(_ahosts).values(aggregate_id=agg_id,
                                                   host=host))

        self._refresh_from(self._store._write(self.id, add)[1])

    def delete_host(self, host):
        """Remove ``host`` from the members (the classic aggregate method).

        :param host: compute host name.
        :raises InvalidInput: bad host name.
        :raises NotFound: the aggregate was deleted or ``host`` is not a
            member (nothing changed).
        """
        _check_name(host, 'host name')

        def delete(conn, agg_id, current):
            gone = conn.execute(sa.delete(_ahosts).where(
                _ahosts.c.aggregate_id == agg_id, _ahosts.c.host == host))
            if not gone.rowcount:
                raise errors.NotFound('host %s is not in aggregate %s'
                                      % (host, self.name))

        self._refresh_from(self._store._write(self.id, delete)[1])

    def to_dict(self):
        """Return a JSON-friendly dict of the snapshot."""
        return {'id': self.id, 'name': self.name,
                'created_at': self.created_at.isoformat(),
                'hosts': list(self.hosts), 'metadata': dict(self.metadata)}


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


def _apply_updates(conn, agg_id, current, updates):
    """Write ``updates`` over ``current`` (the locked, freshly read metadata)."""
    for key, value in updates.items():
        where = (_meta.c.aggregate_id == agg_id, _meta.c.key == key)
        if value is None:
            if key in current:
                conn.execute(sa.delete(_meta).where(*where))
        elif key not in current:
            conn.execute(sa.insert(_meta).values(aggregate_id=agg_id,
                                                 key=key, value=value))
        elif current[key] != value:
            conn.execute(sa.update(_meta).where(*where).values(value=value))


class Store:
    """Aggregates and a host inventory in a SQL database.

    Safe to share between threads; several processes or services may open
    the same database. The schema is created or upgraded on construction.

    :param url: SQLAlchemy URL (``sqlite:///path``, ``postgresql+psycopg://
        ...``); default: :func:`xenpool_driver.store.conf.connection_url`.
    :param busy_timeout: seconds a SQLite writer waits for another one;
        default: ``[store] busy_timeout``.
    :param sleep: the sleep of the WAL switch's retries (tests inject it).
    :param owns_host_lists: the workflow keeps its aggregates' host lists
        (the ``xenpool`` command); False: the caller does (as a compute
        service does).
    :raises InvalidInput: malformed URL.
    :raises StoreUnavailable: the database cannot be reached, stays locked
        longer than ``busy_timeout``, or is not a database (corrupt file).
    :raises SchemaError: the database was made by a newer release.
    """

    def __init__(self, url=None, busy_timeout=None, sleep=time.sleep,
                 owns_host_lists=False):
        #: whether its aggregates' host lists are the workflow's to keep.
        self.owns_host_lists = owns_host_lists
        if url is None:
            from xenpool_driver.store import conf
            url = conf.connection_url()
        if busy_timeout is None:
            busy_timeout = store_engine.configured_busy_timeout()
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

    def _find_row(self, conn, name_or_id, lock=False):
        if isinstance(name_or_id, bool) or not isinstance(name_or_id,
                                                          (int, str)):
            raise errors.InvalidInput('aggregate must be named by name or id, '
                                      'got %r' % (name_or_id,))
        query = sa.select(_agg)
        if lock:
            query = query.with_for_update()
        if isinstance(name_or_id, int):
            row = conn.execute(query.where(_agg.c.id == name_or_id)).first()
        else:
            _check_name(name_or_id, 'aggregate name')
            row = conn.execute(query.where(_agg.c.name == name_or_id)).first()
            if row is None and name_or_id.isdigit():
                row = conn.execute(
                    query.where(_agg.c.id == int(name_or_id))).first()
        if row is None:
            raise errors.NotFound('no aggregate %s' % (name_or_id,))
        return row

    def _metadata_of(self, conn, agg_id):
        rows = conn.execute(sa.select(_meta.c.key, _meta.c.value).where(
            _meta.c.aggregate_id == agg_id))
        return {r.key: r.value for r in rows}

    def _hosts_of(self, conn, agg_id):
        return list(conn.execute(sa.select(_ahosts.c.host).where(
            _ahosts.c.aggregate_id == agg_id).order_by(_ahosts.c.host)
        ).scalars())

    def _load(self, conn, row):
        return StoredAggregate(self, row, self._metadata_of(conn, row.id),
                               self._hosts_of(conn, row.id))

    def _read(self, agg_id):
        with self._transaction() as conn:
            return self._load(conn, self._find_row(conn, agg_id))

    def _write(self, agg_id, change, *args):
        """Run ``change(conn, agg_id, metadata, *args)`` under the row lock.

        :returns: ``(change's result, fresh StoredAggregate)``, both from the
            same transaction.
        """
        with self._transaction() as conn:
            # NOTE: lock first, read after: on PostgreSQL (READ COMMITTED)
            # the reads below then see whatever the previous lock holder
            # committed; on SQLite BEGIN IMMEDIATE already excludes writers.
            row = self._find_row(conn, agg_id, lock=True)
            result = change(conn, row.id, self._metadata_of(conn, row.id),
                            *args)
            return result, self._load(conn, row)

    # --- aggregates ---

    def create_aggregate(self, name, metadata=None):
        """Create an aggregate with ``metadata`` and no hosts.

        :param name: unique, non-empty name.
        :param metadata: optional mapping of str to str (None values skipped).
        :returns: the new :class:`StoredAggregate`.
        :raises InvalidInput: bad name or metadata (nothing created).
        :raises Conflict: an aggregate of that name exists.
        """
        _check_name(name, 'aggregate name')
        metadata = _check_mapping(metadata or {}, 'metadata', allow_none=True)
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
                return self._load(conn, self._find_row(conn, agg_id))
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
            return self._load(conn, self._find_row(conn, name_or_id))

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
            return [StoredAggregate(self, r, metadata[r.id], hosts[r.id])
                    for r in rows]

    def delete_aggregate(self, name_or_id):
        """Remove the aggregate's rows (its metadata and host list too).

        Only the rows: whether deleting is allowed (hosts left, state) is the
        workflow's decision, taken before calling this.

        :raises InvalidInput: neither a name nor an id.
        :raises NotFound: no such aggregate.
        """
        with self._transaction() as conn:
            row = self._find_row(conn, name_or_id, lock=True)
            # NOTE: explicit, not only ON DELETE CASCADE: a SQLite connection
            # made without our PRAGMA foreign_keys would leave orphans.
            conn.execute(sa.delete(_meta).where(_meta.c.aggregate_id == row.id))
            conn.execute(sa.delete(_ahosts).where(
                _ahosts.c.aggregate_id == row.id))
            conn.execute(sa.delete(_agg).where(_agg.c.id == row.id))

    # --- host inventory ---

    def set_host_url(self, host, url, uuid=_KEEP):
        """Record (or replace) the xapi URL of compute host ``host``.

        :param host: compute host name.
        :param url: ``http(s)://address[:port]`` of the host's xapi.
        :param uuid: its XenServer host uuid; None clears it; omitted keeps
            the stored one.
        :raises InvalidInput: bad or reserved name, bad URL, a URL with
            userinfo, or a bad uuid (nothing changed).
        """
        check_host_name(host)
        check_url(url)
        if uuid is not _KEEP and uuid is not None:
            _check_name(uuid, 'host uuid')
        values = {'url': url}
        if uuid is not _KEEP:
            values['uuid'] = uuid
        with self._transaction() as conn:
            done = conn.execute(sa.update(_inv).where(_inv.c.name == host)
                                .values(**values))
            if not done.rowcount:
                values.setdefault('uuid', None)
                conn.execute(sa.insert(_inv).values(name=host, **values))

    def get_host(self, host):
        """Return the :class:`HostRecord` of ``host``.

        :raises InvalidInput: bad host name.
        :raises NotFound: ``host`` is not in the inventory.
        """
        _check_name(host, 'host name')
        with self._transaction() as conn:
            row = conn.execute(sa.select(_inv).where(_inv.c.name == host)
                               ).first()
        if row is None:
            raise errors.NotFound('host %s is not in the inventory' % host)
        return HostRecord(row.name, row.url, row.uuid)

    def get_host_url(self, host):
        """Return the xapi URL of ``host`` (see :meth:`get_host`)."""
        return self.get_host(host).url

    def list_hosts(self):
        """Return every :class:`HostRecord`, sorted by name."""
        with self._transaction() as conn:
            rows = conn.execute(sa.select(_inv).order_by(_inv.c.name)).all()
        return [HostRecord(r.name, r.url, r.uuid) for r in rows]

    def forget_host(self, host):
        """Remove ``host`` from the inventory.

        :raises NotFound: ``host`` is not in the inventory.
        """
        _check_name(host, 'host name')
        with self._transaction() as conn:
            if not conn.execute(sa.delete(_inv).where(_inv.c.name == host)
                                ).rowcount:
                raise errors.NotFound('host %s is not in the inventory' % host)

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
