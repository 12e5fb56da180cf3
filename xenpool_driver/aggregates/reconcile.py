"""Reconcile: compare an aggregate's metadata with the real pool and repair.

What it repairs:

* an interrupted operation whose lease expired (its owner died or stopped),
  from its intent record and from reality: an add whose host is a member is
  finished, a remove whose host is gone is finished, anything that provably
  did not happen is rolled back - and while the outcome cannot be known yet
  (the join or eject task still pending, the joiner restarting) it waits,
  bounded by ``task_timeout`` / ``live_timeout``, then reports it unknown and
  leaves the intent for a later run;
* metadata that reality contradicts, once the pool read is provably this
  aggregate's (its master is a recorded host): ``master_compute`` and the
  master address follow the real master; a uuid recorded for a host that is
  not a member is dropped; an unknown or stale ``operational_state`` is set
  from the hosts; a master recorded without hosts is cleared;
* the caller's host list where the caller is ours (the store's aggregates,
  :func:`.contract.owns_host_list`): hosts recorded but not listed are
  listed, hosts listed but neither recorded nor members are unlisted, a
  listed host that is a member gets its uuid recorded. A compute service's
  list is only reported (it is the service's to change).

An operation whose lease is alive is left alone and reported (``busy``).
Drift left afterwards is what :func:`.agreement.compare` says. A repair
counts nothing: the failure count is left as it is.
"""

import dataclasses
import time

from oslo_log import log as logging

from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import agreement
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import contract
from xenpool_driver.aggregates import ledger
from xenpool_driver.xapi import claims
from xenpool_driver.xapi import host as host_mod
from xenpool_driver.xapi import pool

LOG = logging.getLogger(__name__)

JOIN_METHODS = ('pool.join', 'pool.join_force')
EJECT_METHODS = ('pool.eject',)

#: Seconds after which an old master still answering as master, with no
#: designate running, shows the designate did not commit: a committed one
#: lights every member's fuse (``xapi_pool_transition.ml``
#: ``become_another_masters_slave`` -> ``Xapi_fuse.light_fuse_and_run``,
#: ``Xapi_globs.fuse_time`` 10 s) and ``pool.master`` moves only when the
#: new master has booted (``dbsync_master.ml``). Capped at half of
#: ``live_timeout``: the driver already counts on a fuse, restart and boot
#: fitting in it (a joiner's).
FUSE_WINDOW = 15.0


@dataclasses.dataclass
class ReconcileReport:
    """What reconcile found and did for one aggregate.

    :ivar aggregate_id: the aggregate's id.
    :ivar state_before: ``operational_state`` when reconcile started.
    :ivar state_after: ``operational_state`` when it finished.
    :ivar intent: the intent record found (as stored), or None.
    :ivar members: xenhost uuids the pool reports (empty when not read).
    :ivar actions: repairs made, in order (human-readable).
    :ivar drift: disagreements left (from :func:`.agreement.compare`).
    :ivar unhealthy: members that are not live or not enabled.
    :ivar error: why the pool could not be read, or None.
    :ivar skipped: why nothing was checked (not a pool aggregate), or None.
    :ivar busy: an operation in flight whose lease is alive (left alone).
    :ivar pending: an operation whose outcome is not known yet (left).
    :ivar reason: the kept reason of the last failure, if any.
    """

    aggregate_id: object
    state_before: str | None
    state_after: str | None = None
    intent: dict | None = None
    members: list = dataclasses.field(default_factory=list)
    actions: list = dataclasses.field(default_factory=list)
    drift: list = dataclasses.field(default_factory=list)
    unhealthy: list = dataclasses.field(default_factory=list)
    error: str | None = None
    skipped: str | None = None
    busy: str | None = None
    pending: str | None = None
    reason: str | None = None

    @property
    def agreed(self):
        """True when the pool was read and metadata agrees with it."""
        return not (self.drift or self.error or self.skipped or self.busy
                    or self.pending)


class _Unknown(Exception):
    """The outcome of an interrupted operation cannot be known yet."""


