"""pool.join / join_force: the pre-join checks in xapi's order, and the lifecycle."""

import dataclasses

import pytest
import XenAPI

from tests.passwords import PASSWORD, WRONG_PASSWORD
from tests.unit.simulator.conftest import failure, join, sdk
from xenpool_driver.simulator import HostSpec, Timings, VMSpec, pool_join_checks

# (joiner spec overrides, master spec overrides, expected ErrorDescription)
CHECKS = [
    ({'pooling_licensed': False}, {}, ['LICENCE_RESTRICTION']),
    ({'ha_enabled': True}, {}, ['HA_IS_ENABLED']),
    ({}, {'ha_enabled': True}, ['HA_IS_ENABLED']),
    ({'vms': [VMSpec('web', 'Running')]}, {}, ['JOINING_HOST_CANNOT_HAVE_RUNNING_VMS']),
    ({'vms': [VMSpec('web', 'Halted', {'OpaqueRef:op': 'clone'})]}, {},
     ['JOINING_HOST_CANNOT_HAVE_VMS_WITH_CURRENT_OPERATIONS']),
    ({'product_brand': 'XenServer'}, {}, ['HOSTS_NOT_COMPATIBLE']),
    ({'platform_version': '3.3.0'}, {}, ['HOSTS_NOT_COMPATIBLE']),
    ({'xapi_version': '23.1'}, {}, ['HOSTS_NOT_HOMOGENEOUS', 'Software version differs']),
    ({'git_id': 'other'}, {}, ['HOSTS_NOT_HOMOGENEOUS', 'Software version differs']),
    ({'cpu_vendor': 'AuthenticAMD'}, {}, ['HOSTS_NOT_HOMOGENEOUS', 'CPUs differ']),
    ({'shared_srs': ['nfs1']}, {}, ['JOINING_HOST_CANNOT_CONTAIN_SHARED_SRS']),
    ({}, {'management_vlan': 20},
     ['POOL_JOINING_HOST_MANAGEMENT_VLAN_DOES_NOT_MATCH', '-1', '20']),
    ({'external_auth_type': 'AD', 'external_auth_service_name': 'corp'}, {},
     ['POOL_JOINING_EXTERNAL_AUTH_MISMATCH']),
    ({'edition': 'enterprise'}, {},
     ['LICENSE_HOST_POOL_MISMATCH', 'host edition = "enterprise"', 'pool edition = "xcp-ng"']),
    ({'network_backend': 'bridge'}, {}, ['OPERATION_NOT_ALLOWED', 'Network backends differ']),
    ({'api_version': (2, 20)}, {},
     ['POOL_JOINING_HOST_MUST_HAVE_SAME_API_VERSION', '2.20', '2.21']),
    ({'db_schema': '5.785'}, {},
     ['POOL_JOINING_HOST_MUST_HAVE_SAME_DB_SCHEMA', '5.785', '5.786']),
    ({'tls_verification': False}, {}, ['POOL_JOINING_HOST_TLS_VERIFICATION_MISMATCH']),
]


def _lab(make_lab, joiner=None, master=None, **kw):
    return make_lab([dataclasses.replace(HostSpec(), **(master or {})),
                     dataclasses.replace(HostSpec(), **(joiner or {}))], **kw)


@pytest.mark.parametrize('joiner, master, expected', CHECKS)
def test_each_pre_join_check(make_lab, joiner, master, expected):
    lab = _lab(make_lab, joiner, master)
    s = sdk(lab.hosts[1])
    assert failure(s.xenapi.pool.join, lab.hosts[0].address, 'root', PASSWORD) == expected
    # nothing happened: still standalone on both sides
    assert len(sdk(lab.hosts[0]).xenapi.host.get_all()) == 1
    assert len(s.xenapi.pool.get_all()) == 1


@pytest.mark.parametrize('joiner, master, expected', CHECKS)
def test_join_force_skips_only_homogeneity(make_lab, joiner, master, expected):
    lab = _lab(make_lab, joiner, master)
    s = sdk(lab.hosts[1])
    if expected[0] == 'HOSTS_NOT_HOMOGENEOUS':
        assert s.xenapi.pool.join_force(lab.hosts[0].address, 'root', PASSWORD) == ''
    else:
        assert failure(s.xenapi.pool.join_force, lab.hosts[0].address, 'root',
                       PASSWORD) == expected


def test_paused_and_suspended_vms_do_not_block(make_lab):
    lab = _lab(make_lab, {'vms': [VMSpec('p', 'Paused'), VMSpec('s', 'Suspended')]})
    join(lab, 1)


