"""Pool operations: XAPI knowledge only (no aggregates, no metadata).

Every function takes :class:`xenpool_driver.xapi.session.XapiSession`
handles and makes its XAPI calls through ``session.call`` /
``session.call_async`` / ``session.wait_for``. How long they wait is theirs:
every waiting verb takes a :class:`~xenpool_driver.xapi.timeouts.PoolTimeouts`
(the session only bounds single calls).
Verbs are idempotent where xapi allows: they re-read state and accept an
already reached goal; join, eject and designate are never repeated blindly.

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
from xenpool_driver.xapi import tasks as tasks_mod
from xenpool_driver.xapi.host import HostInfo  # noqa: F401  (public name)

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


def snapshot(session):
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
    return _membership(pool_ref, pool_rec, host_recs, metrics_recs)


def _membership(pool_ref, pool_rec, host_recs, metrics_recs):
    hosts = tuple(sorted(
        (host_mod.host_info(ref, rec, host_mod.metrics_live(rec, metrics_recs))
         for ref, rec in host_recs.items()),
        key=lambda h: h.uuid))
    master_rec = host_recs.get(pool_rec.get('master'), {})
    return Membership(pool_ref=pool_ref, pool_uuid=pool_rec.get('uuid', ''),
                      name_label=pool_rec.get('name_label', ''),
                      master_uuid=master_rec.get('uuid', ''), hosts=hosts)


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
    _, pool_rec = host_mod.read_pool(session)
    ref = pool_rec.get('master')
    rec = session.call('host.get_record', ref)
    live = False
    if not host_mod.is_null(rec.get('metrics')):
        live = session.call('host_metrics.get_record', rec['metrics']).get('live', False)
    return host_mod.host_info(ref, rec, live)


def _this_host_uuid(session):
    _, pool_rec = host_mod.read_pool(session)
    return session.call('host.get_record', pool_rec.get('master')).get('uuid')


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
         on_wait=None):
    """Join ``joiner`` to ``master``'s pool and wait until it is live.

    Pre: the joiner is standalone and passes :func:`preflight`.
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
    :returns: :class:`HostInfo` of the joiner as the master sees it.
    :raises XapiError: xapi refused the join (its code and params).
    :raises XapiUnavailable: the joiner could not be reached and did not join.
    :raises XapiTimeout: the task or the wait for liveness timed out.
    """
    # NOTE: the uuid must be read before the call: afterwards the joiner's
    # xapi restarts as a slave and answers HOST_IS_SLAVE.
    if joiner_uuid is None:
        joiner_uuid = _this_host_uuid(joiner)
    method = 'pool.join_force' if force else 'pool.join'
    # NOTE: never log the call's arguments: they carry the password.
    LOG.info('Joining host %s to the pool of %s (%s)', joiner_uuid, master_address, method)
    failure = None
    try:
        joiner.call_async(method, master_address, username, password,
                          timeout=timeouts.task, on_progress=on_progress)
    except exception.XapiTimeout as error:
        if not error.still_running:
            if not _joined(master, joiner_uuid):
                raise
        else:
            failure = follow_outlived(joiner, error, method,
                                      lambda: _joined(master, joiner_uuid),
                                      timeouts.live)
    except (exception.XapiUnavailable, exception.XapiError) as error:
        if not _joined(master, joiner_uuid):
            raise
        failure = error
        LOG.warning('%s on host %s reported %s, but the master lists the host: '
                    'the join happened', method, joiner_uuid, error)
    if on_phase is not None:
        on_phase('wait until live')
    try:
        return wait_until_live(master, joiner_uuid, timeouts.live,
                               on_wait=on_wait)
    except exception.XapiTimeout as timed_out:
        # NOTE: keep the join's own error visible when the host never came up.
        raise timed_out from failure


def follow_outlived(session, timed_out, method, reached, timeout):
    """After ``task_timeout``: follow a task xapi cannot cancel to reality.

    Join, eject and designate run to their end whatever ``task.cancel``
    says (``xapi_pool.ml``), so the timeout decides nothing: wait, driven by
    ``event.from`` and bounded by ``timeout``, until the goal is
    reached (``reached()`` re-reads the master) or the task has ended, and
    report what happened.

    :param session: the :class:`XapiSession` that made the task.
    :param timed_out: the task's :class:`XapiTimeout` (``task_ref`` set).
    :param reached: callable: True once the operation's goal is real.
    :param timeout: seconds to follow it (``PoolTimeouts.live``).
    :returns: ``timed_out`` (kept as context) when the goal was reached.
    :raises XapiError: the task ended with xapi's error, goal not reached.
    :raises XapiUnavailable: the task vanished and the goal is not reached
        (``maybe_applied``).
    :raises XapiTimeout: still running after the bound: it may still
        complete (``still_running=True``).
    """
    task_ref = timed_out.task_ref

    def check():
        if reached():
            return 'reached', None
        try:
            record = session.call('task.get_record', task_ref)
        except exception.XapiError as error:
            if error.code in ('HANDLE_INVALID', 'SESSION_INVALID'):
                return 'gone', None      # NOTE: its xapi restarted
            raise
        if record.get('status') in tasks_mod.PENDING:
            return None
        return 'ended', record

    LOG.info('Following task %s of %s after its timeout', task_ref, method)
    try:
        state, record = session.wait_for(
            ['task'], check, timeout,
            'task %s (%s) to end' % (task_ref, method))
    except exception.XapiTimeout as still:
        raise exception.XapiTimeout(
            still.host, still.reason, method=still.method,
            maybe_applied=still.maybe_applied,
            task_ref=task_ref, still_running=True) from timed_out
    if state == 'ended':
        try:
            session.call('task.destroy', task_ref)
        except exception.XenPoolError:
            pass
        if record.get('status') == 'cancelled' and not reached():
            # NOTE: only a task still queued for the pool lock honours our
            # cancel (helpers.ml): nothing was done.
            err = exception.XapiTimeout(
                session.url, 'task %s (%s) did not start in time (queued behind '
                'another pool operation) and was cancelled' % (task_ref, method),
                method=method, maybe_applied=False, kind=timed_out.kind)
            raise err from timed_out
        try:
            tasks_mod.outcome(record, task_ref, method, session.url)
        except exception.XapiError:
            if not reached():
                raise
        return timed_out
    if state == 'gone' and not reached():
        raise exception.XapiUnavailable(
            session.url, 'task %s (%s) lost after its timeout' % (task_ref, method),
            method=method, maybe_applied=True) from timed_out
    return timed_out


def pending(session, methods):
    """Whether a task of one of ``methods`` is still pending on ``session``'s xapi.

    xapi names the task of ``Async.<method>`` after the call
    (``ocaml/xapi/server_helpers.ml``); a join, eject or designate runs to its
    end once started (``xapi_pool.ml``), so while it is pending its outcome is
    not known yet.

    XAPI calls (1): ``task.get_all_records``.

    :param methods: e.g. ``("pool.join", "pool.join_force")``.
    :raises XapiUnavailable, XapiError: from the session.
    """
    labels = {'Async.' + m for m in methods}
    return any(rec.get('name_label') in labels and
               rec.get('status') in tasks_mod.PENDING
               for rec in session.call('task.get_all_records').values())


def wait_not_pending(session, methods, timeout):
    """Wait, driven by ``event.from``, until no task of ``methods`` is pending.

    :raises XapiTimeout: still pending after ``timeout`` seconds.
    """
    session.wait_for(['task'], lambda: None if pending(session, methods) else True,
                     timeout, 'the %s task to end' % '/'.join(methods))


def _joined(master, joiner_uuid):
    """Whether the master's DB has the joiner (False when unreadable)."""
    try:
        return host_mod.find(master, joiner_uuid) is not None
    except exception.XenPoolError as error:
        LOG.warning('Could not re-read the master after a failed join: %s', error)
        return False


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


