"""``task.cancel`` of join, eject and designate_new_master.

``ocaml/xapi/xapi_task.ml`` (``cancel``: only an ownership check, then
``cancel`` in current_operations), ``ocaml/xapi/taskHelper.ml``
(allowed_operations ``[]`` at creation, ``[cancel]`` only after
``set_cancellable``, ``[]`` at completion) and ``ocaml/xapi/xapi_pool.ml``
(join, eject and designate have no cancellation point): the cancel is
accepted and recorded, the operation runs to its end, and the task ends
``success`` (or ``failure``), never ``cancelled``.
"""

from tests.unit.simulator.conftest import join, sdk
from xenpool_driver.simulator import Timings
from xenpool_driver.simulator.clock import ManualClock

PW = None


def _done(lab, s, task):
    assert lab.wait_until(lambda: s.xenapi.task.get_status(task) != 'pending')
    return s.xenapi.task.get_record(task)


def test_join_runs_to_its_end_after_cancel(make_lab):
    lab = make_lab(2, timings=Timings(join_duration=100))
    s = sdk(lab.hosts[1])
    task = s.xenapi.Async.pool.join(lab.hosts[0].address, 'root', lab.password)
    assert s.xenapi.task.get_allowed_operations(task) == []
    assert s.xenapi.task.cancel(task) == ''
    assert 'cancel' in s.xenapi.task.get_current_operations(task).values()
    rec = _done(lab, s, task)
    assert rec['status'] == 'success'
    assert rec['allowed_operations'] == []
    assert rec['error_info'] == []
    m = sdk(lab.hosts[0])
    assert lab.wait_until(lambda: len(m.xenapi.host.get_all()) == 2)


def test_eject_runs_to_its_end_after_cancel(make_lab):
    lab = make_lab(2, timings=Timings(eject_duration=100))
    join(lab, 1)
    m = sdk(lab.hosts[0])
    task = m.xenapi.Async.pool.eject(lab.hosts[1].ref)
    # with_pool_operation's retry marks the task cancellable; no later
    # point of the eject looks at it.
    assert lab.wait_until(lambda: m.xenapi.task.get_allowed_operations(task) == ['cancel'])
    m.xenapi.task.cancel(task)
    rec = _done(lab, m, task)
    assert rec['status'] == 'success'
    assert rec['allowed_operations'] == []
    assert m.xenapi.host.get_all() == [lab.hosts[0].ref]


def test_designate_runs_to_its_end_after_cancel(make_lab):
    lab = make_lab(2, timings=Timings(designate_duration=100))
    join(lab, 1)
    m = sdk(lab.hosts[0])
    task = m.xenapi.Async.pool.designate_new_master(lab.hosts[1].ref)
    m.xenapi.task.cancel(task)
    rec = _done(lab, m, task)
    assert rec['status'] == 'success'
    assert lab.wait_until(lambda: lab.hosts[1].is_master and lab.hosts[0].role == 'slave')


def test_a_hung_join_is_not_ended_by_cancel(make_lab):
    clock = ManualClock()
    lab = make_lab(2, timings=Timings(fuse=5000), clock=clock)
    rule = lab.hosts[1].faults.hang_task('pool.join')
    s = sdk(lab.hosts[1])
    task = s.xenapi.Async.pool.join(lab.hosts[0].address, 'root', lab.password)
    clock.wait_for_deadline(clock.monotonic() + 0.05)          # held
    s.xenapi.task.cancel(task)
    for _ in range(3):      # each turn of the hold looks at the cancel, and goes on
        clock.advance(0.05)
        clock.wait_for_deadline(clock.monotonic() + 0.05)
    assert s.xenapi.task.get_status(task) == 'pending'
    rule.release()
    join_time = lab.scaled(lab.timings.join_duration)
    clock.wait_for_deadline(clock.monotonic() + join_time)     # the join goes on
    clock.advance(join_time)
    assert _done(lab, s, task)['status'] == 'success'
