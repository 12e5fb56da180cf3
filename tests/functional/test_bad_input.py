"""Bad input: every case gives a clear error and leaves metadata unchanged or repaired.

Malformed metadata (state, missing keys, a garbage bookkeeping record), a
host xapi does not know, wrong credentials, an unreachable URL and a hostile
server speaking something other than XAPI - each against the real session
layer and SDK. The aggregate afterwards is never corrupted: same metadata
(refusals), the previous state with the failure counted and no intent left
(failed operations), or metadata equal to the real pool (repairs).
"""

import http.server
import json
import threading
import uuid

import pytest

from tests import passwords
from tests.functional.conftest import (Env, assert_clean_bookkeeping, assert_consistent,
                                       assert_no_secrets, assert_standalone, free_port,
                                       read_pool, start_lab)
from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.xapi import transport

ABSENT = object()


def _failures(agg):
    return bk.read(agg.metadata).failures


def _assert_failed_cleanly(agg, state, failures=1, reason=None):
    """A failed operation: previous state, no intent, the failure counted.

    :param failures: 0 for a failure before the first change (nothing was
        sent that changes the pool): not counted, its reason kept.
    """
    agg.refresh()
    assert agg.metadata[ps.KEY] == state, agg.metadata
    assert_clean_bookkeeping(agg.metadata)
    assert_no_secrets(agg.metadata)
    assert _failures(agg) == failures
    kept = bk.read(agg.metadata).reason
    assert kept and 'failed' in kept
    if reason:
        assert reason in kept, kept


@pytest.fixture
def env(make_env):
    return make_env(3)


@pytest.fixture(scope='module')
def shared_pool(tmp_path_factory):
    """A lab whose ``host1`` (master) and ``host2`` form pool ``bad-pool``.

    NOTE: built once per module (a pool costs two real joins); every test
    gets a fresh store holding the aggregate, and none leaves the pool
    changed (``assert_consistent`` at the start of each proves it).
    """
    lab = start_lab(3)
    seed = Env(lab, 'sqlite:///%s' % (tmp_path_factory.mktemp('seed') / 'a.sqlite'))
    try:
        agg = seed.new_aggregate('bad-pool')
        seed.add(agg, 'host1')
        seed.add(agg, 'host2')
        yield lab, dict(agg.metadata)
    finally:
        seed.close()
        lab.close()


@pytest.fixture
def pool_env(shared_pool, make_env):
    """``host1`` master + ``host2`` slave in aggregate ``bad-pool`` (fresh store)."""
    lab, metadata = shared_pool
    env = make_env(lab=lab)
    agg = env.store.create_aggregate('bad-pool', metadata)
    agg.add_host('host1')
    agg.add_host('host2')
    assert_consistent(env, agg, ps.ACTIVE, hosts={'host1', 'host2'}, master='host1')
    return env, agg


# -- operational_state: unknown, malformed, missing, or refusing ----------------

STATE_CASES = [
    # op, state in metadata, reason in the error
    ('add', 'bogus', "unknown operational_state 'bogus'"),
    ('add', 'ACTIVE', "unknown operational_state 'ACTIVE'"),
    ('add', ' active', "unknown operational_state ' active'"),
    ('add', '', "unknown operational_state ''"),
    ('add', ABSENT, 'unknown operational_state None'),
    ('add', '{"state": "active"}', 'unknown operational_state'),
    ('add', ps.CHANGING, 'setup in progress'),
    ('add', ps.DISMISSED, 'aggregate deleted'),
    ('add', ps.ERROR, 'aggregate in error'),
    ('remove', 'bogus', "unknown operational_state 'bogus'"),
    ('remove', ABSENT, 'unknown operational_state None'),
    ('remove', ps.CREATED, 'no hosts to remove'),
    ('remove', ps.CHANGING, 'setup in progress'),
    ('remove', ps.DISMISSED, 'aggregate deleted'),
    ('delete', 'bogus', "unknown operational_state 'bogus'"),
    ('delete', ps.ACTIVE, 'pool still has hosts'),
    ('delete', ps.CHANGING, 'setup in progress'),
]


