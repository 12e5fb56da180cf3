"""Shared pieces of the crash and fault-matrix tests (no pytest here).

Everything is real: the driver's session layer and the XenAPI SDK talk HTTP
to a :class:`~xenpool_driver.simulator.lab.Lab`; aggregates live in a SQLite
:class:`~xenpool_driver.store.Store` (atomic compare-and-set).

:func:`check` reads reality independently through the XenAPI SDK
(:func:`tests.reality.read_lab`, not through the driver) and lists every way
the aggregate's metadata disagrees with it, or a host is stranded
half-joined / half-ejected.
"""

import time

from tests import reality
from tests.functional import conftest as functional
from xenpool_driver import driver as driver_mod
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.xapi import connector as xconnector

#: 1 xapi second lasts this long in the tests' labs.
TIME_SCALE = 0.004

#: Small real timeouts (seconds): the timeout column's latency exceeds them.
TIMEOUTS = dict(login_timeout=1.0, call_timeout=1.0, task_timeout=5.0,
                live_timeout=5.0)

#: Consecutive failures that move a pool to ``error`` (what :func:`check`
#: accepts as an error state).
THRESHOLD = 3


def fast_sleep(seconds):
    """Retry back-off, capped: xapi comes back within a few scaled ms."""
    time.sleep(min(seconds, 0.05))


def make_conf(lab_info, **overrides):
    """The functional tests' configuration for the lab described by
    ``lab_info`` (:func:`tests.functional.conftest.make_conf`), with the
    fault tests' small :data:`TIMEOUTS` and :data:`THRESHOLD`.

    :param lab_info: ``Lab.describe()`` (``username``, ``password``, ``hosts``).
    """
    values = dict(TIMEOUTS, pool_error_threshold=THRESHOLD)
    values.update(overrides)
    return functional.make_conf(lab_info, **values)


def make_driver(lab_info, conf=None, aggregates=None, clock=None, **overrides):
    """A :class:`XenPoolDriver` with the real session layer on the lab.

    :param clock: the driver's wall clock (a later one sees leases expired).
    """
    conf = conf or make_conf(lab_info, **overrides)
    urls = {h['name']: h['url'] for h in lab_info['hosts']}
    connector = xconnector.from_conf(conf, sleep=fast_sleep)
    return driver_mod.XenPoolDriver(conf=conf, connector=connector,
                                    host_locator=urls.get,
                                    aggregates=aggregates, clock=clock)


def url_of(lab_info, name):
    return {h['name']: h['url'] for h in lab_info['hosts']}[name]


def add(driver, lab_info, agg, name):
    """What the compute service does: host list first, then the hook."""
    agg.add_host(name)
    try:
        driver.add_to_aggregate(None, agg, name,
                                slave_info={'url': url_of(lab_info, name)})
    except Exception:
        driver.undo_aggregate_operation(None, agg.delete_host, agg, name)
        raise


def remove(driver, agg, name, **kwargs):
    """What the compute service does (nova 22.4.0's API): host list first,
    then the hook; on failure the undo puts the host back."""
    agg.delete_host(name)
    try:
        driver.remove_from_aggregate(None, agg, name, **kwargs)
    except Exception:
        driver.undo_aggregate_operation(None, agg.add_host, agg, name)
        raise


def build_pool(lab, store, name, hosts):
    """An aggregate ``name`` whose pool holds lab hosts ``hosts`` (names)."""
    info = lab.describe()
    agg = store.create_aggregate(name, {ps.POOL_FLAG: 'true',
                                        ps.KEY: ps.CREATED})
    driver = make_driver(info)
    try:
        for host in hosts:
            add(driver, info, agg, host)
    finally:
        driver.workflow.connector.close()
    lab.settle()
    return agg


def check(lab, agg, threshold=THRESHOLD):
    """Every disagreement between ``agg``'s metadata and the lab (empty: OK).

    Checked: no intent record; the state is ``active``/``created`` (``error``
    only at ``threshold`` failures); the recorded hosts are exactly the
    members of the master's pool, with the right uuids, all enabled and live;
    ``master_compute`` and the master address follow the real master; every
    slave is known to the master it names; every other host is standalone
    (nothing half-joined or half-ejected).
    """
    lab.settle(timeout=10)
    agg.refresh()
    md = agg.metadata
    record = bk.read(md)
    problems = []
    if record.intent is not None:
        problems.append('intent record left: %s' % record.intent.to_json())
    state = md.get(ps.KEY)
    recorded = bk.recorded_hosts(md)
    if state == ps.ERROR:
        if record.failures < threshold:
            problems.append('error with %d failure(s)' % record.failures)
    elif state != (ps.ACTIVE if recorded else ps.CREATED):
        problems.append('state %s with %d recorded host(s)'
                        % (state, len(recorded)))
    masters, slaves, bad = reality.read_lab(lab)
    problems += bad
    by_name = {h.name: h for h in lab.hosts}
    problems += reality.stranded_slaves(lab, masters, slaves)
    pooled = set()
    if recorded:
        master_name = md.get(bk.MASTER_COMPUTE)
        view = masters.get(master_name)
        if view is None:
            problems.append('master_compute %s is not a master' % master_name)
        else:
            pooled = set(view.hosts)
            want = {by_name[n].uuid for n in recorded if n in by_name}
            if set(recorded.values()) != want:
                problems.append('recorded uuids are not the hosts\' uuids: %s'
                                % recorded)
            if pooled != set(recorded.values()):
                problems.append('members %s != recorded %s'
                                % (sorted(pooled), sorted(recorded.values())))
            if view.master_uuid != by_name[master_name].uuid:
                problems.append('master_compute %s is not the master'
                                % master_name)
            if view.name_label != agg.name:
                problems.append('pool name %r' % view.name_label)
            if record.master_address != by_name[master_name].address:
                problems.append('master address %s' % record.master_address)
            for member in view.hosts.values():
                if not (member.enabled and member.live):
                    problems.append('member %s enabled=%s live=%s'
                                    % (member.address, member.enabled,
                                       member.live))
    else:
        for key in (bk.MASTER_COMPUTE,):
            if md.get(key):
                problems.append('%s left without hosts' % key)
    for name, view in masters.items():
        if by_name[name].uuid in pooled:
            continue
        if len(view.hosts) != 1:
            problems.append('%s is master of a pool of %d outside the '
                            'aggregate' % (name, len(view.hosts)))
    return problems
