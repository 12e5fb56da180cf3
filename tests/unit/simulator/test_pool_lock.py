"""Pool-operation locking as xapi does it.

``ocaml/xapi/xapi_pool_helpers.ml`` (``compute_valid_operations``,
``with_pool_operation``) and ``ocaml/xapi/helpers.ml`` (``retry``,
``Policy.standard``): an operation that finds another pool operation in
progress gets ``OTHER_OPERATION_IN_PROGRESS`` and *waits* (up to two hours);
only a blocking operation (designate_new_master) in progress refuses another
blocking one at once with its own ``*_IN_PROGRESS`` error. While queued, the
task is cancellable.
"""

import pytest

from tests.unit.simulator.conftest import failure, join, sdk
from xenpool_driver.simulator import Timings, model
from xenpool_driver.simulator.pool_lock import pool_op_error

P = 'OpaqueRef:pool'


@pytest.mark.parametrize('current,op,expected', [
    ({}, 'eject', None),
    ({'t1': 'eject'}, 'eject', ['OTHER_OPERATION_IN_PROGRESS', 'pool', P, 'eject', 't1']),
    ({'t1': 'eject'}, 'designate_new_master',
     ['OTHER_OPERATION_IN_PROGRESS', 'pool', P, 'eject', 't1']),
    ({'t1': 'exchange_certificates_on_join'}, 'eject',
     ['OTHER_OPERATION_IN_PROGRESS', 'pool', P, 'exchange_certificates_on_join', 't1']),
    ({'t1': 'designate_new_master'}, 'designate_new_master',
     ['DESIGNATE_NEW_MASTER_IN_PROGRESS']),
    ({'t1': 'designate_new_master'}, 'ha_enable', ['DESIGNATE_NEW_MASTER_IN_PROGRESS']),
    # NOTE: a waiting op behind a blocking one: the generic error, whose
    # params name only a current *waiting* op (none here).
    ({'t1': 'designate_new_master'}, 'eject', ['OTHER_OPERATION_IN_PROGRESS', 'pool', P]),
    ({'t1': 'designate_new_master', 't2': 'eject'}, 'exchange_certificates_on_join',
     ['OTHER_OPERATION_IN_PROGRESS', 'pool', P, 'eject', 't2']),
])
def test_pool_op_validity_table(current, op, expected):
    db = model.Database()
    db.create('pool', ref=P, current_operations=current)
    error = pool_op_error(db, P, op)
    assert (None if error is None else error.description) == expected


def _busy(lab, m, pool):
    return lab.wait_until(lambda: m.xenapi.pool.get_current_operations(pool))


def test_second_eject_queues_behind_the_first(make_lab):
    lab = make_lab(3, timings=Timings(eject_duration=150))     # 0.3 s each
    join(lab, 1)
    join(lab, 2)
    m = sdk(lab.hosts[0])
    pool = m.xenapi.pool.get_all()[0]
    first = m.xenapi.Async.pool.eject(lab.hosts[1].ref)
    assert _busy(lab, m, pool)
    second = m.xenapi.Async.pool.eject(lab.hosts[2].ref)
    # queued: pending and cancellable (helpers.ml retry: set_cancellable)
    assert lab.wait_until(
        lambda: m.xenapi.task.get_allowed_operations(second) == ['cancel'])
    assert m.xenapi.task.get_status(second) == 'pending'
    assert list(m.xenapi.pool.get_current_operations(pool).items()) == [(first, 'eject')]
    assert lab.wait_until(lambda: m.xenapi.task.get_status(second) != 'pending')
    assert m.xenapi.task.get_status(first) == 'success'
    assert m.xenapi.task.get_status(second) == 'success'
    assert m.xenapi.host.get_all() == [lab.hosts[0].ref]


def test_designate_waits_for_an_eject(make_lab):
    lab = make_lab(3, timings=Timings(eject_duration=150))
    join(lab, 1)
    join(lab, 2)
    m = sdk(lab.hosts[0])
    pool = m.xenapi.pool.get_all()[0]
    eject = m.xenapi.Async.pool.eject(lab.hosts[1].ref)
    assert _busy(lab, m, pool)
    designate = m.xenapi.Async.pool.designate_new_master(lab.hosts[2].ref)
    assert lab.wait_until(lambda: m.xenapi.task.get_status(eject) == 'success')
    # the designate ran after the eject, not refused at once
    assert lab.wait_until(lambda: lab.hosts[2].is_master, timeout=10)
    assert 'OTHER_OPERATION_IN_PROGRESS' not in [c.error for c in lab.hosts[0].calls]
    del designate


def test_blocking_designate_refuses_a_second_at_once(make_lab):
    lab = make_lab(3, timings=Timings(designate_duration=500))
    join(lab, 1)
    join(lab, 2)
    m = sdk(lab.hosts[0])
    pool = m.xenapi.pool.get_all()[0]
    m.xenapi.Async.pool.designate_new_master(lab.hosts[1].ref)
    assert _busy(lab, m, pool)
    assert failure(m.xenapi.pool.designate_new_master, lab.hosts[2].ref) == [
        'DESIGNATE_NEW_MASTER_IN_PROGRESS']


def test_queued_eject_gives_up_after_the_lock_wait(make_lab):
    lab = make_lab(3, timings=Timings(eject_duration=1000, lock_max_wait=50))
    join(lab, 1)
    join(lab, 2)
    m = sdk(lab.hosts[0])
    pool = m.xenapi.pool.get_all()[0]
    first = m.xenapi.Async.pool.eject(lab.hosts[1].ref)
    assert _busy(lab, m, pool)
    assert failure(m.xenapi.pool.eject, lab.hosts[2].ref) == [
        'OTHER_OPERATION_IN_PROGRESS', 'pool', pool, 'eject', first]
    assert m.xenapi.task.get_status(first) == 'pending'


def test_cancel_of_a_queued_eject_ends_it_cancelled(make_lab):
    lab = make_lab(3, timings=Timings(eject_duration=500))
    join(lab, 1)
    join(lab, 2)
    m = sdk(lab.hosts[0])
    pool = m.xenapi.pool.get_all()[0]
    m.xenapi.Async.pool.eject(lab.hosts[1].ref)
    assert _busy(lab, m, pool)
    second = m.xenapi.Async.pool.eject(lab.hosts[2].ref)
    assert lab.wait_until(
        lambda: m.xenapi.task.get_allowed_operations(second) == ['cancel'])
    m.xenapi.task.cancel(second)
    assert lab.wait_until(lambda: m.xenapi.task.get_status(second) == 'cancelled')
    assert m.xenapi.task.get_error_info(second) == ['TASK_CANCELLED', second]
    assert lab.hosts[2].ref in m.xenapi.host.get_all()
