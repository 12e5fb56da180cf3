"""Pre-join checks: every mismatch, each with xapi's exact code and params."""

import copy

import pytest

from xenpool_driver import exception
from xenpool_driver.xapi import preflight
from xenpool_driver.xapi import session as xsession

JOINER_HOST = 'OpaqueRef:joiner-host'
MASTER_HOST = 'OpaqueRef:master-host'


def _software(**over):
    sv = {'product_version': '8.3.0', 'platform_name': 'XCP', 'platform_version': '3.4.0',
          'product_brand': 'XCP-ng', 'xapi': '26.17', 'git_id': 'e2ee48d6883e',
          'network_backend': 'openvswitch', 'db_schema': '5.909'}
    sv.update(over)
    return sv


def _host(uuid, **over):
    # NOTE: XML-RPC delivers API ints as strings: API versions are "2", "21".
    rec = {'uuid': uuid, 'name_label': uuid, 'address': '192.0.2.%d' % len(uuid),
           'enabled': True, 'metrics': 'OpaqueRef:m-' + uuid, 'API_version_major': '2',
           'API_version_minor': '21', 'software_version': _software(),
           'cpu_info': {'vendor': 'GenuineIntel'}, 'edition': 'xcp-ng',
           'external_auth_type': '', 'external_auth_service_name': ''}
    rec.update(over)
    return rec


def _pif(host, vlan='-1'):
    return {'host': host, 'management': True, 'VLAN': vlan, 'device': 'eth0'}


def databases():
    """A standalone joiner and a one-host master that pass every check."""
    joiner = {
        'pool': {'OpaqueRef:jp': {'uuid': 'jp', 'name_label': '', 'master': JOINER_HOST,
                                  'ha_enabled': False, 'tls_verification_enabled': True,
                                  'cpu_info': {'vendor': 'GenuineIntel'},
                                  'current_operations': {}}},
        'host': {JOINER_HOST: _host('joiner')},
        'VM': {'OpaqueRef:dom0': {'name_label': 'Control domain', 'is_control_domain': True,
                                  'power_state': 'Running', 'current_operations': {}},
               'OpaqueRef:vm1': {'name_label': 'halted', 'is_control_domain': False,
                                 'power_state': 'Halted', 'current_operations': {}}},
        'SR': {'OpaqueRef:local': {'name_label': 'Local storage', 'shared': False},
               'OpaqueRef:tools': {'name_label': 'XCP-ng Tools', 'shared': True,
                                   'is_tools_sr': True}},
        'PIF': {'OpaqueRef:jpif': _pif(JOINER_HOST)},
    }
    master = {
        'pool': {'OpaqueRef:mp': {'uuid': 'mp', 'name_label': 'agg', 'master': MASTER_HOST,
                                  'ha_enabled': False, 'tls_verification_enabled': True,
                                  'cpu_info': {'vendor': 'GenuineIntel'},
                                  'current_operations': {}}},
        'host': {MASTER_HOST: _host('master')},
        'PIF': {'OpaqueRef:mpif': _pif(MASTER_HOST)},
    }
    return joiner, master


def fake_session(mocker, db, address):
    s = mocker.create_autospec(xsession.XapiSession, instance=True)
    s.address = address

    def call(method, *args):
        cls, _, verb = method.partition('.')
        assert verb == 'get_all_records', method
        return copy.deepcopy(db[cls])

    s.call.side_effect = call
    return s


def run(mocker, joiner_db, master_db, force=False):
    joiner = fake_session(mocker, joiner_db, '192.0.2.20')
    master = fake_session(mocker, master_db, '192.0.2.10')
    return preflight.preflight(joiner, master, force=force), joiner, master


def _set(db, cls, ref, **fields):
    db[cls][ref].update(fields)


def _sw(db, ref, **fields):
    db['host'][ref]['software_version'].update(fields)


