"""The wire: XML-RPC and JSON-RPC codecs, encoded as xapi encodes, and the
per-host HTTP/1.1 server (keep-alive, optional TLS) that feeds one dispatcher.

xapi's XML-RPC encoder (ocaml-rpc) writes strings untyped
(``<value>text</value>``) and 64-bit ints as strings; every response is a
struct ``{Status, Value}`` or ``{Status, ErrorDescription}``; API errors are
never XML-RPC faults. JSON-RPC 1.0 and 2.0 are served at ``/jsonrpc``.
"""

import datetime
import http.server
import json
import re
import socket
import threading
import xmlrpc.client

from xenpool_driver.simulator.errors import DropConnection
from xenpool_driver.simulator.model import I4

#: Largest request body accepted (xapi bounds requests too).
MAX_REQUEST = 4 * 1024 * 1024
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


def xml_response(ok, value):
    """A methodResponse carrying xapi's Status struct."""
    if ok:
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
    try:
        req = json.loads(body)
        method = req['method']
        params = req.get('params') or []
        if not isinstance(method, str) or not isinstance(params, list):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise ValueError('malformed JSON-RPC request')
    return req.get('jsonrpc') == '2.0', req.get('id'), method, params


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


# -- HTTP ---------------------------------------------------------------------
_ERROR_PAGE = (b'<html><body><h1>HTTP 500 internal server error</h1>'
               b'An unexpected error occurred; please wait a while and try again.'
               b'</body></html>')


class Handler(http.server.BaseHTTPRequestHandler):
    """One keep-alive connection; every POST goes to ``server.dispatch``."""

    protocol_version = 'HTTP/1.1'
    server_version = 'xapi-simulator'
    sys_version = ''

    def log_message(self, *args):
        pass

    def _reply(self, status, ctype, body, close=False):
        head = ['HTTP/1.1 %d %s' % (status, self.responses.get(status, ('',))[0]),
                'Content-Type: ' + ctype, 'Content-Length: %d' % len(body),
                'Access-Control-Allow-Origin: *']
        if close:
            head.append('Connection: close')
            self.close_connection = True
        self.wfile.write(('\r\n'.join(head) + '\r\n\r\n').encode('latin-1') + body)

    def do_POST(self):
        path = self.path.split('?', 1)[0]
        try:
            length = int(self.headers.get('Content-Length') or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_REQUEST:
            return self._reply(413, 'text/html', b'<html>request too large</html>', close=True)
        body = self.rfile.read(length)
        dispatch = self.server_ref.dispatch
        try:
            if path in ('/', '/RPC2'):
                try:
                    method, params = xml_request(body)
                except ValueError:
                    return self._reply(500, 'text/html', _ERROR_PAGE, close=True)
                ok, value = dispatch(method, params)
                return self._reply(200, 'text/xml', xml_response(ok, value))
            if path in ('/jsonrpc', '/json'):
                try:
                    v2, rid, method, params = json_request(body)
                except ValueError:
                    return self._reply(500, 'text/html', _ERROR_PAGE, close=True)
                ok, value = dispatch(method, params)
                return self._reply(200, 'application/json', json_response(v2, rid, ok, value))
            return self._reply(404, 'text/html', b'<html>not found</html>')
        except DropConnection:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def do_GET(self):
        self._reply(404, 'text/html', b'<html>not found</html>')


class HostServer(object):
    """A listening socket with an accept thread and a thread per connection.

    :meth:`stop` closes the listener and every open connection at once, so
    a stopped host refuses connections exactly like a dead xapi.
    """

    def __init__(self, dispatch, ssl_context=None):
        self.dispatch = dispatch
        self.ssl_context = ssl_context
        self._sock = None
        self._conns = set()
        self._lock = threading.Lock()

    def bind(self, address, port):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        return sock.getsockname()[1]

    def start(self):
        threading.Thread(target=self._accept, args=(self._sock,), daemon=True,
                         name='xapi-sim-accept').start()

    @property
    def listening(self):
        return self._sock is not None

    def _accept(self, sock):
        while True:
            try:
                conn, addr = sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn, addr), daemon=True,
                             name='xapi-sim-conn').start()

    def _serve(self, conn, addr):
        with self._lock:
            if self._sock is None:
                conn.close()
                return
            self._conns.add(conn)
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.ssl_context is not None:
                conn = self.ssl_context.wrap_socket(conn, server_side=True)
                with self._lock:
                    self._conns.add(conn)
            handler = Handler.__new__(Handler)
            handler.server_ref = self
            Handler.__init__(handler, conn, addr, self)
        except Exception:   # client vanished, TLS handshake refused, etc.
            pass
        finally:
            with self._lock:
                self._conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def stop(self):
        """Stop listening and cut every open connection."""
        with self._lock:
            sock, self._sock = self._sock, None
            conns, self._conns = list(self._conns), set()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
