"""Pool operations: the verbs the aggregates layer calls (XAPI knowledge only).

No aggregates, no metadata. Every function takes
:class:`xenpool_driver.xapi.session.XapiSession` handles and makes its XAPI
calls through ``session.call`` / ``session.call_async`` /
``session.wait_for``. How long they wait is theirs: every waiting verb takes
a :class:`~xenpool_driver.xapi.timeouts.PoolTimeouts` (the session only
bounds single calls).
Verbs are idempotent where xapi allows: they re-read state and accept an
already reached goal; join, eject and designate are never repeated blindly.
The mechanics live in modules of one concept: :mod:`.membership` (reading
who is in the pool, re-read when a join or eject call fails),
:mod:`.outlived` (a task that outlives its timeout),
:mod:`.settle` (a pool settling under a new master). Three verbs are
defined with their concept and importable from here: :func:`this_host`
(:mod:`.host`), :func:`pending` and :func:`wait_not_pending`
(:mod:`.outlived`), and the read-only checks of an eject
:func:`ejectable` and :func:`refuse_guests` (:mod:`.membership`); so are
the names :class:`HostInfo` and :class:`Membership`.

XAPI round trips per operation (happy path; the unit tests pin these lists):

* :func:`snapshot`: ``pool.get_all_records``, ``host.get_all_records``,
  ``host_metrics.get_all_records`` (3).
* :func:`join`: ``pool.get_all_records`` + ``host.get_record`` on the joiner
  (its uuid, skipped when the caller passes ``joiner_uuid``), then
  ``Async.pool.join`` awaited through ``event.from``, then per evaluation of
  the liveness check on the master ``host.get_all_records`` +
  ``host_metrics.get_record``.
* :func:`eject`: ``pool.get_all_records``, ``host.get_all_records``,
  ``VM.get_all_records`` (not when forced), ``Async.pool.eject``,
  ``host.get_all_records`` (confirmation).
* :func:`designate_new_master`: :func:`snapshot`,
  ``pool.designate_new_master``, then a :func:`snapshot` per evaluation of
  the settle check.
"""

import dataclasses

from oslo_log import log as logging

from xenpool_driver import exception
from xenpool_driver.xapi import host as host_mod
from xenpool_driver.xapi import membership as membership_mod
from xenpool_driver.xapi import outlived
from xenpool_driver.xapi import settle
# NOTE: verbs and names of this API that live with their concept; the
# aggregates layer and the CLI reach them as pool.<name>.
from xenpool_driver.xapi.host import HostInfo, this_host  # noqa: F401
from xenpool_driver.xapi.membership import Membership, ejectable, refuse_guests  # noqa: F401
from xenpool_driver.xapi.outlived import pending, wait_not_pending  # noqa: F401

LOG = logging.getLogger(__name__)


def snapshot(session):
    """Read the pool's membership (pool, master, hosts with liveness).

    XAPI calls (3): see :func:`.membership.read`.

    :param session: :class:`XapiSession` (on any member: calls reach the
        master through HOST_IS_SLAVE).
    :returns: :class:`Membership`; hosts sorted by uuid.
    :raises XapiUnavailable, XapiError: from the session.
    """
    return membership_mod.read(session)


def init_pool(session, name_label):
    """Make a standalone host's pool the aggregate's pool (``name_label``).

    Idempotent: no write when the name is already right.
    Post: ``pool.name_label == name_label``.

    XAPI calls: :func:`snapshot` (3) + ``pool.set_name_label`` when needed.

    :returns: :class:`Membership` after the change.
    :raises XapiUnavailable, XapiError: from the session.
    """
    membership = snapshot(session)
    if membership.name_label == name_label:
        return membership
    session.call('pool.set_name_label', membership.pool_ref, name_label)
    LOG.info('Pool %s on %s named %r', membership.pool_uuid, session.address, name_label)
    return dataclasses.replace(membership, name_label=name_label)


def clear_pool(session):
    """Clear the pool's ``name_label`` (last host left the aggregate).

    :returns: :class:`Membership` after the change.
    :raises XapiUnavailable, XapiError: from the session.
    """
    return init_pool(session, '')


