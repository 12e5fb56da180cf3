"""The transport against a tiny real XML-RPC server on 127.0.0.1.

Timeouts, TLS verification, hostile answers and "was the request sent?" are
socket behaviour: they are proved over real sockets (fast: loopback only).
"""

import http.server
import socket
import ssl
import threading
import xmlrpc.client

import pytest

from tests import passwords
from xenpool_driver import exception
from xenpool_driver.simulator import tls as sim_tls
from xenpool_driver.xapi import errors, transport
from xenpool_driver.xapi.session import XapiSession
from xenpool_driver.xapi.settings import SessionSettings

OK_LOGIN = {'Status': 'Success', 'Value': 'OpaqueRef:session'}


def ok(value):
    return {'Status': 'Success', 'Value': value}


class Server:
    """Threaded HTTP(S) server; ``behaviour[method](handler)`` -> bytes/None."""

    def __init__(self, behaviour, tls=None):
        self.behaviour = behaviour
        self.seen = []
        self.conns = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers['Content-Length']))
                params, method = xmlrpc.client.loads(body)
                outer.seen.append(method)
                action = outer.behaviour.get(method, ok(''))
                if callable(action):
                    action = action(self)
                if action is None:       # handler already dealt with it
                    return
                if isinstance(action, dict):
                    action = xmlrpc.client.dumps((action,), methodresponse=True,
                                                 allow_none=True).encode()
                self.send_response(200)
                self.send_header('Content-Type', 'text/xml')
                self.send_header('Content-Length', str(len(action)))
                self.end_headers()
                self.wfile.write(action)

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.httpd.daemon_threads = True
        if tls:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        scheme = 'https' if tls else 'http'
        self.url = '%s://127.0.0.1:%d/' % (scheme, self.httpd.server_address[1])
        self.release = threading.Event()
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       args=(0.02,), daemon=True)
        self.thread.start()

    def hang(self, handler):
        self.release.wait(10)
        handler.close_connection = True
        return None

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers = []

    def _serve(behaviour, tls=None):
        s = Server(behaviour, tls)
        servers.append(s)
        return s
    yield _serve
    for s in servers:
        s.close()


def session(url, **kw):
    return XapiSession(url, SessionSettings('root', passwords.PASSWORD, **kw),
                       sleep=lambda s: None)


def run_bounded(fn, limit=4.0):
    """Run ``fn`` in a thread; fail (instead of hanging) if it takes > limit."""
    box = {}

    def target():
        try:
            box['result'] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box['error'] = exc
    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(limit)
    assert not t.is_alive(), 'timeout option ignored: call still blocked'
    if 'error' in box:
        raise box['error']
    return box.get('result')


# -- timeouts -----------------------------------------------------------------

def test_login_timeout_applied_to_socket(serve):
    srv = serve({'session.login_with_password': lambda h: srv.hang(h)})
    xs = session(srv.url, login_timeout=0.3, call_timeout=30.0)
    with pytest.raises(exception.XapiTimeout) as info:
        run_bounded(lambda: xs.call('pool.get_all'))
    assert info.value.method == 'session.login_with_password'


def test_call_timeout_applied_to_socket(serve):
    srv = serve({'session.login_with_password': OK_LOGIN,
                 'pool.get_all': lambda h: srv.hang(h)})
    xs = session(srv.url, login_timeout=30.0, call_timeout=0.3)
    with pytest.raises(exception.XapiTimeout) as info:
        run_bounded(lambda: xs.call('pool.get_all'))
    assert info.value.method == 'pool.get_all'


def test_event_from_socket_gets_call_timeout_plus_wait(serve):
    delay = threading.Event()

    def slow_event(handler):
        delay.wait(0.6)  # xapi blocks in event.from up to its timeout
        return ok({'events': [], 'token': 't1', 'valid_ref_counts': {}})
    srv = serve({'session.login_with_password': OK_LOGIN,
                 'event_from': slow_event})
    xs = session(srv.url, call_timeout=0.3)
    assert run_bounded(lambda: xs.event_from(['host'], '', 1.0))['token'] == 't1'


# -- the request is sent once; maybe_applied ------------------------------------

def drop(handler):
    handler.close_connection = True
    handler.connection.shutdown(socket.SHUT_RDWR)
    return None


def test_join_dropped_after_send_is_sent_once_and_maybe_applied(serve):
    srv = serve({'session.login_with_password': OK_LOGIN, 'pool.join': drop})
    xs = session(srv.url)
    with pytest.raises(exception.XapiUnavailable) as info:
        xs.call('pool.join', '192.0.2.9', 'root', passwords.PASSWORD)
    assert info.value.maybe_applied is True
    # NOTE: the stdlib transport would silently resend on a dropped
    # connection; a join must reach xapi at most once.
    assert srv.seen.count('pool.join') == 1
    assert xs.call_counts['pool.join'] == 1


def test_read_only_call_dropped_is_retried(serve):
    answers = [drop, drop]

    def flaky(handler):
        return answers.pop(0)(handler) if answers else ok(['OpaqueRef:p'])
    srv = serve({'session.login_with_password': OK_LOGIN,
                 'pool.get_all': flaky})
    assert session(srv.url).call('pool.get_all') == ['OpaqueRef:p']
    assert srv.seen.count('pool.get_all') >= 2


