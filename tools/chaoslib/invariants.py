"""What must hold after every step of the campaign, whatever happened.

* every aggregate: no intent record left; a state that some verb can leave
  (``created``, ``active``, ``error`` only at the failure threshold), matching
  what it records; its host list equals its recorded hosts (one truth) where
  the list is ours (the xenpool command's store; a compute service's list is
  its own: after a crash of the service mid-hook it may differ from the
  pool, which reconcile reports host by host - agreement.compare's
  ``unlisted`` / ``unrecorded``, tests/unit/aggregates/test_agreement.py); its
  recorded hosts are exactly the members of the pool its ``master_compute``
  masters, with their uuids, enabled and live; the pool's name is the
  aggregate's; the master address follows the real master;
* across aggregates: a host is recorded in (and listed by) at most one;
* across the lab: every pool of more than one host is some aggregate's pool,
  every slave is a member of the master it names (nothing half-joined or
  half-ejected), so nothing a user had was lost.

Reality is read through the plain XenAPI SDK (:func:`tests.reality.read_lab`,
the tests' one reality reader), not through the driver.
"""

from tests import reality
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import contract


def check_all(lab, store, aggs, threshold=3):
    """Every violated invariant, as text (empty: all hold)."""
    lab.settle(timeout=30)
    masters, slaves, problems = reality.read_lab(lab)
    by_name = {h.name: h for h in lab.hosts}
    owners = {}
    for agg in aggs:
        agg.refresh()
        problems += ['%s: %s' % (agg.name, p)
                     for p in _check_aggregate(agg, masters, by_name, threshold)]
        listed = set(agg.hosts) if contract.owns_host_list(agg) else set()
        for name in listed | set(bk.recorded_hosts(agg.metadata)):
            owners.setdefault(name, []).append(agg.name)
    for name, names in sorted(owners.items()):
        if len(names) > 1:
            problems.append('host %s belongs to %s' % (name, ' and '.join(names)))
    pooled = {}
    for agg in aggs:
        master = agg.metadata.get(bk.MASTER_COMPUTE)
        if master in masters:
            pooled[master] = agg.name
    for name, view in sorted(masters.items()):
        if len(view.hosts) > 1 and name not in pooled:
            problems.append('%s masters a pool of %d that no aggregate records'
                            % (name, len(view.hosts)))
    return problems + reality.stranded_slaves(lab, masters, slaves)


def _check_aggregate(agg, masters, by_name, threshold):
    md = agg.metadata
    record = bk.read(md)
    recorded = bk.recorded_hosts(md)
    problems = []
    if record.intent is not None:
        problems.append('intent left: %s' % record.intent.to_json())
    state = md.get(ps.KEY)
    if state == ps.ERROR:
        if record.failures < threshold:
            problems.append('error with %d failure(s)' % record.failures)
    elif state != (ps.ACTIVE if recorded else ps.CREATED):
        problems.append('state %s with %d recorded host(s)' % (state, len(recorded)))
    if sorted(agg.hosts) != sorted(recorded) and contract.owns_host_list(agg):
        problems.append('host list %s != recorded %s'
                        % (sorted(agg.hosts), sorted(recorded)))
    if not recorded:
        if md.get(bk.MASTER_COMPUTE) or record.master_address:
            problems.append('a master is recorded without hosts')
        return problems
    master = md.get(bk.MASTER_COMPUTE)
    view = masters.get(master)
    if view is None:
        return problems + ['master_compute %s is not a master' % master]
    if view.master_uuid != by_name[master].uuid:
        problems.append('master_compute %s is not the master' % master)
    wrong = {n: u for n, u in recorded.items() if n not in by_name or by_name[n].uuid != u}
    if wrong:
        problems.append('recorded uuids are not the hosts\': %s' % wrong)
    if set(view.hosts) != set(recorded.values()):
        problems.append('members %d != recorded %d' % (len(view.hosts), len(recorded)))
    if view.name_label != agg.name:
        problems.append('pool name %r' % view.name_label)
    if record.master_address != by_name[master].address:
        problems.append('master address %s' % record.master_address)
    for member in view.hosts.values():
        if not (member.enabled and member.live):
            problems.append('member %s enabled=%s live=%s'
                            % (member.address, member.enabled, member.live))
    return problems
