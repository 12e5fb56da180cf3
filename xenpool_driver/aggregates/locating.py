"""Locating xapi: which URL answers for a compute host or a pool master.

No XAPI call is made here except through :meth:`XapiLocator.session_at`
(which only hands out the connector's cached session; the login happens on
its first call). The workflow and reconcile both locate through one
:class:`XapiLocator`, so they can never disagree about where a host is.
"""

from xenpool_driver import conf as xenpool_conf
from xenpool_driver import exception
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.xapi import timeouts as xtimeouts
from xenpool_driver.xapi import urls as xurls


class XapiLocator:
    """Where the xapi of a host or of a pool master is, and its session.

    :param connector: a :class:`xenpool_driver.xapi.connector.Connector`, or a
        zero-argument callable returning one (built lazily, on first use).
    :param conf: oslo.config ``ConfigOpts`` with ``[xenserver]`` registered
        (default: :func:`xenpool_driver.conf.build`'s: the options' defaults).
    :param own_host: compute host name whose xapi is ``connection_url``.
    :param host_locator: callable ``compute host name -> xapi URL`` (or None
        when unknown), used for hosts other than ``own_host``.
    """

    def __init__(self, connector, conf=None, own_host=None, host_locator=None):
        self._connector = connector
        self.conf = conf if conf is not None else xenpool_conf.build()
        self.own_host = own_host
        self.host_locator = host_locator

    @property
    def xs(self):
        """The ``[xenserver]`` options."""
        return self.conf.xenserver

    @property
    def timeouts(self):
        """The pool operations' :class:`~xenpool_driver.xapi.timeouts.PoolTimeouts`."""
        return xtimeouts.PoolTimeouts.from_conf(self.conf)

    @property
    def connector(self):
        """The :class:`~xenpool_driver.xapi.connector.Connector` (built once)."""
        if callable(self._connector) and not hasattr(self._connector, 'get'):
            self._connector = self._connector()
        return self._connector

    def session_at(self, url):
        """The cached :class:`XapiSession` for ``url``."""
        return self.connector.get(url)

    def url_for_address(self, address):
        """URL of the xapi at ``address`` (scheme/port of connection_url)."""
        return xurls.url_for_address(self.xs.connection_url, address)

    def master_url(self, metadata, record=None):
        """URL of the pool master: the recorded address, else our own xapi.

        :param metadata: the aggregate's metadata.
        :param record: its :class:`~.bookkeeping.Bookkeeping`, when read
            already.

        NOTE: without a recorded address (classic nova layout) our own xapi
        is used; the session layer follows HOST_IS_SLAVE to the master.
        """
        record = record or bk.read(metadata)
        if record.master_address:
            return self.url_for_address(record.master_address)
        return self.xs.connection_url

    def locate(self, host):
        """xapi URL of compute ``host`` (own host, then the locator), or None."""
        if host == self.own_host and self.xs.connection_url:
            return self.xs.connection_url
        if self.host_locator is not None:
            return self.host_locator(host) or None
        return None

    def host_url(self, aggregate, action, host, slave_info=None):
        """URL of ``host``'s xapi, without any password passed around.

        Tried in turn: our own xapi (``host`` is ``own_host``), the ``url`` of
        ``slave_info``, the host locator.

        :raises InvalidAggregateAction: the host cannot be located (nothing
            has changed).
        """
        own = self.xs.connection_url if host == self.own_host else None
        url = (own or bk.safe_url((slave_info or {}).get('url')) or
               self.locate(host))
        if url:
            return url
        raise exception.InvalidAggregateAction(
            action, aggregate.id,
            'cannot locate the xapi of host %s: pass slave_info with its url '
            'or configure a host locator' % host)
