"""Tests of reconcile: finishing or rolling back interrupted operations."""

import dataclasses
import itertools
import time

import pytest

from tests.unit.aggregates import fakes
from tests.unit.aggregates.fakes import conf_fixture, xapi_fixture  # noqa: F401
from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import awaiting
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import locating
from xenpool_driver.aggregates import reconcile as reconcile_mod
from xenpool_driver.xapi import pool

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
    md.update({k: v for k, v in bk.updates(record).items() if v})
    return fakes.FakeAtomicAggregate(
        hosts=list(names) if hosts is None else hosts, metadata=md)


def intent(op, host, prev=ps.ACTIVE, with_uuid=True, **kw):
    made = bk.new_intent(op, host, prev, 'test', 1.0,
                         url='https://%s' % fakes.ADDR[host],
                         host_uuid=UUID[host] if with_uuid else None)
    return dataclasses.replace(made, **kw)


def run(conf, xapi, agg):
    # NOTE: reconcile needs a locator and clocks, no workflow
    return reconcile_mod.reconcile(
        agg, locating.XapiLocator(xapi.connector, conf, own_host='c1'))


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
    # NOTE: read, repair, read again (what is compared is the pool now)
    assert xapi.names == ['snapshot', 'snapshot']


def test_interrupted_add_not_live_waits_until_live(conf, xapi):
    agg = aggregate(intent=intent('add', 'c2', phase='join'))
    xapi.ops['snapshot'].return_value = fakes.membership(
        'c1', 'c2', c2={'live': False})
    run(conf, xapi, agg)
    xapi.ops['wait_until_live'].assert_called_once_with(
        xapi.sessions['https://192.0.2.1'], UUID['c2'], fakes.TIMEOUTS.live)
    assert agg.metadata[ps.KEY] == ps.ACTIVE


def test_interrupted_add_not_live_in_time_is_not_decided(conf, xapi):
    agg = aggregate(intent=intent('add', 'c2', phase='join'))
    xapi.ops['snapshot'].return_value = fakes.membership(
        'c1', 'c2', c2={'live': False})
    xapi.ops['wait_until_live'].side_effect = exception.XapiTimeout('x', 't')
    before = dict(agg.metadata)
    report = run(conf, xapi, agg)
    # NOTE: the joiner may still be restarting: nothing is decided yet
    assert 'joined, not live yet' in report.pending and not report.agreed
    assert agg.metadata == before


def test_interrupted_add_not_member_is_rolled_back(conf, xapi):
    agg = aggregate(intent=intent('add', 'c2', phase='join'), failures=2)
    xapi.ops['snapshot'].return_value = fakes.membership('c1')
    report = run(conf, xapi, agg)
    assert 'c2' not in agg.metadata
    assert agg.metadata[ps.KEY] == ps.ACTIVE
    assert bk.read(agg.metadata).intent is None
    assert bk.read(agg.metadata).failures == 2
    assert report.actions == [
        'rolled back add of host c2 -> active (the host did not join)']
    assert 'rolled back' in bk.read(agg.metadata).reason


def test_interrupted_add_before_anything_was_sent_is_rolled_back_unread(
        conf, xapi):
    agg = aggregate(intent=intent('add', 'c2', expires=5.0))  # no phase
    report = run(conf, xapi, agg)
    assert agg.metadata[ps.KEY] == ps.ACTIVE and 'join' not in xapi.names
    assert report.actions[0].endswith('(nothing was sent to xapi)')


def test_live_lease_is_left_alone(conf, xapi):
    agg = aggregate(intent=intent('add', 'c2', phase='join',
                                  expires=time.time() + 60))
    before = dict(agg.metadata)
    report = run(conf, xapi, agg)
    assert 'left alone' in report.busy and 'by test' in report.busy
    assert agg.metadata == before and xapi.calls == []
    assert not report.agreed


