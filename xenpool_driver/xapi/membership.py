"""A pool's membership as its master sees it: :class:`Membership`, and reading it.

XAPI knowledge only (no aggregates, no metadata). :func:`read` is the one
read of "who is in the pool, who is master, who is live" that the pool
verbs (:func:`xenpool_driver.xapi.pool.snapshot`, the designate settle check
in :mod:`.settle`) make; :func:`joined` and :func:`gone` are the re-reads of
reality after a join or an eject whose call failed; :func:`ejectable` is
which member may leave.

XAPI round trips:

* :func:`read`: ``pool.get_all_records``, ``host.get_all_records``,
  ``host_metrics.get_all_records`` (3).
* :func:`joined`: ``host.get_all_records`` + ``host_metrics.get_record``
  when the host is there (see :func:`xenpool_driver.xapi.host.find`).
* :func:`gone`: ``host.get_all_records`` (1).
* :func:`ejectable`: ``pool.get_all_records``, ``host.get_all_records``
  (not given a membership), ``VM.get_all_records`` (not when forced, nor for
  a host not there).
* :func:`refuse_guests`: ``VM.get_all_records`` (1).
"""

import dataclasses

from oslo_log import log as logging

from xenpool_driver import exception
from xenpool_driver.xapi import host as host_mod

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Membership:
    """A snapshot of a pool read from its master."""

    pool_ref: str
    pool_uuid: str
    name_label: str
    master_uuid: str
    hosts: tuple  # of HostInfo

    @property
    def master(self):
        """:class:`HostInfo` of the master."""
        return self.host(self.master_uuid)

    @property
    def uuids(self):
        """frozenset of member host uuids."""
        return frozenset(h.uuid for h in self.hosts)

    def host(self, uuid):
        """The member with ``uuid``, or None."""
        for h in self.hosts:
            if h.uuid == uuid:
                return h
        return None


def read(session):
    """Read the pool's membership (pool, master, hosts with liveness).

    XAPI calls (3): ``pool.get_all_records``, ``host.get_all_records``,
    ``host_metrics.get_all_records``.

    :param session: :class:`XapiSession` (on any member: calls reach the
        master through HOST_IS_SLAVE).
    :returns: :class:`Membership`; hosts sorted by uuid.
    :raises XapiUnavailable, XapiError: from the session.
    """
    pool_ref, pool_rec = host_mod.read_pool(session)
    host_recs = session.call('host.get_all_records')
    metrics_recs = session.call('host_metrics.get_all_records')
    return from_records(pool_ref, pool_rec, host_recs, metrics_recs)


def from_records(pool_ref, pool_rec, host_recs, metrics_recs):
    """Build a :class:`Membership` from the records :func:`read` fetches.

    :param pool_ref: the pool's ``OpaqueRef``.
    :param pool_rec: its ``pool`` record.
    :param host_recs: ``host.get_all_records``.
    :param metrics_recs: ``host_metrics.get_all_records``.
    :returns: :class:`Membership`; hosts sorted by uuid; ``master_uuid`` is
        ``''`` when ``pool.master`` names no host of ``host_recs``.
    """
    hosts = tuple(sorted(
        (host_mod.host_info(ref, rec, host_mod.metrics_live(rec, metrics_recs))
         for ref, rec in host_recs.items()),
        key=lambda h: h.uuid))
    master_rec = host_recs.get(pool_rec.get('master'), {})
    return Membership(pool_ref=pool_ref, pool_uuid=pool_rec.get('uuid', ''),
                      name_label=pool_rec.get('name_label', ''),
                      master_uuid=master_rec.get('uuid', ''), hosts=hosts)


def joined(master, host_uuid):
    """Whether the master's DB has ``host_uuid`` (False when unreadable).

    The re-read after a join whose call failed: the host is in the master's
    DB exactly when the join happened.
    """
    try:
        return host_mod.find(master, host_uuid) is not None
    except exception.XenPoolError as error:
        LOG.warning('Could not re-read the master after a failed join: %s', error)
        return False


def gone(master, host_uuid):
    """Whether the master's DB no longer has ``host_uuid`` (False when unreadable).

    The re-read after an eject whose call failed, and its confirmation.
    """
    try:
        return host_mod.find_ref(master.call('host.get_all_records'), host_uuid) is None
    except exception.XenPoolError as error:
        LOG.warning('Could not re-read the master after a failed eject: %s', error)
        return False


def ejectable(master, host_uuid, force, membership=None):
    """The ref of slave ``host_uuid`` when it may be ejected; None when not a member.

    XAPI calls: ``pool.get_all_records``, ``host.get_all_records`` (not with
    ``membership``), ``VM.get_all_records`` (not when ``force``).

    :param master: :class:`XapiSession` on the pool master.
    :param force: skip the resident-VM refusal (xapi still refuses).
    :param membership: a :class:`Membership` of this pool just read (e.g. the
        settled pool after a designate): its master and refs are used.
    :raises OperationRefused: it is the master, or (unless ``force``) guest
        VMs are not halted on it.
    """
    if membership is None:
        _, pool_rec = host_mod.read_pool(master)
        host_ref = host_mod.find_ref(master.call('host.get_all_records'), host_uuid)
        master_ref = pool_rec.get('master')
    else:
        info, master_info = membership.host(host_uuid), membership.master
        host_ref = info.ref if info is not None else None
        master_ref = master_info.ref if master_info is not None else None
    if host_ref is None:
        LOG.info('Host %s is not in the pool of %s: nothing to eject',
                 host_uuid, master.address)
        return None
    if host_ref == master_ref:
        # NOTE: xapi would answer INTERNAL_ERROR ["Xapi_pool.Cannot_eject_master"].
        raise exception.OperationRefused(
            'pool.eject', host_uuid,
            'it is the pool master: designate another master first')
    if not force:
        refuse_guests(master, host_uuid, host_ref)
    return host_ref


def refuse_guests(master, host_uuid, host_ref):
    """Refuse to eject a host with guest VMs not halted on it.

    XAPI calls (1): ``VM.get_all_records``.

    :raises OperationRefused: guest VMs are not halted on it (xapi would
        refuse with OPERATION_NOT_ALLOWED ["VM resident on host"]).
    """
    guests = host_mod.resident_guests(master, host_ref)
    if guests:
        raise exception.OperationRefused(
            'pool.eject', host_uuid,
            'guest VMs are not halted on it (eject would fail, and it wipes '
            'local SRs): %s' % ', '.join('%s (%s, %s)' % g for g in guests))
