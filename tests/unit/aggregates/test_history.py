"""The history of operations: the records, their log line, and the workflow
recording every operation exactly once as it ends (pool operations mocked,
autospec)."""

import logging

import pytest

from tests import passwords
from tests.unit.aggregates import fakes
from tests.unit.aggregates.fakes import conf_fixture, xapi_fixture  # noqa: F401
from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver import redaction
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import reasons
from xenpool_driver.aggregates import history
from xenpool_driver.aggregates import ledger
from xenpool_driver.aggregates import workflow as wf
from xenpool_driver.xapi import preflight

UUID = fakes.UUID


class Clock:
    """Wall clock advanced by hand (never a real sleep)."""

    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


def _intent(owner='alice@box:42', started=1000.0):
    return bk.new_intent(ps.OP_ADD, 'c2', ps.ACTIVE, owner, started)


def _record(**kw):
    args = dict(id='3f2a4b5c6d7e', aggregate='prod', op='add', host='c2',
                owner='alice@box:42', user='alice', hostname='box', pid=42,
                started=1000.0, ended=1012.3, duration=12.3, outcome='failed',
                state_after='active', xapi_code='HOSTS_NOT_HOMOGENEOUS',
                xapi_params=['CPUs differ'], task='OpaqueRef:t', error='XAPI error',
                counted=True, aggregate_id=4)
    args.update(kw)
    return history.OperationRecord(**args)


# -- the record -------------------------------------------------------------------

@pytest.mark.parametrize('owner, parts', [
    ('alice@box:42', ('alice', 'box', 42)),
    ('compute-1:4242', (None, 'compute-1', 4242)),     # a compute service's
    ('functional-tests', (None, None, None)),
    ('alice@box', (None, None, None)),
    ('', (None, None, None)),
])
def test_the_owner_is_split_when_it_can_be(owner, parts):
    assert history.split_owner(owner) == parts


@pytest.mark.parametrize('exc, outcome', [
    (None, history.SUCCEEDED),
    (exception.XapiError('X', []), history.FAILED),
    (exception.XapiUnavailable('h', 'reset'), history.FAILED),
    (RuntimeError('bug'), history.FAILED),
    (exception.OperationRefused('pool.eject', 'u', 'guests'), history.REFUSED),
    (exception.PreflightFailed('add', 1, 'c2', []), history.REFUSED),
    (KeyboardInterrupt(), history.INTERRUPTED),
    (ledger.LeaseLost('taken over'), history.INTERRUPTED),
])
def test_the_outcome_follows_the_exception(exc, outcome):
    assert history.outcome_of(exc) == outcome


def test_xapis_code_and_params_come_from_the_error_or_its_cause():
    join = exception.XapiError('JOINING_HOST_CONNECTION_FAILED', ['a', 'b'])
    timeout = exception.XapiTimeout('h', 'not live in time', task_ref='OpaqueRef:t')
    timeout.__cause__ = join
    assert history.xapi_error_of(timeout) == ('JOINING_HOST_CONNECTION_FAILED',
                                              ['a', 'b'])
    mismatches = [preflight.Mismatch('HOSTS_NOT_HOMOGENEOUS', ['CPUs differ']),
                  preflight.Mismatch('POOL_JOINING_HOST_HAS_NETWORK_SRIOVS', [])]
    failed = exception.PreflightFailed('add_to_aggregate', 1, 'c2', mismatches)
    assert history.xapi_error_of(failed) == ('HOSTS_NOT_HOMOGENEOUS',
                                             ['CPUs differ'])
    assert history.xapi_error_of(exception.XapiUnavailable('h', 'x')) == (None, [])


def test_a_record_is_built_from_the_intent_and_the_aggregate_as_it_ended():
    agg = fakes.FakeAggregate(name='prod', id=4,
                              metadata={ps.KEY: ps.ERROR})
    timeout = exception.XapiTimeout('h', 'task did not finish', task_ref='OpaqueRef:t')
    record = history.record_of(agg, _intent(), 'add', 1012.5, exc=timeout,
                               counted=True)
    assert (record.aggregate, record.aggregate_id, record.op, record.host) == (
        'prod', 4, 'add', 'c2')
    assert (record.user, record.hostname, record.pid) == ('alice', 'box', 42)
    assert (record.started, record.ended, record.duration) == (1000.0, 1012.5, 12.5)
    assert record.outcome == history.FAILED and record.state_after == ps.ERROR
    assert record.task == 'OpaqueRef:t'          # the timeout's, none known before
    assert record.counted is True and record.error.startswith('xapi at h')
    success = history.record_of(agg, _intent(), 'add', 1001.0,
                                task='OpaqueRef:join', counted=True)
    assert success.outcome == history.SUCCEEDED and success.error is None
    assert success.counted is False and success.task == 'OpaqueRef:join'
    assert success.to_dict()['xapi_params'] == []


