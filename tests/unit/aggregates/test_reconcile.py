"""Tests of reconcile: finishing or rolling back interrupted operations."""

import dataclasses

import pytest

from tests.unit.aggregates import fakes
from tests.unit.aggregates.fakes import conf_fixture, xapi_fixture  # noqa: F401
from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import workflow as wf

UUID = fakes.UUID


def aggregate(names=('c1',), state=ps.CHANGING, intent=None, failures=0,
              hosts=None, master='c1'):
    md = {ps.POOL_FLAG: 'true', ps.KEY: state}
    if master:
        md[bk.MASTER_COMPUTE] = master
    md.update({n: UUID[n] for n in names})
    record = bk.Bookkeeping(intent=intent, failures=failures,
                            master_address=fakes.ADDR[master] if master
                            else None)
    md[bk.KEY] = bk.encode(record)
    return fakes.FakeAtomicAggregate(
        hosts=list(names) if hosts is None else hosts, metadata=md)


def intent(op, host, prev=ps.ACTIVE, with_uuid=True, **kw):
    made = bk.new_intent(op, host, prev, 'test', 1.0,
                         url='https://%s' % fakes.ADDR[host],
                         host_uuid=UUID[host] if with_uuid else None)
    return dataclasses.replace(made, **kw)


def run(conf, xapi, agg):
    return wf.Workflow(xapi.connector, conf=conf, own_host='c1').reconcile(agg)


@pytest.mark.parametrize('with_uuid', [True, False])
def test_interrupted_add_member_is_finished(conf, xapi, with_uuid):
    agg = aggregate(intent=intent('add', 'c2', with_uuid=with_uuid,
                                  phase='join'), failures=1,
                    hosts=['c1', 'c2'])
    xapi.ops['snapshot'].return_value = fakes.membership('c1', 'c2')
    report = run(conf, xapi, agg)
    assert agg.metadata['c2'] == UUID['c2']
    assert agg.metadata[ps.KEY] == ps.ACTIVE
    record = bk.read(agg.metadata)
    assert record.intent is None and record.failures == 1  # counts nothing
    assert report.actions == ['finished add of host c2']
    assert report.agreed and report.state_after == ps.ACTIVE
    assert report.intent['host'] == 'c2'
    assert xapi.names == ['snapshot']


def test_interrupted_add_not_live_waits_until_live(conf, xapi):
    agg = aggregate(intent=intent('add', 'c2', phase='join'))
    xapi.ops['snapshot'].return_value = fakes.membership(
        'c1', 'c2', c2={'live': False})
    run(conf, xapi, agg)
    xapi.ops['wait_until_live'].assert_called_once_with(
        xapi.sessions['https://192.0.2.1'], UUID['c2'])
    assert agg.metadata[ps.KEY] == ps.ACTIVE


def test_interrupted_add_wait_timeout_reported(conf, xapi):
    agg = aggregate(intent=intent('add', 'c2', phase='join'))
    xapi.ops['snapshot'].return_value = fakes.membership(
        'c1', 'c2', c2={'live': False})
    xapi.ops['wait_until_live'].side_effect = exception.XapiTimeout('x', 't')
    report = run(conf, xapi, agg)
    assert any('not live' in u for u in report.unhealthy)
    assert agg.metadata[ps.KEY] == ps.ACTIVE


@pytest.mark.parametrize('prev', [ps.ACTIVE, ps.CREATED])
def test_interrupted_add_not_member_is_rolled_back(conf, xapi, prev):
    agg = aggregate(intent=intent('add', 'c2', prev=prev), failures=2)
    xapi.ops['snapshot'].return_value = fakes.membership('c1')
    report = run(conf, xapi, agg)
    assert 'c2' not in agg.metadata
    assert agg.metadata[ps.KEY] == prev
    assert bk.read(agg.metadata).intent is None
    assert bk.read(agg.metadata).failures == 2
    assert report.actions == ['rolled back add of host c2 -> %s' % prev]


def test_interrupted_first_add_finished(conf, xapi):
    agg = aggregate(names=(), master=None, hosts=['c1'],
                    intent=intent('add', 'c1', prev=ps.CREATED,
                                  with_uuid=False, phase='init'))
    xapi.ops['snapshot'].return_value = fakes.membership('c1')
    run(conf, xapi, agg)
    assert xapi.calls == [('snapshot', 'https://192.0.2.1')]
    md = agg.metadata
    assert md[ps.KEY] == ps.ACTIVE and md[bk.MASTER_COMPUTE] == 'c1'
    assert md['c1'] == UUID['c1']
    assert bk.read(md).master_address == '192.0.2.1'


def test_interrupted_first_add_rolled_back(conf, xapi):
    agg = aggregate(names=(), master=None, hosts=['c1'],
                    intent=intent('add', 'c1', prev=ps.CREATED,
                                  phase='init'))
    xapi.ops['snapshot'].return_value = fakes.membership(
        'c1', name_label='')
    run(conf, xapi, agg)
    assert agg.metadata[ps.KEY] == ps.CREATED
    assert bk.MASTER_COMPUTE not in agg.metadata
    assert bk.KEY not in agg.metadata