def _refs(session):
    """``(pool_ref, pool_rec, host_recs)`` in 2 round trips."""
    pool_ref, pool_rec = host_mod.read_pool(session)
    return pool_ref, pool_rec, session.call('host.get_all_records')


def eject(master, host_uuid, timeouts, force=False, on_progress=None):
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
    :param timeouts: :class:`PoolTimeouts`: ``task`` for the eject task,
        ``live`` for a task that outlives it and for the host to leave.
    :returns: True when ejected now, False when it was already gone.
    :raises OperationRefused: ``host_uuid`` is the master, or guest VMs are
        running on it.
    :raises XapiError: xapi refused (code and params), host still there.
    :raises XapiUnavailable: the master did not answer and the host is still
        there.
    :raises XapiTimeout: the task, or its confirmation, timed out.
    """
    _, pool_rec, host_recs = _refs(master)
    host_ref = host_mod.find_ref(host_recs, host_uuid)
    if host_ref is None:
        LOG.info('Host %s is not in the pool of %s: nothing to eject',
                 host_uuid, master.address)
        return False
    if host_ref == pool_rec.get('master'):
        # NOTE: xapi would answer INTERNAL_ERROR ["Xapi_pool.Cannot_eject_master"].
        raise exception.OperationRefused(
            'pool.eject', host_uuid,
            'it is the pool master: designate another master first')
    if not force:
        guests = host_mod.resident_guests(master, host_ref)
        if guests:
            raise exception.OperationRefused(
                'pool.eject', host_uuid,
                'guest VMs are not halted on it (eject would fail, and it wipes '
                'local SRs): %s' % ', '.join('%s (%s, %s)' % g for g in guests))
    LOG.info('Ejecting host %s from the pool of %s', host_uuid, master.address)
    try:
        master.call_async('pool.eject', host_ref,
                          timeout=timeouts.task, on_progress=on_progress)
    except exception.XapiTimeout as error:
        if not error.still_running:
            if not _gone(master, host_uuid):
                raise
        else:
            follow_outlived(master, error, 'pool.eject',
                            lambda: _gone(master, host_uuid), timeouts.live)
    except (exception.XapiUnavailable, exception.XapiError) as error:
        if not _gone(master, host_uuid):
            raise
        LOG.warning('pool.eject of host %s reported %s, but the host left the '
                    'pool: the eject happened', host_uuid, error)
        return True
    _confirm_gone(master, host_uuid, timeouts.live)
    return True


def _gone(master, host_uuid):
    """Whether the master's DB no longer has the host (False when unreadable)."""
    try:
        return host_mod.find_ref(master.call('host.get_all_records'), host_uuid) is None
    except exception.XenPoolError as error:
        LOG.warning('Could not re-read the master after a failed eject: %s', error)
        return False