def test_an_error_is_one_redacted_line():
    redaction.register_secret(passwords.PASSWORD)
    text = history.error_text(RuntimeError('line one\nline two %s' % passwords.PASSWORD))
    assert '\n' not in text and text.startswith('RuntimeError: line one line two')
    assert passwords.PASSWORD not in text
    assert history.error_text(KeyboardInterrupt()) == 'KeyboardInterrupt'
    assert len(history.error_text(RuntimeError('x' * 5000))) == history.ERROR_LIMIT


def test_an_unknown_outcome_is_refused():
    with pytest.raises(ValueError, match='outcome'):
        _record(outcome='maybe')


# -- the log line -------------------------------------------------------------------

def test_one_structured_line_per_operation():
    line = history.log_line(_record(error='XAPI error "HOSTS_NOT_HOMOGENEOUS" x'))
    assert line == (
        'xenpool operation id=3f2a4b5c6d7e aggregate=prod aggregate_id=4 op=add '
        'host=c2 owner=alice@box:42 outcome=failed duration=12.3s state=active '
        'counted=yes xapi_code=HOSTS_NOT_HOMOGENEOUS xapi_params="CPUs differ" '
        'task=OpaqueRef:t error="XAPI error \\"HOSTS_NOT_HOMOGENEOUS\\" x"')
    ok = history.log_line(_record(outcome='succeeded', xapi_code=None,
                                  xapi_params=[], task=None, error=None,
                                  counted=False))
    assert 'outcome=succeeded' in ok and 'xapi_code=- xapi_params=- task=- '\
        'error=-' in ok


def test_the_log_sink_writes_one_line_info_or_warning(caplog):
    logger = logging.getLogger('tests.history')
    sink = history.log_sink(logger)
    with caplog.at_level(logging.INFO, logger='tests.history'):
        sink(_record(outcome='succeeded', error=None))
        sink(_record())
    assert [(r.levelno, r.getMessage().split(' ')[0]) for r in caplog.records] == [
        (logging.INFO, 'xenpool'), (logging.WARNING, 'xenpool')]
    assert all('\n' not in r.getMessage() for r in caplog.records)


def test_the_log_line_never_carries_a_secret():
    redaction.register_secret(passwords.PASSWORD)
    line = history.log_line(_record(error='failed with %s' % passwords.PASSWORD,
                                    xapi_params=[passwords.PASSWORD]))
    assert passwords.PASSWORD not in line


# -- the workflow records every operation, once, as it ends --------------------------

def active(names=('c1',), extra_hosts=('c2',), failures=0, state=ps.ACTIVE,
           kind=fakes.FakeAtomicAggregate):
    md = {ps.POOL_FLAG: 'true', ps.KEY: state, bk.MASTER_COMPUTE: names[0]}
    md.update({n: UUID[n] for n in names})
    md[bk.KEY] = bk.encode(bk.Bookkeeping(failures=failures,
                                          master_address=fakes.ADDR[names[0]]))
    return kind(name='prod', id=7, hosts=list(names) + list(extra_hosts),
                metadata=md)


@pytest.fixture(name='records')
def records_fixture():
    return []


@pytest.fixture(name='clock')
def clock_fixture():
    return Clock()


@pytest.fixture(name='flow')
def flow_fixture(conf, xapi, records, clock):
    return wf.Workflow(xapi.connector, conf=conf, own_host='c1', clock=clock,
                       owner='alice@box:42', history=records.append)


def slave_info(name):
    return {'url': 'https://%s' % fakes.ADDR[name], 'xenhost_uuid': UUID[name]}


def test_a_success_is_recorded_once_with_its_task(flow, xapi, records, clock):
    def join(*args, on_task, **kwargs):
        on_task('OpaqueRef:join-task')
        clock.now += 42.0
    xapi.ops['preflight'].return_value = []
    xapi.on('join', join)
    agg = active()
    flow.add(agg, 'c2', slave_info=slave_info('c2'))
    [record] = records
    assert (record.outcome, record.op, record.host, record.aggregate) == (
        history.SUCCEEDED, 'add', 'c2', 'prod')
    assert record.id == bk.read(agg.history[0]).intent.id   # the intent's id
    assert (record.started, record.ended, record.duration) == (1000.0, 1042.0, 42.0)
    assert record.task == 'OpaqueRef:join-task' and record.state_after == ps.ACTIVE
    assert (record.owner, record.user, record.hostname, record.pid) == (
        'alice@box:42', 'alice', 'box', 42)
    assert (record.error, record.xapi_code, record.counted) == (None, None, False)