def join(joiner, master, master_address, username, password, timeouts,
         force=False, on_progress=None, joiner_uuid=None, on_phase=None,
         on_wait=None, on_task=None):
    """Join ``joiner`` to ``master``'s pool and wait until it is live.

    Pre: the joiner is standalone and passes
    :func:`xenpool_driver.xapi.preflight.preflight`.
    Post: the master shows the joiner enabled and live.

    ``Async.pool.join`` (``Async.pool.join_force`` when ``force``) runs on
    the JOINER's xapi with the master's address and credentials. When the
    call fails in any way, the master's membership is re-read: if the joiner
    is there the join happened (xapi can report an error although the host
    joined, and a lost connection says nothing) and we carry on waiting;
    otherwise the original error is raised. The join is never repeated.

    :param joiner: :class:`XapiSession` on the joining host.
    :param master: :class:`XapiSession` on the pool master.
    :param master_address: the master's management address, as the joiner
        must reach it.
    :param username: xapi user on the master.
    :param password: its password (never logged; registered for redaction).
    :param timeouts: :class:`PoolTimeouts`: ``task`` for the join task,
        ``live`` for a task that outlives it and for the wait until live.
    :param force: use ``pool.join_force`` (skips HOSTS_NOT_HOMOGENEOUS).
    :param on_progress: called with the task's progress (0.0..1.0).
    :param joiner_uuid: the joiner's host uuid when the caller knows it
        (saves 2 round trips).
    :param on_phase: called with ``"wait until live"`` when the task is done
        and the wait for the joiner's restart begins.
    :param on_wait: told what the wait until live is waiting for (see
        :meth:`XapiSession.wait_for`).
    :param on_task: called with the join task's ref once it is created.
    :returns: :class:`HostInfo` of the joiner as the master sees it.
    :raises XapiError: xapi refused the join (its code and params).
    :raises XapiUnavailable: the joiner could not be reached and did not join.
    :raises XapiTimeout: the task or the wait for liveness timed out.
    """
    # NOTE: the uuid must be read before the call: afterwards the joiner's
    # xapi restarts as a slave and answers HOST_IS_SLAVE.
    if joiner_uuid is None:
        joiner_uuid = host_mod.this_host_uuid(joiner)
    method = 'pool.join_force' if force else 'pool.join'
    # NOTE: never log the call's arguments: they carry the password.
    LOG.info('Joining host %s to the pool of %s (%s)', joiner_uuid, master_address, method)
    failure = _join_task(joiner, master, method, (master_address, username, password),
                         joiner_uuid, timeouts, on_progress, on_task)
    if on_phase is not None:
        on_phase('wait until live')
    try:
        return wait_until_live(master, joiner_uuid, timeouts.live,
                               on_wait=on_wait)
    except exception.XapiTimeout as timed_out:
        # NOTE: keep the join's own error visible when the host never came up.
        raise timed_out from failure


def _join_task(joiner, master, method, args, joiner_uuid, timeouts, on_progress,
               on_task=None):
    """Run ``Async.<method>`` on the joiner; when it fails, the master's DB decides.

    :returns: the failure to keep as context (the host joined although the
        call failed), or None.
    :raises XapiError, XapiUnavailable, XapiTimeout: the call's failure, and
        the master does not list the joiner.
    """
    def joined():
        return membership_mod.joined(master, joiner_uuid)

    try:
        joiner.call_async(method, *args, timeout=timeouts.task, on_progress=on_progress,
                          on_task=on_task)
    except exception.XapiTimeout as error:
        return outlived.after_timeout(joiner, error, method, joined, timeouts.live)
    except (exception.XapiUnavailable, exception.XapiError) as error:
        if not joined():
            raise
        LOG.warning('%s on host %s reported %s, but the master lists the host: '
                    'the join happened', method, joiner_uuid, error)
        return error
    return None


def wait_until_live(master, host_uuid, timeout, on_wait=None):
    """Wait until the master shows ``host_uuid`` enabled and live.

    Driven by ``event.from`` on ``host`` and ``host_metrics``; each
    evaluation reads ``host.get_all_records`` + ``host_metrics.get_record``.

    :param timeout: seconds (``PoolTimeouts.live``).
    :returns: :class:`HostInfo`.
    :raises XapiTimeout: not enabled and live in time.
    """
    def check():
        info = host_mod.find(master, host_uuid)
        if info is not None and info.enabled and info.live:
            return info
        return None

    return master.wait_for(['host', 'host_metrics'], check,
                           timeout, 'host %s enabled and live' % host_uuid,
                           on_wait=on_wait)


def eject(master, host_uuid, timeouts, force=False, on_progress=None, on_task=None,
          membership=None):
    """Eject slave ``host_uuid`` from ``master``'s pool.

    Pre: ``host_uuid`` is a slave with no non-halted guest VM resident
    (unless ``force``). Post: the host is gone from the master's DB (the
    ejected host then reboots into a standalone pool, its local SRs wiped).

    Idempotent: a host already gone is a no-op. ``Async.pool.eject`` runs on
    the master; when it fails in any way the master's DB is re-read and a
    host that is gone counts as ejected. Never repeated.

    NOTE: ``force`` only skips our own resident-VM refusal (and its
    ``VM.get_all_records`` round trip); xapi still refuses with
    ``OPERATION_NOT_ALLOWED ["VM resident on host"]``, which is raised as is.

    :param master: :class:`XapiSession` on the pool master.
    :param host_uuid: the slave's uuid.
    :param force: skip the resident-VM refusal.
    :param on_progress: called with the task's progress (0.0..1.0).
    :param on_task: called with the eject task's ref once it is created.
    :param membership: a :func:`snapshot` of this pool just read (e.g. what
        :func:`designate_new_master` returned): the master and the host's
        ref are taken from it instead of read again.
    :param timeouts: :class:`PoolTimeouts`: ``task`` for the eject task,
        ``live`` for a task that outlives it and for the host to leave.
    :returns: True when ejected now, False when it was already gone.
    :raises OperationRefused: ``host_uuid`` is the master, or guest VMs are
        running on it.
    :raises XapiError: xapi refused (code and params), host still there.
    :raises XapiUnavailable: the master did not answer and the host is still
        there.
    :raises XapiTimeout: the task timed out, and so did the wait for the host
        to leave after it.
    """
    host_ref = membership_mod.ejectable(master, host_uuid, force, membership=membership)
    if host_ref is None:
        return False
    LOG.info('Ejecting host %s from the pool of %s', host_uuid, master.address)
    try:
        master.call_async('pool.eject', host_ref, timeout=timeouts.task,
                          on_progress=on_progress, on_task=on_task)
    except exception.XapiTimeout as error:
        outlived.after_timeout(master, error, 'pool.eject',
                               lambda: membership_mod.gone(master, host_uuid),
                               timeouts.live)
    except (exception.XapiUnavailable, exception.XapiError) as error:
        if not membership_mod.gone(master, host_uuid):
            raise
        LOG.warning('pool.eject of host %s reported %s, but the host left the '
                    'pool: the eject happened', host_uuid, error)
        return True
    # NOTE: no re-read after a task that succeeded: xapi_pool.ml's eject
    # destroys the host record on the master (Db.Host.destroy) before the
    # call returns, so success is the host gone; a read would only repeat it.
    return True


