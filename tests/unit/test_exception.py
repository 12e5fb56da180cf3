"""The error classes declare their fields; refusals are one branch."""

import pytest

from xenpool_driver import exception


def test_unavailability_declares_its_kind_and_refuses_an_unknown_one():
    err = exception.XapiUnavailable('https://h', 'refused', kind=exception.REFUSED)
    assert err.kind == exception.REFUSED and err.maybe_applied is False
    assert exception.XapiUnavailable('https://h', 'x').kind is None
    with pytest.raises(ValueError, match='unknown kind'):
        exception.XapiUnavailable('https://h', 'x', kind='weird')


def test_timeouts_and_protocol_errors_have_their_kind_by_default():
    assert exception.XapiTimeout('https://h', 'slow').kind == exception.TIMEOUT
    assert exception.XapiProtocolError('https://h', 'junk').kind == exception.PROTOCOL
    timed_out = exception.XapiTimeout('https://h', 'slow', task_ref='OpaqueRef:t',
                                      still_running=True)
    assert (timed_out.task_ref, timed_out.still_running) == ('OpaqueRef:t', True)


def test_pool_refusals_are_refusals_but_not_aggregate_errors():
    refused = exception.OperationRefused('pool.eject', 'uuid-1', 'it is the master')
    assert isinstance(refused, exception.Refused)
    assert not isinstance(refused, exception.InvalidAggregateAction)
    assert (refused.action, refused.host, refused.reason) == (
        'pool.eject', 'uuid-1', 'it is the master')
    claimed = exception.HostClaimed('pool.join', 'uuid-2', 'claimed', pool_uuid='p')
    assert isinstance(claimed, exception.OperationRefused) and claimed.pool_uuid == 'p'


def test_aggregate_refusals_carry_the_aggregate():
    refused = exception.InvalidAggregateAction('add_to_aggregate', 7, 'changing')
    assert isinstance(refused, exception.Refused)
    assert (refused.action, refused.aggregate_id, refused.reason) == (
        'add_to_aggregate', 7, 'changing')
    assert 'aggregate 7' in str(refused)
