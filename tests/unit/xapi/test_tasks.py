"""call_async and wait_for: event.from driven, token before the first read."""

import pytest
import XenAPI

from tests import passwords
from tests.unit.xapi.fakes import A, FakeXapi
from xenpool_driver import exception
from xenpool_driver.xapi import tasks

TASK = 'OpaqueRef:task-1'
#: The caller's bound on a task (call_async has no default: see PoolTimeouts)
TASK_TIMEOUT = 100.0


def task(status='pending', progress=0.0, result='', error_info=()):
    return {'uuid': 'u', 'status': status, 'progress': progress,
            'result': result, 'error_info': list(error_info)}


def batch(token, *records, op='mod'):
    return {'token': token, 'valid_ref_counts': {'task': 1},
            'events': [{'id': token, 'class': 'task', 'operation': op,
                        'ref': TASK, 'snapshot': r} for r in records]}


@pytest.fixture
def fake():
    f = FakeXapi()
    f.on('Async.pool.join', TASK)
    f.on('task.destroy', '')
    f.on('task.cancel', '')
    return f


@pytest.mark.parametrize('fragment, value', [
    ('<value>OpaqueRef:abc</value>', 'OpaqueRef:abc'),
    ('<value></value>', ''),
    ('', ''),
    ('<value><string>x</string></value>', 'x'),
    ('<value><array><data><value>a</value></data></array></value>', ['a']),
])
def test_decode_result(fragment, value):
    assert tasks.decode_result(fragment) == value


@pytest.mark.parametrize('fragment', ['<value>', '<bogus/>'])
def test_decode_garbage_is_protocol_error(fragment):
    with pytest.raises(exception.XapiProtocolError):
        tasks.decode_result(fragment)


def test_success_token_first_progress_and_result(fake, xs):
    fake.on('event_from',
            batch('t1', task(progress=0.0), op='add'),
            batch('t2', task(progress=0.5)),
            batch('t3', task('success', 1.0, '<value>OpaqueRef:new</value>')))
    seen = []
    result = xs.call_async('pool.join', '192.0.2.1', 'root', passwords.PASSWORD,
                           timeout=TASK_TIMEOUT, on_progress=seen.append)
    assert result == 'OpaqueRef:new'
    assert seen == [0.0, 0.5, 1.0]
    events = [c for c in fake.calls if c[1] == 'event_from']
    # the token is taken before the first read of the task (the first
    # event.from *is* the first read), then the loop waits on that token.
    assert fake.methods()[:3] == ['login_with_password', 'Async.pool.join',
                                  'event_from']
    assert [e[2][:2] for e in events] == [
        (['task/' + TASK], ''), (['task/' + TASK], 't1'),
        (['task/' + TASK], 't2')]
    assert events[0][2][2] == 0.0
    assert all(isinstance(e[2][2], float) for e in events)
    assert 'task.get_record' not in fake.methods()
    assert fake.methods()[-1] == 'task.destroy'
    assert xs.call_counts['event.from'] == 3


def test_the_async_call_is_bounded_by_the_call_timeout(fake, xs):
    # xs: call_timeout=11 s (not the default); the task's own limit is apart
    fake.on('event_from', batch('t1', task('success', 1.0, '<value></value>')))
    xs.call_async('pool.join', 'a', 'u', 'p', timeout=TASK_TIMEOUT)
    assert [c[3] for c in fake.calls if c[1] == 'Async.pool.join'] == [11.0]


def test_record_read_after_token_when_not_in_first_batch(fake, xs):
    fake.on('event_from', {'token': 't1', 'events': []},
            batch('t2', task('success', 1.0, '<value></value>')))
    fake.on('task.get_record', task())
    assert xs.call_async('pool.join', 'a', 'u', 'p', timeout=TASK_TIMEOUT) == ''
    methods = fake.methods()
    assert methods.index('event_from') < methods.index('task.get_record')


def test_failure_surfaces_code_and_params(fake, xs):
    fake.on('event_from', batch('t1', task()),
            batch('t2', task('failure', 1.0, error_info=[
                'HOSTS_NOT_HOMOGENEOUS', 'CPUs differ'])))
    with pytest.raises(exception.XapiError) as info:
        xs.call_async('pool.join', 'a', 'u', 'p', timeout=TASK_TIMEOUT)
    assert (info.value.code, info.value.params, info.value.method,
            info.value.host) == ('HOSTS_NOT_HOMOGENEOUS', ['CPUs differ'],
                                 'pool.join', A)
    assert 'task.destroy' in fake.methods()


def test_cancelled_task(fake, xs):
    fake.on('event_from', batch('t1', task('cancelled', 1.0)))
    with pytest.raises(exception.XapiError) as info:
        xs.call_async('pool.join', 'a', 'u', 'p', timeout=TASK_TIMEOUT)
    assert info.value.code == 'TASK_CANCELLED'
    assert info.value.params == [TASK]


def test_timeout_cancels_task(fake, xs, clock):
    def wait(url, classes, token, timeout):
        clock.now += timeout  # xapi waited the full timeout: no event
        return {'token': token or 't1', 'events': [] if token else
                [batch('t1', task())['events'][0]]}
    fake.on('event_from', wait)
    with pytest.raises(exception.XapiTimeout) as info:
        xs.call_async('pool.join', 'a', 'u', 'p', timeout=70.0)
    assert info.value.maybe_applied is True
    assert 'task.cancel' in fake.methods()
    assert clock.now == pytest.approx(70.0)  # default 100 not used
    # each wait bounded by the slice and by what remains
    waits = [c[2][2] for c in fake.calls if c[1] == 'event_from'][1:]
    assert waits == [30.0, 30.0, 10.0]


