"""Pool verbs against an autospec'd session over a small fake database.

The lists of ``session.call`` methods asserted here document the XAPI round
trips of each operation (an add is preflight + join, a remove is eject).
The mechanics have their own tests (test_membership, test_outlived,
test_settle); the cases here go through the verbs.
"""

import copy

import pytest

from tests import passwords
from tests.unit.xapi import fakes
from xenpool_driver import exception
from xenpool_driver.xapi import pool
from xenpool_driver.xapi import session as xsession
from xenpool_driver.xapi import timeouts

TIMEOUTS = timeouts.PoolTimeouts(task=30.0, live=60.0)
MASTER_ADDR = '192.0.2.10'
SLAVE_ADDR = '192.0.2.11'
JOINER_ADDR = '192.0.2.12'


def _host(uuid, address, enabled=True, live=True):
    rec = {'uuid': uuid, 'name_label': uuid, 'address': address, 'enabled': enabled,
           'metrics': 'OpaqueRef:m-' + uuid}
    return rec, {'live': live}


class FakeXapi(object):
    """One xapi database, answering ``session.call`` like xapi would."""

    def __init__(self, pool_uuid, hosts, master, name_label=''):
        self.db = {'pool': {'OpaqueRef:p-' + pool_uuid: {
            'uuid': pool_uuid, 'name_label': name_label, 'master': 'OpaqueRef:' + master}},
            'host': {}, 'host_metrics': {}, 'VM': {}}
        for uuid, address, enabled, live in hosts:
            self.add_host(uuid, address, enabled, live)
        self.overrides = {}

    @property
    def pool_rec(self):
        return next(iter(self.db['pool'].values()))

    def add_host(self, uuid, address, enabled=True, live=True):
        rec, metrics = _host(uuid, address, enabled, live)
        self.db['host']['OpaqueRef:' + uuid] = rec
        self.db['host_metrics']['OpaqueRef:m-' + uuid] = metrics

    def set_host(self, uuid, enabled=None, live=None):
        if enabled is not None:
            self.db['host']['OpaqueRef:' + uuid]['enabled'] = enabled
        if live is not None:
            self.db['host_metrics']['OpaqueRef:m-' + uuid]['live'] = live

    def remove_host(self, uuid):
        self.db['host'].pop('OpaqueRef:' + uuid, None)
        self.db['host_metrics'].pop('OpaqueRef:m-' + uuid, None)

    def add_vm(self, name, resident_on, power_state, dom0=False):
        self.db['VM']['OpaqueRef:vm-' + name] = {
            'uuid': 'vm-' + name, 'name_label': name, 'resident_on': 'OpaqueRef:' + resident_on,
            'power_state': power_state, 'is_control_domain': dom0, 'is_a_template': False,
            'is_a_snapshot': False}

    def call(self, method, *args):
        if method in self.overrides:
            return self.overrides[method](*args)
        cls, _, verb = method.partition('.')
        if verb == 'get_all_records':
            return copy.deepcopy(self.db[cls])
        if verb == 'get_record':
            return copy.deepcopy(self.db[cls][args[0]])
        if method == 'pool.set_name_label':
            self.db['pool'][args[0]]['name_label'] = args[1]
            return ''
        if method == 'host.destroy':
            self.remove_host(args[0].split(':', 1)[1])
            return ''
        raise AssertionError('unexpected call %s' % method)


def make_session(mocker, fake, address):
    s = mocker.create_autospec(xsession.XapiSession, instance=True)
    s.address = address
    s.call.side_effect = fake.call
    return fakes.script_waits(s)  # between_events: applied one per round


def calls(session):
    return [c.args[0] for c in session.call.call_args_list]


@pytest.fixture
def master_fake():
    return FakeXapi('pool-1', [('master', MASTER_ADDR, True, True),
                               ('slave', SLAVE_ADDR, True, True)], 'master', 'agg')


@pytest.fixture
def master(mocker, master_fake):
    return make_session(mocker, master_fake, MASTER_ADDR)


