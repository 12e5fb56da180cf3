"""session.login_with_password / logout as xapi answers them."""

import pytest
import XenAPI

from tests.passwords import PASSWORD, WRONG_PASSWORD
from tests.unit.simulator.conftest import failure, in_thread, join, jsonrpc, sdk
from xenpool_driver.simulator import Timings
from xenpool_driver.simulator.clock import ManualClock


@pytest.mark.parametrize('params', [
    ['root', PASSWORD], ['root', PASSWORD, '1.1'], ['root', PASSWORD, '2.21', 'me'],
])
def test_login_takes_two_to_four_params(lab, params):
    result = jsonrpc(lab.hosts[0], 'session.login_with_password', params)
    assert result['result'].startswith('OpaqueRef:')
    rec = jsonrpc(lab.hosts[0], 'session.get_record', [result['result'], result['result']])
    assert rec['result']['this_host'] == lab.hosts[0].ref


def test_login_five_params(lab):
    result = jsonrpc(lab.hosts[0], 'session.login_with_password', ['root', PASSWORD, 'a', 'b', 'c'])
    assert result['error'] == ['MESSAGE_PARAMETER_COUNT_MISMATCH',
                               'session.login_with_password', '4', '5']


@pytest.mark.parametrize('user, password', [('root', WRONG_PASSWORD), ('admin', PASSWORD)])
def test_authentication_failure_after_scaled_delay(make_lab, user, password):
    # NOTE: xapi_session.ml: a failed login is answered after a delay.
    clock = ManualClock()
    lab = make_lab(1, timings=Timings(auth_failure_delay=50.0), clock=clock)   # 0.1 s
    s = XenAPI.Session(lab.hosts[0].url)
    answer = in_thread(failure, s.xenapi.login_with_password, user, password)
    clock.wait_for_deadline(clock.monotonic() + 0.1)
    clock.advance(0.1)
    assert answer() == ['SESSION_AUTHENTICATION_FAILED', user, 'Authentication failure']


def test_host_is_slave_comes_before_the_password_check(lab):
    join(lab, 1)
    s = XenAPI.Session(lab.hosts[1].url)
    assert failure(s.xenapi.login_with_password, 'root', WRONG_PASSWORD) == [
        'HOST_IS_SLAVE', lab.hosts[0].address]


def test_logout_invalidates(lab):
    h = lab.hosts[0]
    session = jsonrpc(h, 'session.login_with_password', ['root', PASSWORD])['result']
    assert jsonrpc(h, 'session.logout', [session])['result'] == ''
    assert jsonrpc(h, 'pool.get_all', [session])['error'] == ['SESSION_INVALID', session]


def test_session_getters(lab):
    s = sdk(lab.hosts[0])
    assert s.xenapi.session.get_this_host(s._session) == lab.hosts[0].ref
    assert s.xenapi.session.get_pool(s._session) is False


def test_master_session_on_slave_is_host_is_slave(lab):
    m = sdk(lab.hosts[0])
    join(lab, 1)
    # the session is valid pool-wide (master DB) but xapi refuses non-pool
    # sessions on a slave (session_check.ml)
    proxy = XenAPI.xmlrpclib.ServerProxy(lab.hosts[1].url)
    assert proxy.pool.get_all(m._session)['ErrorDescription'] == [
        'HOST_IS_SLAVE', lab.hosts[0].address]


def test_slave_accepts_sessions_option(make_lab):
    lab = make_lab(2, slave_accepts_sessions=True)
    m = sdk(lab.hosts[0])
    join(lab, 1)
    proxy = XenAPI.xmlrpclib.ServerProxy(lab.hosts[1].url)
    assert proxy.pool.get_all(m._session)['Value'] == m.xenapi.pool.get_all()
