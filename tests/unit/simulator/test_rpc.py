"""The wire: xapi's XML-RPC and JSON-RPC encodings and protocol errors."""

import re
import xmlrpc.client

import pytest
import XenAPI

from tests.passwords import PASSWORD
from tests.unit.simulator.conftest import failure, jsonrpc, post, sdk


def _xml_call(method, *params):
    return xmlrpc.client.dumps(tuple(params), method).encode()


def _login(host):
    return sdk(host)._session


def test_xml_encoding_untyped_strings_ints_as_strings(lab):
    h = lab.hosts[0]
    session = _login(h)
    status, headers, body = post(h, '/', _xml_call('host.get_record', session, h.ref))
    assert status == 200
    assert headers['Content-Type'] == 'text/xml'
    assert headers['Access-Control-Allow-Origin'] == '*'
    text = body.decode()
    assert text.startswith('<?xml version="1.0"?><methodResponse>')
    assert '<member><name>Status</name><value>Success</value></member>' in text
    assert '<name>API_version_major</name><value>2</value>' in text
    assert '<name>enabled</name><value><boolean>1</boolean></value>' in text
    assert '<string>' not in text and '<int>' not in text
    assert '<fault>' not in text


def test_void_is_empty_string_and_datetime_format(lab):
    h = lab.hosts[0]
    s = sdk(h)
    pool = s.xenapi.pool.get_all()[0]
    assert s.xenapi.pool.set_name_label(pool, 'p') == ''
    stamp = s.xenapi.host.get_servertime(h.ref)
    assert isinstance(stamp, xmlrpc.client.DateTime)
    assert re.fullmatch(r'\d{8}T\d\d:\d\d:\d\dZ', stamp.value)
    metrics = s.xenapi.host.get_metrics(h.ref)
    assert s.xenapi.host_metrics.get_memory_total(metrics) == str(64 * 1024 ** 3)


@pytest.mark.parametrize('path', ['/', '/RPC2'])
def test_both_xmlrpc_paths(lab, path):
    h = lab.hosts[0]
    status, _, body = post(h, path, _xml_call('session.login_with_password',
                                              'root', PASSWORD))
    assert status == 200 and b'OpaqueRef:' in body


@pytest.mark.parametrize('method, params, expected', [
    ('pool.frobnicate', ['S'], ['MESSAGE_METHOD_UNKNOWN', 'pool.frobnicate']),
    ('VM.get_nosuchfield', ['S', 'x'], ['MESSAGE_METHOD_UNKNOWN', 'VM.get_nosuchfield']),
    ('pool.get_all', ['S', 'extra'], ['MESSAGE_PARAMETER_COUNT_MISMATCH', 'pool.get_all',
                                      '0', '1']),
    ('pool.join', ['S', 'a'], ['MESSAGE_PARAMETER_COUNT_MISMATCH', 'pool.join', '3', '1']),
    ('session.login_with_password', ['root'],
     ['MESSAGE_PARAMETER_COUNT_MISMATCH', 'session.login_with_password', '4', '1']),
    ('pool.get_all', ['OpaqueRef:bogus'], ['SESSION_INVALID', 'OpaqueRef:bogus']),
    ('host.get_record', ['S', 'OpaqueRef:nope'], ['HANDLE_INVALID', 'host', 'OpaqueRef:nope']),
    ('VM.get_power_state', ['S', 'OpaqueRef:nope'], ['HANDLE_INVALID', 'VM', 'OpaqueRef:nope']),
    ('host.get_by_uuid', ['S', 'no-such'], ['UUID_INVALID', 'host', 'no-such']),
    ('Async.session.logout', ['S'],
     ['Fault', 'No async mode for this operation (rpc: Async.session.logout)']),
])
def test_protocol_errors_xml_and_json(lab, method, params, expected):
    h = lab.hosts[0]
    session = _login(h)
    params = [session if p == 'S' else p for p in params]
    proxy = xmlrpc.client.ServerProxy(h.url)
    result = getattr(proxy, method)(*params)
    assert result == {'Status': 'Failure', 'ErrorDescription': expected}
    assert jsonrpc(h, method, params)['error'] == expected
    v2 = jsonrpc(h, method, params, v2=True)
    assert v2['error'] == {'code': 1, 'message': expected[0], 'data': expected[1:]}