@pytest.fixture
def joiner_fake():
    return FakeXapi('pool-j', [('joiner', JOINER_ADDR, True, True)], 'joiner')


@pytest.fixture
def joiner(mocker, joiner_fake):
    return make_session(mocker, joiner_fake, JOINER_ADDR)


# --- snapshot / init / clear ---------------------------------------------

def test_snapshot_reads_membership_in_three_round_trips(master, master_fake):
    master_fake.set_host('slave', live=False)
    m = pool.snapshot(master)
    assert calls(master) == ['pool.get_all_records', 'host.get_all_records',
                             'host_metrics.get_all_records']
    assert (m.pool_ref, m.pool_uuid, m.name_label, m.master_uuid) == (
        'OpaqueRef:p-pool-1', 'pool-1', 'agg', 'master')
    assert m.uuids == {'master', 'slave'}
    assert m.master == pool.HostInfo('OpaqueRef:master', 'master', 'master', MASTER_ADDR,
                                     True, True)
    assert m.host('slave').live is False
    assert m.host('nope') is None


@pytest.mark.parametrize('current, wanted, writes', [
    ('', 'agg', True), ('agg', 'agg', False), ('old', 'agg', True)])
def test_init_pool_sets_name_label_idempotently(joiner, joiner_fake, current, wanted, writes):
    joiner_fake.pool_rec['name_label'] = current
    m = pool.init_pool(joiner, wanted)
    assert m.name_label == wanted == joiner_fake.pool_rec['name_label']
    assert ('pool.set_name_label' in calls(joiner)) is writes


def test_clear_pool(master, master_fake):
    assert pool.clear_pool(master).name_label == ''
    assert master_fake.pool_rec['name_label'] == ''
    master.call.assert_any_call('pool.set_name_label', 'OpaqueRef:p-pool-1', '')


# --- join -------------------------------------------------------------------------------

def _joins(master_fake, live_after_restart=True):
    """call_async side effect: the master's DB gains the joiner, not live yet."""
    def join(method, *args, **kwargs):
        master_fake.add_host('joiner', JOINER_ADDR, enabled=False, live=False)
        return ''
    return join


def _restart(master_fake):
    return lambda: master_fake.set_host('joiner', enabled=True, live=True)


@pytest.mark.parametrize('force, method', [(False, 'pool.join'), (True, 'pool.join_force')])
def test_join_runs_on_the_joiner_then_waits_until_live(master, master_fake, joiner, force,
                                                       method):
    joiner.call_async.side_effect = _joins(master_fake)
    master.between_events = [_restart(master_fake)]
    progress = []
    info = pool.join(joiner, master, MASTER_ADDR, 'root', passwords.PASSWORD, TIMEOUTS, force=force,
                     on_progress=progress.append)
    assert info.uuid == 'joiner' and info.enabled and info.live
    joiner.call_async.assert_called_once_with(method, MASTER_ADDR, 'root', passwords.PASSWORD,
                                              timeout=TIMEOUTS.task,
                                              on_progress=progress.append, on_task=None)
    master.call_async.assert_not_called()
    # XAPI calls of a join: uuid read before, then the liveness check per event round.
    assert calls(joiner) == ['pool.get_all_records', 'host.get_record']
    assert calls(master) == ['host.get_all_records', 'host_metrics.get_record'] * 2
    classes, _check, timeout, _what = master.wait_for.call_args.args
    assert classes == ['host', 'host_metrics'] and timeout == TIMEOUTS.live


def test_join_with_known_uuid_skips_the_read(master, master_fake, joiner):
    joiner.call_async.side_effect = _joins(master_fake)
    master.between_events = [_restart(master_fake)]
    pool.join(joiner, master, MASTER_ADDR, 'root', passwords.PASSWORD, TIMEOUTS,
              joiner_uuid='joiner')
    assert calls(joiner) == []


def test_join_never_logs_the_password(master, master_fake, joiner, caplog):
    joiner.call_async.side_effect = _joins(master_fake)
    master.between_events = [_restart(master_fake)]
    with caplog.at_level('DEBUG'):
        pool.join(joiner, master, MASTER_ADDR, 'root', passwords.PASSWORD, TIMEOUTS)
    assert caplog.records and passwords.PASSWORD not in caplog.text


