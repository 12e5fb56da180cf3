"""xapi's pre-join checks as a table in xapi's order (:data:`PRE_JOIN_CHECKS`):
one row per assert of ``pre_join_checks`` in ``ocaml/xapi/xapi_pool.ml``, each
with the simulator's version of it (None where not modelled).

A check reads :class:`Sides` (the joiner's database and the master's records
read over HTTP) and returns the error it fails with, or None;
:func:`pre_join_checks` raises the first failing row's error.
"""

import dataclasses

from xenpool_driver.simulator.errors import XapiError


def _mgmt_pif(pifs, host_ref):
    for rec in pifs.values():
        if rec['host'] == host_ref and rec['management']:
            return rec
    return None


class Sides(object):
    """What the pre-join checks read: the joiner's own database (``me``,
    ``my_pool``…) and the master's pool, host and PIF records read over
    HTTP (``pool``, ``hosts``, ``pifs``, ``master``)."""

    def __init__(self, call, pool_rec, hosts, pifs):
        host, db = call.host, call.db
        self.db, self.host_ref = db, host.ref
        self.me = db.record('host', host.ref)
        self.my_pool = db.get('pool', db.pool_ref())
        self.my_pifs = db.records('PIF')
        self.my_mgmt = _mgmt_pif(self.my_pifs, host.ref)
        self.pool, self.hosts, self.pifs = pool_rec, hosts, pifs
        self.master_ref = pool_rec['master']
        self.master = hosts[self.master_ref]
        self.sv = self.me['software_version']
        self.msv = self.master['software_version']


def _pool_size(j):
    # NOTE: Xapi_host.pool_size_is_restricted reads the joiner's own pool
    # features (pool_features.ml: pool.restrictions), counted against the
    # master's hosts (Xapi_globs.restricted_pool_size = 3).
    if j.my_pool['restrictions'].get('restrict_pool_size') == 'true' and len(j.hosts) >= 3:
        return XapiError('LICENCE_RESTRICTION', 'Pool_size')


def _mgmt_interface(j):
    if j.my_mgmt is None:
        return XapiError('HOST_STILL_BOOTING')


def _ha_on_me(j):
    if j.my_pool['ha_enabled']:
        return XapiError('HA_IS_ENABLED')


def _ha_on_pool(j):
    if j.pool['ha_enabled']:
        return XapiError('HA_IS_ENABLED')


def _not_myself(j):
    if j.master['uuid'] == j.me['uuid']:
        reason = ('Host is already part of a pool' if len(j.db.refs('host')) > 1
                  else 'Host cannot become slave of itself')
        return XapiError('OPERATION_NOT_ALLOWED', reason)


def _no_other_hosts(j):
    if len(j.db.refs('host')) > 1:
        return XapiError('JOINING_HOST_CANNOT_BE_MASTER_OF_OTHER_HOSTS')


def _no_running_vms(j):
    # NOTE: Paused and Suspended VMs do not trip it, whatever its log says.
    if any(v['power_state'] == 'Running' and not v['is_control_domain']
           for v in j.db.records('VM').values()):
        return XapiError('JOINING_HOST_CANNOT_HAVE_RUNNING_VMS')


def _no_vms_with_ops(j):
    if any(v['current_operations'] for v in j.db.records('VM').values()):
        return XapiError('JOINING_HOST_CANNOT_HAVE_VMS_WITH_CURRENT_OPERATIONS')


def _no_pending_guidance(j):
    # NOTE: the joiner, then the remote coordinator only (not its slaves).
    for ref, rec in ((j.host_ref, j.me), (j.master_ref, j.master)):
        if rec['pending_guidances']:
            return XapiError('HOST_PENDING_MANDATORY_GUIDANCE_NOT_EMPTY', ref)


def _brand(s):
    return s.get('product_brand') or s.get('platform_name')


def _compatible(j):
    if (j.sv.get('platform_version') != j.msv.get('platform_version')
            or _brand(j.sv) != _brand(j.msv)):
        return XapiError('HOSTS_NOT_COMPATIBLE')


def _homogeneous(j):
    def ver(s):
        return (s.get('xapi', '').split('.')[:2], s.get('git_id'), 'xs:linux' in s)
    if ver(j.sv) != ver(j.msv):
        return XapiError('HOSTS_NOT_HOMOGENEOUS', 'Software version differs')
    if j.me['cpu_info'].get('vendor') != j.pool['cpu_info'].get('vendor'):
        return XapiError('HOSTS_NOT_HOMOGENEOUS', 'CPUs differ')


def _no_shared_srs(j):
    if any(sr['shared'] and not sr['is_tools_sr'] for sr in j.db.records('SR').values()):
        return XapiError('JOINING_HOST_CANNOT_CONTAIN_SHARED_SRS')


def _mgmt_vlan(j):
    master_mgmt = _mgmt_pif(j.pifs, j.master_ref)
    local_tag = str(j.my_mgmt['VLAN'])
    remote_tag = str(master_mgmt['VLAN']) if master_mgmt else '-1'
    if local_tag != remote_tag:
        return XapiError('POOL_JOINING_HOST_MANAGEMENT_VLAN_DOES_NOT_MATCH',
                         local_tag, remote_tag)


def _external_auth(j):
    if (j.me['external_auth_type'] != j.master['external_auth_type']
            or j.me['external_auth_service_name'].lower()
            != j.master['external_auth_service_name'].lower()):
        return XapiError('POOL_JOINING_EXTERNAL_AUTH_MISMATCH')


