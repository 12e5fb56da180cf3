"""The one choke point where secrets are taken out of text.

Every password the driver learns (the configured one, a master's, a slave's)
is registered here, and every exception text passes through :func:`redact`
(:class:`xenpool_driver.exception.XenPoolError` does it for each message and
each XAPI parameter), so that no secret reaches an error, and through errors
a log line, metadata or a command line.

NOTE: log calls never format a secret in the first place (the calls that
carry a password are never logged with their arguments); the suite's secret
scan (tests/conftest.py) checks every log record and exception text of every
test for every password the tests use.
"""

import threading

MASK = '***'

_lock = threading.Lock()
_secrets = set()


def register_secret(secret):
    """Remember ``secret`` so that :func:`redact` masks it from now on.

    :param secret: a password or token; empty values and None are ignored.
    """
    if secret:
        with _lock:
            _secrets.add(str(secret))


def redact(value):
    """Return ``value`` as text with every registered secret masked.

    :param value: anything; it is converted with ``str()`` first.
    :returns: the text, with each registered secret replaced by ``***``.
    """
    text = value if isinstance(value, str) else str(value)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text