@pytest.mark.parametrize('error', [
    exception.XapiUnavailable(JOINER_ADDR, 'connection reset', method='Async.pool.join',
                              maybe_applied=True),
    exception.XapiTimeout(JOINER_ADDR, 'task timed out', method='Async.pool.join'),
    exception.XapiError('INTERNAL_ERROR', ['Db_exn.Uniqueness_constraint_violation'],
                        method='pool.join', host=JOINER_ADDR),
])
def test_join_error_although_the_host_joined_continues(master, master_fake, joiner, error):
    def join(method, *args, **kwargs):
        _joins(master_fake)(method)
        raise error
    joiner.call_async.side_effect = join
    master.between_events = [_restart(master_fake)]
    info = pool.join(joiner, master, MASTER_ADDR, 'root', passwords.PASSWORD, TIMEOUTS)
    assert info.uuid == 'joiner' and info.live
    assert joiner.call_async.call_count == 1  # never repeated


@pytest.mark.parametrize('error', [
    exception.XapiError('POOL_JOINING_HOST_TLS_VERIFICATION_MISMATCH', [],
                        method='pool.join', host=JOINER_ADDR),
    exception.XapiError('HOSTS_NOT_HOMOGENEOUS', ['CPUs differ'], method='pool.join'),
    exception.XapiUnavailable(JOINER_ADDR, 'connection refused', method='Async.pool.join'),
    exception.XapiTimeout(JOINER_ADDR, 'task timed out', method='Async.pool.join'),
])
def test_join_error_when_the_host_did_not_join_is_reraised(master, joiner, error,
                                                            record_exception_text):
    joiner.call_async.side_effect = error
    with pytest.raises(type(error)) as err:
        pool.join(joiner, master, MASTER_ADDR, 'root', passwords.PASSWORD, TIMEOUTS)
    record_exception_text(err.value)
    assert err.value is error
    if isinstance(error, exception.XapiError):
        assert (err.value.code, err.value.params) == (error.code, error.params)
    assert joiner.call_async.call_count == 1
    master.wait_for.assert_not_called()
    assert calls(master) == ['host.get_all_records']  # the re-read


def test_join_error_and_unreadable_master_reraises_the_join_error(master, joiner,
                                                                  record_exception_text):
    error = exception.XapiError('JOINING_HOST_SERVICE_FAILED', [], method='pool.join')
    joiner.call_async.side_effect = error
    master.call.side_effect = exception.XapiUnavailable(MASTER_ADDR, 'connection refused')
    with pytest.raises(exception.XapiError) as err:
        pool.join(joiner, master, MASTER_ADDR, 'root', passwords.PASSWORD, TIMEOUTS)
    record_exception_text(err.value)
    assert err.value is error


def test_join_error_then_never_live_times_out_chained(master, master_fake, joiner,
                                                      record_exception_text):
    error = exception.XapiError('INTERNAL_ERROR', ['late failure'], method='pool.join')

    def join(method, *args, **kwargs):
        _joins(master_fake)(method)
        raise error
    joiner.call_async.side_effect = join
    with pytest.raises(exception.XapiTimeout) as err:
        pool.join(joiner, master, MASTER_ADDR, 'root', passwords.PASSWORD, TIMEOUTS)
    record_exception_text(err.value)
    assert err.value.__cause__ is error


# --- wait_until_live --------------------------------------------------------------------

def test_wait_until_live_needs_enabled_and_live(master, master_fake):
    master_fake.set_host('slave', enabled=False, live=False)
    master.between_events = [lambda: master_fake.set_host('slave', live=True),
                             lambda: master_fake.set_host('slave', enabled=True)]
    info = pool.wait_until_live(master, 'slave', 5)
    assert info.enabled and info.live
    assert master.wait_for.call_args.args[2] == 5


