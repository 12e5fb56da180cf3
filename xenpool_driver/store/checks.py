"""Input checks of the store: names, metadata mappings, host names, xapi URLs.

Every check runs before any database access, so bad input changes nothing
and costs no connection; each raises :class:`~.errors.InvalidInput` with a
one-line message that never repeats a secret.
"""

import collections.abc
import urllib.parse

from xenpool_driver.aggregates import bookkeeping
from xenpool_driver.store import errors, models


def check_name(value, what):
    """Check a name (aggregate, metadata key, host, uuid) the schema can hold.

    :param value: the name.
    :param what: what it names, for the message (``'aggregate name'``).
    :returns: ``value``.
    :raises InvalidInput: not a string, empty, blank-padded, or longer than
        ``models.NAME_LENGTH``.
    """
    if not isinstance(value, str) or not value.strip():
        raise errors.InvalidInput('%s must be a non-empty string, got %r'
                                  % (what, value))
    if value != value.strip():
        raise errors.InvalidInput('%s %r has leading or trailing blanks'
                                  % (what, value))
    if len(value) > models.NAME_LENGTH:
        raise errors.InvalidInput('%s is longer than %d characters'
                                  % (what, models.NAME_LENGTH))
    return value


def check_mapping(mapping, what, allow_none):
    """Check a mapping of names to string values (metadata, expectations).

    :param mapping: the mapping.
    :param what: what it is, for the message (``'metadata'``).
    :param allow_none: whether a value may be None (delete / must be absent).
    :returns: a new dict with the same items.
    :raises InvalidInput: not a mapping, a bad key (:func:`check_name`), or
        a value that is neither a string nor an allowed None.
    """
    if not isinstance(mapping, collections.abc.Mapping):
        raise errors.InvalidInput('%s must be a mapping, got %s'
                                  % (what, type(mapping).__name__))
    checked = {}
    for key, value in mapping.items():
        check_name(key, '%s key' % what)
        if value is None and allow_none:
            checked[key] = None
        elif isinstance(value, str):
            checked[key] = value
        else:
            raise errors.InvalidInput(
                '%s value of %r must be a string%s, got %r'
                % (what, key, ' or None' if allow_none else '', value))
    return checked


def check_host_name(host):
    """Check a compute host name, as the aggregate contract uses it.

    :param host: the name.
    :returns: ``host``.
    :raises InvalidInput: not a usable name, or one of
        ``bookkeeping.RESERVED_KEYS`` (the message lists them).
    """
    check_name(host, 'host name')
    # NOTE: the classic layout records a host as the metadata key "<host>":
    # a host called "operational_state" would overwrite the pool's state.
    if host in bookkeeping.RESERVED_KEYS:
        raise errors.InvalidInput(
            'host name %r is reserved (an aggregate metadata key); reserved '
            'names: %s' % (host, ', '.join(sorted(bookkeeping.RESERVED_KEYS))))
    return host


def check_url(url):
    """Check a host's xapi URL: ``http(s)://address[:port]``, no userinfo.

    :param url: the URL.
    :returns: ``url``.
    :raises InvalidInput: not such a URL; a URL with ``user:password@`` is
        refused (not stripped) and the message never repeats its userinfo.
    """
    if not isinstance(url, str) or not url:
        raise errors.InvalidInput('xapi URL must be a non-empty string, '
                                  'got %r' % (url,))
    parts = urllib.parse.urlsplit(url)
    if '@' in parts.netloc:
        # NOTE: refused rather than stripped: the operator learns that the
        # password was not used, and it is never stored nor echoed.
        raise errors.InvalidInput(
            'refused xapi URL %s://<userinfo>@%s: credentials in a URL are '
            'never stored; give the URL without "user:password@" (the '
            'password comes from [xenserver] connection_password or the lab '
            'file)' % (parts.scheme, parts.netloc.rsplit('@', 1)[1]))
    if parts.scheme not in ('http', 'https') or not parts.netloc:
        # NOTE: "root:secret@host" (no scheme) has no netloc: not echoed.
        shown = '<not shown: it has an "@">' if '@' in url else repr(url)
        raise errors.InvalidInput('xapi URL must be http(s)://host[:port], '
                                  'got %s' % shown)
    return url
