"""The history of operations, kept by the store the way the xenpool command
wires it (``Workflow(history=store.record_operation)``), against the
simulator through the real session layer and SDK."""

from tests.functional.conftest import assert_consistent
from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import reasons
from xenpool_driver.aggregates import workflow as workflow_mod


def test_every_operation_is_kept_with_its_task_and_survives_the_aggregate(make_env):
    env = make_env(3, lab_kw={'faults': {2: [
        {'kind': 'fail', 'method': 'pool.join',
         'code': 'JOINING_HOST_CONNECTION_FAILED'}]}})
    h1, h2, h3 = env.names()
    workflow = workflow_mod.Workflow(env.connector, conf=env.conf,
                                     host_locator=env.urls.get,
                                     owner='alice@box:42',
                                     history=env.store.record_operation)
    agg = env.new_aggregate('kept')
    env.add(agg, h1, workflow=workflow)
    env.add(agg, h2, workflow=workflow)
    try:
        env.add(agg, h3, workflow=workflow)
    except exception.XapiError as err:
        assert err.code == 'JOINING_HOST_CONNECTION_FAILED'
    else:
        raise AssertionError('the join of %s did not fail' % h3)
    # the kept reason names the failed operation: its record tells the rest
    agg.refresh()
    named = reasons.reason_operations(bk.read(agg.metadata).reason)
    assert named == (env.store.history('kept')[-1].id,)
    env.remove(agg, h2, workflow=workflow)
    assert_consistent(env, agg, ps.ACTIVE, hosts=[h1], master=h1)

    first, join, failed, eject = env.store.history('kept')
    assert [(r.op, r.host, r.outcome) for r in (first, join, failed, eject)] == [
        ('add', h1, 'succeeded'), ('add', h2, 'succeeded'),
        ('add', h3, 'failed'), ('remove', h2, 'succeeded')]
    # the join and eject tasks xapi created, named as they were created
    assert first.task is None
    assert join.task.startswith('OpaqueRef:') and eject.task.startswith('OpaqueRef:')
    assert (failed.xapi_code, failed.counted) == ('JOINING_HOST_CONNECTION_FAILED', True)
    assert failed.task.startswith('OpaqueRef:')
    assert (failed.user, failed.hostname, failed.pid) == ('alice', 'box', 42)
    assert all(r.aggregate_id == agg.id and r.ended >= r.started for r in
               (first, join, failed, eject))
    assert named == (failed.id,) and bk.read(agg.metadata).reason is None

    # an emptied, deleted aggregate keeps its history
    env.remove(agg, h1, workflow=workflow)
    workflow.delete(agg)
    env.store.delete_aggregate('kept')
    assert [r.id for r in env.store.history('kept')] == [
        first.id, join.id, failed.id, eject.id,
        env.store.history('kept')[-1].id]
    assert len(env.store.history(agg.id, limit=2)) == 2