def test_wait_until_live_times_out(master, master_fake, record_exception_text):
    master_fake.set_host('slave', live=False)
    with pytest.raises(exception.XapiTimeout) as err:
        pool.wait_until_live(master, 'slave', TIMEOUTS.live)
    record_exception_text(err.value)
    assert master.wait_for.call_args.args[2] == TIMEOUTS.live


# --- eject ------------------------------------------------------------------------------

def _ejects(master_fake):
    def eject(method, host_ref, **kwargs):
        master_fake.remove_host(host_ref.split(':', 1)[1])
        return ''
    return eject


def test_eject_slave(master, master_fake):
    master_fake.add_vm('stopped', 'slave', 'Halted')
    master_fake.add_vm('dom0', 'slave', 'Running', dom0=True)
    master.call_async.side_effect = _ejects(master_fake)
    assert pool.eject(master, 'slave', TIMEOUTS) is True
    master.call_async.assert_called_once_with('pool.eject', 'OpaqueRef:slave',
                                              timeout=TIMEOUTS.task, on_progress=None,
                                              on_task=None)
    # NOTE: no re-read after the task's success (xapi_pool.ml destroys the
    # host record before the eject returns)
    assert calls(master) == ['pool.get_all_records', 'host.get_all_records',
                             'VM.get_all_records']
    assert 'slave' not in pool.snapshot(master).uuids


@pytest.mark.parametrize('power_state', ['Running', 'Paused', 'Suspended'])
def test_eject_refuses_while_guest_vms_are_not_halted(master, master_fake, power_state,
                                                      record_exception_text):
    master_fake.add_vm('web', 'slave', power_state)
    with pytest.raises(exception.OperationRefused) as err:
        pool.eject(master, 'slave', TIMEOUTS)
    record_exception_text(err.value)
    assert isinstance(err.value, exception.Refused)
    assert 'web' in err.value.reason and err.value.host == 'slave'
    master.call_async.assert_not_called()


def test_eject_forced_skips_the_vm_check(master, master_fake):
    master_fake.add_vm('web', 'slave', 'Running')
    master.call_async.side_effect = _ejects(master_fake)
    assert pool.eject(master, 'slave', TIMEOUTS, force=True) is True
    assert 'VM.get_all_records' not in calls(master)


def test_eject_refuses_the_master(master, record_exception_text):
    with pytest.raises(exception.OperationRefused) as err:
        pool.eject(master, 'master', TIMEOUTS)
    record_exception_text(err.value)
    assert 'master' in err.value.reason
    master.call_async.assert_not_called()


def test_eject_of_a_host_already_gone_is_a_noop(master):
    assert pool.eject(master, 'gone', TIMEOUTS) is False
    master.call_async.assert_not_called()
    assert calls(master) == ['pool.get_all_records', 'host.get_all_records']


@pytest.mark.parametrize('error', [
    exception.XapiUnavailable(MASTER_ADDR, 'connection reset', maybe_applied=True),
    exception.XapiError('CANNOT_CONTACT_HOST', ['OpaqueRef:slave'], method='pool.eject'),
])
def test_eject_error_although_the_host_left_succeeds(master, master_fake, error):
    def eject(method, host_ref, **kwargs):
        _ejects(master_fake)(method, host_ref)
        raise error
    master.call_async.side_effect = eject
    assert pool.eject(master, 'slave', TIMEOUTS) is True
    assert master.call_async.call_count == 1


@pytest.mark.parametrize('error', [
    exception.XapiError('OPERATION_NOT_ALLOWED', ['VM resident on host'], method='pool.eject'),
    exception.XapiError('HOST_OFFLINE', ['OpaqueRef:slave'], method='pool.eject'),
    exception.XapiTimeout(MASTER_ADDR, 'task timed out'),
])
def test_eject_error_with_the_host_still_there_is_reraised(master, error,
                                                           record_exception_text):
    master.call_async.side_effect = error
    with pytest.raises(type(error)) as err:
        pool.eject(master, 'slave', TIMEOUTS)
    record_exception_text(err.value)
    assert err.value is error
    assert master.call_async.call_count == 1


