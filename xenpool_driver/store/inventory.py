"""The host inventory: which xapi URL (and uuid) each compute host has.

The inventory is independent of the aggregates: a host is recorded when the
operator first names its URL, and stays until forgotten. :class:`HostInventory`
holds the inventory's operations; :class:`~.database.Store` inherits them.
"""

import collections

import sqlalchemy as sa

from xenpool_driver.store import checks, errors, models

HostRecord = collections.namedtuple('HostRecord', 'name url uuid')
HostRecord.__doc__ = """One inventory entry: compute host name, xapi URL, uuid.

``uuid`` is the XenServer host uuid when known, else None.
"""

_KEEP = object()  # "leave the stored uuid as it is"

_inv = models.hosts


class HostInventory:
    """The inventory operations of a store (a mixin of :class:`~.database.Store`).

    Pre-condition: the class it is mixed into provides ``_transaction()``, a
    context manager yielding a connection in one database transaction, its
    errors translated to :class:`~.errors.StoreUnavailable`.
    """

    def set_host_url(self, host, url, uuid=_KEEP):
        """Record (or replace) the xapi URL of compute host ``host``.

        :param host: compute host name.
        :param url: ``http(s)://address[:port]`` of the host's xapi.
        :param uuid: its XenServer host uuid; None clears it; omitted keeps
            the stored one.
        :raises InvalidInput: bad or reserved name, bad URL, a URL with
            userinfo, or a bad uuid (nothing changed).
        """
        checks.check_host_name(host)
        checks.check_url(url)
        if uuid is not _KEEP and uuid is not None:
            checks.check_name(uuid, 'host uuid')
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
        checks.check_name(host, 'host name')
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

        :raises InvalidInput: bad host name.
        :raises NotFound: ``host`` is not in the inventory.
        """
        checks.check_name(host, 'host name')
        with self._transaction() as conn:
            if not conn.execute(sa.delete(_inv).where(_inv.c.name == host)
                                ).rowcount:
                raise errors.NotFound('host %s is not in the inventory' % host)
