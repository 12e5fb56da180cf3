"""ledger: the one writer of an operation's metadata, and the lease."""

import pytest

from tests.unit.aggregates import fakes
from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import reasons
from xenpool_driver.aggregates import ledger

EXPIRY = 120.0


class Clock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


def _begin(kind=fakes.FakeAtomicAggregate, clock=None):
    agg = kind(hosts=['c1'], metadata={ps.POOL_FLAG: 'true', ps.KEY: ps.ACTIVE,
                                       'c1': fakes.UUID['c1']})
    clock = clock or Clock()
    intent = bk.new_intent(ps.OP_ADD, 'c2', ps.ACTIVE, 'me@box:1', clock())
    return agg, ledger.begin(agg, 'add_to_aggregate', ps.OP_ADD, ps.ACTIVE, intent,
                             clock, EXPIRY), clock


@pytest.mark.parametrize('kind', [fakes.FakeAggregate, fakes.FakeAtomicAggregate])
def test_begin_writes_changing_and_a_lease_in_one_update(kind):
    agg, op, clock = _begin(kind)
    assert len(agg.history) == 1
    stored = bk.read(agg.history[0]).intent
    assert agg.history[0][ps.KEY] == ps.CHANGING
    assert stored.lease_alive(clock()) and not stored.lease_alive(clock() + EXPIRY + 2)


def test_a_second_begin_is_refused_naming_the_operation_in_flight():
    agg, op, clock = _begin()
    other = bk.new_intent(ps.OP_REMOVE, 'c1', ps.ACTIVE, 'you@box:2', clock())
    with pytest.raises(exception.InvalidAggregateAction) as err:
        ledger.begin(agg, 'remove_from_aggregate', ps.OP_REMOVE, ps.ACTIVE, other,
                     clock, EXPIRY)
    assert err.value.reason == 'setup in progress'


def test_renew_extends_the_lease_and_keeps_the_phase():
    agg, op, clock = _begin()
    op.note(phase='join')
    clock.now += 100.0
    assert op.renew()
    intent = bk.read(agg.metadata).intent
    assert intent.phase == 'join' and intent.lease_alive(1000.0 + 100 + EXPIRY - 1)


def test_an_operation_taken_over_writes_nothing_more():
    agg, op, clock = _begin()
    # another actor settled it (its lease had expired)
    assert ledger.settle(agg, op.intent, {}, ps.ACTIVE)
    before = dict(agg.metadata)
    assert not op.renew()
    with pytest.raises(ledger.LeaseLost):
        op.succeed({'c2': fakes.UUID['c2']}, ps.ACTIVE, None)
    assert agg.metadata == before


def test_release_ends_the_lease_now_and_keeps_the_intent():
    agg, op, clock = _begin()
    clock.now += 5.0
    op.release()
    intent = bk.read(agg.metadata).intent
    assert intent is not None and not intent.lease_alive(clock())
    assert agg.metadata[ps.KEY] == ps.CHANGING
    assert not op.renew()           # a renewer still running cannot revive it
    assert not bk.read(agg.metadata).intent.lease_alive(clock())


def test_fail_keeps_the_reason_and_counts_only_when_told():
    agg, op, _ = _begin()
    op.fail(exception.XapiError('X', ['y']), threshold=3, counts=False)
    record = bk.read(agg.metadata)
    assert agg.metadata[ps.KEY] == ps.ACTIVE and record.failures == 0
    assert record.reason.startswith('add of c2 failed: XAPI error X')
    assert record.intent is None


def test_the_renewer_renews_every_interval_until_stopped():
    agg, op, clock = _begin()
    intervals = []

    def wait(seconds):
        intervals.append(seconds)
        clock.now += seconds
        return len(intervals) > 3       # NOTE: stop after 3 renewals, no real sleep
    ledger.Renewer(op, 15.0, wait=wait).run()
    assert intervals == [15.0] * 4
    assert bk.read(agg.metadata).intent.expires >= 1000.0 + 45.0 + EXPIRY


def test_the_renewer_stops_when_the_lease_is_lost():
    agg, op, clock = _begin()
    ledger.settle(agg, op.intent, {}, ps.ACTIVE)
    calls = []
    ledger.Renewer(op, 1.0, wait=lambda s: calls.append(s) and False).run()
    assert calls == [1.0]               # one try, then it gives up


def test_the_lease_interval_option_reaches_the_renewer(mocker):
    conf = fakes.make_conf(lease_renewal_interval=7.5)
    from xenpool_driver.aggregates import workflow as wf
    renewer = mocker.patch.object(ledger, 'Renewer', autospec=True)
    agg, op, _ = _begin()
    w = wf.Workflow(mocker.Mock(), conf=conf)
    with w._renewing(op):
        pass
    assert renewer.call_args[0][1] == 7.5


def test_the_lease_expiry_option_reaches_the_intent(mocker):
    conf = fakes.make_conf(lease_expiry=33.0)
    from xenpool_driver.aggregates import workflow as wf
    agg = fakes.FakeAtomicAggregate(metadata={ps.POOL_FLAG: 'true', ps.KEY: ps.CREATED})
    w = wf.Workflow(mocker.Mock(), conf=conf, clock=lambda: 100.0)
    intent = bk.new_intent(ps.OP_ADD, 'c1', ps.CREATED, 'me', 100.0)
    w._begin(agg, ps.OP_ADD, 'add_to_aggregate', ps.CREATED, intent)
    assert bk.read(agg.metadata).intent.expires == 134.0    # rounded up, +1 s