def test_checks_run_in_xapi_order(make_lab):
    # every later check would fail too; the first in xapi's order wins, then the next
    bad = {'vms': [VMSpec('web', 'Running')], 'product_brand': 'XenServer',
           'cpu_vendor': 'AuthenticAMD', 'shared_srs': ['nfs'], 'management_vlan': 5,
           'edition': 'x', 'api_version': (2, 1), 'db_schema': '1', 'tls_verification': False}
    order = ['JOINING_HOST_CANNOT_HAVE_RUNNING_VMS', 'HOSTS_NOT_COMPATIBLE',
             'JOINING_HOST_CANNOT_CONTAIN_SHARED_SRS',
             'POOL_JOINING_HOST_MANAGEMENT_VLAN_DOES_NOT_MATCH',
             'LICENSE_HOST_POOL_MISMATCH', 'POOL_JOINING_HOST_MUST_HAVE_SAME_API_VERSION',
             'POOL_JOINING_HOST_MUST_HAVE_SAME_DB_SCHEMA',
             'POOL_JOINING_HOST_TLS_VERIFICATION_MISMATCH']
    fixes = [('vms', []), ('product_brand', 'XCP-ng'), ('shared_srs', []),
             ('management_vlan', -1), ('edition', 'xcp-ng'), ('api_version', (2, 21)),
             ('db_schema', '5.786'), ('tls_verification', True)]
    seen = []
    for i in range(len(order)):
        lab = _lab(make_lab, bad)
        s = sdk(lab.hosts[1])
        details = failure(s.xenapi.pool.join_force, lab.hosts[0].address, 'root', PASSWORD)
        seen.append(details[0])
        lab.close()
        bad[fixes[i][0]] = fixes[i][1]
    assert seen == order


def test_joining_myself_and_a_member(lab3):
    s = sdk(lab3.hosts[0])
    assert failure(s.xenapi.pool.join, lab3.hosts[0].address, 'root', PASSWORD) == [
        'OPERATION_NOT_ALLOWED', 'Host cannot become slave of itself']
    join(lab3, 1)
    # the master (now with 2 hosts) cannot join anyone
    assert failure(s.xenapi.pool.join, lab3.hosts[2].address, 'root', PASSWORD) == [
        'JOINING_HOST_CANNOT_BE_MASTER_OF_OTHER_HOSTS']
    assert failure(s.xenapi.pool.join, lab3.hosts[0].address, 'root', PASSWORD) == [
        'OPERATION_NOT_ALLOWED', 'Host is already part of a pool']
    # joining through a slave's address: the master's HOST_IS_SLAVE passes through
    s3 = sdk(lab3.hosts[2])
    assert failure(s3.xenapi.pool.join, lab3.hosts[1].address, 'root', PASSWORD) == [
        'HOST_IS_SLAVE', lab3.hosts[0].address]


@pytest.mark.parametrize('restricted, refused', [(3, True), (0, False)])
def test_pool_size_licence_is_the_joiners(make_lab, restricted, refused):
    # NOTE: xapi_pool.ml assert_pool_size_unrestricted: the joiner's own pool
    # features (Xapi_host.pool_size_is_restricted), against the master's
    # host count (Xapi_globs.restricted_pool_size = 3).
    specs = [HostSpec() for _ in range(4)]
    specs[restricted] = HostSpec(restrict_pool_size=True)
    lab = make_lab(specs)
    join(lab, 1)
    join(lab, 2)
    s = sdk(lab.hosts[3])
    if refused:
        assert failure(s.xenapi.pool.join, lab.hosts[0].address, 'root', PASSWORD) == [
            'LICENCE_RESTRICTION', 'Pool_size']
    else:
        assert s.xenapi.pool.join(lab.hosts[0].address, 'root', PASSWORD) == ''


@pytest.mark.parametrize('who, refused', [('joiner', True), ('master', True),
                                          ('slave', False)])
def test_pending_guidance_of_joiner_and_coordinator_only(lab3, who, refused):
    # NOTE: xapi_pool.ml assert_no_host_pending_mandatory_guidance: the joiner,
    # then the remote coordinator (Repository_helpers), not the pool's slaves.
    join(lab3, 1)
    host = {'joiner': lab3.hosts[2], 'master': lab3.hosts[0], 'slave': lab3.hosts[1]}[who]
    host.db.set('host', host.ref, pending_guidances=['reboot_host'])
    s = sdk(lab3.hosts[2])
    if refused:
        assert failure(s.xenapi.pool.join, lab3.hosts[0].address, 'root', PASSWORD) == [
            'HOST_PENDING_MANDATORY_GUIDANCE_NOT_EMPTY', host.ref]
    else:
        assert s.xenapi.pool.join(lab3.hosts[0].address, 'root', PASSWORD) == ''


#: The asserts ``pre_join_checks`` calls, in order (ocaml/xapi/xapi_pool.ml
#: at e2ee48d6, "call pre-join asserts").
XAPI_PRE_JOIN_ORDER = [
    'assert_pool_size_unrestricted', 'assert_management_interface_exists',
    'ha_is_not_enable_on_me', 'clustering_is_not_enabled_on_me',
    'one_ip_configured_on_joining_cluster_network', 'ha_is_not_enable_on_the_distant_pool',
    'assert_not_joining_myself', 'assert_i_know_of_no_other_hosts',
    'assert_no_running_vms_on_me', 'assert_no_vms_with_current_ops',
    'assert_no_host_pending_mandatory_guidance', 'assert_hosts_compatible',
    'assert_hosts_homogeneous', 'assert_no_shared_srs_on_me', 'assert_no_bonds_on_me',
    'assert_no_tunnels_on_me', 'assert_no_network_sriovs_on_me',
    'assert_no_non_management_vlans_on_me', 'assert_management_vlan_are_same',
    'assert_external_auth_matches', 'assert_restrictions_match',
    'assert_homogeneous_vswitch_configuration', 'assert_api_version_matches',
    'assert_db_schema_matches', 'assert_homogeneous_updates',
    'assert_homogeneous_primary_address_type', 'assert_compatible_network_purpose',
    'assert_tls_verification_matches', 'assert_legacy_ca_certificates_compatible',
    'assert_trusted_certificates_compatible', 'assert_not_in_updating_on_me',
    'assert_no_hosts_in_updating', 'assert_sm_features_compatible',
]