def reconcile(aggregate, workflow):
    """Compare ``aggregate`` with its pool and repair what can be repaired.

    :param aggregate: an aggregate (see :mod:`.contract`).
    :param workflow: a :class:`~.workflow.Workflow` (locates xapi, clock).
    :returns: :class:`ReconcileReport`. Never raises for xapi errors: they
        are reported in ``error`` and nothing is changed.
    """
    md = aggregate.metadata
    report = ReconcileReport(aggregate.id, md.get(ps.KEY))
    if not ps.is_hv_pool(md):
        report.skipped = 'not a pool aggregate'
        report.state_after = report.state_before
        return report
    record = bk.read(md)
    intent = record.intent
    report.intent = intent.to_json() if intent else None
    now = workflow.clock()
    if intent is not None and intent.lease_alive(now):
        report.busy = ('operation %s of host %s by %s in flight (lease for '
                       'another %.0f s): left alone'
                       % (intent.op, intent.host, intent.owner,
                          intent.expires - now))
        return _finish(aggregate, workflow, report, None, None)
    session, members, error = read_pool(aggregate, workflow, intent)
    if members is not None:
        report.members = sorted(members.uuids)
    try:
        if intent is not None:
            _repair_intent(aggregate, workflow, intent, session, members,
                           error, report)
            if report.actions:
                # NOTE: the repair may have waited (a task, a restart):
                # what is compared below is the pool as it is now.
                session, members, error = read_pool(aggregate, workflow)
                if members is not None:
                    report.members = sorted(members.uuids)
        _repair_state(aggregate, members, error, report)
        if members is not None and _is_ours(aggregate, members):
            _follow_master(aggregate, members, report)
            _drop_non_members(aggregate, members, report)
        _repair_host_list(aggregate, workflow, members, error, report)
    except _Unknown as unknown:
        report.pending = str(unknown)
    return _finish(aggregate, workflow, report, members, error)


def _finish(aggregate, workflow, report, members, error):
    md = aggregate.metadata
    result = agreement.compare(aggregate.name, aggregate.hosts, md, members,
                               error=error, now=workflow.clock())
    report.drift = [d for d in result.differences
                    if not d.startswith('operation in flight')]
    report.unhealthy = list(result.unhealthy)
    report.error = report.error or error
    report.reason = bk.read(md).reason
    report.state_after = md.get(ps.KEY)
    for action in report.actions:
        LOG.info('Reconcile of aggregate %s: %s', aggregate.id, action)
    if report.pending:
        LOG.warning('Reconcile of aggregate %s: %s', aggregate.id,
                    report.pending)
    return report


# -- reading the pool --------------------------------------------------------

def _candidate_urls(aggregate, workflow, intent):
    """Where the pool may be read: the recorded master, then every host."""
    md = aggregate.metadata
    urls = []
    if intent is not None and intent.phase in (None, 'claim', 'init') and \
            not bk.recorded_hosts(md):
        urls.append(intent.url or workflow.locate(intent.host))
    elif bk.recorded_hosts(md) or bk.read(md).master_address or \
            md.get(bk.MASTER_COMPUTE):
        urls.append(workflow.master_url(md))
        # NOTE: a wrong or stale master address: any recorded host's xapi
        # answers HOST_IS_SLAVE with the real master, which the session follows.
        for host in sorted(bk.recorded_hosts(md)):
            urls.append(workflow.locate(host))
    seen = []
    for url in urls:
        if url and url not in seen:
            seen.append(url)
    return seen


def read_pool(aggregate, workflow, intent=None):
    """``(session, membership, error)`` of the aggregate's pool (read-only).

    Tried in turn: the recorded master, then every recorded host (a stale
    master address is thus no dead end). The first URL whose pool is this
    aggregate's wins; otherwise the first that answered; ``error`` says why
    nothing could be read. Nothing recorded: ``(None, None, None)``.
    """
    first = None
    errors = []
    for url in _candidate_urls(aggregate, workflow, intent):
        try:
            session = workflow.session_at(url)
            members = pool.snapshot(session)
        except (exception.XapiError, exception.XapiUnavailable) as exc:
            errors.append(str(exc))
            continue
        if _is_ours(aggregate, members) or intent is not None and \
                intent.phase in (None, 'claim', 'init'):
            return session, members, None
        if first is None:
            first = (session, members, None)
    if first is not None:
        return first
    if errors:
        return None, None, 'cannot read the pool: %s' % errors[0]
    return None, None, None


