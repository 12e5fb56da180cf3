"""The admin's ways out: dismiss, reset, force a state, forget a host.

None of these makes an XAPI call: reset decides from the report of a
reconcile run just before it; forcing a state and forgetting a host are for
what reconcile showed and could not repair (each logged as a warning). An
operation whose lease is alive is never overridden. The facade
(:class:`.workflow.Workflow`) checks the state first and passes what these
need; the metadata is written through :mod:`.ledger` only.
"""

from oslo_log import log as logging

from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import reasons
from xenpool_driver.aggregates import ledger

LOG = logging.getLogger(__name__)

DELETE_ACTION = 'delete_aggregate'
RESET_ACTION = 'reset_aggregate'
FORCE_ACTION = 'force_aggregate_state'
FORGET_ACTION = 'forget_aggregate_host'


def refuse_live_operation(aggregate, action, now):
    """:raises InvalidAggregateAction: an operation's lease is alive at ``now``."""
    intent = bk.read(aggregate.metadata).intent
    if intent is not None and intent.lease_alive(now):
        raise exception.InvalidAggregateAction(
            action, aggregate.id, 'operation %s of host %s by %s is in '
            'flight' % (intent.op, intent.host, intent.owner))


def dismiss(aggregate, state):
    """Mark an aggregate without hosts ``dismissed`` (no XAPI call).

    Pre: ``state`` (observed, accepted for delete) is the aggregate's.

    :raises InvalidAggregateAction: hosts remain.
    """
    if aggregate.hosts or bk.recorded_hosts(aggregate.metadata):
        raise exception.InvalidAggregateAction(
            DELETE_ACTION, aggregate.id, 'pool still has hosts')
    ledger.transition(aggregate, DELETE_ACTION, state, ps.DISMISSED,
                      bk.updates(bk.Bookkeeping()))


def reset(aggregate, report):
    """Admin reset: leave ``error`` only when reality agrees.

    Pre: reconcile just ran and gave ``report``. Post: with no drift the
    state is ``active`` (``created`` when no host is recorded) and the
    failure count and reason are cleared.

    :returns: ``report``, with the reset added to its actions.
    :raises InvalidAggregateAction: drift remains (every drift item listed).
    """
    state = aggregate.metadata.get(ps.KEY)
    if state != ps.ERROR:
        # NOTE: reconcile finished an interrupted op; nothing to reset.
        return report
    if not report.agreed or report.unhealthy:
        raise exception.InvalidAggregateAction(
            RESET_ACTION, aggregate.id,
            'metadata and pool disagree: %s' % '; '.join(
                ([report.error] if report.error else []) + report.drift +
                report.unhealthy + [x for x in (report.busy,
                                                report.pending) if x]))
    new = ps.ACTIVE if bk.recorded_hosts(aggregate.metadata) else ps.CREATED
    record = bk.read(aggregate.metadata).replace(failures=0, counted=None,
                                                 reason=None)
    ledger.transition(aggregate, RESET_ACTION, ps.ERROR, new,
                      {bk.KEY: bk.encode(record)})
    report.actions.append('reset %s -> %s' % (ps.ERROR, new))
    report.state_after = new
    return report


def force_state(aggregate, state, owner, now):
    """Admin: set ``operational_state`` once reconcile showed reality.

    The way out when nothing else applies (logged as a warning). Post: the
    intent is gone, the reason says who forced what; the failure count is
    cleared unless ``state`` is ``error``.

    :param owner: who forces it (kept in the reason).
    :param now: wall-clock seconds (is a lease alive?).
    :raises InvalidAggregateAction: unknown ``state``, ``changing``, or a
        live operation.
    """
    if state not in ps.ALL_STATES or state == ps.CHANGING:
        raise exception.InvalidAggregateAction(
            FORCE_ACTION, aggregate.id,
            'cannot force state %r: one of %s' % (state, ', '.join(sorted(
                ps.ALL_STATES - {ps.CHANGING}))))
    refuse_live_operation(aggregate, FORCE_ACTION, now)
    old = aggregate.metadata.get(ps.KEY)
    record = bk.read(aggregate.metadata)
    # NOTE: forced into error, the failures counted keep naming their
    # operations; forced anywhere else they are cleared.
    record = record.replace(
        intent=None, counted=None, reason=reasons.with_operations(
            'state forced from %s to %s by %s' % (old, state, owner),
            ledger.counted_operations(record) if state == ps.ERROR else ()))
    if state != ps.ERROR:
        record = record.replace(failures=0)
    ledger.repair(aggregate, dict(bk.updates(record), **{ps.KEY: state}),
                  'state forced to %s' % state)
    LOG.warning('Aggregate %s: operational_state forced from %s to %s by %s',
                aggregate.id, old, state, owner)


def forget_host(aggregate, host, owner, now):
    """Admin: drop ``host``'s record and listing, whatever the pool says.

    For a host reconcile showed is not (or no longer) what the metadata
    says; nothing is asked of xapi. Logged as a warning.

    :param owner: who forgets it (logged).
    :param now: wall-clock seconds (is a lease alive?).
    :raises InvalidAggregateAction: a live operation is in flight.
    """
    refuse_live_operation(aggregate, FORGET_ACTION, now)
    updates = {host: None}
    if aggregate.metadata.get(bk.MASTER_COMPUTE) == host:
        updates[bk.MASTER_COMPUTE] = None
    ledger.repair(aggregate, updates, 'host %s forgotten' % host)
    ledger.follow_host_list(aggregate, updates)
    LOG.warning('Aggregate %s: host %s forgotten by %s', aggregate.id,
                host, owner)
