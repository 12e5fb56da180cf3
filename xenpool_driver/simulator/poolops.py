"""Pool operations as xapi performs them: join (with the pre-join checks as
a table in xapi's order, :data:`PRE_JOIN_CHECKS`), eject,
designate_new_master and host.destroy.

The joiner talks to the master over real HTTP (login, pool and host
records); the import of its records into the master's database is done in
process (see doc/simulator.md).
"""

import dataclasses
import http.client
import ssl
import xmlrpc.client

from xenpool_driver.simulator import model
from xenpool_driver.simulator.errors import NoRoute, XapiError
from xenpool_driver.simulator.methods import api


class MasterClient(object):
    """A minimal xapi client one simulated host uses to reach another."""

    def __init__(self, url):
        ctx = ssl._create_unverified_context() if url.startswith('https') else None
        self.proxy = xmlrpc.client.ServerProxy(url, context=ctx, allow_none=True)

    def call(self, method, *params):
        try:
            result = getattr(self.proxy, method)(*params)
        except (ConnectionError, OSError, http.client.RemoteDisconnected):
            raise XapiError('JOINING_HOST_CONNECTION_FAILED')
        except (xmlrpc.client.ProtocolError, xmlrpc.client.Fault,
                http.client.HTTPException):
            raise XapiError('JOINING_HOST_SERVICE_FAILED')
        if not isinstance(result, dict) or 'Status' not in result:
            raise XapiError('JOINING_HOST_SERVICE_FAILED')
        if result['Status'] == 'Success':
            return result.get('Value', '')
        raise XapiError(*result['ErrorDescription'])

    def close(self):
        self.proxy('close')()


# -- join ---------------------------------------------------------------------
@api('pool.join', 3, async_ok=True)
def pool_join(call, master_address, master_username, master_password):
    return _join(call, master_address, master_username, master_password, force=False)


@api('pool.join_force', 3, async_ok=True)
def pool_join_force(call, master_address, master_username, master_password):
    return _join(call, master_address, master_username, master_password, force=True)


def _join(call, address, username, password, force):
    host, lab = call.host, call.lab
    if not host.spec.pooling_licensed:
        raise XapiError('LICENCE_RESTRICTION')
    try:
        url = lab.route(host, address)
    except NoRoute:
        raise XapiError('JOINING_HOST_CONNECTION_FAILED')
    client = MasterClient(url)
    try:
        session = client.call('session.login_with_password', username, password,
                              '2.21', 'xapi')
        try:
            pools = client.call('pool.get_all', session)
            if len(pools) != 1:
                raise XapiError('INTERNAL_ERROR', 'Should get only one pool')
            pool_rec = client.call('pool.get_record', session, pools[0])
            hosts = client.call('host.get_all_records', session)
            pifs = client.call('PIF.get_all_records', session)
            pre_join_checks(call, force, pool_rec, hosts, pifs)
            master = lab.host_at(address)
            # NOTE: step 5, exchange_certificates_on_join, is a waiting pool
            # op on the master (in the master's own task: the join's task
            # does not become cancellable).
            with PoolOp(call, 'exchange_certificates_on_join', db=master.db,
                        ref=model.new_ref(), cancellable=False):
                pass
            call.sleep(lab.timings.join_duration)
            new_ref = absorb(master.db, host)
        finally:
            try:
                client.call('session.logout', session)
            except XapiError:
                pass
    finally:
        client.close()
    # NOTE: xapi_fuse.ml: the joiner keeps its own database, pool object
    # included, and answers from it until its xapi restarts as a slave.
    host.joined = True
    lab.after(lab.timings.fuse, lambda: lab.become_slave(host, master, address, new_ref))
    return ''


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