def _is_ours(aggregate, members):
    """The pool read is this aggregate's: its master is a recorded host."""
    recorded = set(bk.recorded_hosts(aggregate.metadata).values())
    return members.master_uuid in recorded


# -- interrupted operations --------------------------------------------------

def _repair_intent(aggregate, workflow, intent, session, members, error,
                   report):
    md = aggregate.metadata
    if md.get(ps.KEY) != ps.CHANGING:
        ledger.settle(aggregate, intent, {}, None)
        report.actions.append('cleared stale intent %s of host %s'
                              % (intent.op, intent.host))
        return
    if not intent.may_have_changed_pool():
        # NOTE: nothing that changes the pool was sent: undo is exact.
        _release_claim(aggregate, workflow, intent)
        _roll_back(aggregate, intent, report, 'nothing was sent to xapi')
        return
    if members is None:
        raise _Unknown('%s of host %s: %s; the intent is kept'
                       % (intent.op, intent.host, error or 'pool not found'))
    host_uuid = intent.host_uuid or md.get(intent.host)
    if intent.op == ps.OP_ADD:
        _repair_add(aggregate, workflow, intent, host_uuid, session, members,
                    report)
    else:
        _repair_remove(aggregate, workflow, intent, host_uuid, session,
                       members, report)


def _roll_back(aggregate, intent, report, why):
    ledger.settle(aggregate, intent, {}, intent.prev_state,
                  reason='%s of %s rolled back: %s' % (intent.op, intent.host,
                                                       why))
    report.actions.append('rolled back %s of host %s -> %s (%s)'
                          % (intent.op, intent.host, intent.prev_state, why))


def _repair_add(aggregate, workflow, intent, host_uuid, session, members,
                report):
    if intent.phase == 'init':
        if members.name_label == aggregate.name and \
                host_uuid in (None, members.master_uuid) and \
                len(members.hosts) == 1:
            updates = {intent.host: members.master_uuid,
                       bk.MASTER_COMPUTE: intent.host}
            ledger.settle(aggregate, intent, updates, ps.ACTIVE,
                          members.master.address)
            report.actions.append('finished add of first host %s'
                                  % intent.host)
            return
        _release_claim(aggregate, workflow, intent)
        _roll_back(aggregate, intent, report, 'the pool was not named')
        return
    if host_uuid is None:
        info = agreement.unrecorded_member_at(
            aggregate.metadata, members, intent.url or workflow.locate(intent.host))
        host_uuid = info.uuid if info is not None else None
    if host_uuid is None:
        _roll_back(aggregate, intent, report, 'the joiner is not a member')
        return
    if host_uuid not in members.uuids:
        _await_join(workflow, intent, session, host_uuid)
        members = pool.snapshot(session)
        report.members = sorted(members.uuids)
    if host_uuid in members.uuids:
        info = members.host(host_uuid)
        if not (info.live and info.enabled):
            _wait_live(session, host_uuid, intent, workflow.timeouts)
        ledger.settle(aggregate, intent, {intent.host: host_uuid}, ps.ACTIVE)
        report.actions.append('finished add of host %s' % intent.host)
        return
    _release_claim(aggregate, workflow, intent)
    _roll_back(aggregate, intent, report, 'the host did not join')


def _await_join(workflow, intent, master, host_uuid):
    """Until the join's outcome is known: the task ended, the joiner back.

    :raises _Unknown: still pending (or the joiner silent) after the bound.
    """
    url = intent.url or workflow.locate(intent.host)
    timeouts = workflow.timeouts
    try:
        joiner = workflow.session_at(url)
        still = pool.pending(joiner, JOIN_METHODS)
    except exception.XapiError as exc:
        if exc.code == 'HOST_IS_SLAVE':
            return  # NOTE: it joined some pool: the master's list says which
        raise _Unknown('add of host %s: its xapi answers %s'
                       % (intent.host, exc.code))
    except exception.XapiUnavailable:
        # NOTE: the joiner restarts after a join: wait for the master to
        # list it, then decide; silence past the bound decides nothing.
        try:
            master.wait_for(['host'], lambda: host_mod.find(master, host_uuid),
                            timeouts.live,
                            'host %s to join or answer' % host_uuid)
        except exception.XapiTimeout:
            raise _Unknown('add of host %s: outcome unknown, its xapi does '
                           'not answer and the master does not list it'
                           % intent.host)
        return
    if still:
        try:
            pool.wait_not_pending(joiner, JOIN_METHODS, timeouts.task)
        except exception.XenPoolError as exc:
            raise _Unknown('add of host %s: the join task is still running '
                           '(%s)' % (intent.host, exc))


