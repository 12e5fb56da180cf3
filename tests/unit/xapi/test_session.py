"""XapiSession over a mocked XenAPI SDK (at the session_factory boundary)."""

import threading
import xmlrpc.client

import pytest
import XenAPI

from tests import passwords
from tests.unit.xapi.fakes import A, B, settings
from xenpool_driver import conf as xconf
from xenpool_driver import exception
from xenpool_driver.xapi.session import XapiSession
from xenpool_driver.xapi.settings import SessionSettings


@pytest.fixture
def make(fake, clock):
    handles = []

    def _make(url=A, **kw):
        xs = XapiSession(url, settings(**kw), sleep=clock.sleep, clock=clock,
                         session_factory=fake.factory)
        handles.append(xs)
        return xs
    yield _make


def test_address_property():
    assert XapiSession('https://[fd00::1]:443', settings()).address == 'fd00::1'
    assert XapiSession('http://127.0.0.1:9000', settings()).address == '127.0.0.1'


# -- login ----------------------------------------------------------------

def test_login_through_intercepted_path_with_timeout(fake, make):
    fake.on('pool.get_all', ['OpaqueRef:p'])
    xs = make()
    assert xs.call('pool.get_all') == ['OpaqueRef:p']
    login, get_all = fake.calls
    assert login == (A, 'login_with_password',
                     ('root', passwords.PASSWORD, '2.0', 'xenpool_driver'), 7.0)
    assert get_all == (A, 'pool.get_all', (), 11.0)


def test_login_sends_the_configured_username_and_password(fake, clock):
    # NOTE: the shared fake settings use the default username (root): here
    # both credentials differ from the defaults and come from [xenserver]
    conf = xconf.build(xenserver={'connection_username': 'xp-operator',
                                  'connection_password': passwords.OTHER_PASSWORD})
    fake.on('pool.get_all', [])
    XapiSession(A, SessionSettings.from_conf(conf), sleep=clock.sleep, clock=clock,
                session_factory=fake.factory).call('pool.get_all')
    assert fake.calls[0][1:3] == ('login_with_password', (
        'xp-operator', passwords.OTHER_PASSWORD, '2.0', 'xenpool_driver'))


def test_login_once_per_pooled_session(fake, make):
    fake.on('pool.get_all', [])
    xs = make()
    for _ in range(3):
        xs.call('pool.get_all')
    assert fake.methods().count('login_with_password') == 1
    assert len(fake.sessions) == 1


def test_event_from_socket_timeout_adds_wait(fake, make):
    fake.on('event_from', {'events': [], 'token': 't1'})
    xs = make()
    xs.event_from(['host'], 't0', 5)
    call = fake.calls[-1]
    assert call[1:3] == ('event_from', (['host'], 't0', 5.0))
    assert isinstance(call[2][2], float)
    assert call[3] == 11.0 + 5.0


def test_login_retried_on_host_still_booting(fake, make, clock):
    fake.on('login_with_password', XenAPI.Failure(['HOST_STILL_BOOTING']),
            XenAPI.Failure(['HOST_STILL_BOOTING']), None)
    fake.on('pool.get_all', [])
    xs = make()
    xs.call('pool.get_all')
    assert fake.methods().count('login_with_password') == 3
    assert len(clock.slept) == 2


def test_login_auth_failure_not_retried_and_redacted(fake, make, caplog):
    fake.on('login_with_password', XenAPI.Failure(
        ['SESSION_AUTHENTICATION_FAILED', 'root',
         'Authentication failure for %s' % passwords.PASSWORD]))
    xs = make()
    with pytest.raises(exception.XapiError) as info:
        xs.call('pool.join', '192.0.2.9', 'root', passwords.OTHER_PASSWORD)
    assert info.value.code == 'SESSION_AUTHENTICATION_FAILED'
    assert fake.methods() == ['login_with_password']
    text = str(info.value) + repr(info.value.params) + caplog.text
    assert passwords.PASSWORD not in text
    assert passwords.OTHER_PASSWORD not in text


def test_call_args_never_logged(fake, make, caplog):
    caplog.set_level('DEBUG')
    fake.on('pool.join', '')
    xs = make()
    xs.call('pool.join', '192.0.2.9', 'root', passwords.OTHER_PASSWORD)
    assert 'pool.join' in caplog.text
    assert passwords.OTHER_PASSWORD not in caplog.text
    assert passwords.PASSWORD not in caplog.text


# -- HOST_IS_SLAVE ----------------------------------------------------------

def test_redirect_at_login(fake, make):
    fake.on_url(A, 'login_with_password', XenAPI.Failure(['HOST_IS_SLAVE', '192.0.2.2']))
    fake.on('pool.get_all', ['OpaqueRef:p'])
    xs = make()
    assert xs.call('pool.get_all') == ['OpaqueRef:p']
    assert xs.url == B and xs.address == '192.0.2.2'
    assert [c[:2] for c in fake.calls] == [
        (A, 'login_with_password'), (B, 'login_with_password'),
        (B, 'pool.get_all')]


