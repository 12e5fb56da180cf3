"""The XML-RPC transport the XenAPI SDK talks through: timeouts, TLS, limits.

The SDK's ``Session`` (an ``xmlrpc.client.ServerProxy``) has no timeout and
no TLS options of its own; everything that touches the socket lives here:

* a per-call socket timeout (:meth:`XapiTransportMixin.prepare`), set on the
  ``HTTP(S)Connection`` in ``make_connection`` (new and reused connections);
* a TLS context built from ``ca_file`` / ``insecure`` (verified by default;
  the hostname is checked against the URL's host, an IP for xapi, which
  matches the IP SANs of xapi's certificates);
* a bound on the response size and on the total time spent reading it
  (hostile or broken servers);
* whether the request bytes were sent (``request_sent``), so that a dropped
  connection can be told apart: refused (nothing happened) vs reset after
  sending (the call may have been applied);
* the wire method names actually sent (including the SDK's own hidden
  re-logins), for round-trip counting.

One transport belongs to one SDK session, which is used by one thread at a
time (the session pool checks them out), so per-call attributes are safe.
"""

import re
import ssl
import time
import xmlrpc.client

#: Largest XML-RPC response accepted, in bytes (a pool's full
#: ``event.from`` on ``*`` is a few MiB; anything near this is hostile).
MAX_RESPONSE_BYTES = 64 * 1024 * 1024

_READ_CHUNK = 64 * 1024
_METHOD_NAME = re.compile(rb'<methodName>\s*([^<\s]+)\s*</methodName>')


class ResponseTooLarge(Exception):
    """The server sent more than the allowed number of response bytes."""


def make_ssl_context(ca_file=None, insecure=False):
    """Return the TLS context for xapi connections.

    :param ca_file: CA bundle (None: the system trust store).
    :param insecure: when True, certificates and hostnames are not checked.
    :returns: an :class:`ssl.SSLContext`.
    :raises OSError/ssl.SSLError: ``ca_file`` cannot be read or parsed.
    """
    if insecure:
        # NOTE: only when the operator asked for it (labs with self-signed
        # certificates); the default path below always verifies.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=ca_file)


class XapiTransportMixin(object):
    """Timeouts, response bounds and bookkeeping shared by HTTP and HTTPS.

    Post-conditions of one request: ``request_sent`` is False when it failed
    before the request body was handed to the socket, True after;
    ``wire_methods`` lists the XML-RPC method names sent since
    :meth:`prepare`.
    """

    def _init_xapi(self, timeout, max_response_bytes, clock):
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.reuse_connection = True
        self.request_sent = None
        self.wire_methods = []
        self._clock = clock or time.monotonic
        self._deadline = None

    def prepare(self, timeout, reuse_connection=True):
        """Set up the next call(s).

        :param timeout: socket timeout in seconds, also the bound on the time
            spent reading one response.
        :param reuse_connection: False to force a fresh connection and a
            single attempt (for calls that must never be sent twice).
        """
        self.timeout = timeout
        self.reuse_connection = reuse_connection
        self.request_sent = None
        self.wire_methods = []

    def make_connection(self, host):
        conn = super().make_connection(host)
        conn.timeout = self.timeout
        if conn.sock is not None:
            # NOTE: a kept-alive connection already has its socket; the new
            # call's timeout (login vs call vs event.from) must reach it too.
            conn.sock.settimeout(self.timeout)
        return conn

    def request(self, host, handler, request_body, verbose=False):
        match = _METHOD_NAME.search(request_body[:4096])
        self.wire_methods.append(
            match.group(1).decode('ascii', 'replace') if match else '?')
        self.request_sent = False
        self._deadline = self._clock() + self.timeout
        if self.reuse_connection:
            # NOTE: the stdlib resends once when a kept-alive connection went
            # cold (reset/EPIPE). Fine for calls that are safe to repeat.
            return super().request(host, handler, request_body, verbose)
        # NOTE: pool.join & co must never be sent twice. A fresh connection
        # cannot be cold, so a single attempt loses nothing.
        self.close()
        return self.single_request(host, handler, request_body, verbose)

    def send_request(self, host, handler, request_body, debug):
        self.request_sent = False
        conn = super().send_request(host, handler, request_body, debug)
        self.request_sent = True
        return conn

    def parse_response(self, response):
        if response.getheader('Content-Encoding', '') == 'gzip':
            stream = xmlrpc.client.GzipDecodedResponse(response)
        else:
            stream = response
        parser, unmarshaller = self.getparser()
        total = 0
        while True:
            data = stream.read(_READ_CHUNK)
            if not data:
                break
            total += len(data)
            if total > self.max_response_bytes:
                raise ResponseTooLarge(
                    'response larger than %d bytes' % self.max_response_bytes)
            if self._deadline is not None and self._clock() > self._deadline:
                # NOTE: the socket timeout bounds each read, not the whole
                # response: a server dripping bytes would hold us forever.
                raise TimeoutError('response not read within %.1fs'
                                   % self.timeout)
            parser.feed(data)
        if stream is not response:
            stream.close()
        parser.close()
        return unmarshaller.close()


class XapiTransport(XapiTransportMixin, xmlrpc.client.Transport):
    """Plain-HTTP transport (the simulator on loopback, ``http://`` URLs)."""

    def __init__(self, timeout, max_response_bytes=MAX_RESPONSE_BYTES,
                 clock=None):
        super().__init__()
        self._init_xapi(timeout, max_response_bytes, clock)


class XapiSafeTransport(XapiTransportMixin, xmlrpc.client.SafeTransport):
    """HTTPS transport; verifies certificates unless built insecure."""

    def __init__(self, timeout, context, max_response_bytes=MAX_RESPONSE_BYTES,
                 clock=None):
        super().__init__(context=context)
        self._init_xapi(timeout, max_response_bytes, clock)


def make_transport(url, timeout, context=None,
                   max_response_bytes=MAX_RESPONSE_BYTES):
    """Return the transport for ``url`` (HTTPS when the scheme is https).

    :param url: the xapi URL (``http://`` or ``https://``).
    :param timeout: initial socket timeout (seconds).
    :param context: the SSL context of an https URL (see
        :func:`make_ssl_context`; the session builds it once per handle).
    :raises ValueError: an https URL without a context.
    """
    if url.lower().startswith('https:'):
        if context is None:
            raise ValueError('an https transport needs an SSL context')
        return XapiSafeTransport(timeout, context, max_response_bytes)
    return XapiTransport(timeout, max_response_bytes)


__all__ = ['MAX_RESPONSE_BYTES', 'ResponseTooLarge', 'XapiSafeTransport',
           'XapiTransport', 'make_ssl_context', 'make_transport']