# -- the reason of an error names the operations that caused it -----------------

def _one_operation(agg, clock, host='c2'):
    intent = bk.new_intent(ps.OP_ADD, host, agg.metadata[ps.KEY], 'me@box:1',
                           clock())
    return ledger.begin(agg, 'add_to_aggregate', ps.OP_ADD,
                        agg.metadata[ps.KEY], intent, clock, EXPIRY)


def _failed(agg, clock, counts=True, threshold=3, host='c2'):
    op = _one_operation(agg, clock, host)
    op.fail(exception.XapiError('JOINING_HOST_CONNECTION_FAILED', []),
            threshold=threshold, counts=counts)
    return op.intent.id


@pytest.mark.parametrize('kind', [fakes.FakeAggregate, fakes.FakeAtomicAggregate])
def test_the_error_reason_names_every_operation_that_counted(kind):
    agg, op, clock = _begin(kind)
    op.succeed({'c2': fakes.UUID['c2']}, ps.ACTIVE, None)
    ids = [_failed(agg, clock, host='c3') for _ in range(3)]
    record = bk.read(agg.metadata)
    assert agg.metadata[ps.KEY] == ps.ERROR and record.failures == 3
    assert record.reason.startswith('add of c3 failed: XAPI error '
                                    'JOINING_HOST_CONNECTION_FAILED')
    assert record.reason.endswith('(counted operations %s)' % ', '.join(ids))
    assert reasons.reason_operations(record.reason) == tuple(ids)


def test_a_failure_that_did_not_count_names_only_those_that_did():
    agg, op, clock = _begin()
    op.succeed({'c2': fakes.UUID['c2']}, ps.ACTIVE, None)
    first = _failed(agg, clock)
    uncounted = _failed(agg, clock, counts=False)
    record = bk.read(agg.metadata)
    assert record.failures == 1 and agg.metadata[ps.KEY] == ps.ACTIVE
    assert reasons.reason_operations(record.reason) == (first,)
    assert uncounted not in record.reason
    last = _failed(agg, clock)
    assert reasons.reason_operations(bk.read(agg.metadata).reason) == (first, last)


def test_a_success_forgets_the_operations_counted():
    agg, op, clock = _begin()
    op.succeed({'c2': fakes.UUID['c2']}, ps.ACTIVE, None)
    _failed(agg, clock)
    _one_operation(agg, clock, 'c3').succeed({'c3': fakes.UUID['c3']}, ps.ACTIVE,
                                             None)
    assert bk.read(agg.metadata).reason is None
    new = _failed(agg, clock)
    assert reasons.reason_operations(bk.read(agg.metadata).reason) == (new,)


def test_the_undo_that_counts_our_uncounted_failure_names_its_operation():
    agg, op, clock = _begin(fakes.FakeAggregate)
    op.succeed({'c2': fakes.UUID['c2']}, ps.ACTIVE, None)
    counted = _failed(agg, clock, host='c3')
    # e.g. the login refused: nothing changed the pool, our workflow did not
    # count it; the compute service's undo does.
    uncounted = _failed(agg, clock, counts=False, host='c3')
    assert ledger.count_failure(agg, 'c3', True, threshold=2) is True
    record = bk.read(agg.metadata)
    assert agg.metadata[ps.KEY] == ps.ERROR and record.failures == 2
    assert reasons.reason_operations(record.reason) == (counted, uncounted)
    assert record.reason.startswith('add of c3 failed: XAPI error')
    assert record.counted is None           # consumed: never named twice


def test_the_undo_of_a_failure_already_counted_counts_nothing_more():
    agg, op, clock = _begin(fakes.FakeAggregate)
    op.succeed({'c2': fakes.UUID['c2']}, ps.ACTIVE, None)
    counted = _failed(agg, clock, host='c3')
    assert ledger.count_failure(agg, 'c3', True, threshold=1) is False
    record = bk.read(agg.metadata)
    assert record.failures == 1 and agg.metadata[ps.KEY] == ps.ACTIVE
    assert reasons.reason_operations(record.reason) == (counted,)


def test_a_rollback_in_error_keeps_naming_the_operations_that_counted():
    agg, op, clock = _begin()
    op.succeed({'c2': fakes.UUID['c2']}, ps.ACTIVE, None)
    ids = [_failed(agg, clock, threshold=1)]
    assert agg.metadata[ps.KEY] == ps.ERROR
    intent = bk.new_intent(ps.OP_REMOVE, 'c2', ps.ERROR, 'me@box:1', clock())
    ledger.begin(agg, 'remove_from_aggregate', ps.OP_REMOVE, ps.ERROR, intent,
                 clock, EXPIRY)
    assert ledger.settle(agg, intent, {}, ps.ERROR,
                         reason='remove of c2 rolled back: nothing was sent')
    reason = bk.read(agg.metadata).reason
    assert reason.startswith('remove of c2 rolled back')
    assert reasons.reason_operations(reason) == tuple(ids)