@pytest.mark.parametrize('op,state,reason', STATE_CASES)
def test_state_refused_without_any_change(env, op, state, reason):
    md = {'host2': env.lab.hosts[1].uuid}
    if state is not ABSENT:
        md[ps.KEY] = state
    agg = env.new_aggregate('states', **md)
    if state is ABSENT:
        agg.update_metadata({ps.KEY: None})
    before = dict(agg.metadata)
    with pytest.raises(exception.InvalidAggregateAction) as err:
        if op == 'add':
            env.workflow.add(agg, 'host1', slave_info={'url': env.urls['host1']})
        elif op == 'remove':
            env.workflow.remove(agg, 'host2')
        else:
            env.workflow.delete(agg)
    assert err.value.reason == reason or reason in err.value.reason
    assert 'Cannot perform action' in str(err.value)
    agg.refresh()
    assert agg.metadata == before
    # NOTE: no XAPI call was made: both hosts are untouched standalone hosts
    assert_standalone(env.lab, 'host1')
    assert read_pool(env.lab, env.urls['host1']).name_label == ''


# -- missing keys ------------------------------------------------------------------

def test_not_a_pool_is_left_alone(env):
    agg = env.store.create_aggregate('plain', {'availability_zone': 'az1'})
    assert env.workflow.add(agg, 'host1', slave_info={'url': env.urls['host1']}) is None
    env.workflow.remove(agg, 'host1')
    agg.refresh()
    assert agg.metadata == {'availability_zone': 'az1'}
    assert read_pool(env.lab, env.urls['host1']).name_label == ''


def test_remove_of_a_host_that_is_not_a_member_changes_nothing(pool_env):
    env, agg = pool_env
    before = dict(agg.metadata)
    assert env.workflow.remove(agg, 'host3') is False   # idempotent success
    agg.refresh()
    assert agg.metadata == before
    assert len(read_pool(env.lab, env.urls['host1']).hosts) == 2


def test_unlocatable_host_refused(pool_env):
    env, agg = pool_env
    before = dict(agg.metadata)
    with pytest.raises(exception.InvalidAggregateAction,
                       match='cannot locate the xapi of host nowhere'):
        env.workflow.add(agg, 'nowhere')
    agg.refresh()
    assert agg.metadata == before


@pytest.mark.parametrize('missing', [
    [bk.KEY],
    [bk.MASTER_COMPUTE],
    [bk.KEY, bk.MASTER_COMPUTE],  # the classic nova layout
])
def test_missing_keys_repaired_by_reconcile(pool_env, missing):
    env, agg = pool_env
    agg.update_metadata({k: None for k in missing})
    report = env.workflow.reconcile(agg)
    assert report.error is None and not report.drift, report
    assert_consistent(env, agg, ps.ACTIVE, hosts={'host1', 'host2'}, master='host1')


# -- a garbage bookkeeping record -----------------------------------------------

GARBAGE = [
    'not json {',
    '[1, 2, 3]',
    '"a string"',
    'null',
    '{"v": 1, "intent": 5}',
    '{"v": 1, "intent": {"op": "explode", "host": "host3"}}',
    '{"v": 1, "intent": {"id": "x", "op": "add", "host": "host3", '
    '"owner": "o", "prev": "sideways"}}',
    '{"v": 1, "failures": "many", "master": 7, "counted": []}',
    '{"v": 1, "failures": -3, "master": ""}',
    '\u0000\ufffd' * 10,
]


@pytest.mark.parametrize('garbage', GARBAGE)
@pytest.mark.parametrize('state', [ps.ACTIVE, ps.CHANGING])
def test_garbage_record_repaired_by_reconcile(pool_env, garbage, state):
    env, agg = pool_env
    agg.update_metadata({bk.KEY: garbage, ps.KEY: state})
    report = env.workflow.reconcile(agg)
    assert report.error is None and not report.drift, report
    real = assert_consistent(env, agg, ps.ACTIVE, hosts={'host1', 'host2'},
                             master='host1')
    assert json.loads(agg.metadata[bk.KEY])['master'] == real.master.address


@pytest.mark.parametrize('garbage', GARBAGE[:5:2])
def test_garbage_record_then_add_and_remove(pool_env, garbage):
    env, agg = pool_env
    agg.update_metadata({bk.KEY: garbage})
    env.add(agg, 'host3')
    # NOTE: the garbage held the master address: the classic layout is left
    # (the driver's own xapi leads to the master), valid and consistent.
    assert_consistent(env, agg, ps.ACTIVE, hosts={'host1', 'host2', 'host3'},
                      master='host1', classic=True)
    agg.update_metadata({bk.KEY: garbage})
    env.remove(agg, 'host3')
    assert_consistent(env, agg, ps.ACTIVE, hosts={'host1', 'host2'}, master='host1',
                      classic=True)
    assert_standalone(env.lab, 'host3')  # NOTE: back for the next test


