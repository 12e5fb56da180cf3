"""Secrets: no password in a log record, an exception text or metadata - ever.

The suite-wide scan (``tests/conftest.py``) already searches every log record
and exception text of the run for every password of ``tests.passwords``
(labs register theirs), and ``make_env`` scans every stored metadata value
and the database file after each functional test. Here the flows most
likely to leak are driven on purpose, and each test checks its own records,
exceptions and metadata - including metadata *while* an operation runs, and
servers that echo the request (which carries the password) back in errors.
"""

import http.server
import threading
import traceback

import pytest

from tests import passwords
from tests.functional.conftest import assert_consistent, assert_store_has_no_secrets
from xenpool_driver import exception
from xenpool_driver import pool_states as ps


def _texts_of(exc):
    """Every text an exception shows: str, repr, args, the formatted chain."""
    texts = [str(exc), repr(exc), repr(getattr(exc, 'args', ()))]
    texts.append(''.join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    for attr in ('params', 'reason', 'host', 'message'):
        texts.append(repr(getattr(exc, attr, None)))
    return texts


def _records_text(caplog):
    out = []
    for record in caplog.records:
        out.append(record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            out.append(''.join(traceback.format_exception(*record.exc_info)))
    return out


def _assert_nowhere(secrets, texts, what):
    for secret in secrets:
        for text in texts:
            assert secret not in text, 'a password appears in %s' % what


@pytest.fixture
def secret_env(make_env, caplog):
    """A 3-host lab whose password is one of the suite's known passwords."""
    caplog.set_level('DEBUG')
    env = make_env(3, lab_kw={'password': passwords.PASSWORD})
    env.secrets = {passwords.PASSWORD, env.lab.password}
    return env


def test_lifecycle_never_stores_or_logs_a_password(secret_env, caplog):
    env = secret_env
    seen = []
    # NOTE: metadata is also checked WHILE operations run (intent written)
    env.workflow.progress = lambda phase, fraction: seen.append(
        dict(env.store.get_aggregate('secret-pool').metadata))
    agg = env.new_aggregate('secret-pool')
    for name in env.names():
        # slave_info URLs with credentials in them are stripped, never stored
        url = env.urls[name].replace('://', '://root:%s@' % passwords.PASSWORD)
        agg.add_host(name)
        env.workflow.add(agg, name, slave_info={'url': url})
    assert_consistent(env, agg, ps.ACTIVE, hosts=env.names(), master='host1')
    env.remove(agg, 'host1')  # master: designate, then eject
    env.remove(agg, 'host2')
    env.remove(agg, 'host3')
    assert_consistent(env, agg, ps.CREATED, hosts=[])
    assert len(seen) > 5
    _assert_nowhere(env.secrets, [repr(md) for md in seen], 'metadata during an operation')
    _assert_nowhere(env.secrets, _records_text(caplog), 'a log record')
    assert any('pool.join' in t for t in _records_text(caplog))  # NOTE: logs were seen
    assert_store_has_no_secrets(env)


@pytest.mark.parametrize('password', [passwords.WRONG_PASSWORD, passwords.OTHER_PASSWORD])
def test_failed_login_texts_carry_no_password(secret_env, make_env, caplog, password):
    env = secret_env
    bad = make_env(lab=env.lab, password=password, db='other')
    agg = bad.new_aggregate('wrong-password')
    with pytest.raises(exception.XapiError) as err:
        bad.add(agg, 'host1')
    assert err.value.code == 'SESSION_AUTHENTICATION_FAILED'
    secrets = env.secrets | {password}
    _assert_nowhere(secrets, _texts_of(err.value), 'the exception')
    _assert_nowhere(secrets, _records_text(caplog), 'a log record')
    agg.refresh()
    _assert_nowhere(secrets, [repr(agg.metadata)], 'metadata')


def test_failed_join_texts_carry_no_password(secret_env, caplog):
    """A join refused by xapi: the call carried the password, the error must not."""
    env = secret_env
    agg = env.new_aggregate('refused-join')
    env.add(agg, 'host1')
    env.lab.hosts[1].faults.fail('pool.join', 'POOL_JOINING_HOST_CONNECTION_FAILED',
                                 params=['root', passwords.PASSWORD])
    with pytest.raises(exception.XapiError) as err:
        env.add(agg, 'host2')
    assert err.value.code == 'POOL_JOINING_HOST_CONNECTION_FAILED'
    assert err.value.params[0] == 'root' and len(err.value.params) == 2
    _assert_nowhere(env.secrets, _texts_of(err.value), 'the exception')
    _assert_nowhere(env.secrets, _records_text(caplog), 'a log record')
    assert_consistent(env, agg, ps.ACTIVE, hosts=['host1'])


# -- servers that echo the request (login carries the password) ----------------

def _fault_echo(body):
    from xmlrpc.client import Fault, dumps
    return dumps(Fault(500, 'cannot handle: %s' % body.decode('utf-8', 'replace')),
                 methodresponse=True).encode()


def _failure_echo(body):
    from xmlrpc.client import dumps
    return dumps(({'Status': 'Failure', 'ErrorDescription': [
        'INTERNAL_ERROR', body.decode('utf-8', 'replace')]},), methodresponse=True).encode()


ECHOES = {
    'fault with the request': (_fault_echo, exception.XapiProtocolError),
    'failure with the request': (_failure_echo, exception.XapiError),
}


class _Echo(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
        self.server.requests.append(body)
        payload = ECHOES[self.server.mode][0](body)
        self.send_response(200)
        self.send_header('Content-Type', 'text/xml')
        self.send_header('Content-Length', str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize('mode', sorted(ECHOES))
def test_server_echoing_the_password_is_redacted(secret_env, caplog, mode):
    env = secret_env
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Echo)
    server.mode, server.requests = mode, []
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
    try:
        agg = env.new_aggregate('echo')
        url = 'http://127.0.0.1:%d/' % server.server_address[1]
        with pytest.raises(ECHOES[mode][1]) as err:
            env.workflow.add(agg, 'echo', slave_info={'url': url})
    finally:
        server.shutdown()
        server.server_close()
    # NOTE: the server did receive the password (login), and echoed it back
    assert any(passwords.PASSWORD.encode() in r for r in server.requests)
    assert 'session.login_with_password' in str(err.value)
    _assert_nowhere(env.secrets, _texts_of(err.value), 'the exception')
    _assert_nowhere(env.secrets, _records_text(caplog), 'a log record')
    agg.refresh()
    assert agg.metadata[ps.KEY] == ps.CREATED
    assert_store_has_no_secrets(env)
