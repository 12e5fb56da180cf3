"""Host-level reads: host records, liveness, resident guest VMs, this host.

Pure helpers over XAPI records plus a few reads through
:class:`xenpool_driver.xapi.session.XapiSession`. Nothing here changes
xapi's state. :func:`this_host` is also a verb of :mod:`.pool`.

NOTE: over XML-RPC xapi writes API ints untyped, so they arrive as strings
(``"2"``); booleans arrive as ``bool``. The helpers accept both so the same
code works over JSON-RPC, against the simulator and against mocks.
"""

import dataclasses

from xenpool_driver import exception

NULL_REF = 'OpaqueRef:NULL'


@dataclasses.dataclass(frozen=True)
class HostInfo:
    """One host as the master sees it."""

    ref: str
    uuid: str
    name_label: str
    address: str
    enabled: bool
    live: bool


def as_bool(value):
    """XAPI boolean from a record field (bool, or ``"true"``/``"1"`` text)."""
    if isinstance(value, str):
        return value.strip().lower() in ('true', '1', 'yes')
    return bool(value)


def is_null(ref):
    """True for an empty or ``OpaqueRef:NULL`` reference."""
    return not ref or ref == NULL_REF


def host_info(ref, rec, live):
    """Build a :class:`HostInfo` from a host record and its liveness.

    :param ref: the host's ``OpaqueRef``.
    :param rec: the host record (``host.get_record`` / ``get_all_records``).
    :param live: the ``live`` field of the host's ``host_metrics``.
    """
    return HostInfo(ref=ref,
                    uuid=rec.get('uuid', ''),
                    name_label=rec.get('name_label', ''),
                    address=rec.get('address', ''),
                    enabled=as_bool(rec.get('enabled', False)),
                    live=as_bool(live))


def metrics_live(host_rec, metrics_recs):
    """``live`` of the host's metrics in ``metrics_recs`` (False if unknown).

    NOTE: a host record just created by a join has metrics with
    ``live=false`` until the slave restarts and checks in; a missing or NULL
    metrics ref counts as not live as well.
    """
    metrics = metrics_recs.get(host_rec.get('metrics', NULL_REF))
    return bool(metrics) and as_bool(metrics.get('live', False))


def find_ref(host_recs, uuid):
    """The ref of the host with ``uuid`` in ``host_recs``, or None."""
    for ref, rec in host_recs.items():
        if rec.get('uuid') == uuid:
            return ref
    return None


def find(session, host_uuid):
    """Read one host and its liveness as ``session``'s xapi sees it.

    XAPI calls: ``host.get_all_records``, then ``host_metrics.get_record``
    when the host exists and has metrics (2 round trips at most).

    NOTE: ``host.get_by_uuid`` would answer UUID_INVALID while a joining
    host's record does not exist yet; one ``get_all_records`` answers both
    "is it there" and "what is its record" in one round trip.

    :param session: a :class:`XapiSession` (normally on the master).
    :param host_uuid: the host's uuid.
    :returns: :class:`HostInfo`, or None when the host is not in the DB.
    :raises XapiUnavailable, XapiError: from the session.
    """
    host_recs = session.call('host.get_all_records')
    ref = find_ref(host_recs, host_uuid)
    if ref is None:
        return None
    rec = host_recs[ref]
    live = False
    metrics_ref = rec.get('metrics', NULL_REF)
    if not is_null(metrics_ref):
        metrics = session.call('host_metrics.get_record', metrics_ref)
        live = metrics.get('live', False)
    return host_info(ref, rec, live)


def running_guests(vm_recs, host_ref):
    """Guest VMs resident on ``host_ref`` that are not halted.

    Guest means: not a control domain, not a template, not a snapshot.
    These are the VMs that make ``pool.eject`` fail with
    ``OPERATION_NOT_ALLOWED ["VM resident on host"]``.

    :param vm_recs: ``VM.get_all_records`` result.
    :param host_ref: the host's ref.
    :returns: sorted list of ``(name_label, uuid, power_state)``.
    """
    found = []
    for rec in vm_recs.values():
        if (rec.get('resident_on') != host_ref or
                as_bool(rec.get('is_control_domain', False)) or
                as_bool(rec.get('is_a_template', False)) or
                as_bool(rec.get('is_a_snapshot', False))):
            continue
        if rec.get('power_state', 'Halted') != 'Halted':
            found.append((rec.get('name_label', ''), rec.get('uuid', ''),
                          rec.get('power_state')))
    return sorted(found)


def resident_guests(session, host_ref):
    """Non-halted guest VMs resident on ``host_ref`` (one ``VM.get_all_records``).

    :returns: see :func:`running_guests`.
    :raises XapiUnavailable, XapiError: from the session.
    """
    return running_guests(session.call('VM.get_all_records'), host_ref)


def single_pool(pool_recs, address=None):
    """``(ref, record)`` of the one pool in a host's database.

    :param pool_recs: ``pool.get_all_records`` result.
    :param address: the host read (for the error).
    :raises XapiError: ``INTERNAL_ERROR`` when there is not exactly one pool
        (xapi itself refuses a join with that code in the same case).
    """
    if len(pool_recs) != 1:
        raise exception.XapiError(
            'INTERNAL_ERROR', ['expected exactly one pool, found %d' % len(pool_recs)],
            method='pool.get_all_records', host=address)
    return next(iter(pool_recs.items()))


def read_pool(session):
    """``(ref, record)`` of the pool ``session``'s host is in.

    XAPI calls (1): ``pool.get_all_records``.

    :raises XapiError: not exactly one pool (see :func:`single_pool`).
    :raises XapiUnavailable: from the session.
    """
    return single_pool(session.call('pool.get_all_records'), address=session.address)


def this_host(session):
    """:class:`HostInfo` of the host whose xapi ``session`` talks to.

    NOTE: ``session.get_this_host`` needs our own session ref, which the
    session layer keeps private; instead the pool's master is read. For a
    standalone host (the only case a joiner may be in) that is the host
    itself; for a pool member the session has followed HOST_IS_SLAVE, so the
    answer is the master it now talks to.

    XAPI calls (3): ``pool.get_all_records``, ``host.get_record``,
    ``host_metrics.get_record`` (skipped when the host has no metrics).

    :raises XapiUnavailable, XapiError: from the session.
    """
    _, pool_rec = read_pool(session)
    ref = pool_rec.get('master')
    rec = session.call('host.get_record', ref)
    live = False
    if not is_null(rec.get('metrics')):
        live = session.call('host_metrics.get_record', rec['metrics']).get('live', False)
    return host_info(ref, rec, live)


def this_host_uuid(session):
    """The uuid of the host ``session`` talks to (see :func:`this_host`).

    XAPI calls (2): ``pool.get_all_records``, ``host.get_record``.

    :raises XapiUnavailable, XapiError: from the session.
    """
    _, pool_rec = read_pool(session)
    return session.call('host.get_record', pool_rec.get('master')).get('uuid')
