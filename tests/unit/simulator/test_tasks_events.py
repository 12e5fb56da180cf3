"""Async.<call> tasks as xapi records them, and event.from."""

import time

import pytest

from tests.passwords import PASSWORD
from tests.unit.simulator.conftest import failure, in_thread, jsonrpc, sdk
from xenpool_driver.simulator import Timings
from xenpool_driver.simulator.clock import ManualClock


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
    # NOTE: a task made by task.create is the client's: cancel is recorded
    # (xapi_task.ml), nothing of xapi ends it.
    lab = make_lab(2)
    s = sdk(lab.hosts[0])
    task = s.xenapi.task.create('mine', 'a client task')
    s.xenapi.task.cancel(task)
    rec = s.xenapi.task.get_record(task)
    assert rec['status'] == 'pending'
    assert list(rec['current_operations'].values()) == ['cancel']
    s.xenapi.task.destroy(task)
    assert 'destroy' in s.xenapi.task.get_current_operations(task).values()


def test_destroy_of_pending_task_is_queued(make_lab):
    lab = make_lab(2, timings=Timings(fuse=5000))
    rule = lab.hosts[1].faults.hang_task('pool.join')
    s = sdk(lab.hosts[1])
    task = s.xenapi.Async.pool.join(lab.hosts[0].address, 'root', PASSWORD)
    s.xenapi.task.destroy(task)
    assert 'destroy' in s.xenapi.task.get_current_operations(task).values()
    rule.release()
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


def test_event_from_blocks_until_an_event(make_lab):
    # NOTE: xapi_event.ml: event.from waits for a change or its timeout.
    clock = ManualClock()
    lab = make_lab(1, clock=clock)
    s = sdk(lab.hosts[0])
    other = sdk(lab.hosts[0])
    token = s.xenapi.event_from(['task'], '', 0)['token']
    pool = other.xenapi.pool.get_all()[0]
    answer = in_thread(s.xenapi.event_from, ['pool'], token, 10.0)
    clock.wait_for_deadline(clock.monotonic() + 10.0)     # blocked, timeout unscaled
    other.xenapi.pool.set_name_label(pool, 'x')
    got = answer()
    assert got['events'][0]['snapshot']['name_label'] == 'x'


def test_event_from_timeout_and_filters(make_lab):
    clock = ManualClock()
    lab = make_lab(1, clock=clock)
    s = sdk(lab.hosts[0])
    token = s.xenapi.event_from(['*'], '', 0)['token']
    answer = in_thread(s.xenapi.event_from, ['VM'], token, 0.1)
    clock.wait_for_deadline(clock.monotonic() + 0.1)
    clock.advance(0.1)
    assert answer()['events'] == []
    pool = s.xenapi.pool.get_all()[0]
    vm = lab.hosts[0].db.create('VM', name_label='g')
    s.xenapi.pool.set_name_label(pool, 'y')
    got = s.xenapi.event_from(['Vm'], token, 1)['events']       # case-insensitive
    assert [(e['class'], e['operation'], e['ref']) for e in got] == [('vm', 'add', vm)]
    got = s.xenapi.event_from(['pool/' + pool], token, 1)['events']
    assert [e['ref'] for e in got] == [pool]
    token = s.xenapi.event_from(['*'], token, 0)['token']
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
    # NOTE: xapi_event.ml counts every table, not only the subscribed ones.
    assert got['valid_ref_counts']['host'] == 1
    assert got['valid_ref_counts']['session'] == 1
    assert got['events'][0]['snapshot']['API_version_major'] == 2


@pytest.mark.parametrize('params', [['*'], 'x'])
def test_event_from_field_type(lab, params):
    s = sdk(lab.hosts[0])
    if params == 'x':
        assert failure(s.xenapi.event_from, 'pool', '', 0) == ['FIELD_TYPE_ERROR', 'classes']
    else:
        assert failure(s.xenapi.event_from, params, '', 'soon') == [
            'FIELD_TYPE_ERROR', 'timeout']


# -- xapi's task record, event.inject and event.from details ------------------

