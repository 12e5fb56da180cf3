"""Every fault kind of the declarative plan, and the lab's lifecycle controls."""

import http.client

import pytest
import XenAPI

from tests.passwords import PASSWORD
from tests.unit.simulator.conftest import failure, in_thread, join, sdk
from xenpool_driver.simulator import Timings, faults
from xenpool_driver.simulator.clock import ManualClock


def test_fail_next_n_calls(lab):
    s = sdk(lab.hosts[0])
    lab.hosts[0].faults.fail('pool.get_all', 'INTERNAL_ERROR', ['boom'], times=2)
    assert failure(s.xenapi.pool.get_all) == ['INTERNAL_ERROR', 'boom']
    assert failure(s.xenapi.pool.get_all) == ['INTERNAL_ERROR', 'boom']
    assert len(s.xenapi.pool.get_all()) == 1
    assert lab.hosts[0].faults.rules == []


def test_fail_applies_to_async_as_task_failure(lab):
    lab.hosts[1].faults.fail('pool.join', 'JOINING_HOST_SERVICE_FAILED')
    s = sdk(lab.hosts[1])
    task = s.xenapi.Async.pool.join(lab.hosts[0].address, 'root', PASSWORD)
    assert lab.wait_until(lambda: s.xenapi.task.get_status(task) == 'failure')
    assert s.xenapi.task.get_error_info(task) == ['JOINING_HOST_SERVICE_FAILED']


def test_async_only_rule(lab):
    lab.hosts[0].faults.fail('Async.pool.set_name_label', 'INTERNAL_ERROR')
    s = sdk(lab.hosts[0])
    s.xenapi.pool.set_name_label(s.xenapi.pool.get_all()[0], 'sync is fine')


def _members(lab):
    m = sdk(lab.hosts[0])
    return [m.xenapi.host.get_uuid(h) for h in m.xenapi.host.get_all()]


def test_single_drop_is_retried_by_the_transport(lab):
    # NOTE: xmlrpc.client re-sends a request once when a kept-alive connection
    # is dropped: a non-idempotent call can run twice. Here the first attempt
    # was dropped before it took effect, so the retry joins.
    lab.hosts[1].faults.drop('pool.join', when='before')
    s = sdk(lab.hosts[1])
    s.xenapi.pool.join(lab.hosts[0].address, 'root', PASSWORD)
    assert [c.error for c in lab.hosts[1].calls if c.method == 'pool.join'] == [
        'DROPPED', None]
    assert lab.hosts[1].uuid in _members(lab)


@pytest.mark.parametrize('when, joined', [('before', False), ('after', True)])
def test_drop_connection_before_or_after_effect(lab, when, joined):
    lab.hosts[1].faults.drop('pool.join', when=when, times=2)
    s = sdk(lab.hosts[1])
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        s.xenapi.pool.join(lab.hosts[0].address, 'root', PASSWORD)
    assert (lab.hosts[1].uuid in _members(lab)) is joined
    assert [c.error for c in lab.hosts[1].calls if c.method == 'pool.join'] == [
        'DROPPED', 'DROPPED']


def test_drop_after_then_retry_reports_an_error_although_joined(lab):
    lab.hosts[1].faults.drop('pool.join', when='after')
    s = sdk(lab.hosts[1])
    assert failure(s.xenapi.pool.join, lab.hosts[0].address, 'root', PASSWORD) == [
        'OPERATION_NOT_ALLOWED', 'Host is already part of a pool']
    assert lab.hosts[1].uuid in _members(lab)


def test_latency_is_scaled(make_lab):
    clock = ManualClock()
    lab = make_lab(1, time_scale=0.01, clock=clock)
    s = sdk(lab.hosts[0])
    lab.hosts[0].faults.latency(20.0, method='pool.get_all', times=1)    # 0.2 s
    answer = in_thread(s.xenapi.pool.get_all)
    clock.wait_for_deadline(clock.monotonic() + 0.2)
    clock.advance(0.2)
    assert len(answer()) == 1
    # spent: the next call is answered without the clock moving
    assert len(in_thread(s.xenapi.pool.get_all)()) == 1


def test_stop_and_restart_a_host(lab):
    h = lab.hosts[0]
    s = sdk(h)
    lab.stop(0)
    with pytest.raises(ConnectionRefusedError):
        sdk(h)
    lab.start_host(0, boot=False)
    # sessions died with xapi: the SDK logs in again transparently
    assert len(s.xenapi.pool.get_all()) == 1
    assert h.calls[-3].error == 'SESSION_INVALID'
    lab.restart(0)
    assert lab.wait_until(lambda: h.state == 'booting')
    assert failure(XenAPI.Session(h.url).xenapi.login_with_password, 'root',
                   PASSWORD) == ['HOST_STILL_BOOTING']
    assert lab.wait_until(lambda: h.state == 'running')
    sdk(h)


def test_network_cut_fails_join(lab):
    lab.cut(0, 1)
    s = sdk(lab.hosts[1])
    assert failure(s.xenapi.pool.join, lab.hosts[0].address, 'root', PASSWORD) == [
        'JOINING_HOST_CONNECTION_FAILED']
    lab.heal(0, 1)
    s.xenapi.pool.join(lab.hosts[0].address, 'root', PASSWORD)