def _confirm_gone(master, host_uuid, timeout):
    """Confirm the host left the master's DB, waiting on events if needed."""
    if _gone(master, host_uuid):
        return

    def check():
        return True if _gone(master, host_uuid) else None

    master.wait_for(['host'], check, timeout,
                    'host %s gone from the pool' % host_uuid)


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
    timeout = timeouts.live
    if membership is None:
        membership = snapshot(master)
    target = membership.host(host_uuid)
    if target is None:
        raise exception.OperationRefused('pool.designate_new_master', host_uuid,
                                         'it is not a member of the pool')
    if membership.master_uuid == host_uuid:
        # NOTE: nothing designated by us, so the session may legitimately
        # reach the master under another name (a host name in the URL).
        settled = _settled(master, membership, host_uuid, same_address=False)
        if settled is not None:
            LOG.info('Host %s already is the master: nothing to designate', host_uuid)
            return settled
        return _wait_settled(master, host_uuid, timeout, None, same_address=False)
    if not (target.enabled and target.live):
        raise exception.OperationRefused('pool.designate_new_master', host_uuid,
                                         'it is not enabled and live')
    LOG.info('Designating host %s as the master of pool %s', host_uuid,
             membership.pool_uuid)
    failure = None
    try:
        master.call('pool.designate_new_master', target.ref)
    except exception.XapiUnavailable as error:
        # NOTE: the call may have been applied: every xapi restarts and the
        # connection can drop before the answer. Let the settle wait decide.
        if not error.maybe_applied:
            raise
        failure = error
    except exception.XapiError as error:
        if not _designated(master, host_uuid):
            raise
        failure = error
    if failure is not None:
        LOG.warning('pool.designate_new_master of host %s reported %s; '
                    'waiting for the pool to settle', host_uuid, failure)
    return _wait_settled(master, host_uuid, timeout, failure)


def _designated(master, host_uuid):
    """Whether the pool's master already is ``host_uuid``.

    NOTE: an unreadable pool counts as "maybe": the pool is restarting, which
    only happens when the designation went ahead.
    """
    try:
        return snapshot(master).master_uuid == host_uuid
    except exception.XapiUnavailable:
        return True
    except exception.XenPoolError:
        return False


def _settled(master, membership, host_uuid, same_address=True):
    """``membership`` when it shows a settled pool under ``host_uuid``."""
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


def _wait_settled(master, host_uuid, timeout, failure, same_address=True):
    def check():
        return _settled(master, snapshot(master), host_uuid, same_address)

    try:
        return master.wait_for(['pool', 'host', 'host_metrics'], check, timeout,
                               'pool settled under master %s' % host_uuid)
    except exception.XapiTimeout as timed_out:
        raise timed_out from failure


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
    membership = snapshot(master)
    info = membership.host(host_uuid)
    if info is None:
        LOG.info('Host %s is not in the pool of %s: nothing to destroy',
                 host_uuid, master.address)
        return False
    if host_uuid == membership.master_uuid:
        raise exception.OperationRefused('host.destroy', host_uuid,
                                         'it is the pool master')
    if info.live:
        raise exception.OperationRefused(
            'host.destroy', host_uuid,
            'the master reports it live: eject it instead, or wait until it '
            'is offline')
    LOG.info('Destroying the record of offline host %s', host_uuid)
    master.call('host.destroy', info.ref)
    return True