def test_pre_join_checks_are_a_table_in_xapi_order():
    rows = pool_join_checks.PRE_JOIN_CHECKS
    assert [r.xapi for r in rows] == XAPI_PRE_JOIN_ORDER
    assert [r.number for r in rows] == list(range(1, 34))     # the reference sheet's 1.2
    assert [r.xapi for r in rows if r.skipped_by_force] == ['assert_hosts_homogeneous']
    modelled = [r.number for r in rows if r.check is not None]
    assert modelled == [1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 19, 20, 21, 22, 23, 24, 28]


def test_login_errors_pass_through(lab):
    s = sdk(lab.hosts[1])
    assert failure(s.xenapi.pool.join, lab.hosts[0].address, 'root', WRONG_PASSWORD) == [
        'SESSION_AUTHENTICATION_FAILED', 'root', 'Authentication failure']


@pytest.mark.parametrize('address', ['192.0.2.1', 'no-such-host'])
def test_unknown_master_address(lab, address):
    s = sdk(lab.hosts[1])
    assert failure(s.xenapi.pool.join, address, 'root', PASSWORD) == [
        'JOINING_HOST_CONNECTION_FAILED']


def test_master_down(lab):
    s = sdk(lab.hosts[1])
    lab.stop(0)
    assert failure(s.xenapi.pool.join, lab.hosts[0].address, 'root', PASSWORD) == [
        'JOINING_HOST_CONNECTION_FAILED']


def test_join_lifecycle_end_to_end(make_lab):
    # windows long enough to observe: restart 0.2 s down, boot 0.2 s
    lab = make_lab(2, timings=Timings(fuse=50, restart=100, boot=100),
                   specs={1: {'vms': [VMSpec('halted-vm')]}})
    master, joiner = lab.hosts
    m = sdk(master)
    s = sdk(joiner)
    pool = m.xenapi.pool.get_all()[0]
    assert s.xenapi.pool.join(master.address, 'root', PASSWORD) == ''
    # the master DB has the host, disabled and not live, with its VMs and dom0
    host = m.xenapi.host.get_by_uuid(joiner.uuid)
    rec = m.xenapi.host.get_record(host)
    assert rec['enabled'] is False
    assert m.xenapi.host_metrics.get_live(rec['metrics']) is False
    names = {v['name_label']: v for v in m.xenapi.VM.get_all_records().values()}
    assert 'halted-vm' in names
    dom0 = m.xenapi.VM.get_record(rec['control_domain'])
    assert dom0['is_control_domain'] and dom0['resident_on'] == host
    # xapi_fuse.ml: until its restart the joiner still answers from its own
    # database, pool object included; the call returned before the restart
    assert len(s.xenapi.pool.get_all()) == 1 and s.xenapi.pool.get_all() != [pool]
    assert joiner.state == 'running'
    # fuse: connections refused
    assert lab.wait_until(lambda: joiner.state == 'down')
    with pytest.raises(ConnectionRefusedError):
        XenAPI.Session(joiner.url).xenapi.login_with_password('root', PASSWORD)
    # booting: HOST_STILL_BOOTING
    assert lab.wait_until(lambda: joiner.state == 'booting')
    assert failure(XenAPI.Session(joiner.url).xenapi.login_with_password,
                   'root', PASSWORD) == ['HOST_STILL_BOOTING']
    assert lab.wait_until(lambda: joiner.state == 'running')
    # the SDK's SESSION_INVALID re-login meets HOST_IS_SLAVE
    assert failure(s.xenapi.pool.get_all) == ['HOST_IS_SLAVE', master.address]
    assert joiner.calls[-2].error == 'SESSION_INVALID'
    # the master marked it enabled and live; one pool, same master
    assert m.xenapi.host.get_enabled(host) is True
    assert m.xenapi.host_metrics.get_live(rec['metrics']) is True
    assert m.xenapi.pool.get_all() == [pool]
    assert m.xenapi.pool.get_master(pool) == master.ref
    assert len(m.xenapi.host.get_all()) == 2


def test_rapid_successive_joins(lab3):
    sessions = [sdk(h) for h in lab3.hosts[1:]]
    for s in sessions:
        s.xenapi.pool.join(lab3.hosts[0].address, 'root', PASSWORD)
    assert lab3.settle()
    m = sdk(lab3.hosts[0])
    assert all(m.xenapi.host.get_enabled(h) for h in m.xenapi.host.get_all())
    assert len(m.xenapi.host.get_all()) == 3
