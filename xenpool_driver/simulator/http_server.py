"""The per-host HTTP/1.1 server (keep-alive, optional TLS) that feeds one
dispatcher: :class:`HostServer` (the listening socket, a thread per
connection) and :class:`Handler` (one connection's requests).

Requests are routed by the longest matching path prefix, as xapi's
``http_svr.ml`` routes them (see :data:`ROUTES`); RPC bodies are decoded and
answers encoded by the codecs of :mod:`.rpc`.
"""

import http.server
import os
import socket
import threading

from xenpool_driver.simulator.errors import DropConnection
from xenpool_driver.simulator.rpc import json_request, json_response, xml_request, xml_response

#: Largest request body accepted (xapi bounds requests too).
MAX_REQUEST = 4 * 1024 * 1024

_ERROR_PAGE = (b'<html><body><h1>HTTP 500 internal server error</h1>'
               b'An unexpected error occurred; please wait a while and try again.'
               b'</body></html>')
_FORBIDDEN_PAGE = (b'<html><body><h1>HTTP 403 forbidden</h1>Access to the requested '
                   b'resource is forbidden.</body></html>')
_MISSING_PAGE = b'<html><body><h1>HTTP 404 not found</h1></body></html>'

XMLRPC, JSONRPC, OPTIONS, NOT_MODELLED = 'xmlrpc', 'jsonrpc', 'options', None

#: xapi's handlers for each HTTP method (``ocaml/idl/datamodel.ml``
#: ``http_actions``, bound in ``ocaml/xapi/xapi.ml``): path prefix -> handler.
#: ``/json`` is ``Api_server.callback true``: XML-RPC in, XML-RPC out. The
#: other handlers xapi has (the CLI, file server, imports, RRDs...) are not
#: modelled; PUT and CONNECT paths all fall to xapi's default handler (403).
ROUTES = {
    'POST': {'/': XMLRPC, '/RPC2': XMLRPC, '/json': XMLRPC, '/jsonrpc': JSONRPC,
             '/cli': NOT_MODELLED},
    'OPTIONS': {'/': OPTIONS, '/json': OPTIONS, '/jsonrpc': OPTIONS},
    'GET': {'/': NOT_MODELLED},
    'PUT': {},
    'CONNECT': {},
}

#: Headers of every RPC response (``ocaml/xapi/api_server.ml``).
_RPC_HEADERS = (('Access-Control-Allow-Origin', '*'),
                ('Access-Control-Allow-Headers', 'X-Requested-With'))


def route(method, path):
    """The handler of ``method path``: the longest registered prefix of ``path``.

    As ``Http_svr.handle_one`` (``ocaml/libs/http-lib/http_svr.ml``) does with
    its radix tree: a plain string prefix, so ``POST /xmlrpc`` is XML-RPC
    (prefix ``/``) and ``POST /jsonrpcx`` JSON-RPC.

    :returns: (known method, handler name or None); None when no prefix matches.
    """
    table = ROUTES.get(method)
    if table is None:
        return False, None
    best = None
    for prefix in table:
        if path.startswith(prefix) and (best is None or len(prefix) > len(best)):
            best = prefix
    return True, (table[best] if best is not None else 'forbidden')


class Handler(http.server.BaseHTTPRequestHandler):
    """One keep-alive connection; every RPC goes to ``server.dispatch``."""

    protocol_version = 'HTTP/1.1'
    server_version = 'xapi-simulator'
    sys_version = ''

    def log_message(self, *args):
        pass

    def _reply(self, status, ctype, body, close=False, headers=()):
        """Write one response with xapi's framing headers (``http_svr.ml``).

        ``Connection`` says ``close`` for an error page or when the client
        asked for it, else ``keep-alive``; ``Cache-Control: no-cache, no-store``.
        """
        close = close or self.close_connection
        version = 'HTTP/1.0' if self.request_version == 'HTTP/1.0' else 'HTTP/1.1'
        head = ['%s %d %s' % (version, status, self.responses.get(status, ('',))[0]),
                'Connection: ' + ('close' if close else 'keep-alive'),
                'Cache-Control: no-cache, no-store',
                'Content-Length: %d' % len(body)]
        if ctype:
            head.append('Content-Type: ' + ctype)
        head.extend('%s: %s' % kv for kv in headers)
        if close:
            self.close_connection = True
        self.wfile.write(('\r\n'.join(head) + '\r\n\r\n').encode('latin-1') + body)

    def _path(self):
        return self.path.split('?', 1)[0]

    def _body(self):
        """The request body, or None once a 413 has been answered."""
        try:
            length = int(self.headers.get('Content-Length') or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_REQUEST:
            self._reply(413, 'text/html', b'<html>request too large</html>', close=True)
            return None
        return self.rfile.read(length)

    def _handle(self):
        known, handler = route(self.command, self._path())
        if not known:
            # NOTE: Http_svr: no handler map for the method -> 501.
            page = (b'<html><body><h1>HTTP 501 Method Not Implemented</h1><p>%s not '
                    b'supported.<br /></p></body></html>' % self.command.encode('latin-1'))
            return self._reply(501, 'text/html', page, close=True)
        if handler == 'forbidden':
            return self._reply(403, 'text/html', _FORBIDDEN_PAGE, close=True)
        if handler == OPTIONS:
            return self._options()
        if handler is NOT_MODELLED:
            return self._reply(404, 'text/html', _MISSING_PAGE, close=True)
        body = self._body()
        if body is None:
            return None
        try:
            if handler == XMLRPC:
                return self._xmlrpc(body)
            return self._jsonrpc(body)
        except DropConnection:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _xmlrpc(self, body):
        try:
            method, params = xml_request(body)
        except ValueError:
            return self._reply(500, 'text/html', _ERROR_PAGE, close=True)
        ok, value = self.server_ref.dispatch(method, params)
        bare = method == 'system.listMethods'
        return self._reply(200, 'text/xml', xml_response(ok, value, bare=bare),
                           headers=_RPC_HEADERS)

    def _jsonrpc(self, body):
        try:
            v2, rid, method, params = json_request(body)
        except ValueError:
            return self._reply(500, 'text/html', _ERROR_PAGE, close=True)
        ok, value = self.server_ref.dispatch(method, params)
        return self._reply(200, 'application/json', json_response(v2, rid, ok, value),
                           headers=_RPC_HEADERS)

    def _options(self):
        """``Http_svr.respond_to_options``: CORS preflight, empty body."""
        asked = self.headers.get('Access-Control-Request-Headers')
        allow = '%s, X-Requested-With' % asked if asked else 'X-Requested-With'
        return self._reply(200, None, b'', headers=(
            ('Access-Control-Allow-Origin', '*'),
            ('Access-Control-Allow-Headers', allow),
            ('Access-Control-Allow-Methods', 'PUT')))

    do_POST = do_GET = do_PUT = do_OPTIONS = do_CONNECT = _handle

    def __getattr__(self, name):
        # NOTE: every other method (DELETE, HEAD, PATCH...) gets xapi's 501.
        if name.startswith('do_'):
            return self._handle
        raise AttributeError(name)


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

    def bind_unix(self, path):
        """Listen on the Unix socket ``path`` (xapi's local socket; no TLS)."""
        if os.path.exists(path):
            os.unlink(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(path)
            os.chmod(path, 0o600)
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        self._sock = sock

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
            if conn.family != socket.AF_UNIX:
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
