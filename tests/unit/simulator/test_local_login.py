"""xapi's local socket and local sessions.

Follows ``ocaml/xapi/xapi_session.ml`` (login_with_password with
``Context.preauth = Some `root``, slave_local_login_with_password,
local_logout, ``Xapi_local_session``), ``ocaml/xapi/session_check.ml`` (a
local session is good on its host), ``ocaml/xapi/api_server.ml`` and
``api_server_common.ml`` (a slave forwards Unix-socket calls outside
``Datamodel.whitelist`` to its master; in emergency mode only
``Datamodel.emergency_calls`` are dispatched).
"""

import xmlrpc.client

import pytest
import XenAPI

from tests.passwords import WRONG_PASSWORD
from tests.unit.simulator.conftest import failure, in_thread, join, sdk
from xenpool_driver.simulator import Timings
from xenpool_driver.simulator.clock import ManualClock


def uds(host):
    """An SDK session object on ``host``'s Unix socket (not logged in)."""
    assert '_' not in host.uds_path
    return XenAPI.Session('http://%s/' % host.uds_path.replace('/', '_'),
                          transport=XenAPI.UDSTransport())


def raw(s, method, *args):
    """The wire answer of ``method`` with ``s``'s session (no SDK re-login)."""
    return xmlrpc.client.ServerProxy.__getattr__(s, method)(s._session, *args)


@pytest.fixture
def ulab(make_lab):
    return make_lab(2, unix_sockets=True,
                    timings=Timings(auth_failure_delay=10000.0))   # 20 s scaled


def test_unix_socket_caller_is_root_without_a_password(ulab):
    s = uds(ulab.hosts[0])
    s.xenapi.login_with_password('root', WRONG_PASSWORD, '2.21', 'tests')
    rec = s.xenapi.session.get_record(s._session)
    assert rec['is_local_superuser'] is True and rec['auth_user_name'] == 'root'
    assert s.xenapi.pool.get_all() == [ulab.hosts[0].db.pool_ref()]
    s.xenapi.session.logout()


def test_a_slave_forwards_unix_socket_calls_to_its_master(ulab):
    join(ulab, 1)
    s = uds(ulab.hosts[1])
    # NOTE: login_with_password is whitelisted: the slave runs it, no HOST_IS_SLAVE.
    s.xenapi.login_with_password('root', '', '2.21', 'tests')
    assert sorted(s.xenapi.host.get_all()) == sorted(h.ref for h in ulab.hosts)
    before = ulab.hosts[0].call_counts().get('host.get_all', 0)
    s.xenapi.host.get_all()
    assert ulab.hosts[0].call_counts()['host.get_all'] == before + 1   # run by the master
    # The same session over the network on the slave: a non-pool session.
    net = XenAPI.Session(ulab.hosts[1].url)
    net._session = s._session
    assert failure(net.xenapi.host.get_all) == ['HOST_IS_SLAVE', ulab.hosts[0].address]


def test_slave_local_login_with_password_on_a_slave(ulab):
    join(ulab, 1)
    slave = ulab.hosts[1]
    s = XenAPI.Session(slave.url)
    s.slave_local_login_with_password('root', ulab.password)
    assert sorted(s.xenapi.host.get_all()) == sorted(h.ref for h in ulab.hosts)
    # A local session has no record in the database.
    assert failure(s.xenapi.session.get_record, s._session)[0] == 'HANDLE_INVALID'
    s.xenapi.session.local_logout()
    assert raw(s, 'host.get_all')['ErrorDescription'] == ['SESSION_INVALID', s._session]


def test_slave_local_login_refused_at_once(make_lab):
    # NOTE: xapi_session.ml slave_local_login_with_password: no failed-login
    # delay. On a clock that never moves, login_with_password's refusal
    # would never come; this one does.
    ulab = make_lab(2, unix_sockets=True, clock=ManualClock(),
                    timings=Timings(auth_failure_delay=10000.0))
    s = XenAPI.Session(ulab.hosts[0].url)
    assert in_thread(failure, s.slave_local_login_with_password, 'root',
                     WRONG_PASSWORD)() == \
        ['SESSION_AUTHENTICATION_FAILED', 'root', 'Authentication failure']
    # On the Unix socket no password is looked at.
    u = uds(ulab.hosts[0])
    u.slave_local_login_with_password('root', WRONG_PASSWORD)
    assert u.xenapi.host.get_all() == [ulab.hosts[0].ref]


def test_local_sessions_die_with_xapi(ulab):
    h = ulab.hosts[0]
    s = XenAPI.Session(h.url)
    s.slave_local_login_with_password('root', ulab.password)
    ulab.stop(0)
    ulab.start_host(0, boot=False)
    assert raw(s, 'host.get_all')['ErrorDescription'] == ['SESSION_INVALID', s._session]
    u = uds(h)      # the Unix socket is back with xapi
    u.xenapi.login_with_password('root', '', '2.21', 'tests')


def test_emergency_mode_answers_only_emergency_calls(ulab):
    join(ulab, 1)
    master = sdk(ulab.hosts[0])
    ulab.stop(1, mark_offline=True)
    master.xenapi.host.destroy(ulab.hosts[1].ref)
    ulab.start_host(1, boot=False)          # boots as a slave its master forgot
    slave = ulab.hosts[1]
    assert slave.state == 'emergency'
    s = XenAPI.Session(slave.url)
    assert failure(s.xenapi.login_with_password, 'root', ulab.password) == \
        ['HOST_UNKNOWN_TO_MASTER', slave.uuid]
    s.slave_local_login_with_password('root', ulab.password)
    assert failure(s.xenapi.host.get_all) == ['HOST_UNKNOWN_TO_MASTER', slave.uuid]
    s.xenapi.session.local_logout()
