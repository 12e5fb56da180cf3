"""Async.<call> tasks as xapi records them, and event.from."""

import threading
import time

import pytest

from tests.passwords import PASSWORD
from tests.unit.simulator.conftest import failure, jsonrpc, sdk
from xenpool_driver.simulator import Timings


def _wait_task(lab, s, task):
    assert lab.wait_until(lambda: s.xenapi.task.get_status(task) != 'pending')
    return s.xenapi.task.get_record(task)


def test_async_success_record(lab):
    s = sdk(lab.hosts[1])
    task = s.xenapi.Async.pool.join(lab.hosts[0].address, 'root', PASSWORD)
    assert task.startswith('OpaqueRef:')
    rec = _wait_task(lab, s, task)
    assert rec['status'] == 'success'
    assert rec['progress'] == 1.0
    assert rec['result'] == '<value></value>'
    assert rec['error_info'] == []
    assert rec['name_label'] == 'Async.pool.join'
    assert rec['resident_on'] == lab.hosts[1].ref
    assert rec['finished'].value >= rec['created'].value
    assert lab.task_finished_at(task) is not None
    assert lab.task_finished_at(task) <= time.perf_counter()


def test_async_result_is_an_xml_fragment(lab):
    s = sdk(lab.hosts[0])
    vm = lab.hosts[0].db.create('VM', name_label='g')
    rec = _wait_task(lab, s, s.xenapi.Async.VM.start(vm, False, False))
    assert rec['result'] == '<value></value>'
    assert s.xenapi.VM.get_power_state(vm) == 'Running'
    rec = _wait_task(lab, s, s.xenapi.Async.VM.start(vm, False, False))
    assert rec['status'] == 'failure'
    assert rec['error_info'] == ['VM_BAD_POWER_STATE', vm, 'halted', 'running']


def test_async_failure_record(lab):
    s = sdk(lab.hosts[0])
    task = s.xenapi.Async.pool.eject(lab.hosts[0].ref)
    rec = _wait_task(lab, s, task)
    assert rec['status'] == 'failure'
    assert rec['progress'] == 1.0
    assert rec['error_info'] == ['INTERNAL_ERROR', 'Xapi_pool.Cannot_eject_master']


def test_task_cancel_and_destroy(make_lab):
    lab = make_lab(2, timings=Timings(join_duration=5000))
    s = sdk(lab.hosts[1])
    task = s.xenapi.Async.pool.join(lab.hosts[0].address, 'root', PASSWORD)
    s.xenapi.task.cancel(task)
    rec = _wait_task(lab, s, task)
    assert rec['status'] == 'cancelled'
    assert rec['error_info'] == ['TASK_CANCELLED', task]
    s.xenapi.task.destroy(task)
    assert failure(s.xenapi.task.get_status, task) == ['HANDLE_INVALID', 'task', task]


def test_destroy_of_pending_task_is_queued(lab):
    lab.hosts[1].faults.hang_task('pool.join')
    s = sdk(lab.hosts[1])
    task = s.xenapi.Async.pool.join(lab.hosts[0].address, 'root', PASSWORD)
    s.xenapi.task.destroy(task)
    assert 'destroy' in s.xenapi.task.get_current_operations(task).values()
    s.xenapi.task.cancel(task)
    assert lab.wait_until(lambda: task not in s.xenapi.task.get_all())


def test_event_from_initial_then_incremental(lab):
    s = sdk(lab.hosts[0])
    first = s.xenapi.event_from(['*'], '', 1.0)
    classes = {e['class'] for e in first['events']}
    assert {'pool', 'host', 'vm', 'sr', 'pbd', 'pif', 'network', 'host_metrics'} <= classes
    assert all(e['operation'] == 'add' for e in first['events'])
    assert first['valid_ref_counts']['host'] == 1          # <i4>: an int
    token = first['token']
    assert len(token) == 41 and token[20] == ','
    pool = s.xenapi.pool.get_all()[0]
    s.xenapi.pool.set_name_label(pool, 'a')
    s.xenapi.pool.set_name_label(pool, 'b')                # coalesced
    nxt = s.xenapi.event_from(['pool'], token, 5.0)
    assert len(nxt['events']) == 1
    ev = nxt['events'][0]
    assert ev['operation'] == 'mod' and ev['ref'] == pool and ev['class'] == 'pool'
    assert ev['snapshot']['name_label'] == 'b'
    assert nxt['token'] > token


