"""Dry runs: what an add or a remove would do now, with reads only.

The same admission (:mod:`.admission`) and the same decisions as the
operations (:mod:`.adding`, :mod:`.removing`), made with reads only: no
intent, no claim, no metadata or pool write.
"""

from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import admin
from xenpool_driver.aggregates import admission
from xenpool_driver.aggregates import history as history_mod
from xenpool_driver.aggregates import plan as plan_mod


def plan_add(locator, steps, aggregate, host, slave_info, force):
    """See :meth:`.workflow.Workflow.plan_add`.

    :param locator: the :class:`~.locating.XapiLocator`.
    :param steps: the :class:`~.adding.AddSteps` the add would run.
    :param force: ``pool.join_force`` (already resolved from the option).
    """
    plan = plan_mod.Plan(ps.OP_ADD, aggregate.name, host)
    if not ps.is_hv_pool(aggregate.metadata):
        return plan.replace(refusal='not a pool aggregate: add does nothing')
    if admission.added_already(aggregate, host):
        return plan
    try:
        _state, _record, url, first = admission.admit_add(
            locator, aggregate, host, slave_info)
        return steps.plan(aggregate, host, url, force, first, plan)
    except exception.Refused as refused:
        return plan.replace(refusal=plan_mod.refusal_text(refused))


def plan_remove(steps, aggregate, host, force, dead, now):
    """See :meth:`.workflow.Workflow.plan_remove`.

    :param steps: the :class:`~.removing.RemoveSteps` the remove would run.
    :param now: the wall clock's time (a live operation refuses).
    """
    plan = plan_mod.Plan(history_mod.DEAD_REMOVE if dead else ps.OP_REMOVE,
                         aggregate.name, host)
    if not ps.is_hv_pool(aggregate.metadata):
        return plan.replace(refusal='not a pool aggregate: remove does nothing')
    try:
        host_uuid = admission.member_uuid(aggregate, host, steps)
        if not host_uuid:
            # NOTE: as the remove of a non-member: only a live operation refuses
            admin.refuse_live_operation(aggregate, admission.REMOVE_ACTION, now)
            return plan
        _state, _record, is_master = admission.admit_remove(aggregate, host, dead)
        return steps.plan(aggregate, host_uuid, is_master, force, dead, plan)
    except exception.Refused as refused:
        return plan.replace(refusal=plan_mod.refusal_text(refused))