def _restrictions(j):
    # NOTE: editions are compared as strings (no v6d): the first pool host
    # whose edition differs is reported.
    for rec in j.hosts.values():
        if rec['edition'] != j.me['edition']:
            return XapiError('LICENSE_HOST_POOL_MISMATCH',
                             'host edition = "%s"' % j.me['edition'],
                             'pool edition = "%s"' % rec['edition'])


def _vswitch(j):
    if j.sv.get('network_backend') != j.msv.get('network_backend'):
        return XapiError('OPERATION_NOT_ALLOWED', 'Network backends differ')


def _api_version(j):
    mine = '%s.%s' % (j.me['API_version_major'], j.me['API_version_minor'])
    theirs = '%s.%s' % (j.master['API_version_major'], j.master['API_version_minor'])
    if mine != theirs:
        return XapiError('POOL_JOINING_HOST_MUST_HAVE_SAME_API_VERSION', mine, theirs)


def _db_schema(j):
    # NOTE: a missing db_schema counts as a mismatch.
    if not j.sv.get('db_schema') or j.sv.get('db_schema') != j.msv.get('db_schema'):
        return XapiError('POOL_JOINING_HOST_MUST_HAVE_SAME_DB_SCHEMA',
                         j.sv.get('db_schema', ''), j.msv.get('db_schema', ''))


def _tls_verification(j):
    if bool(j.my_pool['tls_verification_enabled']) != bool(j.pool['tls_verification_enabled']):
        return XapiError('POOL_JOINING_HOST_TLS_VERIFICATION_MISMATCH')


@dataclasses.dataclass(frozen=True)
class Check:
    """One row of ``pre_join_checks``: its number in the reference sheet
    (section 1.2), its function in ``ocaml/xapi/xapi_pool.ml``, and the
    simulator's version of it (None: not modelled, always passes)."""

    number: int
    xapi: str
    check: object = None
    #: join_force skips it (``if not force then assert_hosts_homogeneous ()``).
    skipped_by_force: bool = False


#: ``ocaml/xapi/xapi_pool.ml`` ``pre_join_checks``, "call pre-join asserts",
#: in xapi's order (at e2ee48d6). The first failing row's error is raised.
PRE_JOIN_CHECKS = (
    Check(1, 'assert_pool_size_unrestricted', _pool_size),
    Check(2, 'assert_management_interface_exists', _mgmt_interface),
    Check(3, 'ha_is_not_enable_on_me', _ha_on_me),
    Check(4, 'clustering_is_not_enabled_on_me'),
    Check(5, 'one_ip_configured_on_joining_cluster_network'),
    Check(6, 'ha_is_not_enable_on_the_distant_pool', _ha_on_pool),
    Check(7, 'assert_not_joining_myself', _not_myself),
    Check(8, 'assert_i_know_of_no_other_hosts', _no_other_hosts),
    Check(9, 'assert_no_running_vms_on_me', _no_running_vms),
    Check(10, 'assert_no_vms_with_current_ops', _no_vms_with_ops),
    Check(11, 'assert_no_host_pending_mandatory_guidance', _no_pending_guidance),
    Check(12, 'assert_hosts_compatible', _compatible),
    Check(13, 'assert_hosts_homogeneous', _homogeneous, skipped_by_force=True),
    Check(14, 'assert_no_shared_srs_on_me', _no_shared_srs),
    Check(15, 'assert_no_bonds_on_me'),
    Check(16, 'assert_no_tunnels_on_me'),
    Check(17, 'assert_no_network_sriovs_on_me'),
    Check(18, 'assert_no_non_management_vlans_on_me'),
    Check(19, 'assert_management_vlan_are_same', _mgmt_vlan),
    Check(20, 'assert_external_auth_matches', _external_auth),
    Check(21, 'assert_restrictions_match', _restrictions),
    Check(22, 'assert_homogeneous_vswitch_configuration', _vswitch),
    Check(23, 'assert_api_version_matches', _api_version),
    Check(24, 'assert_db_schema_matches', _db_schema),
    Check(25, 'assert_homogeneous_updates'),
    Check(26, 'assert_homogeneous_primary_address_type'),
    Check(27, 'assert_compatible_network_purpose'),
    Check(28, 'assert_tls_verification_matches', _tls_verification),
    Check(29, 'assert_legacy_ca_certificates_compatible'),
    Check(30, 'assert_trusted_certificates_compatible'),
    Check(31, 'assert_not_in_updating_on_me'),
    Check(32, 'assert_no_hosts_in_updating'),
    Check(33, 'assert_sm_features_compatible'),
)


def pre_join_checks(call, force, pool_rec, hosts, pifs):
    """xapi's ``pre_join_checks``: the rows of :data:`PRE_JOIN_CHECKS` in order.

    :raises XapiError: the first failing check's error.
    """
    if call.host.joined:
        # NOTE: simplification: a join repeated during the restart fuse of a
        # successful one (xapi_fuse.ml: the joiner still has its own pool).
        raise XapiError('OPERATION_NOT_ALLOWED', 'Host is already part of a pool')
    sides = Sides(call, pool_rec, hosts, pifs)
    for row in PRE_JOIN_CHECKS:
        if row.check is None or (force and row.skipped_by_force):
            continue
        error = row.check(sides)
        if error is not None:
            raise error
