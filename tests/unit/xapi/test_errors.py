"""Translation of SDK / HTTP / socket errors: the one table."""

import errno
import http.client
import socket
import ssl
import xml.parsers.expat
import xmlrpc.client

import pytest
import XenAPI

from tests import passwords
from xenpool_driver import exception
from xenpool_driver import redaction
from xenpool_driver.xapi import errors
from xenpool_driver.xapi import transport

U = exception.XapiUnavailable
T = exception.XapiTimeout
P = exception.XapiProtocolError


@pytest.mark.parametrize('exc, sent, cls, kind, maybe_applied', [
    (ConnectionRefusedError(errno.ECONNREFUSED, 'refused'), None, U,
     exception.REFUSED, False),
    (ConnectionRefusedError(errno.ECONNREFUSED, 'refused'), False, U,
     exception.REFUSED, False),
    (http.client.RemoteDisconnected('closed'), None, U, exception.RESET, True),
    (http.client.RemoteDisconnected('closed'), True, U, exception.RESET, True),
    (ConnectionResetError(errno.ECONNRESET, 'reset'), True, U, exception.RESET,
     True),
    (ConnectionResetError(errno.ECONNRESET, 'reset'), False, U, exception.RESET,
     False),
    (BrokenPipeError(errno.EPIPE, 'pipe'), True, U, exception.RESET, True),
    (socket.timeout('timed out'), None, T, exception.TIMEOUT, True),
    (socket.timeout('timed out'), False, T, exception.TIMEOUT, False),
    (ssl.SSLCertVerificationError('verify failed'), False, U, exception.TLS,
     False),
    # NOTE: xapi restarting closes TLS without close_notify: a reset, retried
    (ssl.SSLEOFError('EOF in violation of protocol'), True, U, exception.RESET,
     True),
    (ssl.SSLZeroReturnError('closed'), False, U, exception.RESET, False),
    (socket.gaierror(-2, 'no such host'), False, U, exception.NETWORK, False),
    (OSError(errno.EHOSTUNREACH, 'unreachable'), None, U, exception.NETWORK,
     False),
    (xmlrpc.client.Fault(504, 'The connection timed out'), None, T,
     exception.TIMEOUT, False),
    (xmlrpc.client.Fault(500, 'Missing Status in response from server'),
     True, P, exception.PROTOCOL, True),
    (xml.parsers.expat.ExpatError('not well-formed'), True, P,
     exception.PROTOCOL, True),
    (xmlrpc.client.ResponseError('bad'), True, P, exception.PROTOCOL, True),
    (xmlrpc.client.ProtocolError('h/', 500, 'Internal', {}), True, P,
     exception.PROTOCOL, True),
    (transport.ResponseTooLarge('big'), True, P, exception.PROTOCOL, True),
    (http.client.BadStatusLine('garbage'), True, P, exception.PROTOCOL, True),
])
def test_unavailable_table(exc, sent, cls, kind, maybe_applied):
    err = errors.translate(exc, 'pool.get_all', 'https://192.0.2.1', sent)
    assert type(err) is cls
    assert err.kind == kind
    assert err.maybe_applied is maybe_applied
    assert err.method == 'pool.get_all'
    assert '192.0.2.1' in str(err)


@pytest.mark.parametrize('details, code, params', [
    (['HOST_IS_SLAVE', '192.0.2.9'], 'HOST_IS_SLAVE', ['192.0.2.9']),
    (['HOSTS_NOT_HOMOGENEOUS', 'CPUs differ'], 'HOSTS_NOT_HOMOGENEOUS',
     ['CPUs differ']),
    (['HOST_STILL_BOOTING'], 'HOST_STILL_BOOTING', []),
])
def test_failure_becomes_xapi_error(details, code, params):
    err = errors.translate(XenAPI.Failure(details), 'pool.join', 'h')
    assert type(err) is exception.XapiError
    assert (err.code, err.params, err.method, err.host) == (
        code, params, 'pool.join', 'h')


@pytest.mark.parametrize('text', [
    'Tried 3 times to get a valid session, but failed',
    'Received SESSION_INVALID when logging in',
])
def test_sdk_session_faults_become_session_invalid(text):
    err = errors.translate(xmlrpc.client.Fault(500, text), 'pool.get_all')
    assert errors.is_code(err, 'SESSION_INVALID')


def test_type_error_from_sdk_parser_is_protocol_error():
    with pytest.raises(TypeError) as info:
        XenAPI.XenAPI._parse_result(42)
    err = errors.translate(info.value, 'pool.get_all', 'h')
    assert isinstance(err, exception.XapiProtocolError)


def test_our_own_type_error_is_not_swallowed():
    try:
        len(5)
    except TypeError as exc:
        assert errors.translate(exc) is None


def test_empty_failure_is_protocol_error():
    err = errors.translate(XenAPI.Failure([]), 'm', 'h')
    assert isinstance(err, exception.XapiProtocolError)


def test_password_never_in_translated_text():
    redaction.register_secret(passwords.PASSWORD)
    err = errors.translate(
        XenAPI.Failure(['SESSION_AUTHENTICATION_FAILED', 'root',
                        'bad %s' % passwords.PASSWORD]), 'm', 'h')
    assert passwords.PASSWORD not in str(err)
    err = errors.translate(
        xmlrpc.client.Fault(500, 'echo %s' % passwords.PASSWORD), 'm', 'h')
    assert passwords.PASSWORD not in str(err)
