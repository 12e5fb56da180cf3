"""Tests of the driver's classic aggregate hooks (pool ops mocked)."""

import logging
import os
from unittest import mock

import pytest
import stevedore

from tests.unit.aggregates import fakes
from tests.unit.aggregates.fakes import conf_fixture, xapi_fixture  # noqa: F401
from xenpool_driver import driver as driver_mod
from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.xapi import connector as xconnector

UUID = fakes.UUID


def pool_agg(names=('c1',), state=ps.ACTIVE, failures=0, hosts=None):
    md = {ps.POOL_FLAG: 'true', ps.KEY: state, bk.MASTER_COMPUTE: names[0]}
    md.update({n: UUID[n] for n in names})
    md[bk.KEY] = bk.encode(bk.Bookkeeping(failures=failures,
                                          master_address=fakes.ADDR[names[0]]))
    return fakes.FakeAtomicAggregate(
        hosts=list(names) if hosts is None else hosts, metadata=md)


@pytest.fixture
def drv(conf, xapi):
    d = driver_mod.XenPoolDriver(None, conf=conf, connector=xapi.connector,
                                 clock=lambda: 5.0)
    d.init_host('c1')
    return d


def test_entry_point_loads_driver():
    mgr = stevedore.driver.DriverManager('xenpool_driver.virt_drivers',
                                         'xenpool', invoke_on_load=True)
    assert isinstance(mgr.driver, driver_mod.XenPoolDriver)


def test_connector_built_lazily_from_conf(conf, mocker):
    from_conf = mocker.patch.object(xconnector, 'from_conf', autospec=True)
    d = driver_mod.XenPoolDriver(conf=conf)
    from_conf.assert_not_called()
    assert d._get_connector() is from_conf.return_value
    assert d._get_connector() is from_conf.return_value   # built once
    from_conf.assert_called_once_with(conf)


def test_first_add_of_own_host_uses_connection_url(drv, xapi):
    agg = fakes.FakeAtomicAggregate(hosts=['c1'], metadata={
        ps.POOL_FLAG: 'true', ps.KEY: ps.CREATED})
    xapi.ops['this_host'].return_value = fakes.host_info('c1')
    drv.add_to_aggregate(None, agg, 'c1')
    assert xapi.calls == [('this_host', fakes.OWN_URL),
                          ('init_pool', fakes.OWN_URL)]
    intent = None
    for stored in agg.history:
        intent = intent or bk.read(stored).intent
    assert intent.owner == 'c1:%d' % os.getpid() and intent.started == 5.0
    assert agg.metadata[ps.KEY] == ps.ACTIVE


def test_add_with_slave_info(drv, xapi):
    agg = pool_agg(hosts=['c1', 'c2'])
    xapi.ops['preflight'].return_value = []
    drv.add_to_aggregate(None, agg, 'c2', slave_info={
        'url': 'https://192.0.2.2', 'xenhost_uuid': UUID['c2']})
    assert xapi.names == ['preflight', 'join']
    assert agg.metadata['c2'] == UUID['c2']


def test_host_locator_passed_through(conf, xapi):
    d = driver_mod.XenPoolDriver(conf=conf, connector=xapi.connector,
                                 host_locator={'c3': 'https://192.0.2.3'}.get)
    agg = pool_agg()
    xapi.ops['this_host'].return_value = fakes.host_info('c3')
    xapi.ops['preflight'].return_value = []
    d.add_to_aggregate(None, agg, 'c3')
    assert xapi.calls[0] == ('this_host', 'https://192.0.2.3')


@pytest.mark.parametrize('kwargs,force', [({}, False), ({'force': True}, True)])
def test_remove_passes_force(drv, xapi, kwargs, force):
    agg = pool_agg(names=('c1', 'c2'))
    drv.remove_from_aggregate(None, agg, 'c2', **kwargs)
    xapi.ops['eject'].assert_called_once_with(
        xapi.sessions['https://192.0.2.1'], UUID['c2'], fakes.TIMEOUTS, force=force,
        on_progress=mock.ANY, on_task=mock.ANY, membership=None)