# -- a host xapi does not know ----------------------------------------------------

def test_remove_of_host_unknown_to_xapi_repairs_metadata(pool_env):
    env, agg = pool_env
    ghost = str(uuid.uuid4())
    agg.update_metadata({'ghost': ghost})
    agg.add_host('ghost')
    env.remove(agg, 'ghost')  # NOTE: nothing to eject: the goal is reached
    assert 'ghost' not in agg.metadata
    assert_consistent(env, agg, ps.ACTIVE, hosts={'host1', 'host2'}, master='host1')
    assert _failures(agg) == 0


def test_reconcile_reports_host_unknown_to_xapi(pool_env):
    env, agg = pool_env
    ghost = str(uuid.uuid4())
    agg.update_metadata({'ghost': ghost})
    report = env.workflow.reconcile(agg)
    # NOTE: the pool read is provably ours (its master is recorded) and does
    # not list ghost: its uuid goes; nothing of the pool is touched.
    assert 'forgot host(s) no longer in the pool: ghost' in report.actions
    assert 'ghost' not in agg.metadata and report.agreed


def test_add_with_wrong_xenhost_uuid_never_strands_the_host(make_env):
    env = make_env(2, live_timeout=2.0)
    agg = env.new_aggregate('wrong-uuid')
    env.add(agg, 'host1')
    agg.add_host('host2')
    info = {'url': env.urls['host2'], 'xenhost_uuid': str(uuid.uuid4())}
    with pytest.raises(exception.OperationRefused) as err:
        env.workflow.add(agg, 'host2', slave_info=info)
    assert info['xenhost_uuid'] in str(err.value)
    assert env.lab.hosts[1].uuid in str(err.value)
    agg.delete_host('host2')
    # NOTE: refused before any change: host2 untouched, metadata == reality.
    members = set(read_pool(env.lab, env.urls['host1']).hosts)
    assert env.lab.hosts[1].uuid not in members
    assert_consistent(env, agg, ps.ACTIVE, hosts={'host1'}, master='host1')


# -- credentials and reachability --------------------------------------------------

def test_wrong_credentials_first_host(make_env):
    env = make_env(2, password=passwords.WRONG_PASSWORD)
    agg = env.new_aggregate('wrong-password')
    with pytest.raises(exception.XapiError) as err:
        env.add(agg, 'host1')
    assert err.value.code == 'SESSION_AUTHENTICATION_FAILED'
    assert err.value.method == 'session.login_with_password'
    assert passwords.WRONG_PASSWORD not in str(err.value)
    # NOTE: nothing was changed: not counted, the reason kept
    _assert_failed_cleanly(agg, ps.CREATED, failures=0,
                           reason='SESSION_AUTHENTICATION_FAILED')
    assert read_pool(env.lab, env.urls['host1']).name_label == ''


def test_wrong_credentials_on_a_pool(pool_env, make_env):
    env, agg = pool_env
    bad = make_env(lab=env.lab, password=passwords.WRONG_PASSWORD)
    stale = bad.store.get_aggregate(agg.id)
    for action in (lambda: bad.workflow.remove(stale, 'host2'),
                   lambda: bad.workflow.add(stale, 'host3',
                                            slave_info={'url': env.urls['host3']})):
        with pytest.raises(exception.XapiError) as err:
            action()
        assert err.value.code == 'SESSION_AUTHENTICATION_FAILED'
    _assert_failed_cleanly(stale, ps.ACTIVE, failures=0,
                           reason='SESSION_AUTHENTICATION_FAILED')
    assert_consistent(env, agg, ps.ACTIVE, hosts={'host1', 'host2'}, master='host1')


def test_unreachable_first_host(env):
    agg = env.new_aggregate('unreachable')
    url = 'http://127.0.0.1:%d/' % free_port()
    with pytest.raises(exception.XapiUnavailable) as err:
        env.workflow.add(agg, 'closed', slave_info={'url': url})
    assert not isinstance(err.value, exception.XapiProtocolError)
    assert 'Connection refused' in str(err.value) and url in str(err.value)
    assert err.value.maybe_applied is False
    _assert_failed_cleanly(agg, ps.CREATED, failures=0, reason='Connection refused')


