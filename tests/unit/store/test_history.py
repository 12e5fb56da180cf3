"""The history of operations in the store, on every backend."""

import pytest

from tests.unit.aggregates import fakes
from tests.unit.aggregates.fakes import conf_fixture, xapi_fixture  # noqa: F401
from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver import store as store_mod
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import history
from xenpool_driver.aggregates import workflow as wf


def _record(n, aggregate='prod', aggregate_id=None, **kw):
    args = dict(id='op%010d' % n, aggregate=aggregate, op='add', host='c%d' % n,
                owner='alice@box:42', user='alice', hostname='box', pid=42,
                started=1000.0 + n, ended=1010.25 + n, duration=10.25,
                outcome='failed', state_after='active',
                xapi_code='HOSTS_NOT_HOMOGENEOUS', xapi_params=['CPUs differ', ''],
                task='OpaqueRef:t%d' % n, error='XAPI error ...', counted=True,
                aggregate_id=aggregate_id)
    args.update(kw)
    return history.OperationRecord(**args)


def test_a_record_comes_back_as_it_was_kept(store):
    agg = store.create_aggregate('prod')
    kept = _record(1, aggregate_id=agg.id)
    assert store.record_operation(kept) is True
    assert store.history('prod') == [kept]
    success = _record(2, outcome='succeeded', xapi_code=None, xapi_params=[],
                      task=None, error=None, counted=False, user=None,
                      hostname=None, pid=None, state_after=None)
    store.record_operation(success)
    got = store.history('prod')[-1]
    assert got == history.OperationRecord(**dict(success.to_dict(),
                                                 aggregate_id=agg.id))


def test_the_history_is_oldest_first_and_a_limit_keeps_the_newest(store):
    agg = store.create_aggregate('prod')
    for n in (3, 1, 2):     # NOTE: recorded out of order: sorted by start
        store.record_operation(_record(n, aggregate_id=agg.id))
    assert [r.host for r in store.history('prod')] == ['c1', 'c2', 'c3']
    assert [r.host for r in store.history('prod', limit=2)] == ['c2', 'c3']
    assert store.history('prod', limit=0) == []


def test_the_history_is_found_by_name_by_id_and_by_id_as_text(store):
    store.create_aggregate('other')
    agg = store.create_aggregate('prod')
    store.record_operation(_record(1))      # no id: the store finds it by name
    store.record_operation(_record(2, aggregate='other'))
    for key in ('prod', agg.id, str(agg.id)):
        assert [r.host for r in store.history(key)] == ['c1'], key
        assert store.history(key)[0].aggregate_id == agg.id


def test_a_deleted_aggregates_history_is_kept(store):
    agg = store.create_aggregate('prod')
    store.record_operation(_record(1, aggregate_id=agg.id))
    store.delete_aggregate('prod')
    assert [r.host for r in store.history('prod')] == ['c1']
    assert [r.host for r in store.history(agg.id)] == ['c1']
    # a new aggregate of that name: the name shows both, the id tells apart
    new = store.create_aggregate('prod')
    store.record_operation(_record(2, aggregate_id=new.id))
    assert [r.host for r in store.history('prod')] == ['c1', 'c2']
    assert [r.host for r in store.history(new.id)] == ['c2']


def test_an_aggregate_without_operations_has_an_empty_history(store):
    store.create_aggregate('prod')
    assert store.history('prod') == []


@pytest.mark.parametrize('key', ['nowhere', 999])
def test_a_history_of_nothing_is_not_found(store, key):
    with pytest.raises(store_mod.NotFound):
        store.history(key)


@pytest.mark.parametrize('key, limit', [(None, None), (True, None), ('', None),
                                        ('prod', -1), ('prod', 'all')])
def test_bad_input_is_refused(store, key, limit):
    store.create_aggregate('prod')
    with pytest.raises(store_mod.InvalidInput):
        store.history(key, limit=limit)


def test_recording_twice_keeps_the_first(store):
    store.create_aggregate('prod')
    assert store.record_operation(_record(1)) is True
    assert store.record_operation(_record(1, outcome='succeeded')) is False
    assert [r.outcome for r in store.history('prod')] == ['failed']
    with pytest.raises(store_mod.InvalidInput):
        store.record_operation({'id': 'x'})


def test_the_store_is_the_workflows_sink_for_its_own_aggregates(store, conf, xapi):
    # NOTE: as the xenpool command wires it: Workflow(history=store.record_operation)
    md = {ps.POOL_FLAG: 'true', ps.KEY: ps.ACTIVE, bk.MASTER_COMPUTE: 'c1',
          'c1': fakes.UUID['c1'],
          bk.KEY: bk.encode(bk.Bookkeeping(master_address=fakes.ADDR['c1']))}
    agg = store.create_aggregate('prod', md)
    flow = wf.Workflow(xapi.connector, conf=conf, own_host='c1',
                       clock=lambda: 2000.0, owner='alice@box:42',
                       history=store.record_operation)
    xapi.ops['preflight'].return_value = []
    xapi.ops['join'].side_effect = exception.XapiError(
        'JOINING_HOST_CONNECTION_FAILED', [], method='pool.join')
    xapi.ops['snapshot'].return_value = fakes.membership('c1')
    with pytest.raises(exception.XapiError):
        flow.add(agg, 'c2', slave_info={'url': 'https://192.0.2.2',
                                        'xenhost_uuid': fakes.UUID['c2']})
    xapi.ops['join'].side_effect = None
    flow.add(agg, 'c2', slave_info={'url': 'https://192.0.2.2',
                                    'xenhost_uuid': fakes.UUID['c2']})
    got = store.history('prod')
    assert [(r.outcome, r.host, r.aggregate_id) for r in got] == [
        ('failed', 'c2', agg.id), ('succeeded', 'c2', agg.id)]
    assert got[0].xapi_code == 'JOINING_HOST_CONNECTION_FAILED'
    assert got[0].state_after == ps.ACTIVE and got[1].state_after == ps.ACTIVE
