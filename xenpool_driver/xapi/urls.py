"""xapi URLs: reaching another host of a pool from a URL we already use."""

import urllib.parse


def url_for_address(template_url, address):
    """Return ``template_url`` with its host replaced by ``address``.

    Scheme, port and path are kept: ``url_for_address('https://10.0.0.1:8443',
    '10.0.0.2') == 'https://10.0.0.2:8443'``. Used to reach a master from the
    address recorded in metadata or carried by HOST_IS_SLAVE. IPv6 addresses
    are bracketed (``https://[fd00::2]:8443``); user info is never kept.
    """
    parts = urllib.parse.urlsplit(template_url)
    host = bare(address)
    if ':' in host:
        host = '[%s]' % host
    netloc = host if parts.port is None else '%s:%d' % (host, parts.port)
    return urllib.parse.urlunsplit((parts.scheme or 'https', netloc,
                                    parts.path, parts.query, parts.fragment))


def bare(address):
    """``address`` without blanks or IPv6 brackets (as ``host.address``)."""
    return address.strip().strip('[]')


def host_of(url):
    """The host part of ``url`` (what xapi calls ``host.address``)."""
    return urllib.parse.urlsplit(url).hostname