def test_obj_msg_alias(lab):
    s = sdk(lab.hosts[0])
    assert s.xenapi.pool_get_all() == s.xenapi.pool.get_all()
    assert s.xenapi.host_metrics_get_all() == s.xenapi.host_metrics.get_all()
    assert 'events' in s.xenapi.event_from(['pool'], '', 0.0)


def test_jsonrpc_v1_v2_ints_are_numbers_and_sessions_shared(lab):
    h = lab.hosts[0]
    r1 = jsonrpc(h, 'session.login_with_password', ['root', PASSWORD], rid=7)
    assert r1['error'] is None and r1['id'] == 7
    session = r1['result']
    r2 = jsonrpc(h, 'host.get_API_version_major', [session, h.ref], v2=True)
    assert r2 == {'jsonrpc': '2.0', 'id': 1, 'result': 2}
    # a JSON-RPC session works over XML-RPC
    proxy = xmlrpc.client.ServerProxy(h.url)
    assert proxy.host.get_API_version_major(session, h.ref)['Value'] == '2'


def test_system_methods(lab):
    # NOTE: api_server.ml writes system.listMethods as a bare array (no Status).
    proxy = xmlrpc.client.ServerProxy(lab.hosts[0].url)
    assert 'pool.join' in proxy.system.listMethods()
    assert proxy.system.isAlive('x')['Value'] == 'x'


@pytest.mark.parametrize('body', [
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><methodCall>'
    b'<methodName>pool.get_all</methodName><params><param><value>&a;</value></param>'
    b'</params></methodCall>',
    b'<methodCall><methodName>pool.get_all</methodName><params>',
    b'not xml at all',
])
def test_unsafe_or_malformed_xml_gets_http_500(lab, body):
    status, headers, page = post(lab.hosts[0], '/', body)
    assert status == 500 and b'<html>' in page


def test_request_size_is_bounded(lab):
    import http.client
    from xenpool_driver.simulator import http_server
    h = lab.hosts[0]
    conn = http.client.HTTPConnection(h.address, h.port, timeout=10)
    conn.putrequest('POST', '/')
    conn.putheader('Content-Length', str(http_server.MAX_REQUEST + 1))
    conn.endheaders()          # the body is never sent: the answer comes first
    assert conn.getresponse().status == 413
    conn.close()


def test_malformed_json_gets_http_500(lab):
    status, _, _ = post(lab.hosts[0], '/jsonrpc', b'{"nope', 'application/json')
    assert status == 500


def test_setters_and_other_config(lab):
    s = sdk(lab.hosts[0])
    pool = s.xenapi.pool.get_all()[0]
    s.xenapi.pool.add_to_other_config(pool, 'k', 'v')
    assert s.xenapi.pool.get_other_config(pool) == {'k': 'v'}
    pool_uuid = s.xenapi.pool.get_uuid(pool)
    assert failure(s.xenapi.pool.add_to_other_config, pool, 'k', 'w') == [
        'MAP_DUPLICATE_KEY', 'pool', 'other_config', pool_uuid, 'k']
    s.xenapi.pool.remove_from_other_config(pool, 'k')
    assert s.xenapi.pool.get_other_config(pool) == {}
    assert s.xenapi.host.get_by_name_label('host1') == [lab.hosts[0].ref]


def test_internal_error_shape(lab, mocker):
    from xenpool_driver.simulator import methods
    m = methods.lookup('pool.get_all')
    mocker.patch.object(m, 'func', side_effect=RuntimeError('boom'))
    s = sdk(lab.hosts[0])
    assert failure(s.xenapi.pool.get_all) == ['INTERNAL_ERROR', 'RuntimeError: boom']


def test_sdk_never_logged_in(lab):
    s = XenAPI.Session(lab.hosts[0].url)
    with pytest.raises(xmlrpc.client.Fault):
        s.xenapi.pool.get_all()