@pytest.mark.parametrize('after_effect', [False, True])
def test_hung_task(make_lab, after_effect):
    lab = make_lab(2, timings=Timings(fuse=5000))    # the joiner must not restart here
    rule = lab.hosts[1].faults.hang_task('pool.join', after_effect=after_effect)
    s = sdk(lab.hosts[1])
    task = s.xenapi.Async.pool.join(lab.hosts[0].address, 'root', PASSWORD)
    assert lab.wait_until(lambda: rule.fired)
    m = sdk(lab.hosts[0])
    assert lab.wait_until(lambda: (len(m.xenapi.host.get_all()) == 2) is after_effect)
    assert s.xenapi.task.get_status(task) == 'pending'
    rule.release()       # NOTE: task.cancel cannot end a join (xapi_pool.ml)
    assert lab.wait_until(lambda: s.xenapi.task.get_status(task) == 'success')
    assert len(m.xenapi.host.get_all()) == 2


def test_plan_as_data(make_lab):
    lab = make_lab(2, faults={0: [
        {'kind': 'fail', 'method': 'pool.get_all', 'code': 'HOST_OFFLINE',
         'params': ['x'], 'times': None}]})
    s = sdk(lab.hosts[0])
    for _ in range(3):
        assert failure(s.xenapi.pool.get_all) == ['HOST_OFFLINE', 'x']
    lab.hosts[0].faults.clear()
    s.xenapi.pool.get_all()


@pytest.mark.parametrize('kind, kw', [('explode', {}), ('drop', {'when': 'during'})])
def test_plan_validation(kind, kw):
    with pytest.raises(ValueError):
        faults.FaultPlan().add(kind, 'pool.join', **kw)


def test_call_log_and_counts(lab):
    s = sdk(lab.hosts[0])
    for _ in range(3):
        s.xenapi.pool.get_all()
    counts = lab.hosts[0].call_counts()
    assert counts['pool.get_all'] == 3
    assert counts['session.login_with_password'] == 1
    rec = lab.hosts[0].calls[-1]
    assert rec.method == 'pool.get_all' and rec.start <= rec.end and rec.error is None


def test_join_of_stopped_joiner_master_live_flags(lab):
    join(lab, 1)
    lab.stop(1, mark_offline=False)
    m = sdk(lab.hosts[0])
    metrics = m.xenapi.host.get_metrics(lab.hosts[1].ref)
    assert m.xenapi.host_metrics.get_live(metrics) is True


@pytest.mark.parametrize('kind, kw, sync_stage, async_stage', [
    ('latency', {'seconds': 1}, faults.WIRE, faults.WIRE),
    ('drop', {'when': 'before'}, faults.WIRE, faults.WIRE),
    ('drop', {'when': 'after'}, faults.AFTER, faults.AFTER),
    ('fail', {'code': 'X'}, faults.BEFORE, faults.BEFORE),
    ('hang', {}, None, faults.TASK),
])
def test_each_kind_is_a_class_acting_at_one_stage(kind, kw, sync_stage, async_stage):
    rule = faults.FaultPlan().add(kind, 'pool.join', **kw)
    assert isinstance(rule, faults.KIND_CLASSES[kind]) and rule.kind == kind
    assert rule.stage(False) == sync_stage and rule.stage(True) == async_stage
    assert rule.fired == 0


def test_a_kind_refuses_fields_of_another():
    with pytest.raises(ValueError):
        faults.FaultPlan().add('fail', 'pool.join', seconds=2.0)


def test_take_consumes_rules_in_order_per_stage():
    plan = faults.FaultPlan()
    before = plan.drop('pool.join', when='before')
    after = plan.drop('pool.join', when='after')
    assert plan.take('drop', 'pool.join', False, stage=faults.AFTER) is after
    assert plan.take('drop', 'pool.join', False, when='before') is before
    assert plan.rules == [] and before.fired == after.fired == 1


def test_a_hang_rule_leaves_sync_calls_alone(lab):
    rule = lab.hosts[0].faults.hang_task('pool.set_name_label')
    s = sdk(lab.hosts[0])
    s.xenapi.pool.set_name_label(s.xenapi.pool.get_all()[0], 'sync')
    assert rule.fired == 0 and lab.hosts[0].faults.rules == [rule]


def test_latency_then_drop_on_the_wire(make_lab):
    clock = ManualClock()
    lab = make_lab(1, clock=clock)
    h = lab.hosts[0]
    s = sdk(h)
    lat = h.faults.latency(100.0, method='pool.get_all', times=1)     # 0.2 s
    drop = h.faults.drop('pool.get_all', times=2)
    answer = in_thread(s.xenapi.pool.get_all)
    clock.wait_for_deadline(clock.monotonic() + 0.2)
    assert lat.fired == 1 and drop.fired == 0     # held on the wire, not dropped yet
    clock.advance(0.2)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        answer()
    assert drop.fired == 2 and h.faults.rules == []