def test_failed_add_then_undo_counts_once(drv, xapi):
    agg = pool_agg(hosts=['c1', 'c2'])
    xapi.ops['preflight'].return_value = []
    xapi.ops['join'].side_effect = exception.XapiError(
        'JOINING_HOST_CANNOT_CONTAIN_SHARED_SRS', [], method='pool.join')
    xapi.ops['snapshot'].return_value = fakes.membership('c1')
    with pytest.raises(exception.XapiError) as err:
        drv.add_to_aggregate(None, agg, 'c2', slave_info={
            'url': 'https://192.0.2.2', 'xenhost_uuid': UUID['c2']})
    assert err.value.code == 'JOINING_HOST_CANNOT_CONTAIN_SHARED_SRS'
    drv.undo_aggregate_operation(None, agg.delete_host, agg, 'c2')
    assert agg.hosts == ['c1']
    assert bk.read(agg.metadata).failures == 1
    assert agg.metadata[ps.KEY] == ps.ACTIVE


def test_undo_of_foreign_failure_counts_under_threshold(xapi):
    conf = fakes.make_conf(pool_error_threshold=2)
    d = driver_mod.XenPoolDriver(conf=conf, connector=xapi.connector)
    agg = pool_agg(failures=1, hosts=['c1', 'c9'])
    d.undo_aggregate_operation(None, agg.delete_host, agg, 'c9')
    assert agg.hosts == ['c1']
    assert agg.metadata[ps.KEY] == ps.ERROR


def test_undo_without_set_error_counts_nothing(drv):
    agg = pool_agg(hosts=['c1', 'c9'])
    before = dict(agg.metadata)
    drv.undo_aggregate_operation(None, agg.delete_host, agg, 'c9',
                                 set_error=False)
    assert agg.metadata == before and agg.deleted_hosts == ['c9']


def test_undo_never_raises_nor_leaves_changing(drv):
    agg = pool_agg()

    def broken_op(host):
        raise RuntimeError('db down')
    drv.undo_aggregate_operation(None, broken_op, agg, 'c2')
    assert agg.metadata[ps.KEY] == ps.ACTIVE
    assert bk.read(agg.metadata).failures == 1


def test_init_host_without_provider_only_records_host(conf, xapi):
    d = driver_mod.XenPoolDriver(conf=conf, connector=xapi.connector)
    assert d.init_host('c7') == []
    assert d.host == 'c7' and d.workflow.own_host == 'c7'
    assert xapi.calls == []


def test_init_host_reconciles_pool_aggregates(conf, xapi):
    stuck = pool_agg(names=('c1', 'c2'), state=ps.CHANGING)
    record = bk.read(stuck.metadata).replace(intent=bk.new_intent(
        'add', 'c2', ps.ACTIVE, 'c1', 1.0, host_uuid=UUID['c2']))
    stuck.metadata.update({k: v for k, v in bk.updates(record).items() if v})
    del stuck.metadata['c2']
    other = fakes.FakeAggregate(metadata={'availability_zone': 'az1'})
    provider = {'c1': [stuck, other]}.get
    d = driver_mod.XenPoolDriver(conf=conf, connector=xapi.connector,
                                 aggregates=provider)
    xapi.ops['snapshot'].return_value = fakes.membership('c1', 'c2')
    reports = d.init_host('c1')
    assert len(reports) == 1
    assert reports[0].actions == ['finished add of host c2']
    assert stuck.metadata[ps.KEY] == ps.ACTIVE
    assert stuck.metadata['c2'] == UUID['c2']


def test_reconcile_hook(drv, xapi):
    agg = pool_agg()
    xapi.ops['snapshot'].return_value = fakes.membership('c1')
    report = drv.reconcile(agg)
    assert report.agreed and report.actions == []


def test_remove_of_a_dead_host_destroys_its_record_instead_of_ejecting(drv, xapi):
    agg = pool_agg(names=('c1', 'c2'))
    drv.remove_from_aggregate(None, agg, 'c2', dead=True)
    xapi.ops['destroy_host'].assert_called_once_with(
        xapi.sessions['https://192.0.2.1'], UUID['c2'])
    xapi.ops['eject'].assert_not_called()
    assert 'c2' not in agg.metadata