def test_a_failure_is_recorded_with_xapis_code_and_whether_it_counted(
        flow, xapi, records):
    xapi.ops['preflight'].return_value = []
    xapi.ops['join'].side_effect = exception.XapiError(
        'JOINING_HOST_CONNECTION_FAILED', ['192.0.2.1'], method='pool.join')
    xapi.ops['snapshot'].return_value = fakes.membership('c1')
    agg = active(failures=2)
    with pytest.raises(exception.XapiError):
        flow.add(agg, 'c2', slave_info=slave_info('c2'))
    [record] = records
    assert record.outcome == history.FAILED and record.counted is True
    assert (record.xapi_code, record.xapi_params) == (
        'JOINING_HOST_CONNECTION_FAILED', ['192.0.2.1'])
    assert record.state_after == ps.ERROR and 'JOINING_HOST' in record.error
    # the error's reason points to this very record
    assert reasons.reason_operations(bk.read(agg.metadata).reason)[-1] == record.id


def test_our_refusal_after_the_operation_began_is_recorded_as_refused(
        flow, xapi, records):
    xapi.ops['preflight'].return_value = [
        preflight.Mismatch('HOSTS_NOT_HOMOGENEOUS', ['CPUs differ'], 'cpu')]
    agg = active()
    with pytest.raises(exception.PreflightFailed):
        flow.add(agg, 'c2', slave_info=slave_info('c2'))
    [record] = records
    assert (record.outcome, record.counted) == (history.REFUSED, False)
    assert (record.xapi_code, record.xapi_params) == ('HOSTS_NOT_HOMOGENEOUS',
                                                      ['CPUs differ'])
    assert record.state_after == ps.ACTIVE


def test_a_refusal_before_the_operation_began_records_nothing(flow, xapi, records):
    with pytest.raises(exception.InvalidAggregateAction):
        flow.add(active(state=ps.CHANGING), 'c2', slave_info=slave_info('c2'))
    with pytest.raises(exception.InvalidAggregateAction):
        flow.add(active(), 'c3')           # cannot be located
    assert records == [] and xapi.calls == []


@pytest.mark.parametrize('interruption', [KeyboardInterrupt(),
                                          ledger.LeaseLost('taken over')],
                         ids=['ctrl-c', 'lease-lost'])
def test_an_interrupted_operation_is_recorded_as_interrupted(flow, xapi, records,
                                                             interruption):
    xapi.ops['preflight'].return_value = []

    def join(*args, on_task, **kwargs):
        on_task('OpaqueRef:join-task')
        raise interruption
    xapi.on('join', join)
    agg = active()
    with pytest.raises(type(interruption)):
        flow.add(agg, 'c2', slave_info=slave_info('c2'))
    [record] = records
    assert record.outcome == history.INTERRUPTED and record.counted is False
    assert record.state_after == ps.CHANGING        # the intent stays: reconcile
    assert record.task == 'OpaqueRef:join-task'


def test_removals_are_recorded_with_the_eject_task_and_a_dead_host_named_so(
        flow, xapi, records):
    def eject(*args, on_task, **kwargs):
        on_task('OpaqueRef:eject-task')
    xapi.on('eject', eject)
    agg = active(names=('c1', 'c2', 'c3'), extra_hosts=())
    flow.remove(agg, 'c2')
    flow.remove(agg, 'c3', dead=True)
    assert [(r.op, r.host, r.outcome, r.task) for r in records] == [
        ('remove', 'c2', history.SUCCEEDED, 'OpaqueRef:eject-task'),
        ('dead-remove', 'c3', history.SUCCEEDED, None)]
    assert len({r.id for r in records}) == 2


def test_a_sink_that_fails_changes_no_outcome(conf, xapi, caplog):
    def broken(record):
        raise RuntimeError('store down')
    flow = wf.Workflow(xapi.connector, conf=conf, own_host='c1', history=broken)
    xapi.ops['preflight'].return_value = []
    agg = active()
    assert flow.add(agg, 'c2', slave_info=slave_info('c2')) == UUID['c2']
    assert agg.metadata[ps.KEY] == ps.ACTIVE
    assert 'not recorded in the history' in caplog.text


def test_without_a_sink_nothing_is_recorded(conf, xapi):
    flow = wf.Workflow(xapi.connector, conf=conf, own_host='c1')
    xapi.ops['preflight'].return_value = []
    assert flow.history is None
    assert flow.add(active(), 'c2', slave_info=slave_info('c2')) == UUID['c2']