def _wait_live(session, host_uuid, intent, timeouts):
    try:
        pool.wait_until_live(session, host_uuid, timeouts.live)
    except exception.XapiTimeout:
        raise _Unknown('add of host %s: joined, not live yet' % intent.host)


def _repair_remove(aggregate, workflow, intent, host_uuid, session, members,
                   report):
    if intent.phase == 'clear':
        # NOTE: the last host: it stays in its pool, whose name is cleared
        if members.name_label == aggregate.name:
            _roll_back(aggregate, intent, report, 'the pool name was not cleared')
            return
        _finish_remove(aggregate, workflow, intent, session, report)
        return
    if intent.phase == 'designate' and intent.target_uuid and \
            members.master_uuid != intent.target_uuid:
        # NOTE: the designate may be in effect, the new master booting: not
        # decided until pool.master names the target or it provably did not.
        members = _await_designate(intent, session, members,
                                   workflow.timeouts.live)
        report.members = sorted(members.uuids)
    if host_uuid is not None and host_uuid in members.uuids:
        try:
            if intent.phase == 'eject' and pool.pending(session, EJECT_METHODS):
                pool.wait_not_pending(session, EJECT_METHODS,
                                      workflow.timeouts.task)
            members = pool.snapshot(session)
        except exception.XapiTimeout:
            raise _Unknown('remove of host %s: the eject task is still '
                           'running' % intent.host)
        except (exception.XapiError, exception.XapiUnavailable) as exc:
            raise _Unknown('remove of host %s: %s' % (intent.host, exc))
    if host_uuid is not None and host_uuid in members.uuids:
        _roll_back(aggregate, intent, report, 'the host is still a member')
        return
    _finish_remove(aggregate, workflow, intent, session, report)


def _await_designate(intent, session, members, live_timeout):
    """Until a designate's outcome is known: the pool settled under the
    target (``dbsync_master.ml``: ``pool.master`` is set when the new master
    has booted), or the old master still master, no designate running, for
    :data:`FUSE_WINDOW` (a committed one would have restarted it,
    ``xapi_pool_transition.ml``).

    Driven by ``event.from`` on pool and host, bounded by ``live_timeout``
    (seconds, ``PoolTimeouts.live``).

    :returns: the :class:`~.pool.Membership` read last.
    :raises _Unknown: still not known after the bound.
    """
    window = min(FUSE_WINDOW, live_timeout / 2.0)
    old_master = members.master_uuid
    quiet_since = []

    def check():
        now = time.monotonic()
        read = pool.snapshot(session)
        if read.master_uuid == intent.target_uuid:
            quiet_since.clear()
            if all(h.enabled and h.live for h in read.hosts):
                return read
            return None
        ops = [op for rec in session.call('pool.get_all_records').values()
               for op in (rec.get('current_operations') or {}).values()]
        if read.master_uuid != old_master or 'designate_new_master' in ops:
            quiet_since.clear()
            return None
        if not quiet_since:
            quiet_since.append(now)
        elif now - quiet_since[0] >= window:
            return read
        return None

    deadline = time.monotonic() + live_timeout
    what = 'pool.master %s or the designate shown not done' % intent.target_uuid
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Unknown('remove of host %s: the designate of %s may be in '
                           'effect (pool.master not moved yet); the intent is '
                           'kept' % (intent.host, intent.target_uuid))
        try:
            return session.wait_for(['pool', 'host'], check,
                                    min(left, max(window / 5.0, 0.05)), what)
        except exception.XapiTimeout:
            continue
        except (exception.XapiError, exception.XapiUnavailable) as exc:
            raise _Unknown('remove of host %s: %s' % (intent.host, exc))


