"""The compute host's pool aggregates, read with Nova's own objects."""

from nova import context as nova_context
from nova import objects

from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import bookkeeping as bk


def pool_aggregates(host, context=None):
    """Every hypervisor-pool aggregate that concerns compute ``host``.

    NOTE: not only those whose host list names it: after a crash the host
    list and the metadata can disagree (nova-api changes the list before the
    cast), and reconcile is what repairs that, so a host recorded in the
    metadata, or its master, counts too.

    :param host: this compute host's name.
    :param context: a Nova request context (default: an admin context).
    :returns: list of ``nova.objects.Aggregate``.
    """
    context = context or nova_context.get_admin_context()
    # NOTE: not get_by_metadata_key: its aggregates carry only that one
    # metadata key, and reconcile would see every other key gone.
    found = objects.AggregateList.get_all(context)
    return [agg for agg in found
            if ps.is_hv_pool(agg.metadata) and _concerns(agg, host)]


def _concerns(aggregate, host):
    md = aggregate.metadata
    return (host in (aggregate.hosts or []) or host in bk.recorded_hosts(md)
            or md.get(bk.MASTER_COMPUTE) == host)