def test_join_task_still_pending_is_awaited_then_decided(conf, xapi, mocker):
    agg = aggregate(intent=intent('add', 'c2', phase='join'))
    # NOTE: not a member yet; the join task runs on the joiner, then it is
    members = itertools.chain([fakes.membership('c1')],
                              itertools.repeat(fakes.membership('c1', 'c2')))
    xapi.ops['snapshot'].side_effect = lambda s: next(members)
    pending = mocker.patch.object(pool, 'pending', autospec=True,
                                  return_value=True)
    wait = mocker.patch.object(pool, 'wait_not_pending',
                               autospec=True)
    report = run(conf, xapi, agg)
    pending.assert_called_once_with(xapi.sessions['https://192.0.2.2'],
                                    awaiting.JOIN_METHODS)
    wait.assert_called_once()
    assert report.actions == ['finished add of host c2']
    assert agg.metadata['c2'] == UUID['c2']


def test_join_task_pending_past_the_bound_is_reported_unknown(conf, xapi,
                                                              mocker):
    agg = aggregate(intent=intent('add', 'c2', phase='join'))
    xapi.ops['snapshot'].return_value = fakes.membership('c1')
    mocker.patch.object(pool, 'pending', autospec=True,
                        return_value=True)
    mocker.patch.object(pool, 'wait_not_pending', autospec=True,
                        side_effect=exception.XapiTimeout('x', 'still'))
    before = dict(agg.metadata)
    report = run(conf, xapi, agg)
    assert report.pending and agg.metadata == before


def test_interrupted_first_add_finished(conf, xapi):
    agg = aggregate(names=(), master=None, hosts=['c1'],
                    intent=intent('add', 'c1', prev=ps.CREATED,
                                  with_uuid=False, phase='init'))
    xapi.ops['snapshot'].return_value = fakes.membership('c1')
    run(conf, xapi, agg)
    assert xapi.calls == [('snapshot', 'https://192.0.2.1')] * 2
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
    assert bk.read(agg.metadata) == bk.Bookkeeping(
        reason='add of c1 rolled back: the pool was not named')


@pytest.mark.parametrize('prev', [ps.ACTIVE, ps.ERROR])
def test_interrupted_remove_still_member_rolled_back(conf, xapi, prev):
    agg = aggregate(names=('c1', 'c2'), intent=intent('remove', 'c2',
                                                      prev=prev))
    xapi.ops['snapshot'].return_value = fakes.membership('c1', 'c2')
    report = run(conf, xapi, agg)
    assert agg.metadata[ps.KEY] == prev and agg.metadata['c2'] == UUID['c2']
    assert report.actions == [
        'rolled back remove of host c2 -> %s (the host is still a member)' % prev]


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


def test_drift_repaired_where_provable_reported_otherwise(conf, xapi):
    agg = aggregate(names=('c1', 'c2'), state=ps.ACTIVE,
                    hosts=['c1', 'c2', 'c3'])
    xapi.ops['snapshot'].return_value = fakes.membership(
        'c1', 'c3', c1={'enabled': False})
    report = run(conf, xapi, agg)
    # c2 is not in the pool (whose master c1 is ours): its uuid is forgotten
    assert 'c2' not in agg.metadata
    assert 'forgot host(s) no longer in the pool: c2' in report.actions
    # a compute service's host list is its own: reported, never changed
    assert agg.hosts == ['c1', 'c2', 'c3']
    assert report.drift == [
        'host c2 is in the host list with no uuid recorded',
        'host c3 is in the host list with no uuid recorded',
        'member %s (192.0.2.3) is not recorded' % UUID['c3']]
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


@pytest.mark.parametrize('name_label, outcome, state', [
    ('', 'finished remove of host c1', ps.CREATED),
    ('pool-a', 'rolled back remove of host c1 -> active (the pool name was not '
               'cleared)', ps.ACTIVE),
], ids=['name-cleared', 'name-kept'])
def test_interrupted_removal_of_the_last_host_follows_the_pool_name(
        conf, xapi, name_label, outcome, state):
    # NOTE: found by tools/chaos.py (seed 1, sequences 16 and 170): the last
    # host stays in its pool, so membership says nothing; the name does.
    agg = aggregate(names=('c1',), intent=intent('remove', 'c1', phase='clear'))
    xapi.ops['snapshot'].return_value = fakes.membership('c1', name_label=name_label)
    report = run(conf, xapi, agg)
    assert report.actions[0] == outcome
    assert agg.metadata[ps.KEY] == state
    assert ('c1' in agg.metadata) is (state == ps.ACTIVE)