def test_event_from_blocks_until_an_event(lab):
    s = sdk(lab.hosts[0])
    other = sdk(lab.hosts[0])
    token = s.xenapi.event_from(['task'], '', 0)['token']
    pool = other.xenapi.pool.get_all()[0]
    timer = threading.Timer(0.05, lambda: other.xenapi.pool.set_name_label(pool, 'x'))
    timer.start()
    t0 = time.monotonic()
    got = s.xenapi.event_from(['pool'], token, 10.0)
    assert 0.03 < time.monotonic() - t0 < 5
    assert got['events'][0]['snapshot']['name_label'] == 'x'


def test_event_from_timeout_and_filters(lab):
    s = sdk(lab.hosts[0])
    token = s.xenapi.event_from(['*'], '', 0)['token']
    t0 = time.monotonic()
    assert s.xenapi.event_from(['VM'], token, 0.1)['events'] == []
    assert time.monotonic() - t0 >= 0.09
    pool = s.xenapi.pool.get_all()[0]
    vm = lab.hosts[0].db.create('VM', name_label='g')
    s.xenapi.pool.set_name_label(pool, 'y')
    got = s.xenapi.event_from(['Vm'], token, 1)['events']       # case-insensitive
    assert [(e['class'], e['operation'], e['ref']) for e in got] == [('vm', 'add', vm)]
    got = s.xenapi.event_from(['pool/' + pool], token, 1)['events']
    assert [e['ref'] for e in got] == [pool]
    s.xenapi.VM.set_name_label(vm, 'z')
    lab.hosts[0].db.destroy('VM', vm)
    got = s.xenapi.event_from(['vm/' + vm], token, 1)['events']
    assert [(e['operation'], 'snapshot' in e) for e in got] == [('del', False)]


def test_event_token_parse_failure(lab):
    s = sdk(lab.hosts[0])
    assert failure(s.xenapi.event_from, ['*'], 'garbage', 0) == [
        'EVENT_FROM_TOKEN_PARSE_FAILURE', 'garbage']


def test_event_inject(lab):
    s = sdk(lab.hosts[0])
    pool = s.xenapi.pool.get_all()[0]
    token = s.xenapi.event.inject('pool', pool)
    assert s.xenapi.event_from(['pool'], '%020d,%020d' % (int(token[:20]) - 1, 0), 1)[
        'events'][0]['ref'] == pool


def test_task_events_seen_via_event_from(lab):
    s = sdk(lab.hosts[1])
    token = s.xenapi.event_from(['task'], '', 0)['token']
    task = s.xenapi.Async.pool.join(lab.hosts[0].address, 'root', PASSWORD)
    status = 'pending'
    deadline = time.monotonic() + 10
    while status == 'pending' and time.monotonic() < deadline:
        got = s.xenapi.event_from(['task/' + task], token, 5)
        token = got['token']
        for ev in got['events']:
            status = ev['snapshot']['status']
    assert status == 'success'


def test_jsonrpc_event_from(lab):
    h = lab.hosts[0]
    session = jsonrpc(h, 'session.login_with_password', ['root', PASSWORD])['result']
    got = jsonrpc(h, 'event.from', [session, ['host'], '', 0.0])['result']
    assert got['valid_ref_counts'] == {'host': 1}
    assert got['events'][0]['snapshot']['API_version_major'] == 2


@pytest.mark.parametrize('params', [['*'], 'x'])
def test_event_from_field_type(lab, params):
    s = sdk(lab.hosts[0])
    if params == 'x':
        assert failure(s.xenapi.event_from, 'pool', '', 0) == ['FIELD_TYPE_ERROR', 'classes']
    else:
        assert failure(s.xenapi.event_from, params, '', 'soon') == [
            'FIELD_TYPE_ERROR', 'timeout']
