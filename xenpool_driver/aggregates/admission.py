"""Admission: the checks an add or a remove passes before it begins.

Shared by the operations (:mod:`.workflow`) and their dry runs
(:mod:`.planning`), so that a plan refuses exactly what the operation would.
No XAPI call is made here.
"""

from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import adding
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import removing

ADD_ACTION = adding.ADD_ACTION
REMOVE_ACTION = removing.REMOVE_ACTION


def check(aggregate, op, action):
    """The state table's verdict on ``op`` now.

    :returns: ``(state, bookkeeping)``.
    :raises InvalidAggregateAction: the state refuses ``op`` (the table's
        reason).
    """
    state = aggregate.metadata.get(ps.KEY)
    reason = ps.refusal_reason(op, state)
    if reason:
        raise exception.InvalidAggregateAction(action, aggregate.id, reason)
    return state, bk.read(aggregate.metadata)


def added_already(aggregate, host):
    """The uuid of ``host`` when add has nothing to do but record it."""
    recorded = bk.recorded_hosts(aggregate.metadata).get(host)
    if recorded and aggregate.metadata.get(ps.KEY) in (ps.ACTIVE, ps.ERROR):
        return recorded
    return None


def admit_add(locator, aggregate, host, slave_info):
    """The checks of an add before it begins.

    :param locator: the :class:`~.locating.XapiLocator` (where the host is).
    :returns: ``(state, bookkeeping, host URL, first host?)``.
    :raises InvalidAggregateAction: the state, or the host unlocatable.
    """
    state, record = check(aggregate, ps.OP_ADD, ADD_ACTION)
    url = locator.host_url(aggregate, ADD_ACTION, host, slave_info)
    return state, record, url, not bk.recorded_hosts(aggregate.metadata)


def member_uuid(aggregate, host, steps):
    """The uuid of ``host`` as a member (recorded, else found), or None."""
    return (bk.recorded_hosts(aggregate.metadata).get(host) or
            steps.unrecorded_member(aggregate, host))


def admit_remove(aggregate, host, dead):
    """The checks of a remove of a member before it begins.

    :returns: ``(state, bookkeeping, is the recorded master?)``.
    :raises InvalidAggregateAction: the state, or a dead master.
    """
    state, record = check(aggregate, ps.OP_REMOVE, REMOVE_ACTION)
    is_master = aggregate.metadata.get(bk.MASTER_COMPUTE) == host
    if dead and is_master:
        # NOTE: a dead master needs a slave promoted by hand
        # (pool.emergency_transition_to_master): not something to guess.
        raise exception.InvalidAggregateAction(
            REMOVE_ACTION, aggregate.id,
            'host %s is the pool master: a dead master cannot be removed; '
            'promote a slave first' % host)
    return state, record, is_master