def test_the_callers_timeout_bounds_the_wait(fake, xs, clock):
    def wait(url, classes, token, timeout):
        clock.now += timeout
        return batch('t1', task())
    fake.on('event_from', wait)
    with pytest.raises(exception.XapiTimeout):
        xs.call_async('pool.join', 'a', 'u', 'p', timeout=TASK_TIMEOUT)
    assert clock.now == pytest.approx(100.0)


def test_xapi_lost_while_waiting_is_maybe_applied(fake, xs):
    # The joiner's xapi restarted: tasks vanish; the outcome is unknown.
    fake.on('event_from', batch('t1', task()),
            ConnectionRefusedError(111, 'refused'))
    with pytest.raises(exception.XapiUnavailable) as info:
        xs.call_async('pool.join', 'a', 'u', 'p', timeout=TASK_TIMEOUT)
    assert info.value.maybe_applied is True
    assert info.value.method == 'pool.join'
    assert fake.methods().count('Async.pool.join') == 1


@pytest.mark.parametrize('error', [
    XenAPI.Failure(['HANDLE_INVALID', 'task', TASK]),
    XenAPI.Failure(['EVENT_FROM_TOKEN_PARSE_FAILURE', 't1']),
])
def test_task_gone_is_unavailable_not_failure(fake, xs, error):
    fake.on('event_from', batch('t1', task()), error)
    with pytest.raises(exception.XapiUnavailable) as info:
        xs.call_async('pool.join', 'a', 'u', 'p', timeout=TASK_TIMEOUT)
    assert info.value.maybe_applied is True


def test_task_deleted_event(fake, xs):
    fake.on('event_from', batch('t1', task()),
            {'token': 't2', 'events': [{'class': 'task', 'operation': 'del',
                                        'ref': TASK}]})
    with pytest.raises(exception.XapiUnavailable):
        xs.call_async('pool.join', 'a', 'u', 'p', timeout=TASK_TIMEOUT)


@pytest.mark.parametrize('method, kept', [
    ('pool.join', True), ('pool.join_force', True), ('pool.eject', True),
    ('pool.designate_new_master', True), ('host.disable', False)])
def test_timeout_of_an_uncancellable_task_keeps_it_running(fake, xs, clock, method, kept):
    # xapi_pool.ml: join, eject and designate run to their end whatever
    # task.cancel says; their task is kept for the caller to follow.
    fake.on('Async.' + method, TASK)

    def wait(url, classes, token, timeout):
        clock.now += timeout
        return batch('t1', task())
    fake.on('event_from', wait)
    with pytest.raises(exception.XapiTimeout) as info:
        xs.call_async(method, 'x', timeout=10.0)
    assert 'task.cancel' in fake.methods()
    assert ('task.destroy' in fake.methods()) is not kept
    assert getattr(info.value, 'still_running', False) is kept
    assert getattr(info.value, 'task_ref', None) == (TASK if kept else None)
    assert info.value.maybe_applied is True


def test_the_task_ref_is_told_once_created_before_it_is_awaited(fake, xs):
    told = []

    def first_event(url, *args):
        told.append(('event.from', list(told)))
        return batch('t1', task('success', 1.0, '<value></value>'))
    fake.on('event_from', first_event)
    xs.call_async('pool.join', 'a', 'u', 'p', timeout=TASK_TIMEOUT,
                  on_task=lambda ref: told.append(ref))
    assert told == [TASK, ('event.from', [TASK])]


def test_the_task_of_a_lost_answer_is_told_when_found(fake, xs):
    fake.on('Async.pool.join', ConnectionResetError(104, 'reset'))
    fake.on('task.get_all_records', {TASK: {'name_label': 'Async.pool.join',
                                            'status': 'pending'}})
    fake.on('event_from', batch('t1', task('success', 1.0, '<value></value>')))
    told = []
    xs.call_async('pool.join', 'a', 'u', 'p', timeout=TASK_TIMEOUT,
                  on_task=told.append)
    assert told == [TASK]
    assert fake.methods().count('Async.pool.join') == 1


def test_no_task_no_ref_told(fake, xs):
    fake.on('Async.pool.join', XenAPI.Failure(['HOSTS_NOT_HOMOGENEOUS', 'x']))
    told = []
    with pytest.raises(exception.XapiError):
        xs.call_async('pool.join', 'a', 'u', 'p', timeout=TASK_TIMEOUT,
                      on_task=told.append)
    assert told == []


@pytest.mark.parametrize('method, followed', [('pool.eject', True), ('pool.join', True),
                                              ('host.disable', False)])
def test_a_wait_answered_an_error_leaves_an_uncancellable_task_unknown(fake, xs, method,
                                                                       followed):
    # NOTE: the fault matrix's eject/master/event.from:is-slave: the wait was
    # answered HOST_IS_SLAVE (a redirect back to a host already seen, not
    # followed) while the eject ran on: deciding then would fail an eject
    # that completes (xapi_pool.ml runs it to its end). The caller follows it.
    fake.on('Async.' + method, TASK)
    fake.on('event_from', XenAPI.Failure(['HOST_IS_SLAVE', '192.0.2.1']))
    with pytest.raises(exception.XenPoolError) as info:
        xs.call_async(method, 'x', timeout=10.0)
    if followed:
        assert isinstance(info.value, exception.XapiTimeout)
        assert info.value.still_running and info.value.task_ref == TASK
        assert 'HOST_IS_SLAVE' in str(info.value) and info.value.maybe_applied
    else:
        assert isinstance(info.value, exception.XapiError)
        assert info.value.code == 'HOST_IS_SLAVE'
    assert 'task.destroy' not in fake.methods()