#: ``xapi_pool_helpers.ml``: a blocking op in progress refuses every other
#: blocking op at once with its own error; everything else is a waiting op.
BLOCKING_OPS = {
    'ha_enable': 'HA_ENABLE_IN_PROGRESS', 'ha_disable': 'HA_DISABLE_IN_PROGRESS',
    'cluster_create': 'CLUSTER_CREATE_IN_PROGRESS',
    'designate_new_master': 'DESIGNATE_NEW_MASTER_IN_PROGRESS',
    'tls_verification_enable': 'TLS_VERIFICATION_ENABLE_IN_PROGRESS',
    'configure_repositories': 'CONFIGURE_REPOSITORIES_IN_PROGRESS',
    'sync_updates': 'SYNC_UPDATES_IN_PROGRESS', 'sync_bundle': 'SYNC_BUNDLE_IN_PROGRESS',
    'apply_updates': 'APPLY_UPDATES_IN_PROGRESS',
}
WAITING_OPS = ('cert_refresh', 'exchange_certificates_on_join',
               'exchange_ca_certificates_on_join', 'copy_primary_host_certs', 'eject',
               'get_updates', 'exchange_crls_on_join')
def pool_op_error(db, pool, op):
    """Why pool operation ``op`` cannot start now, or None.

    As ``compute_valid_operations`` in ``ocaml/xapi/xapi_pool_helpers.ml``:
    with a blocking op current, blocking ops get its ``*_IN_PROGRESS []`` and
    waiting ops ``OTHER_OPERATION_IN_PROGRESS``; with only waiting ops
    current, every op gets ``OTHER_OPERATION_IN_PROGRESS ["pool"; pool; op;
    op_ref]`` (the waiting op's type and ref only when one is current).
    """
    ops = db.get('pool', pool)['current_operations']
    if not ops:
        return None
    blocking = next((o for o in ops.values() if o in BLOCKING_OPS), None)
    waiting = next(((r, o) for r, o in ops.items() if o in WAITING_OPS), None)
    other = ['pool', pool] + ([waiting[1], waiting[0]] if waiting else [])
    if blocking is not None and op in BLOCKING_OPS:
        return XapiError(BLOCKING_OPS[blocking])
    return XapiError('OTHER_OPERATION_IN_PROGRESS', *other)


def absorb(mdb, joiner):
    """The master's database gains the joiner: host (disabled, not live),
    its metrics, VMs incl. dom0 (with their metrics), local SRs, PBDs, PIFs,
    networks by bridge.

    As ``create_or_get_*_on_master`` in ``ocaml/xapi/xapi_pool.ml``: every
    record is created anew on the master (``Host.create``, ``SR.introduce``,
    ``PIF.pool_introduce``, the metadata import): NEW refs, the SAME uuids;
    the references between them are re-pointed (a reference to a joiner
    record not brought over becomes ``OpaqueRef:NULL``).

    :returns: the joiner's new host ref in the master's database.
    """
    jdb = joiner.db
    with mdb.lock, jdb.lock:
        refs = {model.NULL: model.NULL}
        bridges = {rec['bridge']: ref for ref, rec in mdb.tables['network'].items()}
        tools = [r for r, s in mdb.tables['SR'].items() if s['is_tools_sr']]
        plan = []                       # (class, old ref, extra fields)
        for ref, rec in jdb.tables['network'].items():
            if rec['bridge'] in bridges:
                refs[ref] = bridges[rec['bridge']]
            else:
                plan.append(('network', ref, {}))
        for ref, rec in jdb.tables['SR'].items():
            if rec['is_tools_sr'] and tools:
                refs[ref] = tools[0]
            else:
                plan.append(('SR', ref, dict(shared=False)))
        hrec = jdb.get('host', joiner.ref)
        plan.append(('host_metrics', hrec['metrics'], dict(live=False)))
        plan.append(('host', joiner.ref, dict(enabled=False, allowed_operations=[])))
        for cls in ('PIF', 'PBD'):
            plan.extend((cls, ref, {}) for ref in jdb.tables[cls])
        for ref, rec in jdb.tables['VM'].items():
            for cls, link in (('VM_metrics', rec['metrics']),
                              ('VM_guest_metrics', rec['guest_metrics'])):
                if jdb.exists(cls, link):
                    plan.append((cls, link, {}))
            plan.append(('VM', ref, {}))
        for cls, ref, _extra in plan:
            refs[ref] = model.new_ref()

        def repoint(value):
            if isinstance(value, str) and value.startswith('OpaqueRef:'):
                return refs.get(value, model.NULL)
            if isinstance(value, list):
                return [repoint(v) for v in value]
            return value

        for cls, ref, extra in plan:
            rec = {k: repoint(v) for k, v in _fields(jdb.get(cls, ref)).items()}
            rec.update(extra)
            mdb.create(cls, ref=refs[ref], **rec)
        return refs[joiner.ref]


