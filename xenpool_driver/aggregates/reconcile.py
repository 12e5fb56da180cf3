"""Reconcile: compare an aggregate's metadata with the real pool and repair.

What it repairs (and nothing else):

* an interrupted operation, from its intent record: an add whose host is now
  a member is finished (uuid recorded, ``active``; waiting until live when the
  host is not live yet), an add whose host is not a member is rolled back
  (previous state); a remove whose host is still a member is rolled back, one
  whose host is gone is finished;
* a master change (e.g. an interrupted ``designate_new_master``): the
  ``master_compute`` key and the master address follow reality, mapping the
  master's uuid to a compute host name through the ``<host>`` keys;
* a legacy aggregate stuck in ``changing`` without an intent record.

What it only reports: drift (hosts recorded but not members, members not
recorded, compute hosts without a recorded uuid) and unhealthy members (not
live or not enabled). A successful repair counts nothing: the failure count is
left as it is.

NOTE: run it when no operation is in flight on the aggregate (``init_host``,
an admin reset): an intent record is taken as interrupted.
"""

import dataclasses

from oslo_log import log as logging

from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.xapi import pool

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class ReconcileReport:
    """What reconcile found and did for one aggregate.

    :ivar aggregate_id: the aggregate's id.
    :ivar state_before: ``operational_state`` when reconcile started.
    :ivar state_after: ``operational_state`` when it finished.
    :ivar intent: the intent record found (as stored), or None.
    :ivar members: xenhost uuids the pool reports (empty when not read).
    :ivar actions: repairs made, in order (human-readable).
    :ivar drift: disagreements left between metadata and the pool.
    :ivar unhealthy: members that are not live or not enabled.
    :ivar error: why the pool could not be read, or None.
    :ivar skipped: why nothing was checked (not a pool aggregate), or None.
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

    @property
    def agreed(self):
        """True when the pool was read and metadata agrees with it."""
        return not (self.drift or self.error or self.skipped)


def reconcile(aggregate, workflow):
    """Compare ``aggregate`` with its pool and repair what can be repaired.

    :param aggregate: an aggregate (see :mod:`.contract`).
    :param workflow: a :class:`~.workflow.Workflow` (locates xapi).
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
    if intent is None and not _has_pool(md, record):
        _repair_stuck(aggregate, report)
        _compare_hosts(aggregate, report)
        report.state_after = aggregate.metadata.get(ps.KEY)
        return report
    url = (intent.url if intent is not None and intent.phase == 'init'
           else workflow.master_url(md, record))
    try:
        session = workflow.session_at(url)
        members = pool.snapshot(session)
    except (exception.XapiError, exception.XapiUnavailable) as exc:
        report.error = 'cannot read the pool: %s' % exc
        report.state_after = report.state_before
        LOG.warning('Reconcile of aggregate %s: %s', aggregate.id, report.error)
        return report
    report.members = sorted(members.uuids)
    if intent is not None:
        _repair_intent(aggregate, session, intent, members, report)
    else:
        _repair_stuck(aggregate, report)
    if bk.recorded_hosts(aggregate.metadata):
        _follow_master(aggregate, members, report)
    _drift(aggregate, members, report)
    report.state_after = aggregate.metadata.get(ps.KEY)
    for action in report.actions:
        LOG.info('Reconcile of aggregate %s: %s', aggregate.id, action)
    return report


def _has_pool(md, record):
    return bool(bk.recorded_hosts(md) or record.master_address or
                md.get(bk.MASTER_COMPUTE))


def _repair_stuck(aggregate, report):
    """``changing`` without an intent record (legacy): settle it."""
    if aggregate.metadata.get(ps.KEY) != ps.CHANGING:
        return
    new = ps.ACTIVE if bk.recorded_hosts(aggregate.metadata) else ps.CREATED
    aggregate.update_metadata({ps.KEY: new})
    report.actions.append('changing without intent record -> %s' % new)


def _repair_intent(aggregate, session, intent, members, report):
    md = aggregate.metadata
    if md.get(ps.KEY) != ps.CHANGING:
        _settle(aggregate, intent, {}, None, None)
        report.actions.append('cleared stale intent %s of host %s'
                              % (intent.op, intent.host))
        return
    host_uuid = intent.host_uuid or md.get(intent.host)
    if intent.op == ps.OP_ADD:
        _repair_add(aggregate, session, intent, host_uuid, members, report)
    else:
        _repair_remove(aggregate, intent, host_uuid, members, report)