def test_unreachable_joiner(pool_env):
    env, agg = pool_env
    url = 'http://127.0.0.1:%d/' % free_port()
    with pytest.raises(exception.XapiUnavailable, match='Connection refused'):
        env.workflow.add(agg, 'closed', slave_info={'url': url})
    _assert_failed_cleanly(agg, ps.ACTIVE, failures=0, reason='Connection refused')
    assert len(read_pool(env.lab, env.urls['host1']).hosts) == 2


# -- a hostile server -------------------------------------------------------------

def _response(value_xml):
    return ("<?xml version='1.0'?><methodResponse><params><param><value>%s"
            "</value></param></params></methodResponse>" % value_xml).encode()


_BOMB = ('<?xml version="1.0"?><!DOCTYPE bomb [<!ENTITY a0 "lol">' +
         ''.join('<!ENTITY a%d "%s">' % (i, ('&a%d;' % (i - 1)) * 10)
                 for i in range(1, 10)) +
         ']><methodResponse><params><param><value><string>&a9;</string></value>'
         '</param></params></methodResponse>').encode()

HOSTILE = {
    # name: (status, content type, body or a callable streaming it, text in the error)
    'non-dict string': (200, 'text/xml', _response('<string>OpaqueRef:x</string>'),
                        'Missing Status'),
    'non-dict array': (200, 'text/xml', _response('<array><data><value>1</value>'
                                                  '</data></array>'), 'TypeError'),
    'dict without Status': (200, 'text/xml', _response(
        '<struct><member><name>Value</name><value>x</value></member></struct>'),
        'TypeError'),
    'empty failure': (200, 'text/xml', _response(
        '<struct><member><name>Status</name><value>Failure</value></member>'
        '<member><name>ErrorDescription</name><value><array><data/></array></value>'
        '</member></struct>'), 'unavailable'),
    'malformed XML': (200, 'text/xml', b"<?xml version='1.0'?><methodResponse><params>"
                      b'<param><value><struct><member>', 'ExpatError'),
    'huge response': (200, 'text/xml', 'huge', 'response larger than'),
    'XML entity bomb': (200, 'text/xml', _BOMB, 'ExpatError'),
    'JSON-RPC error': (200, 'application/json', json.dumps(
        {'jsonrpc': '2.0', 'id': 1, 'error': {'code': -32601, 'message':
                                              'Method not found'}}).encode(), 'ExpatError'),
    'HTML error page': (500, 'text/html', b'<html><body>Internal Server Error</body></html>',
                        'ProtocolError'),
}


class _Hostile(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get('Content-Length') or 0))
        status, ctype, body, _ = HOSTILE[self.server.mode]
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        try:
            if body == 'huge':
                chunk = b' ' * (1 << 20)
                count = transport.MAX_RESPONSE_BYTES // len(chunk) + 2
                self.send_header('Content-Length', str(len(chunk) * count + 30))
                self.end_headers()
                self.wfile.write(b"<?xml version='1.0'?>")
                for _ in range(count):
                    self.wfile.write(chunk)
            else:
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)
        except OSError:
            pass  # NOTE: the client hung up on a huge answer: as it should

    def log_message(self, *args):
        pass


@pytest.fixture
def hostile():
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Hostile)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize('mode', sorted(HOSTILE))
@pytest.mark.parametrize('as_joiner', [False, True], ids=['first-host', 'joiner'])
def test_hostile_server(pool_env, make_env, hostile, mode, as_joiner):
    env, agg = pool_env
    hostile.mode = mode
    url = 'http://127.0.0.1:%d/' % hostile.server_address[1]
    if not as_joiner:
        agg = env.new_aggregate('hostile')
    before_members = set(read_pool(env.lab, env.urls['host1']).hosts)
    with pytest.raises(exception.XapiProtocolError) as err:
        env.workflow.add(agg, 'hostile', slave_info={'url': url})
    text = str(err.value)
    assert HOSTILE[mode][3] in text, text
    assert url in text and err.value.method in (
        'session.login_with_password', 'pool.get_all_records')
    assert len(text) < 2000  # NOTE: a clear one-liner, not the server's payload
    _assert_failed_cleanly(agg, ps.ACTIVE if as_joiner else ps.CREATED, failures=0)
    assert set(read_pool(env.lab, env.urls['host1']).hosts) == before_members
