"""One stored aggregate: its rows and :class:`StoredAggregate`, the view of them.

:class:`StoredAggregate` implements the aggregate contract of
:mod:`xenpool_driver.aggregates.contract`, including the atomic
``compare_and_set_metadata``. It holds a snapshot; every write goes through
its :class:`~xenpool_driver.store.database.Store`, which runs it in one
transaction under the aggregate's row lock. The functions below are the SQL
of one aggregate's rows, run on a connection inside such a transaction.
"""

import sqlalchemy as sa

from xenpool_driver.store import checks, errors, models

_agg = models.aggregates
_meta = models.aggregate_metadata
_ahosts = models.aggregate_hosts


def find_row(conn, name_or_id, lock=False):
    """Return the ``aggregates`` row named by ``name_or_id``.

    :param conn: a connection in a transaction.
    :param name_or_id: a name, an int id, or an id as a string (tried after
        the name).
    :param lock: lock the row (``SELECT ... FOR UPDATE``) until the end of
        the transaction.
    :raises InvalidInput: neither a name nor an id.
    :raises NotFound: no such aggregate.
    """
    if isinstance(name_or_id, bool) or not isinstance(name_or_id, (int, str)):
        raise errors.InvalidInput('aggregate must be named by name or id, '
                                  'got %r' % (name_or_id,))
    query = sa.select(_agg)
    if lock:
        query = query.with_for_update()
    if isinstance(name_or_id, int):
        row = conn.execute(query.where(_agg.c.id == name_or_id)).first()
    else:
        checks.check_name(name_or_id, 'aggregate name')
        row = conn.execute(query.where(_agg.c.name == name_or_id)).first()
        if row is None and name_or_id.isdigit():
            row = conn.execute(
                query.where(_agg.c.id == int(name_or_id))).first()
    if row is None:
        raise errors.NotFound('no aggregate %s' % (name_or_id,))
    return row


def metadata_of(conn, agg_id):
    """Return the metadata of aggregate ``agg_id`` as a dict."""
    rows = conn.execute(sa.select(_meta.c.key, _meta.c.value).where(
        _meta.c.aggregate_id == agg_id))
    return {r.key: r.value for r in rows}


def hosts_of(conn, agg_id):
    """Return the sorted member host names of aggregate ``agg_id``."""
    return list(conn.execute(sa.select(_ahosts.c.host).where(
        _ahosts.c.aggregate_id == agg_id).order_by(_ahosts.c.host)
    ).scalars())


def load(store, conn, row):
    """Return the :class:`StoredAggregate` of ``row``, read on ``conn``."""
    return StoredAggregate(store, row, metadata_of(conn, row.id),
                           hosts_of(conn, row.id))


def apply_updates(conn, agg_id, current, updates):
    """Write ``updates`` over ``current`` (the locked, freshly read metadata).

    :param updates: checked mapping of key to str, or None to delete.
    """
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


class StoredAggregate:
    """An aggregate held in a :class:`~.database.Store` (the aggregate contract).

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
        the store was opened with ``owns_host_lists`` (the ``xenpool``
        command); False when a caller plays the compute service's part and
        changes the list around each hook itself.
    """

    def __init__(self, store, row, metadata, hosts):
        # NOTE: the store's _read / _write run our reads and writes, each in
        # one transaction (the writes under the row lock).
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
        updates = checks.check_mapping(updates, 'metadata', allow_none=True)
        self._refresh_from(self._store._write(self.id, apply_updates,
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
        expected = checks.check_mapping(expected, 'expected', allow_none=True)
        updates = checks.check_mapping(updates, 'metadata', allow_none=True)

        def cas(conn, agg_id, current):
            if any(current.get(k) != v for k, v in expected.items()):
                return False
            apply_updates(conn, agg_id, current, updates)
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
        checks.check_host_name(host)

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
        checks.check_name(host, 'host name')

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