def test_redirect_mid_session_repoints_whole_handle(fake, make):
    # The master moved: A's xapi restarted as a slave, the SDK's transparent
    # re-login got HOST_IS_SLAVE.
    fake.on_url(A, 'host.get_all', ['OpaqueRef:h1'],
                XenAPI.Failure(['HOST_IS_SLAVE', '192.0.2.2']))
    fake.on_url(B, 'host.get_all', ['OpaqueRef:h1', 'OpaqueRef:h2'])
    xs = make()
    assert xs.call('host.get_all') == ['OpaqueRef:h1']
    assert xs.call('host.get_all') == ['OpaqueRef:h1', 'OpaqueRef:h2']
    assert xs.url == B
    assert xs.call('host.get_all') == ['OpaqueRef:h1', 'OpaqueRef:h2']
    # the old pooled session was dropped: one new session for B, reused.
    assert [s[0] for s in fake.sessions] == [A, B]


def test_redirect_of_a_join_is_followed(fake, make):
    # HOST_IS_SLAVE means the call was refused, not run: repeat it at the master.
    fake.on_url(A, 'pool.eject', XenAPI.Failure(['HOST_IS_SLAVE', '192.0.2.2']))
    fake.on_url(B, 'pool.eject', '')
    xs = make()
    xs.call('pool.eject', 'OpaqueRef:h')
    assert fake.methods(B).count('pool.eject') == 1


def test_redirect_loop_detected(fake, make):
    fake.on_url(A, 'login_with_password', XenAPI.Failure(['HOST_IS_SLAVE', '192.0.2.2']))
    fake.on_url(B, 'login_with_password', XenAPI.Failure(['HOST_IS_SLAVE', '192.0.2.1']))
    xs = make()
    with pytest.raises(exception.XapiError) as info:
        xs.call('pool.get_all')
    assert info.value.code == 'HOST_IS_SLAVE'
    assert fake.methods() == ['login_with_password'] * 2


def test_redirect_hops_bounded(fake, make):
    def next_host(url, *args):
        last = int(url.rsplit('.', 1)[1])
        raise XenAPI.Failure(['HOST_IS_SLAVE', '192.0.2.%d' % (last + 1)])
    fake.on('login_with_password', next_host)
    xs = make()
    with pytest.raises(exception.XapiError) as info:
        xs.call('pool.get_all')
    assert info.value.code == 'HOST_IS_SLAVE'
    assert len(fake.calls) == settings().max_redirects + 1


@pytest.mark.parametrize('max_redirects', [0, 1, 5])
def test_max_redirects_is_the_limit_of_follow_master(fake, make, max_redirects):
    def next_host(url, *args):
        last = int(url.rsplit('.', 1)[1])
        raise XenAPI.Failure(['HOST_IS_SLAVE', '192.0.2.%d' % (last + 1)])
    fake.on('login_with_password', next_host)
    with pytest.raises(exception.XapiError, match='HOST_IS_SLAVE'):
        make(max_redirects=max_redirects).call('pool.get_all')
    assert len(fake.calls) == max_redirects + 1


@pytest.mark.parametrize('read_retries', [0, 2, 6])
def test_read_retries_is_the_limit_of_retry_read(fake, make, read_retries):
    fake.on('pool.get_all', ConnectionResetError(104, 'reset'))
    with pytest.raises(exception.XapiUnavailable):
        make(read_retries=read_retries, call_timeout=1000.0).call('pool.get_all')
    assert fake.methods().count('pool.get_all') == read_retries + 1


@pytest.mark.parametrize('login_retries', [0, 2, 7])
def test_login_retries_is_the_limit_of_retry_login(fake, make, login_retries):
    fake.on('login_with_password', XenAPI.Failure(['HOST_STILL_BOOTING']))
    with pytest.raises(exception.XapiError, match='HOST_STILL_BOOTING'):
        make(login_retries=login_retries, login_timeout=1000.0).call('pool.get_all')
    assert fake.methods() == ['login_with_password'] * (login_retries + 1)


# -- retries: only where safe ------------------------------------------------

RESET = ConnectionResetError(104, 'Connection reset by peer')
REFUSED = ConnectionRefusedError(111, 'Connection refused')
BOOTING = XenAPI.Failure(['HOST_STILL_BOOTING'])