def test_connection_refused_not_applied():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    xs = session('http://127.0.0.1:%d/' % port)
    with pytest.raises(exception.XapiUnavailable) as info:
        xs.call('pool.get_all')
    assert info.value.maybe_applied is False
    assert info.value.kind == exception.REFUSED
    # login retried under the LOGIN policy (5 attempts)
    assert xs.call_counts['session.login_with_password'] == 5


def test_wire_counts_include_real_requests(serve):
    srv = serve({'session.login_with_password': OK_LOGIN,
                 'pool.get_all': ok([]),
                 'event_from': ok({'events': [], 'token': 't'})})
    xs = session(srv.url)
    xs.call('pool.get_all')
    xs.event_from(['pool'], '', 0.0)
    assert xs.call_counts == {'session.login_with_password': 1,
                              'pool.get_all': 1, 'event.from': 1}
    assert srv.seen == ['session.login_with_password', 'pool.get_all',
                        'event_from']


# -- hostile servers ---------------------------------------------------------------

def raw(body, status=200):
    def answer(handler):
        handler.send_response(status)
        handler.send_header('Content-Length', str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        return None
    return answer


@pytest.mark.parametrize('answer', [
    raw(b'<?xml version="1.0"?><methodResponse><params><param><value>'),
    raw(b'this is not xml at all'),
    raw(xmlrpc.client.dumps((['not', 'a', 'struct'],), methodresponse=True).encode()),
    raw(xmlrpc.client.dumps(({'Value': 'x'},), methodresponse=True).encode()),
    raw(xmlrpc.client.dumps(({'Status': 'Success'},), methodresponse=True).encode()),
    raw(b'<html>Internal error</html>', status=500),
    raw(xmlrpc.client.dumps(xmlrpc.client.Fault(1, 'x')).encode()),
])
def test_hostile_answers_are_protocol_errors(serve, answer):
    srv = serve({'session.login_with_password': OK_LOGIN, 'pool.get_all': answer})
    with pytest.raises(exception.XapiProtocolError) as info:
        session(srv.url).call('pool.get_all')
    assert info.value.method == 'pool.get_all'


def test_huge_response_bounded(serve):
    big = xmlrpc.client.dumps((ok('x' * 200000),), methodresponse=True).encode()
    srv = serve({'pool.get_all': raw(big)})
    proxy = xmlrpc.client.ServerProxy(
        srv.url, transport=transport.XapiTransport(5.0, max_response_bytes=100000))
    with pytest.raises(transport.ResponseTooLarge) as info:
        proxy.pool.get_all()
    err = errors.translate(info.value, 'pool.get_all', srv.url, True)
    assert isinstance(err, exception.XapiProtocolError)


def test_default_response_bound_is_64_mib():
    assert transport.MAX_RESPONSE_BYTES == 64 * 1024 * 1024
    assert transport.make_transport('http://h/', 1.0).max_response_bytes == \
        transport.MAX_RESPONSE_BYTES


# -- TLS ------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def certs(tmp_path_factory):
    """A lab CA and certificates with IP SANs (like xapi's), made in-process."""
    made = sim_tls.Certificates(str(tmp_path_factory.mktemp('tls')))
    good, other = made.issue('good', '127.0.0.1'), made.issue('other', '192.0.2.77')
    return {'good': good[::-1], 'other': other[::-1], 'ca': made.ca_file}


def tls_server(serve, certs, which='good'):
    key, crt = certs[which]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    return serve({'session.login_with_password': OK_LOGIN,
                  'pool.get_all': ok(['OpaqueRef:p'])}, tls=ctx)


def test_tls_verified_by_default(serve, certs):
    srv = tls_server(serve, certs)
    with pytest.raises(exception.XapiUnavailable) as info:
        session(srv.url).call('pool.get_all')
    assert info.value.kind == exception.TLS
    assert info.value.maybe_applied is False
    assert srv.seen == []


def test_tls_ca_file_used(serve, certs):
    srv = tls_server(serve, certs)
    xs = session(srv.url, ca_file=certs['ca'])
    assert xs.call('pool.get_all') == ['OpaqueRef:p']


def test_tls_hostname_checked_against_ip(serve, certs):
    # A trusted certificate, but for another address: refused.
    srv = tls_server(serve, certs, 'other')
    xs = session(srv.url, ca_file=certs['ca'])
    with pytest.raises(exception.XapiUnavailable) as info:
        xs.call('pool.get_all')
    assert info.value.kind == exception.TLS


def test_tls_insecure_honoured(serve, certs):
    srv = tls_server(serve, certs, 'other')
    assert session(srv.url, insecure=True).call('pool.get_all') == ['OpaqueRef:p']


@pytest.mark.parametrize('ca_file, insecure, verify, check_hostname', [
    (None, False, ssl.CERT_REQUIRED, True),
    (None, True, ssl.CERT_NONE, False),
])
def test_ssl_context_table(ca_file, insecure, verify, check_hostname):
    ctx = transport.make_ssl_context(ca_file, insecure)
    assert (ctx.verify_mode, ctx.check_hostname) == (verify, check_hostname)
