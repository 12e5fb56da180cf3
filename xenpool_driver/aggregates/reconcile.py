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

Reconcile needs no workflow: where xapi is comes from a
:class:`~.locating.XapiLocator`, and time from the clocks it is given (a
wall clock for leases, a monotonic one for the waits). Its parts: reading
the pool (:mod:`.reading`), deciding an expired intent
(:mod:`.expired_intents`, waiting with :mod:`.awaiting`) and repairing
settled metadata (:mod:`.repairs`).
"""

import dataclasses
import time
import typing

from oslo_log import log as logging

from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import agreement
from xenpool_driver.aggregates import awaiting
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import expired_intents
from xenpool_driver.aggregates import reading
from xenpool_driver.aggregates import repairs

LOG = logging.getLogger(__name__)

#: Public name (``xenpool aggregate show`` reads the pool through it).
read_pool = reading.read_pool


@dataclasses.dataclass(frozen=True)
class PoolAccess:
    """What reconcile reaches the pool with, and nothing of the workflow.

    :ivar locator: :class:`~.locating.XapiLocator` (sessions, URLs,
        timeouts; host claims are released through it).
    :ivar clock: wall clock (seconds): is an intent's lease alive?
    :ivar monotonic: monotonic clock (seconds) the waits for an outcome are
        measured on (:func:`.awaiting.await_designate`).
    """

    locator: typing.Any
    clock: typing.Callable[[], float] = time.time
    monotonic: typing.Callable[[], float] = time.monotonic


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


def reconcile(aggregate, locator, clock=None, monotonic=None):
    """Compare ``aggregate`` with its pool and repair what can be repaired.

    :param aggregate: an aggregate (see :mod:`.contract`).
    :param locator: :class:`~.locating.XapiLocator` (where xapi is).
    :param clock: wall clock (seconds; default :func:`time.time`).
    :param monotonic: monotonic clock (seconds; default
        :func:`time.monotonic`) bounding the waits for an outcome.
    :returns: :class:`ReconcileReport`. Never raises for xapi errors: they
        are reported in ``error`` and nothing is changed.
    """
    access = PoolAccess(locator, clock or time.time,
                        monotonic or time.monotonic)
    md = aggregate.metadata
    report = ReconcileReport(aggregate.id, md.get(ps.KEY))
    if not ps.is_hv_pool(md):
        report.skipped = 'not a pool aggregate'
        report.state_after = report.state_before
        return report
    intent = bk.read(md).intent
    report.intent = intent.to_json() if intent else None
    now = access.clock()
    if intent is not None and intent.lease_alive(now):
        report.busy = ('operation %s of host %s by %s in flight (lease for '
                       'another %.0f s): left alone'
                       % (intent.op, intent.host, intent.owner,
                          intent.expires - now))
        return _finish(aggregate, access, report, None, None)
    session, members, error = _read(aggregate, access, report, intent)
    try:
        members, error = _repair(aggregate, access, intent, report, session,
                                 members, error)
    except awaiting.Unknown as unknown:
        report.pending = str(unknown)
    return _finish(aggregate, access, report, members, error)


def _repair(aggregate, access, intent, report, session, members, error):
    """The repairs, in order, from the pool read ``(session, members, error)``.

    :returns: ``(members, error)`` of the last pool read.
    :raises awaiting.Unknown: an interrupted operation's outcome is not
        known yet (nothing more is repaired).
    """
    if intent is not None:
        expired_intents.repair_intent(aggregate, access, intent, session,
                                      members, error, report)
        if report.actions:
            # NOTE: the repair may have waited (a task, a restart):
            # what is compared below is the pool as it is now.
            session, members, error = _read(aggregate, access, report)
    repairs.repair_state(aggregate, members, error, report)
    if members is not None and reading.is_ours(aggregate, members):
        repairs.follow_master(aggregate, members, report)
        repairs.drop_non_members(aggregate, members, report)
    repairs.repair_host_list(aggregate, access.locator, members, error, report)
    return members, error


def _read(aggregate, access, report, intent=None):
    session, members, error = reading.read_pool(aggregate, access.locator,
                                                intent)
    if members is not None:
        report.members = sorted(members.uuids)
    return session, members, error


def _finish(aggregate, access, report, members, error):
    md = aggregate.metadata
    result = agreement.compare(aggregate.name, aggregate.hosts, md, members,
                               error=error, now=access.clock())
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
