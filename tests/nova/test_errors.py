"""xenpool_driver.nova.errors: the one place our errors become Nova's."""

import pytest
from nova import exception as nova_exception

from xenpool_driver import exception
from xenpool_driver.nova import errors
from xenpool_driver.xapi import preflight

XAPI = exception.XapiError('HOST_IS_SLAVE', ['192.0.2.1'], method='pool.join',
                           host='https://192.0.2.2')
PREFLIGHT = exception.PreflightFailed(
    'add_to_aggregate', 7, 'compute-2',
    [preflight.Mismatch('POOL_JOINING_HOST_MANAGEMENT_VLAN_DOES_NOT_MATCH', ['-1', '10'],
                        'management VLAN differs')])
REFUSED = exception.InvalidAggregateAction('remove_from_aggregate', 7, 'setup in progress')
UNAVAILABLE = exception.XapiUnavailable('https://192.0.2.2', 'ECONNREFUSED', 'pool.join')


@pytest.mark.parametrize('exc, action, nova_type, code', [
    (XAPI, errors.ADD, nova_exception.AggregateError, 'HOST_IS_SLAVE'),
    (XAPI, errors.REMOVE, nova_exception.AggregateError, 'HOST_IS_SLAVE'),
    (PREFLIGHT, errors.ADD, nova_exception.AggregateError,
     'POOL_JOINING_HOST_MANAGEMENT_VLAN_DOES_NOT_MATCH'),
    (REFUSED, errors.ADD, nova_exception.AggregateError, None),
    (REFUSED, errors.REMOVE, nova_exception.InvalidAggregateActionDelete, None),
    (UNAVAILABLE, errors.REMOVE, nova_exception.AggregateError, None),
    (KeyError('bug'), errors.ADD, nova_exception.AggregateError, None),
])
def test_to_nova(exc, action, nova_type, code):
    out = errors.to_nova(exc, action, 7)
    assert type(out) is nova_type
    assert out.kwargs['aggregate_id'] == 7
    assert out.kwargs['xapi_code'] == code
    assert str(exc) in str(out)
    if code:
        assert code in str(out)


def test_a_refused_remove_is_not_an_aggregate_error():
    """Nova's manager passes set_error=isinstance(e, AggregateError) to the undo."""
    out = errors.to_nova(REFUSED, errors.REMOVE, 7)
    assert isinstance(out, nova_exception.InvalidAggregateAction)
    assert not isinstance(out, nova_exception.AggregateError)


def test_xapi_params_travel_in_kwargs():
    out = errors.to_nova(XAPI, errors.ADD, 7)
    assert out.kwargs['xapi_params'] == ['192.0.2.1']
    assert out.kwargs['action'] == errors.ADD