class _Clock:
    """A monotonic clock that moves only when a fake session waits."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class _DesignateSession:
    """A session on a pool whose designate may be in effect: ``wait_for``
    evaluates ``check`` once per event, one event every :attr:`EVENT`
    seconds of the fake clock, until it answers or its timeout passes.
    Nothing sleeps: the clock is moved instead."""

    EVENT = 0.5

    def __init__(self, clock, ops=None):
        self.clock = clock
        self.ops = ops or {}

    def call(self, method):
        assert method == 'pool.get_all_records'
        return {'OpaqueRef:p': {'current_operations': self.ops}}

    def wait_for(self, classes, check, timeout, what):
        assert classes == ['pool', 'host']
        deadline = self.clock.now + timeout
        while True:
            result = check()
            if result is not None:
                return result
            if self.clock.now >= deadline:
                raise exception.XapiTimeout('x', what)
            self.clock.now = min(deadline, self.clock.now + self.EVENT)


LIVE = fakes.TIMEOUTS.live     # NOTE: 456 s: a real clock would hang the test


def test_designate_awaited_until_the_new_master_has_booted(mocker):
    """dbsync_master.ml: pool.master moves when the new master has booted;
    until then the old master still names itself."""
    reads = itertools.chain([fakes.membership('c1', 'c2')] * 3,
                            itertools.repeat(fakes.membership('c1', 'c2', master='c2')))
    mocker.patch.object(pool, 'snapshot', side_effect=lambda s: next(reads))
    made = intent('remove', 'c1', target_uuid=UUID['c2'], phase='designate')
    clock = _Clock()
    session = _DesignateSession(clock, ops={'OpaqueRef:t': 'designate_new_master'})
    got = awaiting.await_designate(made, session, fakes.membership('c1', 'c2'),
                                   LIVE, monotonic=clock)
    assert got.master_uuid == UUID['c2']
    assert clock.now == 3 * _DesignateSession.EVENT     # the fourth event


def test_designate_not_done_when_the_old_master_outlives_the_fuse(mocker):
    """xapi_pool_transition.ml: a committed designate lights the old master's
    fuse (Xapi_fuse.light_fuse_and_run); still master past it, no designate
    running: it did not happen."""
    mocker.patch.object(pool, 'snapshot',
                        return_value=fakes.membership('c1', 'c2'))
    made = intent('remove', 'c1', target_uuid=UUID['c2'], phase='designate')
    clock = _Clock()
    got = awaiting.await_designate(made, _DesignateSession(clock),
                                   fakes.membership('c1', 'c2'), LIVE,
                                   monotonic=clock)
    assert got.master_uuid == UUID['c1']
    assert clock.now == awaiting.FUSE_WINDOW    # decided on the fuse, not before


def test_designate_running_past_the_bound_is_not_decided(mocker):
    mocker.patch.object(pool, 'snapshot',
                        return_value=fakes.membership('c1', 'c2'))
    made = intent('remove', 'c1', target_uuid=UUID['c2'], phase='designate')
    clock = _Clock()
    session = _DesignateSession(clock, ops={'OpaqueRef:t': 'designate_new_master'})
    with pytest.raises(awaiting.Unknown):
        awaiting.await_designate(made, session, fakes.membership('c1', 'c2'),
                                 LIVE, monotonic=clock)
    assert clock.now == LIVE


def test_reconcile_waits_for_a_designate_on_the_clock_it_is_given(conf, xapi):
    """The monotonic clock given to reconcile is the one the wait runs on."""
    agg = aggregate(names=('c1', 'c2'), intent=intent(
        'remove', 'c1', target_uuid=UUID['c2'], phase='designate'))
    xapi.ops['snapshot'].return_value = fakes.membership('c1', 'c2')
    clock = _Clock()
    fake = _DesignateSession(clock)
    master = xapi.session('https://192.0.2.1')
    master.call.side_effect = fake.call
    master.wait_for.side_effect = fake.wait_for
    report = reconcile_mod.reconcile(
        agg, locating.XapiLocator(xapi.connector, conf, own_host='c1'),
        monotonic=clock)
    assert clock.now == awaiting.FUSE_WINDOW
    assert report.actions == [
        'rolled back remove of host c1 -> active (the host is still a member)']