@pytest.mark.parametrize('method, error, attempts', [
    ('pool.get_all', RESET, 2),
    ('host.get_record', REFUSED, 2),
    ('session.get_this_host', BOOTING, 2),
    ('pool.get_all_records', BOOTING, 2),
    ('pool.join', RESET, 1),
    ('pool.join_force', BOOTING, 1),
    ('pool.eject', RESET, 1),
    ('pool.designate_new_master', RESET, 1),
    ('Async.pool.join', REFUSED, 1),
    ('host.destroy', BOOTING, 1),
])
def test_retry_only_safe_calls(fake, make, method, error, attempts):
    fake.on(method, error, 'ok')
    xs = make()
    if attempts == 1:
        with pytest.raises(exception.XenPoolError):
            xs.call(method, 'x')
    else:
        assert xs.call(method, 'x') == 'ok'
    assert fake.methods().count(method) == attempts


@pytest.mark.parametrize('error, cls, maybe_applied', [
    (REFUSED, exception.XapiUnavailable, False),
    (RESET, exception.XapiUnavailable, True),
    (BrokenPipeError(32, 'Broken pipe'), exception.XapiUnavailable, True),
    (TimeoutError('timed out'), exception.XapiTimeout, True),
])
def test_maybe_applied(fake, make, error, cls, maybe_applied):
    fake.on('pool.join', error)
    xs = make()
    with pytest.raises(cls) as info:
        xs.call('pool.join', '192.0.2.9', 'root', passwords.PASSWORD)
    assert info.value.maybe_applied is maybe_applied
    assert info.value.method == 'pool.join'


def test_xapi_error_carries_code_params_method_host(fake, make):
    fake.on('pool.join', XenAPI.Failure(['HOSTS_NOT_HOMOGENEOUS', 'CPUs differ']))
    with pytest.raises(exception.XapiError) as info:
        make().call('pool.join', 'a', 'u', 'p')
    err = info.value
    assert (err.code, err.params, err.method, err.host) == (
        'HOSTS_NOT_HOMOGENEOUS', ['CPUs differ'], 'pool.join', A)


# -- SESSION_INVALID ---------------------------------------------------------

GAVE_UP = xmlrpc.client.Fault(500, 'Tried 3 times to get a valid session, but failed')


def test_sdk_gave_up_on_session_relogin_once(fake, make):
    fake.on('pool.set_name_label', GAVE_UP, '')
    make().call('pool.set_name_label', 'OpaqueRef:p', 'agg')
    assert fake.methods() == ['login_with_password', 'pool.set_name_label',
                              'login_with_password', 'pool.set_name_label']


def test_sdk_gave_up_twice_surfaces_session_invalid(fake, make):
    fake.on('pool.get_all', GAVE_UP)
    with pytest.raises(exception.XapiError) as info:
        make().call('pool.get_all')
    assert info.value.code == 'SESSION_INVALID'
    assert fake.methods().count('login_with_password') == 2


# -- the bounded pool ---------------------------------------------------------

@pytest.mark.parametrize('concurrent', [1, 2, 3])
def test_connection_concurrent_bounds_sdk_sessions(fake, make, concurrent):
    cond = threading.Condition()
    state = {'inflight': 0, 'max': 0, 'release': False}

    def slow(url, *args):
        with cond:
            state['inflight'] += 1
            state['max'] = max(state['max'], state['inflight'])
            cond.notify_all()
            cond.wait_for(lambda: state['release'], timeout=5)
            state['inflight'] -= 1
        return 'ok'
    fake.on('host.get_record', slow)
    xs = make(concurrent=concurrent)
    threads = [threading.Thread(target=xs.call, args=('host.get_record', 'r'))
               for _ in range(6)]
    for t in threads:
        t.start()
    with cond:
        assert cond.wait_for(lambda: state['inflight'] == concurrent, timeout=5)
        # Would more get in if the bound were ignored?
        assert not cond.wait_for(lambda: state['inflight'] > concurrent,
                                 timeout=0.2)
        state['release'] = True
        cond.notify_all()
    for t in threads:
        t.join(5)
    assert state['max'] == concurrent
    assert len(fake.sessions) == concurrent
    assert fake.methods().count('host.get_record') == 6


# -- counting, close, connector -----------------------------------------------

def test_call_counts(fake, make):
    fake.on('pool.get_all', [])
    fake.on('event_from', {'events': [], 'token': 't'})
    xs = make()
    xs.call('pool.get_all')
    xs.call('pool.get_all')
    xs.event_from(['host'], '', 0.0)
    assert xs.call_counts == {'session.login_with_password': 1,
                              'pool.get_all': 2, 'event.from': 1}


def test_close_logs_out_every_pooled_session(fake, make):
    fake.on('pool.get_all', [])
    xs = make()
    xs.call('pool.get_all')
    xs.close()
    assert fake.methods()[-1] == 'session.logout'
    with pytest.raises(exception.XapiUnavailable):
        xs.call('pool.get_all')


def test_logout_is_bounded_by_the_login_timeout(fake, make):
    fake.on('pool.get_all', [])
    xs = make(login_timeout=7.0, call_timeout=11.0)
    xs.call('pool.get_all')
    xs.close()
    assert fake.calls[-1] == (A, 'session.logout', (), 7.0)
