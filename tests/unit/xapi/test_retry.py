"""The named retry policies: what is retried, how often, never for real."""

import pytest

from xenpool_driver import exception
from xenpool_driver.xapi import errors
from xenpool_driver.xapi import retry
from xenpool_driver.xapi.session import SessionSettings

from tests import passwords


class Clock(object):
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def settings(**kw):
    return SessionSettings('root', passwords.PASSWORD, **kw)


def unavailable(kind):
    err = exception.XapiUnavailable('h', kind)
    err.kind = kind
    return err


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
    assert retry.is_read_only(method) is read_only
    assert retry.policy_for(method) is (
        retry.READ_ONLY if read_only else retry.NEVER)


@pytest.mark.parametrize('err, transient', [
    (unavailable(errors.REFUSED), True),
    (unavailable(errors.RESET), True),
    (unavailable(errors.TIMEOUT), False),
    (unavailable(errors.TLS), False),
    (unavailable(errors.PROTOCOL), False),
    (exception.XapiError('HOST_STILL_BOOTING'), True),
    (exception.XapiError('HOST_IS_SLAVE', ['10.0.0.1']), False),
    (exception.XapiError('SESSION_AUTHENTICATION_FAILED'), False),
    (ValueError('x'), False),
])
def test_transient_table(err, transient):
    assert retry.is_transient(err) is transient


def flaky(failures, result='ok'):
    calls = []

    def fn():
        calls.append(1)
        if len(calls) <= len(failures):
            raise failures[len(calls) - 1]
        return result
    return fn, calls


@pytest.mark.parametrize('policy, attempts', [
    (retry.LOGIN, 5), (retry.READ_ONLY, 4), (retry.NEVER, 1)])
def test_attempts_bounded_and_last_error_reraised(policy, attempts):
    clock = Clock()
    fn, calls = flaky([unavailable(errors.REFUSED)] * 10)
    with pytest.raises(exception.XapiUnavailable):
        policy.call(fn, settings(login_timeout=1000, call_timeout=1000),
                    sleep=clock.sleep, clock=clock)
    assert len(calls) == attempts


def test_retry_succeeds_after_transient_errors_without_sleeping():
    clock = Clock()
    fn, calls = flaky([unavailable(errors.RESET),
                       exception.XapiError('HOST_STILL_BOOTING')])
    assert retry.READ_ONLY.call(fn, settings(), sleep=clock.sleep,
                                clock=clock) == 'ok'
    assert len(calls) == 3
    assert 0 < clock.now <= 5.0  # back-off went to the injected sleep


def test_never_policy_does_not_retry_a_join():
    fn, calls = flaky([unavailable(errors.RESET)])
    with pytest.raises(exception.XapiUnavailable):
        retry.NEVER.call(fn, settings(), sleep=pytest.fail)
    assert len(calls) == 1


def test_budget_from_settings_stops_retrying():
    # login_timeout=1s: the second back-off would exceed the budget.
    clock = Clock()

    def fn():
        clock.now += 0.6  # each attempt costs time
        raise unavailable(errors.REFUSED)
    with pytest.raises(exception.XapiUnavailable):
        retry.LOGIN.call(fn, settings(login_timeout=1.0), sleep=clock.sleep,
                         clock=clock)
    assert clock.now < 3.0


def test_budget_is_honoured():
    # Same failures, a larger budget: more attempts (fails if ignored).
    counts = []
    for budget in (1.0, 100.0):
        clock = Clock()
        fn, calls = flaky([unavailable(errors.REFUSED)] * 10)

        def timed():
            clock.now += 0.6
            return fn()
        with pytest.raises(exception.XapiUnavailable):
            retry.LOGIN.call(timed, settings(login_timeout=budget),
                             sleep=clock.sleep, clock=clock)
        counts.append(len(calls))
    assert counts[0] < counts[1] == 5


def test_non_transient_error_not_retried():
    fn, calls = flaky([exception.XapiError('HOSTS_NOT_COMPATIBLE')])
    with pytest.raises(exception.XapiError):
        retry.READ_ONLY.call(fn, settings(), sleep=pytest.fail)
    assert len(calls) == 1