# Each case: (id, mutate(joiner_db, master_db), expected code, params[, further
# (code, params) expected after it])
CASES = [
    ('no-mgmt-pif', lambda j, m: j['PIF'].clear(), 'HOST_STILL_BOOTING', []),
    ('ha-on-me', lambda j, m: _set(j, 'pool', 'OpaqueRef:jp', ha_enabled=True),
     'HA_IS_ENABLED', []),
    ('ha-on-pool', lambda j, m: _set(m, 'pool', 'OpaqueRef:mp', ha_enabled=True),
     'HA_IS_ENABLED', []),
    ('running-vm', lambda j, m: _set(j, 'VM', 'OpaqueRef:vm1', power_state='Running'),
     'JOINING_HOST_CANNOT_HAVE_RUNNING_VMS', []),
    ('vm-with-ops', lambda j, m: _set(j, 'VM', 'OpaqueRef:vm1',
                                      current_operations={'OpaqueRef:t': 'start'}),
     'JOINING_HOST_CANNOT_HAVE_VMS_WITH_CURRENT_OPERATIONS', []),
    ('platform-version', lambda j, m: _sw(j, JOINER_HOST, platform_version='3.3.0'),
     'HOSTS_NOT_COMPATIBLE', []),
    # NOTE: the brand is part of both xapi checks, so it trips both.
    ('brand', lambda j, m: _sw(j, JOINER_HOST, product_brand='XenServer'),
     'HOSTS_NOT_COMPATIBLE', [], ('HOSTS_NOT_HOMOGENEOUS', ['Software version differs'])),
    ('software', lambda j, m: _sw(j, JOINER_HOST, git_id='0123abcd'),
     'HOSTS_NOT_HOMOGENEOUS', ['Software version differs']),
    ('xapi-version', lambda j, m: _sw(m, MASTER_HOST, xapi='26.18'),
     'HOSTS_NOT_HOMOGENEOUS', ['Software version differs']),
    ('linux-pack', lambda j, m: _sw(m, MASTER_HOST, **{'xs:linux': '1.0'}),
     'HOSTS_NOT_HOMOGENEOUS', ['Software version differs']),
    ('cpu-vendor', lambda j, m: _set(m, 'pool', 'OpaqueRef:mp',
                                     cpu_info={'vendor': 'AuthenticAMD'}),
     'HOSTS_NOT_HOMOGENEOUS', ['CPUs differ']),
    ('shared-sr', lambda j, m: _set(j, 'SR', 'OpaqueRef:local', shared=True),
     'JOINING_HOST_CANNOT_CONTAIN_SHARED_SRS', []),
    ('mgmt-vlan', lambda j, m: _set(m, 'PIF', 'OpaqueRef:mpif', VLAN='20'),
     'POOL_JOINING_HOST_MANAGEMENT_VLAN_DOES_NOT_MATCH', ['-1', '20']),
    ('external-auth', lambda j, m: _set(m, 'host', MASTER_HOST, external_auth_type='AD',
                                        external_auth_service_name='corp.example'),
     'POOL_JOINING_EXTERNAL_AUTH_MISMATCH', []),
    ('edition', lambda j, m: _set(m, 'host', MASTER_HOST, edition='premium'),
     'LICENSE_HOST_POOL_MISMATCH', ['host edition = "xcp-ng"', 'pool edition = "premium"']),
    ('network-backend', lambda j, m: _sw(j, JOINER_HOST, network_backend='bridge'),
     'OPERATION_NOT_ALLOWED', ['Network backends differ']),
    ('api-version', lambda j, m: _set(m, 'host', MASTER_HOST, API_version_minor='22'),
     'POOL_JOINING_HOST_MUST_HAVE_SAME_API_VERSION', ['2.21', '2.22']),
    ('db-schema', lambda j, m: _sw(j, JOINER_HOST, db_schema='5.800'),
     'POOL_JOINING_HOST_MUST_HAVE_SAME_DB_SCHEMA', ['5.800', '5.909']),
    ('db-schema-missing', lambda j, m: j['host'][JOINER_HOST]['software_version'].pop('db_schema'),
     'POOL_JOINING_HOST_MUST_HAVE_SAME_DB_SCHEMA', ['', '5.909']),
    ('tls', lambda j, m: _set(j, 'pool', 'OpaqueRef:jp', tls_verification_enabled=False),
     'POOL_JOINING_HOST_TLS_VERIFICATION_MISMATCH', []),
    ('updating-me', lambda j, m: _set(j, 'pool', 'OpaqueRef:jp',
                                      current_operations={'OpaqueRef:t': 'apply_updates'}),
     'NOT_SUPPORTED_DURING_UPGRADE', []),
    ('updating-pool', lambda j, m: _set(m, 'pool', 'OpaqueRef:mp',
                                        current_operations={'OpaqueRef:t': 'apply_updates'}),
     'NOT_SUPPORTED_DURING_UPGRADE', []),
]


