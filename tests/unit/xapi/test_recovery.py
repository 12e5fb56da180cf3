"""The named recovery policies: when each applies, its limit, its back-off.

Every test runs on an injected clock and sleep: nothing sleeps for real.
"""

import pytest

from tests import passwords
from tests.unit.xapi.fakes import Clock
from xenpool_driver import exception
from xenpool_driver.xapi import recovery
from xenpool_driver.xapi.settings import SessionSettings


def settings(**kw):
    return SessionSettings('root', passwords.PASSWORD, **kw)


def unavailable(kind, method=None):
    return exception.XapiUnavailable('h', kind, method=method, kind=kind)


def slave(master='192.0.2.1', method='pool.get_all'):
    return exception.XapiError('HOST_IS_SLAVE', [master], method=method)


@pytest.mark.parametrize('method, read_only', [
    ('pool.get_all', True),
    ('pool.get_all_records', True),
    ('host.get_record', True),
    ('host.get_by_uuid', True),
    ('session.get_this_host', True),
    ('event.from', True),
    ('event_from', True),
    ('pool.join', False),
    ('pool.join_force', False),
    ('pool.eject', False),
    ('pool.designate_new_master', False),
    ('pool.set_name_label', False),
    ('host.destroy', False),
    ('task.cancel', False),
    ('Async.pool.join', False),
    ('Async.host.get_record', False),
])
def test_read_only_table(method, read_only):
    assert recovery.is_read_only(method) is read_only
    assert (recovery.RETRY_READ in recovery.policies_for(method)) is read_only


@pytest.mark.parametrize('policy, method, err, applies', [
    # HOST_IS_SLAVE: refused before executing, whatever the method
    (recovery.FOLLOW_MASTER, 'pool.join', slave(), True),
    (recovery.FOLLOW_MASTER, recovery.LOGIN, slave(), True),
    (recovery.FOLLOW_MASTER, 'pool.get_all',
     exception.XapiError('HOST_IS_SLAVE', []), False),        # nowhere to go
    (recovery.FOLLOW_MASTER, 'pool.get_all', unavailable(exception.RESET), False),
    # SESSION_INVALID: the call was not run; the login itself is not retried
    (recovery.LOGIN_AGAIN, 'pool.eject', exception.XapiError('SESSION_INVALID'), True),
    (recovery.LOGIN_AGAIN, recovery.LOGIN, exception.XapiError('SESSION_INVALID'), False),
    # transient: read-only calls only
    (recovery.RETRY_READ, 'pool.get_all', unavailable(exception.REFUSED), True),
    (recovery.RETRY_READ, 'pool.get_all', unavailable(exception.RESET), True),
    (recovery.RETRY_READ, 'pool.get_all', exception.XapiError('HOST_STILL_BOOTING'), True),
    (recovery.RETRY_READ, 'pool.get_all', unavailable(exception.TIMEOUT), False),
    (recovery.RETRY_READ, 'pool.get_all', unavailable(exception.TLS), False),
    (recovery.RETRY_READ, 'pool.get_all', unavailable(exception.PROTOCOL), False),
    (recovery.RETRY_READ, 'pool.get_all',
     exception.XapiError('SESSION_AUTHENTICATION_FAILED'), False),
    (recovery.RETRY_READ, 'pool.join', unavailable(exception.RESET), False),
    (recovery.RETRY_READ, recovery.LOGIN, unavailable(exception.REFUSED), False),
    (recovery.RETRY_LOGIN, recovery.LOGIN, unavailable(exception.REFUSED), True),
    (recovery.RETRY_LOGIN, 'pool.get_all', unavailable(exception.REFUSED), False),
    # a wait across a restart: not TLS, not garbage
    (recovery.RESTART_WAIT, 'event.from', unavailable(exception.REFUSED), True),
    (recovery.RESTART_WAIT, 'event.from', exception.XapiError('EVENTS_LOST'), True),
    (recovery.RESTART_WAIT, 'event.from', unavailable(exception.TLS), False),
    (recovery.RESTART_WAIT, 'event.from', unavailable(exception.PROTOCOL), False),
    (recovery.RESTART_WAIT, 'event.from', exception.XapiError('HANDLE_INVALID'), False),
    (recovery.RETRY_READ, 'pool.get_all', ValueError('a bug'), False),
])
def test_when_each_policy_applies(policy, method, err, applies):
    assert policy.applies(method, err) is applies


def flaky(failures, result='ok'):
    calls = []

    def fn():
        calls.append(1)
        if len(calls) <= len(failures):
            raise failures[len(calls) - 1]
        return result
    return fn, calls


@pytest.mark.parametrize('method, limit, retries', [
    (recovery.LOGIN, 'login_retries', 4), ('pool.get_all', 'read_retries', 3)])
def test_retries_bounded_by_settings_and_last_error_reraised(method, limit, retries):
    for configured in (retries, retries + 3):
        clock = Clock()
        fn, calls = flaky([unavailable(exception.REFUSED, method)] * 20)
        plan = recovery.Plan(method, recovery.policies_for(method),
                             settings(login_timeout=1000, call_timeout=1000,
                                      **{limit: configured}), clock)
        with pytest.raises(exception.XapiUnavailable):
            plan.call(fn, clock.sleep)
        assert len(calls) == configured + 1


