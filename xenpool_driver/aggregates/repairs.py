"""Repairs of settled metadata (no operation in flight), from the pool read.

* a state nothing could leave: unknown, ``changing`` without an intent, a
  master recorded without hosts (decided from the hosts recorded);
* once the pool read is provably this aggregate's (its master is a recorded
  host, :func:`.reading.is_ours`): ``master_compute`` and the master
  address follow the real master, and a uuid recorded for a host that is
  not a member is dropped;
* the caller's host list where it is ours (:func:`.contract.owns_host_list`):
  hosts recorded but not listed are listed, hosts listed but neither
  recorded nor members are unlisted, a listed host that is a member gets
  its uuid recorded. A compute service's list is only reported.

Each repair is one :func:`.ledger.repair` with its reason appended to
``report.actions``; it counts nothing.
"""

from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import agreement
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import contract
from xenpool_driver.aggregates import ledger
from xenpool_driver.aggregates import reading


def repair_state(aggregate, members, error, report):
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


def follow_master(aggregate, members, report):
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


def drop_non_members(aggregate, members, report):
    """Forget uuids of hosts the (provably ours) pool does not list."""
    gone = {host: None for host, host_uuid
            in bk.recorded_hosts(aggregate.metadata).items()
            if host_uuid not in members.uuids}
    if gone:
        report.actions.append('forgot host(s) no longer in the pool: %s'
                              % ', '.join(sorted(gone)))
        ledger.repair(aggregate, gone, report.actions[-1])


def repair_host_list(aggregate, locator, members, error, report):
    """The caller's host list follows the recorded hosts (when ours)."""
    recorded = bk.recorded_hosts(aggregate.metadata)
    ours = contract.owns_host_list(aggregate)
    known = members is not None and reading.is_ours(aggregate, members)
    for host in sorted(set(aggregate.hosts) - set(recorded)):
        info = agreement.unrecorded_member_at(
            aggregate.metadata, members, locator.locate(host)) if known else None
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