TASK_FIELDS = {'uuid', 'name_label', 'name_description', 'allowed_operations',
               'current_operations', 'created', 'finished', 'status', 'resident_on',
               'progress', 'type', 'result', 'error_info', 'other_config', 'subtask_of',
               'subtasks', 'backtrace'}


def test_task_record_has_xapis_fields(make_lab):
    # NOTE: taskHelper.ml (make, complete): allowed_operations [] at creation
    # and after completion; type "<none/>"; the datamodel's 17 task fields.
    lab = make_lab(2, timings=Timings(join_duration=5000))
    s = sdk(lab.hosts[1])
    task = s.xenapi.Async.pool.join(lab.hosts[0].address, 'root', PASSWORD)
    rec = s.xenapi.task.get_record(task)
    assert set(rec) == TASK_FIELDS
    assert rec['allowed_operations'] == []
    assert (rec['status'], rec['progress'], rec['type']) == ('pending', 0.0, '<none/>')
    assert rec['finished'].value == '19700101T00:00:00Z'
    assert rec['subtask_of'] == 'OpaqueRef:NULL'


def test_task_create(lab):
    # NOTE: xapi_task.ml create: a pending task the client completes itself.
    s = sdk(lab.hosts[0])
    task = s.xenapi.task.create('label', 'description')
    rec = s.xenapi.task.get_record(task)
    assert (rec['name_label'], rec['name_description']) == ('label', 'description')
    assert (rec['status'], rec['resident_on']) == ('pending', lab.hosts[0].ref)
    s.xenapi.task.destroy(task)
    assert 'destroy' in s.xenapi.task.get_current_operations(task).values()


def test_event_inject_token_returns_the_change_at_once(lab):
    # NOTE: xapi_event.ml inject: the token is the generation before the
    # touch minus one, so event.from returns the injected mod without waiting.
    s = sdk(lab.hosts[0])
    pool = s.xenapi.pool.get_all()[0]
    s.xenapi.pool.set_name_label(pool, 'p')
    current = s.xenapi.event_from(['pool'], '', 0)['token']
    token = s.xenapi.event.inject('pool', pool)
    assert token < current
    got = s.xenapi.event_from(['pool'], token, 0)
    assert [(e['operation'], e['ref']) for e in got['events']] == [('mod', pool)]


@pytest.mark.parametrize('cls', ['Pool', 'host', 'nope'])
def test_event_inject_class_must_be_the_table(lab, cls):
    # NOTE: xapi_event.ml inject compares the ref's table with the class exactly.
    s = sdk(lab.hosts[0])
    pool = s.xenapi.pool.get_all()[0]
    assert failure(s.xenapi.event.inject, cls, pool) == ['HANDLE_INVALID', cls, pool]


def test_sessions_make_no_events(lab):
    # NOTE: the session class is gen_events:false (ocaml/idl/datamodel.ml).
    s = sdk(lab.hosts[0])
    first = s.xenapi.event_from(['*'], '', 0)
    assert 'session' not in {e['class'] for e in first['events']}
    other = sdk(lab.hosts[0])
    other.xenapi.session.logout()
    got = s.xenapi.event_from(['session', 'pool'], first['token'], 0)
    assert got['events'] == []
    assert got['valid_ref_counts']['session'] == 1


def test_valid_ref_counts_cover_every_table(lab):
    # NOTE: xapi_event.ml from: valid_ref_counts folds over every table.
    s = sdk(lab.hosts[0])
    got = s.xenapi.event_from(['task'], '', 0)
    assert set(got['valid_ref_counts']) == {
        'pool', 'host', 'host_metrics', 'vm', 'vm_metrics', 'vm_guest_metrics', 'sr',
        'vdi', 'pbd', 'vbd', 'pif', 'network', 'vif', 'task', 'session'}
    assert got['valid_ref_counts']['task'] == 0


def test_added_then_deleted_yields_no_event(lab):
    # NOTE: xapi_event.ml: an object created and destroyed after the token
    # is not reported at all.
    s = sdk(lab.hosts[0])
    token = s.xenapi.event_from(['task'], '', 0)['token']
    task = s.xenapi.task.create('x', '')
    lab.hosts[0].db.destroy('task', task)
    assert s.xenapi.event_from(['task'], token, 0)['events'] == []