def test_compatible_hosts_pass(mocker):
    joiner_db, master_db = databases()
    found, _, _ = run(mocker, joiner_db, master_db)
    assert found == []


def _expected(case):
    return [(case[2], case[3])] + list(case[4:])


@pytest.mark.parametrize('case', CASES, ids=[c[0] for c in CASES])
def test_each_mismatch_has_xapis_code_and_params(mocker, case):
    joiner_db, master_db = databases()
    case[1](joiner_db, master_db)
    found, _, _ = run(mocker, joiner_db, master_db)
    assert [(m.code, m.params) for m in found] == _expected(case)
    assert all(isinstance(m, preflight.Mismatch) and m.reason for m in found)


@pytest.mark.parametrize('case', CASES, ids=[c[0] for c in CASES])
def test_force_skips_only_hosts_not_homogeneous(mocker, case):
    joiner_db, master_db = databases()
    case[1](joiner_db, master_db)
    found, _, _ = run(mocker, joiner_db, master_db, force=True)
    expected = [e for e in _expected(case) if e[0] != 'HOSTS_NOT_HOMOGENEOUS']
    assert [(m.code, m.params) for m in found] == expected


def test_every_mismatch_is_reported_in_xapis_order(mocker):
    joiner_db, master_db = databases()
    # Applied in reverse order: the report must still follow xapi's order.
    for case in reversed(CASES[3:]):
        _id, mutate = case[:2]
        if _id not in ('software', 'xapi-version', 'linux-pack', 'brand',
                       'db-schema-missing', 'updating-me'):
            mutate(joiner_db, master_db)
    found, _, _ = run(mocker, joiner_db, master_db)
    assert [m.code for m in found] == [
        'JOINING_HOST_CANNOT_HAVE_RUNNING_VMS',
        'JOINING_HOST_CANNOT_HAVE_VMS_WITH_CURRENT_OPERATIONS',
        'HOSTS_NOT_COMPATIBLE',
        'HOSTS_NOT_HOMOGENEOUS',
        'JOINING_HOST_CANNOT_CONTAIN_SHARED_SRS',
        'POOL_JOINING_HOST_MANAGEMENT_VLAN_DOES_NOT_MATCH',
        'POOL_JOINING_EXTERNAL_AUTH_MISMATCH',
        'LICENSE_HOST_POOL_MISMATCH',
        'OPERATION_NOT_ALLOWED',
        'POOL_JOINING_HOST_MUST_HAVE_SAME_API_VERSION',
        'POOL_JOINING_HOST_MUST_HAVE_SAME_DB_SCHEMA',
        'POOL_JOINING_HOST_TLS_VERIFICATION_MISMATCH',
        'NOT_SUPPORTED_DURING_UPGRADE',
    ]
    # A failed preflight is reported to the caller as PreflightFailed.
    err = exception.PreflightFailed('add_to_aggregate', 1, 'joiner', found)
    assert err.codes[0] == 'JOINING_HOST_CANNOT_HAVE_RUNNING_VMS'