def _fields(rec):
    import copy
    return copy.deepcopy(rec)


# -- eject --------------------------------------------------------------------
class PoolOp(object):
    """``with_pool_operation``: a pool op in ``current_operations`` while it runs.

    Entering is xapi's ``Helpers.retry_with_global_lock``
    (``ocaml/xapi/helpers.ml``): the task becomes cancellable, and an
    ``OTHER_OPERATION_IN_PROGRESS`` is waited out (woken when the pool
    changes) for up to ``Timings.lock_max_wait`` (``Policy.standard``: two
    hours) xapi seconds, then raised; any
    other refusal (a blocking op's ``*_IN_PROGRESS``) is raised at once. A
    ``task.cancel`` while queued ends the task ``TASK_CANCELLED``.

    :param db: the database whose pool is locked (default: the call's).
    :param ref: the key in ``current_operations`` (default: the call's task).
    """

    def __init__(self, call, op, db=None, ref=None, cancellable=True):
        self.call, self.op = call, op
        self.db = call.db if db is None else db
        self.ref = ref or call.task or model.new_ref()
        self.cancellable = cancellable

    def __enter__(self):
        call, db = self.call, self.db
        if self.cancellable:
            call.set_cancellable(True)
        clock = call.lab.clock
        deadline = clock.monotonic() + call.lab.scaled(call.lab.timings.lock_max_wait)
        with db.lock:
            while True:
                if self.cancellable:
                    call.check_cancelled()
                pool = db.pool_ref()
                error = pool_op_error(db, pool, self.op)
                if error is None:
                    break
                left = deadline - clock.monotonic()
                if error.code != 'OTHER_OPERATION_IN_PROGRESS' or left <= 0 \
                        or call.lab.closing.is_set():
                    raise error
                # NOTE: Early_wakeup: the op in progress wakes us on its way out.
                clock.wait(db.changed, min(left, 0.5))
            ops = dict(db.get('pool', pool)['current_operations'])
            ops[self.ref] = self.op
            db.set('pool', pool, current_operations=ops)
            self.pool = pool
        # NOTE: xapi leaves the task's allowed_operations at [cancel], but
        # nothing after the lock looks at a cancel any more.
        call.cancellable = False
        return self

    def __exit__(self, *exc):
        with self.db.lock:
            if self.db.exists('pool', self.pool):
                ops = dict(self.db.get('pool', self.pool)['current_operations'])
                ops.pop(self.ref, None)
                self.db.set('pool', self.pool, current_operations=ops)


def _live(db, host_ref):
    metrics = db.get('host', host_ref)['metrics']
    return db.exists('host_metrics', metrics) and db.get('host_metrics', metrics)['live']


def _forward_target(call, host_ref):
    """The live, reachable host an op is forwarded to (xapi's ``do_op_on``).

    :raises XapiError: HOST_OFFLINE when not live, CANNOT_CONTACT_HOST when
        unreachable.
    """
    if not _live(call.db, host_ref):
        raise XapiError('HOST_OFFLINE', host_ref)
    target = call.lab.host_by_ref(host_ref)
    if target is None or not call.lab.reachable(call.host, target):
        raise XapiError('CANNOT_CONTACT_HOST', host_ref)
    return target