@pytest.mark.parametrize('state', [ps.ERROR, ps.CHANGING, ps.DISMISSED])
def test_undo_after_a_refused_add_counts_nothing(drv, xapi, state):
    """Refused by our rule (nothing attempted): the caller's undo counts no failure."""
    agg = pool_agg(hosts=['c1', 'c2'], state=state, failures=1)
    before = dict(agg.metadata)
    with pytest.raises(exception.InvalidAggregateAction):
        drv.add_to_aggregate(None, agg, 'c2', slave_info={'url': 'https://192.0.2.2'})
    drv.undo_aggregate_operation(None, agg.delete_host, agg, 'c2')
    assert agg.hosts == ['c1']
    assert agg.metadata == before
    assert xapi.calls == []


def test_a_refusal_is_forgotten_by_the_next_hook(drv, xapi):
    """A refusal marks only the undo right after it, not a later real failure."""
    agg = pool_agg(hosts=['c1', 'c2'], state=ps.CHANGING)
    with pytest.raises(exception.InvalidAggregateAction):
        drv.add_to_aggregate(None, agg, 'c2', slave_info={'url': 'https://192.0.2.2'})
    agg.metadata[ps.KEY] = ps.ACTIVE
    xapi.ops['preflight'].return_value = []
    xapi.ops['join'].side_effect = exception.XapiError('INTERNAL_ERROR', ['x'])
    xapi.ops['snapshot'].return_value = fakes.membership('c1')
    with pytest.raises(exception.XapiError):
        drv.add_to_aggregate(None, agg, 'c2', slave_info={
            'url': 'https://192.0.2.2', 'xenhost_uuid': UUID['c2']})
    drv.undo_aggregate_operation(None, agg.delete_host, agg, 'c2')
    assert bk.read(agg.metadata).failures == 1


def test_a_compute_services_operations_are_logged_one_line_each(conf, xapi, caplog):
    # NOTE: as the Nova driver wires it: history.log_sink(LOG); a compute
    # service's aggregate offers no compare-and-set.
    from xenpool_driver.aggregates import history
    logger = logging.getLogger('tests.driver.history')
    d = driver_mod.XenPoolDriver(None, conf=conf, connector=xapi.connector,
                                 clock=lambda: 5.0,
                                 history=history.log_sink(logger))
    d.init_host('c1')
    md = {ps.POOL_FLAG: 'true', ps.KEY: ps.ACTIVE, bk.MASTER_COMPUTE: 'c1',
          'c1': UUID['c1'], 'c2': UUID['c2'],
          bk.KEY: bk.encode(bk.Bookkeeping(master_address=fakes.ADDR['c1']))}
    agg = fakes.FakeAggregate(name='prod', id=12, hosts=['c1', 'c2'], metadata=md)
    xapi.ops['eject'].side_effect = exception.XapiError(
        'OPERATION_NOT_ALLOWED', ['VM resident on host'], method='pool.eject')
    xapi.ops['snapshot'].return_value = fakes.membership('c1', 'c2')
    with caplog.at_level(logging.INFO, logger='tests.driver.history'):
        with pytest.raises(exception.XapiError):
            d.remove_from_aggregate(None, agg, 'c2')
        xapi.ops['eject'].side_effect = None
        d.remove_from_aggregate(None, agg, 'c2')
    lines = [r.getMessage() for r in caplog.records
             if r.name == 'tests.driver.history']
    assert len(lines) == 2
    failed, done = lines
    owner = 'owner=c1:%d' % os.getpid()
    assert failed.startswith('xenpool operation id=')
    assert ' aggregate=prod aggregate_id=12 op=remove host=c2 %s outcome=failed ' \
        % owner in failed
    assert 'xapi_code=OPERATION_NOT_ALLOWED xapi_params="VM resident on host"' \
        in failed
    assert ' outcome=succeeded ' in done and ' error=-' in done