def test_an_eject_task_that_succeeded_is_not_re_read(master, master_fake):
    # xapi_pool.ml: the master destroys the host record (Db.Host.destroy)
    # before the eject returns: success is the host gone, no wait follows
    master.call_async.side_effect = _ejects(master_fake)
    assert pool.eject(master, 'slave', TIMEOUTS) is True
    master.wait_for.assert_not_called()
    assert calls(master).count('host.get_all_records') == 1


# --- designate_new_master ---------------------------------------------------------------

def _designates(master_fake, master):
    """pool.designate_new_master: the pool flips; the session is re-pointed."""
    def designate(host_ref):
        master_fake.pool_rec['master'] = host_ref
        for uuid in ('master', 'slave'):
            master_fake.set_host(uuid, live=False)
        return ''

    def settle():
        for uuid in ('master', 'slave'):
            master_fake.set_host(uuid, live=True)
        master.address = SLAVE_ADDR  # HOST_IS_SLAVE followed by the session layer
    return designate, settle


def test_designate_is_a_noop_when_already_master(master):
    m = pool.designate_new_master(master, 'master', TIMEOUTS)
    assert m.master_uuid == 'master'
    assert 'pool.designate_new_master' not in calls(master)
    master.wait_for.assert_not_called()
    assert calls(master) == ['pool.get_all_records', 'host.get_all_records',
                             'host_metrics.get_all_records']


def test_designate_then_wait_until_the_pool_settles(master, master_fake):
    designate, settle = _designates(master_fake, master)
    master_fake.overrides['pool.designate_new_master'] = designate
    master.between_events = [settle]
    m = pool.designate_new_master(master, 'slave', TIMEOUTS)
    assert m.master_uuid == 'slave' and all(h.live for h in m.hosts)
    master.call.assert_any_call('pool.designate_new_master', 'OpaqueRef:slave')
    snap = ['pool.get_all_records', 'host.get_all_records', 'host_metrics.get_all_records']
    assert calls(master) == snap + ['pool.designate_new_master'] + snap * 2


def test_designate_is_not_settled_while_the_old_master_answers(master, master_fake):
    designate, settle = _designates(master_fake, master)
    master_fake.overrides['pool.designate_new_master'] = designate
    # Members live again, but the session still talks to the old master.
    master.between_events = [lambda: [master_fake.set_host(u, live=True)
                                      for u in ('master', 'slave')],
                             settle]
    m = pool.designate_new_master(master, 'slave', TIMEOUTS)
    assert m.master_uuid == 'slave'
    assert calls(master).count('pool.get_all_records') == 4


def test_designate_connection_drop_waits_instead_of_repeating(master, master_fake):
    designate, settle = _designates(master_fake, master)

    def dropped(host_ref):
        designate(host_ref)
        raise exception.XapiUnavailable(MASTER_ADDR, 'connection reset',
                                        method='pool.designate_new_master',
                                        maybe_applied=True)
    master_fake.overrides['pool.designate_new_master'] = dropped
    master.between_events = [settle]
    assert pool.designate_new_master(master, 'slave', TIMEOUTS).master_uuid == 'slave'
    assert calls(master).count('pool.designate_new_master') == 1


def test_designate_request_never_sent_is_reraised(master, master_fake, record_exception_text):
    error = exception.XapiUnavailable(MASTER_ADDR, 'connection refused')

    def refused(host_ref):
        raise error
    master_fake.overrides['pool.designate_new_master'] = refused
    with pytest.raises(exception.XapiUnavailable) as err:
        pool.designate_new_master(master, 'slave', TIMEOUTS)
    record_exception_text(err.value)
    assert err.value is error
    master.wait_for.assert_not_called()


def test_designate_refused_by_xapi_is_reraised(master, master_fake, record_exception_text):
    error = exception.XapiError('HA_IS_ENABLED', [], method='pool.designate_new_master')

    def refused(host_ref):
        raise error
    master_fake.overrides['pool.designate_new_master'] = refused
    with pytest.raises(exception.XapiError) as err:
        pool.designate_new_master(master, 'slave', TIMEOUTS)
    record_exception_text(err.value)
    assert err.value is error and err.value.code == 'HA_IS_ENABLED'
    master.wait_for.assert_not_called()