@api('pool.eject', 1, async_ok=True)
def pool_eject(call, host_ref):
    db, lab = call.db, call.lab
    db.get('host', host_ref)
    with PoolOp(call, 'eject'):
        target = _forward_target(call, host_ref)
        if target.is_master:
            raise XapiError('INTERNAL_ERROR', 'Xapi_pool.Cannot_eject_master')
        pool = db.get('pool', db.pool_ref())
        if pool['ha_enabled']:
            raise XapiError('HA_IS_ENABLED')
        for rec in db.records('VM').values():
            if (not rec['is_control_domain'] and rec['resident_on'] == host_ref
                    and rec['power_state'] != 'Halted'):
                raise XapiError('OPERATION_NOT_ALLOWED', 'VM resident on host')
        call.sleep(lab.timings.eject_duration)
        forget_host(db, host_ref)
    lab.after(lab.timings.fuse, lambda: lab.reboot_standalone(target))
    return ''


def forget_host(db, host_ref):
    """Remove a host and what only it had: dom0, PIFs, PBDs, local SRs."""
    with db.lock:
        hrec = db.record('host', host_ref)
        for ref, vm in list(db.tables['VM'].items()):
            if vm['is_control_domain'] and vm['resident_on'] == host_ref:
                db.destroy('VM', ref)
                for cls, link in (('VM_metrics', vm['metrics']),
                                  ('VM_guest_metrics', vm['guest_metrics'])):
                    if db.exists(cls, link):
                        db.destroy(cls, link)
            elif vm['resident_on'] == host_ref:
                db.set('VM', ref, resident_on=model.NULL, power_state='Halted')
        for ref in hrec['PIFs']:
            db.destroy('PIF', ref)
        for ref in hrec['PBDs']:
            sr = db.get('PBD', ref)['SR']
            db.destroy('PBD', ref)
            if db.exists('SR', sr) and not db.record('SR', sr)['PBDs']:
                db.destroy('SR', sr)
        db.destroy('host', host_ref)
        if db.exists('host_metrics', hrec['metrics']):
            db.destroy('host_metrics', hrec['metrics'])


# -- designate_new_master and host.destroy ------------------------------------
@api('pool.designate_new_master', 1, async_ok=True)
def designate_new_master(call, host_ref):
    db, lab = call.db, call.lab
    db.get('host', host_ref)
    with PoolOp(call, 'designate_new_master'):
        target = _forward_target(call, host_ref)
        if target.is_master:
            return ''
        if db.get('pool', db.pool_ref())['ha_enabled']:
            raise XapiError('HA_IS_ENABLED')
        call.sleep(lab.timings.designate_duration)
        # NOTE: dbsync_master.ml: pool.master is set by the new master once it
        # has booted as master (Lab.switch_master), not here.
    lab.after(lab.timings.fuse, lambda: lab.switch_master(db, target))
    return ''


@api('host.destroy', 1, async_ok=True)
def host_destroy(call, host_ref):
    db = call.db
    db.get('host', host_ref)
    # NOTE: xapi_host.ml is_host_alive: a host the database says is live is
    # asked; one that does not answer is dead, whatever host_metrics say.
    target = call.lab.host_by_ref(host_ref)
    alive = (_live(db, host_ref) and target is not None
             and call.lab.reachable(call.host, target))
    if alive or host_ref == call.host.ref:
        raise XapiError('HOST_IS_LIVE', host_ref)
    if db.get('pool', db.pool_ref())['ha_enabled']:
        raise XapiError('HA_IS_ENABLED')
    for rec in db.records('VM').values():
        if not rec['is_control_domain'] and rec['resident_on'] == host_ref:
            raise XapiError('HOST_HAS_RESIDENT_VMS', host_ref)
    forget_host(db, host_ref)
    return ''