def test_software_difference_is_reported_before_cpus(mocker):
    joiner_db, master_db = databases()
    _sw(joiner_db, JOINER_HOST, git_id='other')
    _set(master_db, 'pool', 'OpaqueRef:mp', cpu_info={'vendor': 'AuthenticAMD'})
    found, _, _ = run(mocker, joiner_db, master_db)
    assert [(m.code, m.params) for m in found] == [
        ('HOSTS_NOT_HOMOGENEOUS', ['Software version differs'])]


def test_paused_and_suspended_vms_do_not_block(mocker):
    joiner_db, master_db = databases()
    _set(joiner_db, 'VM', 'OpaqueRef:vm1', power_state='Paused')
    joiner_db['VM']['OpaqueRef:vm2'] = dict(joiner_db['VM']['OpaqueRef:vm1'],
                                            power_state='Suspended')
    assert run(mocker, joiner_db, master_db)[0] == []


def test_external_auth_service_name_compares_case_insensitively(mocker):
    joiner_db, master_db = databases()
    _set(joiner_db, 'host', JOINER_HOST, external_auth_type='AD',
         external_auth_service_name='CORP.example')
    _set(master_db, 'host', MASTER_HOST, external_auth_type='AD',
         external_auth_service_name='corp.EXAMPLE')
    assert run(mocker, joiner_db, master_db)[0] == []


def test_joining_myself(mocker):
    joiner_db, _master_db = databases()
    found, _, _ = run(mocker, joiner_db, copy.deepcopy(joiner_db))
    assert [(m.code, m.params) for m in found] == [
        ('OPERATION_NOT_ALLOWED', ['Host cannot become slave of itself'])]


def test_already_master_of_other_hosts(mocker):
    joiner_db, master_db = databases()
    joiner_db['host']['OpaqueRef:other'] = _host('other')
    found, _, _ = run(mocker, joiner_db, master_db)
    assert [(m.code, m.params) for m in found] == [
        ('JOINING_HOST_CANNOT_BE_MASTER_OF_OTHER_HOSTS', [])]


def test_already_in_the_same_pool(mocker):
    # A slave of the master's own pool: its session follows HOST_IS_SLAVE
    # to the master, so both sides read the same (2-host) database.
    joiner_db, master_db = databases()
    master_db['host']['OpaqueRef:slave'] = _host('slave')
    master_db.update(VM=joiner_db['VM'], SR=joiner_db['SR'])
    found, _, _ = run(mocker, master_db, master_db)
    assert [(m.code, m.params) for m in found] == [
        ('OPERATION_NOT_ALLOWED', ['Host is already part of a pool']),
        ('JOINING_HOST_CANNOT_BE_MASTER_OF_OTHER_HOSTS', [])]


def test_edition_compares_with_every_pool_host(mocker):
    joiner_db, master_db = databases()
    master_db['host']['OpaqueRef:slave'] = _host('slave', edition='trial')
    found, _, _ = run(mocker, joiner_db, master_db)
    assert [(m.code, m.params) for m in found] == [
        ('LICENSE_HOST_POOL_MISMATCH', ['host edition = "xcp-ng"', 'pool edition = "trial"'])]


def test_round_trips(mocker):
    joiner_db, master_db = databases()
    _, joiner, master = run(mocker, joiner_db, master_db)
    assert [c.args[0] for c in joiner.call.call_args_list] == [
        'pool.get_all_records', 'host.get_all_records', 'VM.get_all_records',
        'SR.get_all_records', 'PIF.get_all_records']
    assert [c.args[0] for c in master.call.call_args_list] == [
        'pool.get_all_records', 'host.get_all_records', 'PIF.get_all_records']


def test_compare_is_pure():
    joiner_db, master_db = databases()
    me = preflight.Side(pool=joiner_db['pool']['OpaqueRef:jp'], host_ref=JOINER_HOST,
                        host=joiner_db['host'][JOINER_HOST], hosts=joiner_db['host'],
                        pifs=joiner_db['PIF'], vms=joiner_db['VM'], srs=joiner_db['SR'])
    them = preflight.Side(pool=master_db['pool']['OpaqueRef:mp'], host_ref=MASTER_HOST,
                          host=master_db['host'][MASTER_HOST], hosts=master_db['host'],
                          pifs=master_db['PIF'])
    assert preflight.compare(me, them) == []


