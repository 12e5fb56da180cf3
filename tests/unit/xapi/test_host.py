"""Host-level reads: liveness, resident guests, the one pool."""

import pytest

from xenpool_driver import exception
from xenpool_driver.xapi import host
from xenpool_driver.xapi import session as xsession


@pytest.fixture
def sess(mocker):
    s = mocker.create_autospec(xsession.XapiSession, instance=True)
    s.address = '192.0.2.10'
    return s


@pytest.mark.parametrize('value, expected', [
    (True, True), (False, False), ('true', True), ('1', True), ('False', False),
    ('0', False), ('', False), (None, False),
])
def test_as_bool(value, expected):
    assert host.as_bool(value) is expected


def _vm(resident_on='OpaqueRef:h1', power_state='Running', dom0=False, template=False,
        snapshot=False, name='vm', uuid='u'):
    return {'resident_on': resident_on, 'power_state': power_state, 'name_label': name,
            'uuid': uuid, 'is_control_domain': dom0, 'is_a_template': template,
            'is_a_snapshot': snapshot}


@pytest.mark.parametrize('vm, counted', [
    (_vm(), True),
    (_vm(power_state='Paused'), True),
    (_vm(power_state='Suspended'), True),
    (_vm(power_state='Halted'), False),
    (_vm(dom0=True), False),
    (_vm(template=True), False),
    (_vm(snapshot=True), False),
    (_vm(resident_on='OpaqueRef:h2'), False),
    (_vm(resident_on='OpaqueRef:NULL'), False),
])
def test_running_guests_counts_only_non_halted_guests_on_the_host(vm, counted):
    found = host.running_guests({'OpaqueRef:v': vm}, 'OpaqueRef:h1')
    assert bool(found) is counted


def test_resident_guests_reads_vms_once(sess):
    sess.call.return_value = {'OpaqueRef:v1': _vm(name='web', uuid='v1'),
                              'OpaqueRef:v2': _vm(power_state='Halted')}
    assert host.resident_guests(sess, 'OpaqueRef:h1') == [('web', 'v1', 'Running')]
    assert [c.args for c in sess.call.call_args_list] == [('VM.get_all_records',)]


def _calls(sess):
    return [c.args[0] for c in sess.call.call_args_list]


def test_find_reads_record_and_metrics(sess):
    recs = {'OpaqueRef:h1': {'uuid': 'h1', 'name_label': 'one', 'address': '192.0.2.11',
                             'enabled': True, 'metrics': 'OpaqueRef:m1'}}
    sess.call.side_effect = lambda m, *a: recs if m == 'host.get_all_records' else {'live': True}
    info = host.find(sess, 'h1')
    assert info == host.HostInfo('OpaqueRef:h1', 'h1', 'one', '192.0.2.11', True, True)
    assert _calls(sess) == ['host.get_all_records', 'host_metrics.get_record']


@pytest.mark.parametrize('recs, expected', [
    ({}, None),
    ({'OpaqueRef:h1': {'uuid': 'h1', 'enabled': True, 'metrics': 'OpaqueRef:NULL'}}, False),
])
def test_find_missing_host_or_metrics(sess, recs, expected):
    sess.call.return_value = recs
    info = host.find(sess, 'h1')
    assert (info if info is None else info.live) == expected
    assert _calls(sess) == ['host.get_all_records']


def test_metrics_live_unknown_metrics_is_not_live():
    assert host.metrics_live({'metrics': 'OpaqueRef:x'}, {}) is False
    assert host.metrics_live({'metrics': 'OpaqueRef:x'}, {'OpaqueRef:x': {'live': True}}) is True


@pytest.mark.parametrize('recs', [{}, {'OpaqueRef:p1': {}, 'OpaqueRef:p2': {}}])
def test_single_pool_refuses_zero_or_many(recs, record_exception_text):
    with pytest.raises(exception.XapiError) as err:
        host.single_pool(recs, address='192.0.2.10')
    record_exception_text(err.value)
    assert err.value.code == 'INTERNAL_ERROR'


def _standalone(sess, metrics='OpaqueRef:m1'):
    recs = {'pool.get_all_records': {'OpaqueRef:p': {'master': 'OpaqueRef:h1'}},
            'host.get_record': {'uuid': 'h1', 'name_label': 'one', 'address': '192.0.2.10',
                                'enabled': True, 'metrics': metrics},
            'host_metrics.get_record': {'live': True}}
    sess.call.side_effect = lambda method, *args: recs[method]


@pytest.mark.parametrize('metrics, live, reads', [
    ('OpaqueRef:m1', True, ['pool.get_all_records', 'host.get_record',
                            'host_metrics.get_record']),
    ('OpaqueRef:NULL', False, ['pool.get_all_records', 'host.get_record']),
])
def test_this_host_is_the_standalone_pools_master(sess, metrics, live, reads):
    _standalone(sess, metrics)
    assert host.this_host(sess) == host.HostInfo('OpaqueRef:h1', 'h1', 'one', '192.0.2.10',
                                                 True, live)
    assert _calls(sess) == reads


def test_this_host_uuid_reads_no_metrics(sess):
    _standalone(sess)
    assert host.this_host_uuid(sess) == 'h1'
    assert _calls(sess) == ['pool.get_all_records', 'host.get_record']
