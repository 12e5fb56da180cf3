"""The one choke point where secrets are taken out of text.

Every password the driver learns (the configured one, a master's, a slave's)
is registered here; exception texts and log records pass through
:func:`redact` so that no secret ever reaches a log line, an exception text,
metadata or a command line.
"""

import logging
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


def redact_args(args):
    """Return a tuple of call arguments safe to show (secrets masked)."""
    return tuple(redact(a) if isinstance(a, str) else a for a in args)


class RedactingFilter(logging.Filter):
    """A logging filter that masks registered secrets in every record."""

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # NOTE: a bad format string must not kill logging
            message = str(record.msg)
        record.msg = redact(message)
        record.args = ()
        return True


def install_log_filter(logger_name='xenpool_driver'):
    """Attach :class:`RedactingFilter` to the project's logger (idempotent)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger
