"""The wire codecs: XML-RPC and JSON-RPC, encoded as xapi encodes.

xapi's XML-RPC encoder (ocaml-rpc) writes strings untyped
(``<value>text</value>``) and 64-bit ints as strings; every response is a
struct ``{Status, Value}`` or ``{Status, ErrorDescription}``; API errors are
never XML-RPC faults. JSON-RPC 1.0 and 2.0 are served at ``/jsonrpc`` (the
routes are in :mod:`.http_server`).
"""

import datetime
import json
import re
import xmlrpc.client

from xenpool_driver.simulator.model import I4

_UNSAFE_XML = re.compile(rb'<!\s*(DOCTYPE|ENTITY)', re.I)
XAPI_DATETIME = '%Y%m%dT%H:%M:%SZ'


# -- XML-RPC ------------------------------------------------------------------
def _esc(s):
    if '&' in s:
        s = s.replace('&', '&amp;')
    if '<' in s:
        s = s.replace('<', '&lt;')
    if '>' in s:
        s = s.replace('>', '&gt;')
    if '\r' in s:
        s = s.replace('\r', '&#13;')
    return s


def _xml(v, out):
    t = type(v)
    if t is str:
        out.append('<value>%s</value>' % _esc(v))
    elif t is bool:
        out.append('<value><boolean>%d</boolean></value>' % v)
    elif t is I4:
        out.append('<value><i4>%d</i4></value>' % v)
    elif t is int:
        out.append('<value>%d</value>' % v)
    elif t is float:
        out.append('<value><double>%.16g</double></value>' % v)
    elif t is dict:
        out.append('<value><struct>')
        for k, x in v.items():
            out.append('<member><name>%s</name>' % _esc(str(k)))
            _xml(x, out)
            out.append('</member>')
        out.append('</struct></value>')
    elif t in (list, tuple):
        out.append('<value><array><data>')
        for x in v:
            _xml(x, out)
        out.append('</data></array></value>')
    elif t is datetime.datetime:
        out.append('<value><dateTime.iso8601>%s</dateTime.iso8601></value>'
                   % v.strftime(XAPI_DATETIME))
    elif v is None:
        out.append('<value></value>')
    elif isinstance(v, bool):
        _xml(bool(v), out)
    elif isinstance(v, int):
        _xml(int(v), out)
    elif isinstance(v, str):
        _xml(str(v), out)
    else:
        raise TypeError('cannot encode %r' % (v,))


def xml_fragment(value):
    """``<value>…</value>`` of ``value``: how xapi records a task's result."""
    out = []
    _xml(value, out)
    return ''.join(out)


def xml_response(ok, value, bare=False):
    """A methodResponse carrying xapi's Status struct.

    :param bare: write ``value`` itself, without the Status struct (xapi's
        ``api_server.ml`` does so for ``system.listMethods``).
    """
    if bare:
        struct = value
    elif ok:
        struct = {'Status': 'Success', 'Value': value}
    else:
        struct = {'Status': 'Failure', 'ErrorDescription': value}
    out = ['<?xml version="1.0"?><methodResponse><params><param>']
    _xml(struct, out)
    out.append('</param></params></methodResponse>')
    return ''.join(out).encode('utf-8')


def xml_request(body):
    """Parse an XML-RPC request safely: (method, params list).

    :raises ValueError: DOCTYPE/ENTITY declarations or malformed XML.
    """
    if _UNSAFE_XML.search(body):
        raise ValueError('DOCTYPE and ENTITY declarations are refused')
    try:
        params, method = xmlrpc.client.loads(body)
    except Exception as exc:   # expat errors, bad values
        raise ValueError('malformed XML-RPC request: %s' % exc)
    if not method:
        raise ValueError('no methodName')
    return method, [_from_wire(p) for p in params]


def _from_wire(v):
    if isinstance(v, xmlrpc.client.DateTime):
        return datetime.datetime.strptime(v.value.replace('-', ''), '%Y%m%dT%H:%M:%S')
    if isinstance(v, list):
        return [_from_wire(x) for x in v]
    if isinstance(v, dict):
        return {k: _from_wire(x) for k, x in v.items()}
    return v


# -- JSON-RPC -----------------------------------------------------------------
def _json_default(v):
    if isinstance(v, datetime.datetime):
        return v.strftime(XAPI_DATETIME)
    raise TypeError('cannot encode %r' % (v,))


def json_request(body):
    """Parse a JSON-RPC request: (v2, id, method, params).

    As ocaml-rpc's ``Jsonrpc.version_id_and_call_of_string``: ``id`` is
    required; v1 requires ``params`` (a list); v2 may omit it, and a params
    object is passed as one struct parameter.

    :raises ValueError: malformed request (xapi answers HTTP 500).
    """
    try:
        req = json.loads(body)
        method = req['method']
        version = req.get('jsonrpc')
        if version not in (None, '2.0') or not isinstance(method, str):
            raise ValueError
        v2 = version == '2.0'
        params = req.get('params', []) if v2 else req['params']
        if v2 and isinstance(params, dict):
            params = [params]
        if not isinstance(params, list):
            raise ValueError
        rid = req['id']
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ValueError('malformed JSON-RPC request')
    return v2, rid, method, params


def json_response(v2, rid, ok, value):
    if v2:
        resp = {'jsonrpc': '2.0', 'id': rid}
        if ok:
            resp['result'] = value
        else:
            resp['error'] = {'code': 1, 'message': value[0], 'data': value[1:]}
    elif ok:
        resp = {'result': value, 'error': None, 'id': rid}
    else:
        resp = {'result': None, 'error': value, 'id': rid}
    return json.dumps(resp, default=_json_default).encode('utf-8')