@pytest.mark.parametrize('uuid, enabled, live', [
    ('nope', True, True), ('slave', True, False), ('slave', False, True)])
def test_designate_refuses_a_target_not_member_or_not_live(master, master_fake, uuid, enabled,
                                                           live, record_exception_text):
    master_fake.set_host('slave', enabled=enabled, live=live)
    with pytest.raises(exception.OperationRefused) as err:
        pool.designate_new_master(master, uuid, TIMEOUTS)
    record_exception_text(err.value)
    assert 'pool.designate_new_master' not in calls(master)


# --- destroy_host -----------------------------------------------------------------------

def test_destroy_host_only_when_offline(master, master_fake):
    master_fake.set_host('slave', live=False)
    assert pool.destroy_host(master, 'slave') is True
    master.call.assert_any_call('host.destroy', 'OpaqueRef:slave')
    assert pool.destroy_host(master, 'slave') is False  # idempotent


@pytest.mark.parametrize('uuid', ['slave', 'master'])
def test_destroy_host_refuses_a_live_host_or_the_master(master, uuid, record_exception_text):
    with pytest.raises(exception.OperationRefused) as err:
        pool.destroy_host(master, uuid)
    record_exception_text(err.value)
    assert 'host.destroy' not in calls(master)


def test_designate_noop_waits_for_members_whatever_the_session_address(master, master_fake):
    # A previous designate already flipped the pool; members still restarting.
    master_fake.set_host('slave', live=False)
    master.address = 'xcp-master.example'  # reached by name: no address check
    master.between_events = [lambda: master_fake.set_host('slave', live=True)]
    m = pool.designate_new_master(master, 'master', TIMEOUTS)
    assert m.master_uuid == 'master' and m.host('slave').live
    assert 'pool.designate_new_master' not in calls(master)


def test_join_announces_the_wait_until_live_after_the_task(master, master_fake, joiner):
    order = []
    joins = _joins(master_fake)

    def join_task(*args, **kwargs):
        order.append('task')
        return joins(*args, **kwargs)

    joiner.call_async.side_effect = join_task
    master.between_events = [_restart(master_fake)]
    pool.join(joiner, master, MASTER_ADDR, 'root', passwords.PASSWORD, TIMEOUTS,
              joiner_uuid='joiner', on_phase=order.append)
    assert order == ['task', 'wait until live']


def test_designate_with_the_callers_snapshot_skips_its_own_read(master, master_fake):
    designate, settle = _designates(master_fake, master)
    master_fake.overrides['pool.designate_new_master'] = designate
    master.between_events = [settle]
    members = pool.snapshot(master)
    master.call.reset_mock()
    pool.designate_new_master(master, 'slave', TIMEOUTS, membership=members)
    snap = ['pool.get_all_records', 'host.get_all_records', 'host_metrics.get_all_records']
    assert calls(master) == ['pool.designate_new_master'] + snap * 2


# --- after task_timeout: join and eject cannot be cancelled (xapi_pool.ml) ------------

TASK = 'OpaqueRef:task-1'


def _outlived(method):
    return exception.XapiTimeout(JOINER_ADDR, 'task did not finish in time', method=method,
                                 maybe_applied=True, task_ref=TASK, still_running=True)


def _task(status, error_info=()):
    return {'status': status, 'result': '', 'error_info': list(error_info)}


def test_join_outliving_its_timeout_is_followed_until_the_host_joined(
        master, master_fake, joiner, joiner_fake):
    joiner.call_async.side_effect = _outlived('pool.join')
    joiner_fake.overrides['task.get_record'] = lambda ref: _task('pending')
    # the task goes on: the joiner reaches the master's DB, then restarts live
    joiner.between_events = [lambda: _joins(master_fake)('pool.join')]
    master.between_events = [_restart(master_fake)]
    info = pool.join(joiner, master, MASTER_ADDR, 'root', passwords.PASSWORD, TIMEOUTS)
    assert info.uuid == 'joiner' and info.live
    assert joiner.call_async.call_count == 1      # never repeated
    assert joiner.wait_for.call_args.args[0] == ['task']


