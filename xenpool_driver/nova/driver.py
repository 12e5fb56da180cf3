"""``XenPoolComputeDriver``: the pool hooks as a Nova 22.4.0 compute driver.

Configure a compute host with ``[DEFAULT] compute_driver =
xenpool.XenPoolComputeDriver`` and the ``[xenserver]`` options in nova.conf.
The driver keeps the host's aggregates and its XenServer / XCP-ng pool in
step; it manages no instances (every other ``ComputeDriver`` method keeps the
base class's behaviour, and the host offers no nodes to the scheduler).
"""

import collections
import threading

from nova import conf as nova_conf
from nova.virt import driver as nova_driver
from oslo_log import log as logging

from xenpool_driver import conf as xenpool_conf
from xenpool_driver import driver as xenpool_driver
from xenpool_driver.aggregates import history
from xenpool_driver.nova import aggregates as nova_aggregates
from xenpool_driver.nova import errors

LOG = logging.getLogger(__name__)
CONF = nova_conf.CONF


class XenPoolComputeDriver(nova_driver.ComputeDriver):
    """A ``nova.virt.driver.ComputeDriver`` whose aggregate hooks are ours.

    Errors leave every hook as Nova's own types (:mod:`.errors`), so that the
    compute manager's ``undo_aggregate_operation`` runs.

    :param virtapi: Nova's virt API.
    :param read_only: Nova's flag (unused: no instance is managed).
    :param pool_driver: the :class:`~xenpool_driver.driver.XenPoolDriver` to
        delegate to (default: one built from a snapshot of nova.conf's
        ``[xenserver]`` values, taken now, that logs one structured line per
        operation: :func:`~xenpool_driver.aggregates.history.log_sink`).
    """

    capabilities = dict(nova_driver.ComputeDriver.capabilities)

    def __init__(self, virtapi, read_only=False, pool_driver=None):
        super().__init__(virtapi)
        if pool_driver is None:
            # NOTE: explicit, as Nova's own drivers register theirs: nothing
            # of ours registers an option by being imported.
            xenpool_conf.register_opts(CONF)
            pool_driver = xenpool_driver.XenPoolDriver(
                virtapi, conf=xenpool_conf.snapshot(CONF),
                aggregates=nova_aggregates.pool_aggregates,
                history=history.log_sink(LOG))
        self.pool = pool_driver
        # NOTE: Nova names this compute host before init_host is called
        self.pool.set_own_host(CONF.host)
        # NOTE: a Nova Aggregate has no compare-and-set; within this service
        # two casts for one aggregate are serialised here (see the README).
        self._locks = collections.defaultdict(threading.Lock)

    def init_host(self, host):
        """Reconcile ``host``'s pool aggregates when the service starts.

        Never raises for a pool that cannot be read: the service starts and
        the report is logged (reconcile reports, it does not guess).
        """
        try:
            reports = self.pool.init_host(host)
        except Exception:
            LOG.exception('Could not reconcile the pool aggregates of %s', host)
            return
        for report in reports:
            LOG.info('Reconciled aggregate %s: %s -> %s; actions: %s; drift: '
                     '%s%s%s%s', report.aggregate_id, report.state_before,
                     report.state_after, report.actions or 'none',
                     report.drift or 'none',
                     '; error: %s' % report.error if report.error else '',
                     '; busy: %s' % report.busy if report.busy else '',
                     '; not known yet: %s' % report.pending
                     if report.pending else '')

    def get_available_nodes(self, refresh=False):
        """No nodes: this driver manages pool membership, not instances."""
        return []

    def add_to_aggregate(self, context, aggregate, host, **kwargs):
        """See :meth:`XenPoolDriver.add_to_aggregate`.

        :raises nova.exception.AggregateError: any failure (the reason names
            XAPI's code and params; ``kwargs['xapi_code']``).
        """
        with self._locks[aggregate.id]:
            try:
                self.pool.add_to_aggregate(context, aggregate, host, **kwargs)
            except Exception as exc:
                raise errors.to_nova(exc, errors.ADD, aggregate.id) from exc

    def remove_from_aggregate(self, context, aggregate, host, **kwargs):
        """See :meth:`XenPoolDriver.remove_from_aggregate`.

        :raises nova.exception.InvalidAggregateActionDelete: refused by our
            own rule (Nova puts the host back, no error counted).
        :raises nova.exception.AggregateError: any other failure.
        """
        with self._locks[aggregate.id]:
            try:
                self.pool.remove_from_aggregate(context, aggregate, host,
                                                **kwargs)
            except Exception as exc:
                raise errors.to_nova(exc, errors.REMOVE, aggregate.id) from exc

    def undo_aggregate_operation(self, context, op, aggregate, host,
                                 set_error=True):
        """Nova's undo: ``op(host)`` and the failure accounted; never raises."""
        self.pool.undo_aggregate_operation(context, op, aggregate, host,
                                           set_error=set_error)
