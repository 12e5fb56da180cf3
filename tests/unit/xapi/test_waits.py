"""wait_for: event.from driven, token before the first read, across restarts."""

import dataclasses

import pytest
import XenAPI

from tests.unit.xapi.fakes import A
from xenpool_driver import exception
from xenpool_driver.xapi import recovery

def test_wait_for_token_before_check_and_result(fake, xs):
    fake.on('event_from', {'token': 't1', 'events': []},
            {'token': 't2', 'events': [{}]})
    order = []
    results = iter([None, 'done'])

    def check():
        order.append(('check', len(fake.calls)))
        return next(results)
    assert xs.wait_for(['host'], check, 50.0, 'host live') == 'done'
    assert [c[1:3] for c in fake.calls if c[1] == 'event_from'] == [
        ('event_from', (['host'], '', 0.0)),
        ('event_from', (['host'], 't1', 30.0))]
    # first check after the token-taking event.from
    assert fake.methods()[:2] == ['login_with_password', 'event_from']


def test_wait_for_survives_restart(fake, xs, clock):
    # xapi restarts: refused, then still booting, then the session is gone
    # and the master moved - the wait re-connects and re-takes a token.
    refused = ConnectionRefusedError(111, 'refused')
    fake.on_url(A, 'event_from', {'token': 't1', 'events': []},
                refused, refused, refused, refused,
                XenAPI.Failure(['HOST_STILL_BOOTING']),
                XenAPI.Failure(['HOST_IS_SLAVE', '192.0.2.2']))
    fake.on_url('https://192.0.2.2', 'event_from',
                {'token': 'u1', 'events': []})
    checks = iter([None, 'live'])
    assert xs.wait_for(['host'], lambda: next(checks), 50.0, 'live') == 'live'
    assert xs.url == 'https://192.0.2.2'
    tokens = [c[2][1] for c in fake.calls if c[1] == 'event_from']
    assert tokens[-1] == ''  # a fresh token at the new master
    assert clock.now < 50.0


def test_wait_for_times_out(fake, xs, clock):
    def wait(url, classes, token, timeout):
        clock.now += timeout
        return {'token': 't', 'events': []}
    fake.on('event_from', wait)
    with pytest.raises(exception.XapiTimeout) as info:
        xs.wait_for(['host'], lambda: None, 45.0, 'host h1 live')
    assert 'host h1 live' in str(info.value)
    assert clock.now == pytest.approx(45.0)


def test_wait_for_restart_until_deadline(fake, xs, clock):
    fake.on('event_from', ConnectionRefusedError(111, 'refused'))
    with pytest.raises(exception.XapiTimeout) as info:
        xs.wait_for(['host'], lambda: None, 20.0, 'pool settled')
    assert 'refused' in str(info.value)
    assert clock.now >= 20.0


def test_wait_for_propagates_real_errors(fake, xs):
    fake.on('event_from', {'token': 't1', 'events': []})

    def check():
        raise exception.XapiError('HOST_OFFLINE', ['OpaqueRef:h'])
    with pytest.raises(exception.XapiError):
        xs.wait_for(['host'], check, 10.0, 'x')


def test_wait_for_backs_off_by_the_restart_wait_policy(fake, xs, clock, monkeypatch):
    monkeypatch.setattr(recovery, 'RESTART_WAIT', dataclasses.replace(
        recovery.RESTART_WAIT, wait_initial=7.0, wait_max=7.0))
    booting = XenAPI.Failure(['HOST_STILL_BOOTING'])
    fake.on('event_from', booting, booting, {'token': 't1', 'events': []})
    assert xs.wait_for(['host'], lambda: 'up', 50.0, 'up') == 'up'
    # NOTE: only the wait's own back-off: no nested read-only retry inside it
    assert clock.slept == [7.0, 7.0]


def test_read_only_calls_outside_a_wait_keep_their_retries(fake, xs, clock):
    booting = XenAPI.Failure(['HOST_STILL_BOOTING'])
    fake.on('pool.get_all', booting, ['OpaqueRef:p'])
    assert xs.call('pool.get_all') == ['OpaqueRef:p']
    assert clock.slept == [recovery.RETRY_READ.backoff(0)]


def test_wait_for_says_what_it_waits_for_when_xapi_stops_answering(fake, xs, clock):
    refused = ConnectionRefusedError(111, 'refused')
    fake.on_url(A, 'event_from', {'token': 't1', 'events': []}, refused, refused,
                {'token': 't2', 'events': []}, {'token': 't3', 'events': []})
    told = []
    checks = iter([None, None, 'live'])
    assert xs.wait_for(['host'], lambda: next(checks), 50.0, 'host X enabled and live',
                       on_wait=told.append) == 'live'
    # NOTE: said once when xapi stopped answering, once when it was back
    assert len(told) == 2, told
    assert told[0].startswith('waiting for host X enabled and live: ')
    assert 'of 50 s' in told[0] and 'not answering' in told[0] and A in told[0]
    assert 'not answering' not in told[1]


def test_wait_for_reports_a_long_wait_every_interval(fake, xs, clock):
    def wait(url, classes, token, timeout):
        clock.now += timeout
        return {'token': 't', 'events': []}
    fake.on_url(A, 'event_from', wait)
    told = []
    with pytest.raises(exception.XapiTimeout):
        xs.wait_for(['host'], lambda: None, 100.0, 'the join task',
                    on_wait=told.append)
    # 100 s in 30 s slices: reported at 30, 60 and 90 s, never silent for long
    assert [t.split(': ')[1] for t in told] == ['30 s of 100 s', '60 s of 100 s',
                                                 '90 s of 100 s']
