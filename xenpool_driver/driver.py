"""The virt-driver plugin: the compute service's aggregate hooks.

Loaded through the entry point ``xenpool_driver.virt_drivers = xenpool``::

    stevedore.driver.DriverManager('xenpool_driver.virt_drivers', 'xenpool',
                                   invoke_on_load=True).driver

Every hook delegates to :class:`xenpool_driver.aggregates.workflow.Workflow`;
this module only adapts the classic signatures and owns the connector.
"""

import contextlib
import os
import threading
import time

from oslo_log import log as logging

from xenpool_driver import conf as xenpool_conf
from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import workflow as workflow_mod
from xenpool_driver.xapi import connector as xconnector

LOG = logging.getLogger(__name__)


class XenPoolDriver:
    """Keeps host aggregates and XenServer / XCP-ng pools in step.

    :param virtapi: the compute service's virt API (unused; kept for the
        classic signature).
    :param conf: oslo.config ``ConfigOpts`` with ``[xenserver]`` registered
        (default: :func:`xenpool_driver.conf.build`'s: the options' defaults,
        no file read; no global configuration is used).
    :param connector: a :class:`~xenpool_driver.xapi.connector.Connector`
        (default: built lazily by ``connector.from_conf(conf)``, so that
        loading the driver makes no connection).
    :param host_locator: callable ``compute host name -> xapi URL`` for hosts
        other than our own when no ``slave_info`` is given.
    :param clock: wall-clock callable for the intent record's ``started``.
    :param aggregates: callable ``host -> iterable of aggregates`` that
        ``init_host`` reconciles (a compute service's callback); None: none.
    :param history: a :class:`~.aggregates.history.HistorySink` told of each
        operation as it ends (the Nova driver logs them:
        :func:`~.aggregates.history.log_sink`); None: nothing recorded.
    """

    def __init__(self, virtapi=None, *, conf=None, connector=None,
                 host_locator=None, clock=None, aggregates=None, history=None):
        self.virtapi = virtapi
        self.conf = conf if conf is not None else xenpool_conf.build()
        self._connector = connector
        self.aggregates = aggregates
        self.host = None
        # NOTE: (aggregate id, host) of hooks refused by our own rule: the
        # caller's undo that follows must not count them as pool failures.
        self._refused = set()
        self._refused_lock = threading.Lock()
        self.workflow = workflow_mod.Workflow(
            self._get_connector, conf=self.conf, host_locator=host_locator,
            clock=clock or time.time, history=history)

    def _get_connector(self):
        # NOTE: lazy, so that the entry point loads without config or network
        if self._connector is None:
            self._connector = xconnector.from_conf(self.conf)
        return self._connector

    def init_host(self, host):
        """Remember our compute host name and reconcile its aggregates.

        :param host: this compute host's name (its xapi is
            ``[xenserver] connection_url``).
        :returns: list of :class:`~.reconcile.ReconcileReport` (empty without
            an ``aggregates`` provider).
        """
        self.set_own_host(host)
        if self.aggregates is None:
            return []
        reports = []
        for aggregate in self.aggregates(host):
            if ps.is_hv_pool(aggregate.metadata):
                reports.append(self.reconcile(aggregate))
        return reports

    def set_own_host(self, host):
        """Name this compute host (its xapi is ``[xenserver] connection_url``)."""
        self.host = host
        self.workflow.own_host = host
        # NOTE: the pid tells a restarted service from the one that wrote an
        # intent: a live lease of a previous life is waited out, not shared.
        self.workflow.owner = '%s:%d' % (host, os.getpid())

    def add_to_aggregate(self, context, aggregate, host, **kwargs):
        """Add ``host`` to the pool behind ``aggregate`` (see Workflow.add).

        :param kwargs: ``slave_info`` (dict with ``url``, ``xenhost_uuid``;
            never a password).
        :raises InvalidAggregateAction: refused (state, location, preflight).
        :raises XapiError: xapi answered an error (code, params).
        :raises XapiUnavailable: no xapi answered.
        """
        with self._noting_refusal(aggregate, host):
            return self.workflow.add(aggregate, host,
                                     slave_info=kwargs.get('slave_info'))

    def remove_from_aggregate(self, context, aggregate, host, **kwargs):
        """Remove ``host`` from the pool behind ``aggregate``.

        :param kwargs: ``force`` (bool): eject even with running VMs resident;
            ``dead`` (bool): the host is dead, forget its record
            (``host.destroy``) instead of ejecting it.
        :raises InvalidAggregateAction: refused.
        :raises XapiError: xapi answered an error (code, params).
        :raises XapiUnavailable: no xapi answered.
        """
        with self._noting_refusal(aggregate, host):
            self.workflow.remove(aggregate, host,
                                 force=bool(kwargs.get('force', False)),
                                 dead=bool(kwargs.get('dead', False)))

    @contextlib.contextmanager
    def _noting_refusal(self, aggregate, host):
        """Remember a hook refused by our own rule (for the undo after it)."""
        key = (getattr(aggregate, 'id', None), host)
        with self._refused_lock:
            self._refused.discard(key)
        try:
            yield
        except exception.Refused:
            with self._refused_lock:
                self._refused.add(key)
            raise

    def _pop_refusal(self, aggregate, host):
        key = (getattr(aggregate, 'id', None), host)
        with self._refused_lock:
            refused = key in self._refused
            self._refused.discard(key)
        return refused

    def undo_aggregate_operation(self, context, op, aggregate, host,
                                 set_error=True):
        """Undo the caller's host-list change after a failed hook.

        Calls ``op(host)`` (e.g. ``aggregate.delete_host``); with
        ``set_error`` the failure is accounted under the threshold rule,
        unless our workflow already counted it, or our own rule refused the
        hook (nothing was attempted: no pool failure). Never sets
        ``changing``; never raises (the caller is already handling a failure).
        """
        refused = self._pop_refusal(aggregate, host)
        try:
            op(host)
        except Exception:
            LOG.exception('Aggregate %s: undo of host %s failed',
                          getattr(aggregate, 'id', None), host)
        if not set_error:
            return
        try:
            self.workflow.record_failure(aggregate, host, count=not refused)
        except Exception:
            LOG.exception('Aggregate %s: could not record the failure of %s',
                          getattr(aggregate, 'id', None), host)

    def reconcile(self, aggregate):
        """Repair ``aggregate`` from reality; see :mod:`.aggregates.reconcile`.

        :returns: :class:`~.reconcile.ReconcileReport`.
        """
        return self.workflow.reconcile(aggregate)