def _repair_add(aggregate, session, intent, host_uuid, members, report):
    if intent.phase == 'init':
        reached = (members.name_label == aggregate.name and
                   host_uuid in (None, members.master_uuid))
        if reached:
            updates = {intent.host: members.master_uuid,
                       bk.MASTER_COMPUTE: intent.host}
            _settle(aggregate, intent, updates, ps.ACTIVE,
                    members.master.address)
            report.actions.append('finished add of first host %s'
                                  % intent.host)
            return
    else:
        if host_uuid is None:
            host_uuid = _single_unrecorded(aggregate.metadata, members)
        if host_uuid is not None and host_uuid in members.uuids:
            info = members.host(host_uuid)
            if not (info.live and info.enabled):
                _wait_live(session, host_uuid, report)
            _settle(aggregate, intent, {intent.host: host_uuid}, ps.ACTIVE,
                    None)
            report.actions.append('finished add of host %s' % intent.host)
            return
    _settle(aggregate, intent, {}, intent.prev_state, None)
    report.actions.append('rolled back add of host %s -> %s'
                          % (intent.host, intent.prev_state))


def _repair_remove(aggregate, intent, host_uuid, members, report):
    if host_uuid is not None and host_uuid in members.uuids:
        _settle(aggregate, intent, {}, intent.prev_state, None)
        report.actions.append('rolled back remove of host %s -> %s'
                              % (intent.host, intent.prev_state))
        return
    updates = {intent.host: None}
    left = dict(bk.recorded_hosts(aggregate.metadata))
    left.pop(intent.host, None)
    if left:
        new = ps.ERROR if intent.prev_state == ps.ERROR else ps.ACTIVE
        _settle(aggregate, intent, updates, new, None)
    else:
        updates[bk.MASTER_COMPUTE] = None
        _settle(aggregate, intent, updates, ps.CREATED, '')
    report.actions.append('finished remove of host %s' % intent.host)


def _single_unrecorded(md, members):
    """The one member no ``<host>`` key names (the joiner), else None."""
    unknown = members.uuids - set(bk.recorded_hosts(md).values())
    return next(iter(unknown)) if len(unknown) == 1 else None


def _wait_live(session, host_uuid, report):
    try:
        pool.wait_until_live(session, host_uuid)
    except (exception.XapiError, exception.XapiUnavailable) as exc:
        report.unhealthy.append('host %s not live: %s' % (host_uuid, exc))


def _settle(aggregate, intent, updates, new_state, master_address):
    """Clear the intent; apply ``updates`` and ``new_state`` (None: keep).

    NOTE: the failure count is left alone: a repair counts nothing.
    """
    record = bk.read(aggregate.metadata).replace(intent=None)
    if master_address is not None:
        record = record.replace(master_address=master_address or None)
    updates = dict(updates, **bk.updates(record))
    if new_state is not None:
        updates[ps.KEY] = new_state
    aggregate.update_metadata(updates)


def _follow_master(aggregate, members, report):
    master = members.master
    if master is None:
        report.drift.append('pool reports no master')
        return
    md = aggregate.metadata
    name = bk.host_for_uuid(md, master.uuid)
    if name is None:
        report.drift.append('master %s (%s) is not recorded in the aggregate'
                            % (master.uuid, master.address))
        return
    updates = {}
    if md.get(bk.MASTER_COMPUTE) != name:
        updates[bk.MASTER_COMPUTE] = name
        report.actions.append('master is now %s (was %s)'
                              % (name, md.get(bk.MASTER_COMPUTE)))
    record = bk.read(md)
    if record.master_address != master.address:
        updates.update(bk.updates(record.replace(
            master_address=master.address)))
        report.actions.append('master address is now %s' % master.address)
    if updates:
        aggregate.update_metadata(updates)


def _drift(aggregate, members, report):
    recorded = bk.recorded_hosts(aggregate.metadata)
    for host, host_uuid in sorted(recorded.items()):
        if host_uuid not in members.uuids:
            report.drift.append('host %s (%s) is recorded but not a member'
                                % (host, host_uuid))
    known = set(recorded.values())
    for info in members.hosts:
        if info.uuid not in known:
            report.drift.append('member %s (%s) is not recorded'
                                % (info.uuid, info.address))
        elif not (info.live and info.enabled):
            report.unhealthy.append('host %s is %s' % (
                bk.host_for_uuid(aggregate.metadata, info.uuid),
                'not live' if not info.live else 'disabled'))
    _compare_hosts(aggregate, report)


def _compare_hosts(aggregate, report):
    recorded = bk.recorded_hosts(aggregate.metadata)
    for host in sorted(set(aggregate.hosts) - set(recorded)):
        report.drift.append('compute host %s has no xenhost uuid recorded'
                            % host)
