"""The one place where SDK, HTTP and socket errors become our errors.

:func:`translate` maps whatever the XenAPI SDK, ``xmlrpc.client``,
``http.client``, ``ssl`` or the socket raised into the
:mod:`xenpool_driver.exception` hierarchy:

* no (usable) answer -> :class:`~xenpool_driver.exception.XapiUnavailable`
  (``XapiTimeout`` for timeouts, ``XapiProtocolError`` for garbage), with
  ``maybe_applied`` telling whether the request may have been executed, and
  a ``kind`` attribute the retry policies key on;
* xapi answered an error -> :class:`~xenpool_driver.exception.XapiError`
  with XAPI's code and params.

Texts pass through the exception constructors, which redact secrets.
"""

import http.client
import socket
import ssl
import xml.parsers.expat
import xmlrpc.client

import XenAPI

from xenpool_driver import exception
from xenpool_driver.xapi import transport


SESSION_INVALID = 'SESSION_INVALID'
HOST_IS_SLAVE = 'HOST_IS_SLAVE'
HOST_STILL_BOOTING = 'HOST_STILL_BOOTING'


def _unavailable(cls, kind, host, exc, method, maybe_applied):
    reason = '%s: %s' % (type(exc).__name__, exc) if str(exc) else \
        type(exc).__name__
    return cls(host, reason, method=method, maybe_applied=maybe_applied,
               kind=kind)


def _raised_by_sdk_parser(exc):
    """True when ``exc`` was raised inside the SDK's ``_parse_result``."""
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    return last is not None and last.tb_frame.f_code.co_name == '_parse_result'


def _from_fault(fault, method, host, sent):
    text = fault.faultString or ''
    if fault.faultCode == 504:
        # NOTE: the SDK turns ETIMEDOUT during login into Fault 504.
        return _unavailable(exception.XapiTimeout, exception.TIMEOUT, host, fault,
                            method, False)
    if fault.faultCode == 401 or 'SESSION_INVALID' in text or \
            'valid session' in text:
        # NOTE: 'Tried 3 times to get a valid session' - the SDK's own
        # re-login gave up; the session layer re-logs in once itself.
        return exception.XapiError(SESSION_INVALID, [text], method=method,
                                   host=host)
    return _unavailable(exception.XapiProtocolError, exception.PROTOCOL, host, fault,
                        method, True if sent is None else sent)


# How "was the request sent?" is answered when the transport does not know.
_SENT_UNLESS_KNOWN = 'unless-known'  # True unless the transport says no
_IF_KNOWN = 'if-known'               # only when the transport says so
_NEVER = 'never'                     # nothing reached xapi

#: Socket, TLS and HTTP failures, in order (first match wins):
#: ``(types, error class, kind, maybe_applied rule)``.
_TRANSPORT_FAILURES = (
    ((transport.ResponseTooLarge, xml.parsers.expat.ExpatError,
      xmlrpc.client.ResponseError, xmlrpc.client.ProtocolError),
     exception.XapiProtocolError, exception.PROTOCOL, _SENT_UNLESS_KNOWN),
    # NOTE: the peer closed the TCP connection (xapi restarted; a kept-alive
    # connection went cold): a dropped connection, like a reset over plain
    # HTTP - not a certificate or handshake failure.
    ((ssl.SSLEOFError, ssl.SSLZeroReturnError),
     exception.XapiUnavailable, exception.RESET, _SENT_UNLESS_KNOWN),
    # NOTE: SSLError is an OSError: it comes before the socket errors.
    ((ssl.SSLError,), exception.XapiUnavailable, exception.TLS, _IF_KNOWN),
    ((socket.timeout, TimeoutError), exception.XapiTimeout, exception.TIMEOUT,
     _SENT_UNLESS_KNOWN),
    ((ConnectionRefusedError,), exception.XapiUnavailable, exception.REFUSED, _NEVER),
    # NOTE: a drop after the request was sent is the ambiguous case: xapi
    # may have run the call (re-read reality before repeating).
    ((http.client.RemoteDisconnected, ConnectionResetError,
      ConnectionAbortedError, BrokenPipeError),
     exception.XapiUnavailable, exception.RESET, _SENT_UNLESS_KNOWN),
    ((http.client.HTTPException,), exception.XapiProtocolError, exception.PROTOCOL,
     _SENT_UNLESS_KNOWN),
    ((OSError,), exception.XapiUnavailable, exception.NETWORK, _IF_KNOWN),
)


def _maybe_applied(rule, sent):
    if rule == _NEVER:
        return False
    if rule == _IF_KNOWN:
        return bool(sent)
    return True if sent is None else sent


def translate(exc, method=None, host=None, sent=None):
    """Return the :mod:`xenpool_driver.exception` error for ``exc``.

    :param exc: the exception raised while calling xapi.
    :param method: the XAPI method being called (never its arguments).
    :param host: the URL or address called.
    :param sent: whether the request bytes reached the socket (from the
        transport); None when unknown - then inferred from the error type.
    :returns: a :class:`~xenpool_driver.exception.XenPoolError`, or None
        when ``exc`` is not a transport/xapi error (a bug: let it through).
    """
    if isinstance(exc, exception.XenPoolError):
        return exc
    if isinstance(exc, XenAPI.Failure):
        details = getattr(exc, 'details', None)
        if isinstance(details, (list, tuple)) and details:
            return exception.XapiError(details[0], [str(p) for p in details[1:]],
                                       method=method, host=host)
        return _unavailable(exception.XapiProtocolError, exception.PROTOCOL, host, exc,
                            method, True)
    if isinstance(exc, xmlrpc.client.Fault):
        return _from_fault(exc, method, host, sent)
    if isinstance(exc, (TypeError, KeyError, IndexError, AttributeError)):
        # NOTE: the SDK's _parse_result raises TypeError on a non-dict
        # response (it concatenates the value to a str) and IndexError on an
        # empty ErrorDescription; anywhere else these are our own bugs.
        if _raised_by_sdk_parser(exc):
            return _unavailable(exception.XapiProtocolError, exception.PROTOCOL, host,
                                exc, method, True)
        return None
    for types, cls, kind, rule in _TRANSPORT_FAILURES:
        if isinstance(exc, types):
            return _unavailable(cls, kind, host, exc, method,
                                _maybe_applied(rule, sent))
    return None


def is_code(err, *codes):
    """True when ``err`` is an XapiError with one of ``codes``."""
    return isinstance(err, exception.XapiError) and err.code in codes
