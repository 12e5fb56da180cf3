"""A change of master: ``pool.designate_new_master`` once, then the pool settling.

XAPI knowledge only. A designate restarts every xapi of the pool
(``xapi_pool_transition.ml``): the old master may answer from its stale DB
until it restarts, and members come back one by one. A pool is *settled*
under ``host_uuid`` when ``pool.master`` is that host, the session answers
from that host (not the old master's stale DB), and every member is enabled
and live.

XAPI round trips: :func:`designate`: ``pool.designate_new_master`` (plus
the re-read of :func:`designated` when xapi answers an error);
:func:`designated` and every evaluation of :func:`wait_settled` read the
membership (:func:`.membership.read`: 3).
"""

from oslo_log import log as logging

from xenpool_driver import exception
from xenpool_driver.xapi import membership as membership_mod

LOG = logging.getLogger(__name__)


def designate(master, target):
    """Call ``pool.designate_new_master`` once; when it fails, reality decides.

    Never repeated: a failure that may have been applied is returned, and
    the settle wait (:func:`wait_settled`) decides.

    :param master: :class:`XapiSession` on the current master.
    :param target: :class:`~.host.HostInfo` of the member to promote.
    :returns: the failure to keep as context (it may have been applied), or
        None.
    :raises XapiUnavailable: the request never left (``maybe_applied`` unset).
    :raises XapiError: xapi refused and the master is still the old one.
    """
    try:
        master.call('pool.designate_new_master', target.ref)
        return None
    except exception.XapiUnavailable as error:
        # NOTE: the call may have been applied: every xapi restarts and the
        # connection can drop before the answer. Let the settle wait decide.
        if not error.maybe_applied:
            raise
        failure = error
    except exception.XapiError as error:
        if not designated(master, target.uuid):
            raise
        failure = error
    LOG.warning('pool.designate_new_master of host %s reported %s; '
                'waiting for the pool to settle', target.uuid, failure)
    return failure


def designated(master, host_uuid):
    """Whether the pool's master already is ``host_uuid``.

    The re-read after a designate that xapi answered with an error.

    NOTE: an unreadable pool counts as "maybe": the pool is restarting, which
    only happens when the designation went ahead.
    """
    try:
        return membership_mod.read(master).master_uuid == host_uuid
    except exception.XapiUnavailable:
        return True
    except exception.XenPoolError:
        return False


def settled(master, membership, host_uuid, same_address=True):
    """``membership`` when it shows a pool settled under ``host_uuid``, else None.

    :param master: the :class:`XapiSession` ``membership`` was read through.
    :param membership: a :class:`~.membership.Membership` just read.
    :param same_address: require ``master`` to answer from the new master's
        ``host.address`` (False when nothing was designated by us: the
        session may reach the master under another name).
    """
    new = membership.master
    if membership.master_uuid != host_uuid or new is None:
        return None
    # NOTE: the old master may answer from its stale DB until it restarts;
    # only the new master's own answer counts. The session reaches it by the
    # address HOST_IS_SLAVE carried, which is the new master's host.address.
    if same_address and master.address != new.address:
        return None
    if all(h.enabled and h.live for h in membership.hosts):
        return membership
    return None


def wait_settled(master, host_uuid, timeout, failure, same_address=True):
    """Wait, driven by ``event.from``, until the pool settles under ``host_uuid``.

    :param timeout: seconds (``PoolTimeouts.live``).
    :param failure: the designate's own error, or None: kept as the cause of
        a timeout.
    :param same_address: see :func:`settled`.
    :returns: the settled :class:`~.membership.Membership`.
    :raises XapiTimeout: not settled in time (``from failure``).
    """
    def check():
        return settled(master, membership_mod.read(master), host_uuid, same_address)

    try:
        return master.wait_for(['pool', 'host', 'host_metrics'], check, timeout,
                               'pool settled under master %s' % host_uuid)
    except exception.XapiTimeout as timed_out:
        raise timed_out from failure


def settled_already(master, membership, host_uuid, timeout):
    """``host_uuid`` already is the master: wait, if needed, for the pool to settle.

    Nothing is designated (a repeated designate breaks pools).

    :param membership: a fresh :class:`~.membership.Membership` showing
        ``host_uuid`` as master.
    :param timeout: seconds (``PoolTimeouts.live``).
    :returns: the settled :class:`~.membership.Membership`.
    :raises XapiTimeout: not settled in time.
    """
    # NOTE: nothing designated by us, so the session may legitimately
    # reach the master under another name (a host name in the URL).
    already = settled(master, membership, host_uuid, same_address=False)
    if already is not None:
        LOG.info('Host %s already is the master: nothing to designate', host_uuid)
        return already
    return wait_settled(master, host_uuid, timeout, None, same_address=False)