@pytest.mark.parametrize('prev', [ps.ACTIVE, ps.ERROR])
def test_interrupted_remove_still_member_rolled_back(conf, xapi, prev):
    agg = aggregate(names=('c1', 'c2'), intent=intent('remove', 'c2',
                                                      prev=prev))
    xapi.ops['snapshot'].return_value = fakes.membership('c1', 'c2')
    report = run(conf, xapi, agg)
    assert agg.metadata[ps.KEY] == prev and agg.metadata['c2'] == UUID['c2']
    assert report.actions == ['rolled back remove of host c2 -> %s' % prev]


def test_interrupted_remove_gone_finished(conf, xapi):
    agg = aggregate(names=('c1', 'c2'), intent=intent('remove', 'c2'),
                    hosts=['c1'])
    xapi.ops['snapshot'].return_value = fakes.membership('c1')
    report = run(conf, xapi, agg)
    assert 'c2' not in agg.metadata and agg.metadata[ps.KEY] == ps.ACTIVE
    assert report.agreed


def test_interrupted_designate_followed(conf, xapi):
    """Master c1 being removed: designate to c2 happened, then a crash."""
    agg = aggregate(names=('c1', 'c2'), intent=intent(
        'remove', 'c1', target_uuid=UUID['c2'], phase='designate'))
    xapi.ops['snapshot'].return_value = fakes.membership('c1', 'c2',
                                                         master='c2')
    report = run(conf, xapi, agg)
    md = agg.metadata
    assert md[ps.KEY] == ps.ACTIVE and md['c1'] == UUID['c1']  # rolled back
    assert md[bk.MASTER_COMPUTE] == 'c2'
    assert bk.read(md).master_address == '192.0.2.2'
    assert 'master is now c2 (was c1)' in report.actions


def test_master_change_without_intent_followed(conf, xapi):
    agg = aggregate(names=('c1', 'c2', 'c3'), state=ps.ACTIVE)
    xapi.ops['snapshot'].return_value = fakes.membership(
        'c1', 'c2', 'c3', master='c3')
    report = run(conf, xapi, agg)
    assert agg.metadata[bk.MASTER_COMPUTE] == 'c3'
    assert bk.read(agg.metadata).master_address == '192.0.2.3'
    assert report.agreed and len(report.actions) == 2


def test_interrupted_remove_of_last_host_gone(conf, xapi):
    agg = aggregate(names=('c1',), intent=intent('remove', 'c1'), hosts=[])
    xapi.ops['snapshot'].return_value = fakes.membership('c2')
    run(conf, xapi, agg)
    assert agg.metadata == {ps.POOL_FLAG: 'true', ps.KEY: ps.CREATED}


def test_drift_reported_not_repaired(conf, xapi):
    agg = aggregate(names=('c1', 'c2'), state=ps.ACTIVE,
                    hosts=['c1', 'c2', 'c3'])
    xapi.ops['snapshot'].return_value = fakes.membership(
        'c1', 'c3', c1={'enabled': False})
    before = dict(agg.metadata)
    report = run(conf, xapi, agg)
    assert agg.metadata == before
    assert report.drift == [
        'host c2 (%s) is recorded but not a member' % UUID['c2'],
        'member %s (192.0.2.3) is not recorded' % UUID['c3'],
        'compute host c3 has no xenhost uuid recorded']
    assert report.unhealthy == ['host c1 is disabled']
    assert not report.agreed


def test_unreadable_pool_reported_nothing_changed(conf, xapi):
    agg = aggregate(intent=intent('add', 'c2'))
    xapi.ops['snapshot'].side_effect = exception.XapiUnavailable(
        '192.0.2.1', 'connection refused')
    before = dict(agg.metadata)
    report = run(conf, xapi, agg)
    assert 'connection refused' in report.error
    assert agg.metadata == before and not report.agreed


def test_legacy_changing_without_intent_settled(conf, xapi):
    agg = aggregate(names=('c1',))
    agg.metadata[bk.KEY] = 'garbage{'
    xapi.ops['snapshot'].return_value = fakes.membership('c1')
    report = run(conf, xapi, agg)
    assert agg.metadata[ps.KEY] == ps.ACTIVE
    assert 'changing without intent record -> active' in report.actions


def test_empty_changing_without_intent_settled_to_created(conf, xapi):
    agg = fakes.FakeAggregate(metadata={ps.POOL_FLAG: '1',
                                        ps.KEY: ps.CHANGING})
    run(conf, xapi, agg)
    assert agg.metadata[ps.KEY] == ps.CREATED and xapi.calls == []


def test_stale_intent_outside_changing_cleared(conf, xapi):
    agg = aggregate(state=ps.ACTIVE, intent=intent('add', 'c2'))
    xapi.ops['snapshot'].return_value = fakes.membership('c1')
    run(conf, xapi, agg)
    assert bk.read(agg.metadata).intent is None
    assert agg.metadata[ps.KEY] == ps.ACTIVE


def test_non_pool_skipped(conf, xapi):
    agg = fakes.FakeAggregate(metadata={ps.POOL_FLAG: 'no'})
    report = run(conf, xapi, agg)
    assert report.skipped and xapi.calls == []