def _finish_remove(aggregate, workflow, intent, session, report):
    updates = {intent.host: None}
    left = dict(bk.recorded_hosts(aggregate.metadata))
    left.pop(intent.host, None)
    if left:
        new = ps.ERROR if intent.prev_state == ps.ERROR else ps.ACTIVE
        ledger.settle(aggregate, intent, updates, new)
    else:
        updates[bk.MASTER_COMPUTE] = None
        ledger.settle(aggregate, intent, updates, ps.CREATED, '')
        try:
            claims.release_pool(session, workflow.identity(aggregate))
        except exception.XenPoolError as exc:
            LOG.warning('Pool claim of aggregate %s not released: %s',
                        aggregate.id, exc)
    report.actions.append('finished remove of host %s' % intent.host)


def _release_claim(aggregate, workflow, intent):
    """The interrupted add did not happen: its host claim goes too."""
    workflow.release_claim(aggregate, intent)


# -- repairs of settled metadata ----------------------------------------------

def _repair_state(aggregate, members, error, report):
    """A state nothing could leave: unknown, stale ``changing``, hostless."""
    md = aggregate.metadata
    state = md.get(ps.KEY)
    if bk.read(md).intent is not None:
        return
    recorded = bk.recorded_hosts(md)
    if recorded and error is not None:
        return  # NOTE: decide nothing about hosts the pool was not read for
    new = ps.ACTIVE if recorded else ps.CREATED
    if state == ps.ERROR:
        new = ps.ERROR if recorded else ps.CREATED
    if state == ps.DISMISSED:
        return
    updates = {}
    if not recorded and (md.get(bk.MASTER_COMPUTE) or
                         bk.read(md).master_address):
        updates[bk.MASTER_COMPUTE] = None
        updates[bk.KEY] = bk.encode(bk.read(md).replace(master_address=None))
        report.actions.append('cleared the master recorded without hosts')
    if state != new:
        updates[ps.KEY] = new
        report.actions.append('%s -> %s' % (
            'changing without intent record' if state == ps.CHANGING else
            'operational_state %r' % (state,), new))
    if updates:
        ledger.repair(aggregate, updates, report.actions[-1])


def _follow_master(aggregate, members, report):
    master = members.master
    if master is None:
        return
    md = aggregate.metadata
    name = bk.host_for_uuid(md, master.uuid)
    updates = {}
    if md.get(bk.MASTER_COMPUTE) != name:
        updates[bk.MASTER_COMPUTE] = name
        report.actions.append('master is now %s (was %s)'
                              % (name, md.get(bk.MASTER_COMPUTE)))
    record = bk.read(md)
    if record.master_address != master.address:
        updates[bk.KEY] = bk.encode(record.replace(
            master_address=master.address))
        report.actions.append('master address is now %s' % master.address)
    if updates:
        ledger.repair(aggregate, updates, report.actions[-1])


def _drop_non_members(aggregate, members, report):
    """Forget uuids of hosts the (provably ours) pool does not list."""
    gone = {host: None for host, host_uuid
            in bk.recorded_hosts(aggregate.metadata).items()
            if host_uuid not in members.uuids}
    if gone:
        report.actions.append('forgot host(s) no longer in the pool: %s'
                              % ', '.join(sorted(gone)))
        ledger.repair(aggregate, gone, report.actions[-1])


def _repair_host_list(aggregate, workflow, members, error, report):
    """The caller's host list follows the recorded hosts (when ours)."""
    recorded = bk.recorded_hosts(aggregate.metadata)
    ours = contract.owns_host_list(aggregate)
    known = members is not None and _is_ours(aggregate, members)
    for host in sorted(set(aggregate.hosts) - set(recorded)):
        info = agreement.unrecorded_member_at(
            aggregate.metadata, members, workflow.locate(host)) if known else None
        if info is not None:
            report.actions.append('recorded member %s (%s)'
                                  % (host, info.uuid))
            ledger.repair(aggregate, {host: info.uuid}, report.actions[-1])
        elif ours and (known or (not recorded and error is None)):
            aggregate.delete_host(host)
            report.actions.append('removed %s from the host list: not a '
                                  'member of the pool' % host)
    if ours:
        for host in sorted(set(bk.recorded_hosts(aggregate.metadata)) -
                           set(aggregate.hosts)):
            aggregate.add_host(host)
            report.actions.append('added %s to the host list: a member '
                                  'recorded in the metadata' % host)