def test_a_joiner_uuid_that_is_not_the_joiners_is_refused_before_any_change(mocker):
    from xenpool_driver import exception
    from xenpool_driver.xapi import preflight as preflight_mod
    from xenpool_driver.xapi import session as xsession
    joiner = mocker.create_autospec(xsession.XapiSession, instance=True)
    master = mocker.create_autospec(xsession.XapiSession, instance=True)
    joiner.address = '192.0.2.2'
    side = mocker.Mock(host={'uuid': 'real-uuid'})
    mocker.patch.object(preflight_mod, 'read_side', return_value=side)
    with pytest.raises(exception.OperationRefused) as err:
        preflight_mod.preflight(joiner, master, joiner_uuid='stale-uuid')
    assert 'stale-uuid' in str(err.value) and 'real-uuid' in str(err.value)
    # NOTE: the master's side is read alongside (read-only); nothing is sent
    preflight_mod.read_side.assert_any_call(joiner, local=True, known=None)
    assert joiner.call.call_count == master.call.call_count == 0


def test_a_side_read_just_before_is_not_read_again(mocker):
    # the join's host claim read the joiner's pool and hosts moments before:
    # read_side starts from them and asks only for what the claim did not read
    from xenpool_driver.xapi import preflight as preflight_mod
    from xenpool_driver.xapi import session as xsession
    joiner = mocker.create_autospec(xsession.XapiSession, instance=True)
    joiner.call.side_effect = lambda method, *args: {}
    pool_rec = {'master': 'OpaqueRef:me'}
    hosts = {'OpaqueRef:me': {'uuid': 'me'}}
    side = preflight_mod.read_side(joiner, local=True, known=(pool_rec, hosts))
    assert [c.args[0] for c in joiner.call.call_args_list] == [
        'VM.get_all_records', 'SR.get_all_records', 'PIF.get_all_records']
    assert side.pool is pool_rec and side.host == {'uuid': 'me'}


def test_leaving_early_never_waits_for_the_masters_read(mocker):
    # a Ctrl-C (or an error) on the joiner's side leaves at once, even while
    # the master's side, read meanwhile, has not answered
    import threading
    from xenpool_driver.xapi import preflight as preflight_mod
    from xenpool_driver.xapi import session as xsession
    joiner = mocker.create_autospec(xsession.XapiSession, instance=True)
    master = mocker.create_autospec(xsession.XapiSession, instance=True)
    release, master_read = threading.Event(), threading.Event()

    def read_side(session, local, known=None):
        if session is master:
            master_read.set()
            release.wait(10)
            return mocker.Mock(host={'uuid': 'master'})
        master_read.wait(10)
        raise KeyboardInterrupt

    mocker.patch.object(preflight_mod, 'read_side', side_effect=read_side)
    try:
        with pytest.raises(KeyboardInterrupt):
            preflight_mod.preflight(joiner, master)
        assert not release.is_set()   # the master's read is still held
    finally:
        release.set()


def test_an_error_reading_the_masters_side_is_raised(mocker):
    from xenpool_driver import exception
    from xenpool_driver.xapi import preflight as preflight_mod
    from xenpool_driver.xapi import session as xsession
    joiner = mocker.create_autospec(xsession.XapiSession, instance=True)
    master = mocker.create_autospec(xsession.XapiSession, instance=True)
    down = exception.XapiUnavailable('https://192.0.2.1', 'refused')

    def read_side(session, local, known=None):
        if session is master:
            raise down
        return mocker.Mock(host={'uuid': 'me'})

    mocker.patch.object(preflight_mod, 'read_side', side_effect=read_side)
    with pytest.raises(exception.XapiUnavailable) as err:
        preflight_mod.preflight(joiner, master, joiner_uuid='me')
    assert err.value is down