def designate_new_master(master, host_uuid, timeouts, membership=None):
    """Make ``host_uuid`` the master and wait until the pool settles.

    Pre: ``host_uuid`` is an enabled, live member. Post: ``pool.master`` is
    that host, ``master`` answers from it, every member is enabled and live.

    Idempotent: when it already is the master nothing is designated (a
    repeated designate breaks pools); we only wait for the pool to settle.
    Every xapi of the pool restarts and every session dies: the session layer
    re-logs in and follows HOST_IS_SLAVE to the new master. When the call
    itself fails, reality is re-read instead of calling again.

    XAPI calls: :func:`snapshot`, ``pool.designate_new_master``, then a
    :func:`snapshot` per evaluation of the settle check.

    :param master: :class:`XapiSession` on the current master.
    :param host_uuid: the member to promote.
    :param timeouts: :class:`PoolTimeouts` (``live``: to settle).
    :param membership: a :func:`snapshot` of ``master`` the caller has just
        read (saves its 3 round trips); it decides whether to designate, so it
        must be fresh.
    :returns: :class:`Membership` of the settled pool.
    :raises OperationRefused: not a member, or not enabled and live.
    :raises XapiError: xapi refused (code and params) and nothing changed.
    :raises XapiUnavailable: the request never left (``maybe_applied`` unset).
    :raises XapiTimeout: the pool did not settle in time.
    """
    if membership is None:
        membership = snapshot(master)
    target = membership.host(host_uuid)
    if target is None:
        raise exception.OperationRefused('pool.designate_new_master', host_uuid,
                                         'it is not a member of the pool')
    if membership.master_uuid == host_uuid:
        return settle.settled_already(master, membership, host_uuid, timeouts.live)
    if not (target.enabled and target.live):
        raise exception.OperationRefused('pool.designate_new_master', host_uuid,
                                         'it is not enabled and live')
    LOG.info('Designating host %s as the master of pool %s', host_uuid,
             membership.pool_uuid)
    failure = settle.designate(master, target)
    return settle.wait_settled(master, host_uuid, timeouts.live, failure)


def destroy_host(master, host_uuid):
    """Forget a dead host's record (only when the master reports it offline).

    Idempotent: a host already gone is a no-op.
    Pre: the host's metrics say not live. Post: no record of it on the master.

    XAPI calls: :func:`snapshot` (3), ``host.destroy``.

    :returns: True when destroyed now, False when it was already gone.
    :raises OperationRefused: it is the master, or the master sees it live
        (xapi would answer HOST_IS_LIVE).
    :raises XapiError: xapi refused (e.g. HOST_HAS_RESIDENT_VMS).
    """
    info = destroyable(master, host_uuid)
    if info is None:
        LOG.info('Host %s is not in the pool of %s: nothing to destroy',
                 host_uuid, master.address)
        return False
    LOG.info('Destroying the record of offline host %s', host_uuid)
    master.call('host.destroy', info.ref)
    return True


def destroyable(master, host_uuid):
    """The :class:`HostInfo` of ``host_uuid`` when its record may be destroyed.

    The read-only check of :func:`destroy_host`. XAPI calls: :func:`snapshot`
    (3).

    :returns: its :class:`HostInfo`, or None when it is not a member.
    :raises OperationRefused: it is the master, or the master sees it live.
    """
    membership = snapshot(master)
    info = membership.host(host_uuid)
    if info is None:
        return None
    if host_uuid == membership.master_uuid:
        raise exception.OperationRefused('host.destroy', host_uuid,
                                         'it is the pool master')
    if info.live:
        raise exception.OperationRefused(
            'host.destroy', host_uuid,
            'the master reports it live: eject it instead, or wait until it '
            'is offline')
    return info