def test_join_outliving_its_timeout_that_then_fails_raises_xapis_error(master, joiner,
                                                                       joiner_fake):
    joiner.call_async.side_effect = _outlived('pool.join')
    joiner_fake.overrides['task.get_record'] = lambda ref: _task(
        'failure', ['JOINING_HOST_CONNECTION_FAILED'])
    joiner_fake.overrides['task.destroy'] = lambda ref: ''
    with pytest.raises(exception.XapiError) as err:
        pool.join(joiner, master, MASTER_ADDR, 'root', passwords.PASSWORD, TIMEOUTS)
    assert err.value.code == 'JOINING_HOST_CONNECTION_FAILED'
    assert 'task.destroy' in calls(joiner)


def test_join_still_running_after_the_bound_says_so(master, joiner, joiner_fake):
    joiner.call_async.side_effect = _outlived('pool.join')
    joiner_fake.overrides['task.get_record'] = lambda ref: _task('pending')
    with pytest.raises(exception.XapiTimeout) as err:
        pool.join(joiner, master, MASTER_ADDR, 'root', passwords.PASSWORD, TIMEOUTS)
    assert err.value.still_running is True and err.value.task_ref == TASK


def test_eject_queued_then_cancelled_after_its_timeout_changed_nothing(master,
                                                                       master_fake):
    master.call_async.side_effect = _outlived('pool.eject')
    master_fake.overrides['task.get_record'] = lambda ref: _task(
        'cancelled', ['TASK_CANCELLED', TASK])
    master_fake.overrides['task.destroy'] = lambda ref: ''
    with pytest.raises(exception.XapiTimeout) as err:
        pool.eject(master, 'slave', TIMEOUTS)
    assert 'queued behind another pool operation' in str(err.value)
    assert err.value.maybe_applied is False


def test_eject_outliving_its_timeout_that_completes_succeeds(master, master_fake):
    master.call_async.side_effect = _outlived('pool.eject')
    master_fake.overrides['task.get_record'] = lambda ref: _task('pending')
    master.between_events = [lambda: master_fake.remove_host('slave')]
    assert pool.eject(master, 'slave', TIMEOUTS) is True
    assert master.call_async.call_count == 1


def test_join_and_eject_tell_their_task_ref(master, master_fake, joiner):
    told = []

    def created(side_effect):
        def call(method, *args, on_task, **kwargs):
            on_task('OpaqueRef:task-' + method)
            return side_effect(method, *args, **kwargs)
        return call
    joiner.call_async.side_effect = created(_joins(master_fake))
    master.between_events = [_restart(master_fake)]
    pool.join(joiner, master, MASTER_ADDR, 'root', passwords.PASSWORD, TIMEOUTS,
              on_task=told.append)
    master.call_async.side_effect = created(_ejects(master_fake))
    pool.eject(master, 'joiner', TIMEOUTS, on_task=told.append)
    assert told == ['OpaqueRef:task-pool.join', 'OpaqueRef:task-pool.eject']


def test_an_eject_given_the_pool_just_read_reads_neither_pool_nor_hosts(master, master_fake):
    # after a designate the settled pool (read on the new master) names the
    # master and the refs: the eject asks only for what it does not know
    members = pool.snapshot(master)
    before = len(calls(master))
    master.call_async.side_effect = _ejects(master_fake)
    assert pool.eject(master, 'slave', TIMEOUTS, force=True, membership=members) is True
    assert calls(master)[before:] == []
    master.call_async.assert_called_once_with('pool.eject', 'OpaqueRef:slave',
                                              timeout=TIMEOUTS.task, on_progress=None,
                                              on_task=None)


def test_the_pool_just_read_still_refuses_to_eject_its_master(master):
    members = pool.snapshot(master)
    with pytest.raises(exception.OperationRefused):
        pool.eject(master, 'master', TIMEOUTS, membership=members)
    master.call_async.assert_not_called()