def test_a_join_is_never_retried():
    fn, calls = flaky([unavailable(exception.RESET, 'pool.join')])
    plan = recovery.Plan('pool.join', recovery.policies_for('pool.join'), settings())
    with pytest.raises(exception.XapiUnavailable):
        plan.call(fn, pytest.fail)
    assert len(calls) == 1


def test_back_off_goes_to_the_injected_sleep_and_doubles():
    clock = Clock()
    fn, calls = flaky([unavailable(exception.RESET)] * 3)
    plan = recovery.Plan('pool.get_all', recovery.policies_for('pool.get_all'),
                         settings(), clock)
    assert plan.call(fn, clock.sleep) == 'ok'
    assert clock.slept == [0.5, 1.0, 2.0]


@pytest.mark.parametrize('budget, retries', [(1.0, 1), (100.0, 4)])
def test_the_time_budget_from_settings_stops_retrying(budget, retries):
    # each attempt costs 0.6 s: login_timeout=1 s allows one retry only
    clock = Clock()
    fn, calls = flaky([unavailable(exception.REFUSED, recovery.LOGIN)] * 10)

    def timed():
        clock.now += 0.6
        return fn()
    plan = recovery.Plan(recovery.LOGIN, recovery.policies_for(recovery.LOGIN),
                         settings(login_timeout=budget), clock)
    with pytest.raises(exception.XapiUnavailable):
        plan.call(timed, clock.sleep)
    assert len(calls) == retries + 1


@pytest.mark.parametrize('budget, retries', [(1.0, 1), (100.0, 3)])
def test_the_call_timeout_is_the_time_budget_of_read_retries(budget, retries):
    # each attempt costs 0.6 s: call_timeout=1 s allows one retry only
    clock = Clock()
    fn, calls = flaky([unavailable(exception.REFUSED, 'pool.get_all')] * 10)

    def timed():
        clock.now += 0.6
        return fn()
    plan = recovery.Plan('pool.get_all', recovery.policies_for('pool.get_all'),
                         settings(call_timeout=budget), clock)
    with pytest.raises(exception.XapiUnavailable):
        plan.call(timed, clock.sleep)
    assert len(calls) == retries + 1


def test_follow_master_runs_its_hook_and_does_not_sleep():
    followed = []
    fn, calls = flaky([slave('192.0.2.9')])
    plan = recovery.Plan('pool.get_all', recovery.policies_for('pool.get_all'),
                         settings(), on_retry=lambda p, e: followed.append(
                             (p.name, e.params[0])))
    slept = []
    assert plan.call(fn, slept.append) == 'ok'
    assert followed == [('follow-master', '192.0.2.9')] and slept == [0.0]


def test_a_hook_that_raises_ends_the_call():
    err = slave()

    def refuse(policy, error):
        raise error
    fn, calls = flaky([err])
    plan = recovery.Plan('pool.get_all', recovery.policies_for('pool.get_all'),
                         settings(), on_retry=refuse)
    with pytest.raises(exception.XapiError) as info:
        plan.call(fn, pytest.fail)
    assert info.value is err and len(calls) == 1  # NOTE: raised before any sleep


def test_a_login_failure_inside_a_call_is_not_retried_by_the_call():
    # NOTE: the login had its own plan (RETRY_LOGIN); the read's plan keys on
    # the method that failed and leaves it alone
    fn, calls = flaky([unavailable(exception.REFUSED, recovery.LOGIN)])
    plan = recovery.Plan('pool.get_all', recovery.policies_for('pool.get_all'),
                         settings())
    with pytest.raises(exception.XapiUnavailable):
        plan.call(fn, pytest.fail)
    assert len(calls) == 1


def test_inside_a_wait_transient_errors_fail_fast():
    with recovery.waiting():
        inside = recovery.policies_for('pool.get_all')
        login = recovery.policies_for(recovery.LOGIN)
    assert recovery.RETRY_READ not in inside and login == ()
    assert recovery.FOLLOW_MASTER in inside and recovery.LOGIN_AGAIN in inside
    assert recovery.RETRY_READ in recovery.policies_for('pool.get_all')


def test_restart_wait_backs_off_briefly():
    assert [recovery.RESTART_WAIT.backoff(i) for i in range(5)] == [0.1, 0.2, 0.25, 0.25, 0.25]
    assert recovery.FOLLOW_MASTER.backoff(3) == 0.0


@pytest.mark.parametrize('err, applies', [
    (exception.XapiError('INTERNAL_ERROR', ['x'], method='event.from'), True),
    (exception.XapiError('HANDLE_INVALID', ['task'], method='event.from'), False),
    (exception.XapiError('EVENTS_LOST', [], method='event.from'), False),
    (unavailable(exception.RESET, 'event.from'), False),
])
def test_a_stray_error_of_a_task_wait_is_waited_again_a_lost_task_is_not(err, applies):
    assert recovery.TASK_WAIT_AGAIN.applies('event.from', err) is applies
    assert recovery.TASK_WAIT_AGAIN.retries(settings()) == 2
