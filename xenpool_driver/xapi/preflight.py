"""Pre-join checks: every reason xapi would refuse ``pool.join``, at once.

xapi's ``pre_join_checks`` stops at the first failed assertion; an operator
then fixes one thing, retries, and meets the next. :func:`preflight` reads
both sides once and reports every mismatch, each as the exact error code and
params xapi would raise, in xapi's own order (xapi-reference §1.2).

XAPI calls (8 round trips, all ``get_all_records``):

* joiner: ``pool``, ``host``, ``VM``, ``SR``, ``PIF``;
* master: ``pool``, ``host``, ``PIF``.

Checks covered (numbers of the reference table): 2, 3, 6, 7, 8, 9, 10, 12,
13 (skipped by force, like ``join_force``), 14, 19, 20, 21, 22 (network
backend), 23, 24, 28, 31, 32. Not modelled (xapi still has the last word):
licence pool size, clustering, pending guidances, bonds/tunnels/SR-IOV/extra
VLANs, updates, address type, network purpose, certificates, SM features.
"""

import dataclasses
import threading

from xenpool_driver import exception
from xenpool_driver.xapi import host as host_mod


@dataclasses.dataclass(frozen=True)
class Mismatch:
    """One pre-join mismatch, with the code xapi would raise for it.

    :param code: XAPI's error code, e.g. ``HOSTS_NOT_HOMOGENEOUS``.
    :param params: XAPI's error parameters (list of str, as xapi's
        ErrorDescription).
    :param reason: what differs, for a person.
    """

    code: str
    params: list = dataclasses.field(default_factory=list)
    reason: str = ''

    def __str__(self):
        return '%s %s: %s' % (self.code, self.params, self.reason)


@dataclasses.dataclass(frozen=True)
class Side:
    """What one side of a join looks like, read in a few round trips.

    ``host_ref``/``host`` are the pool master of that side's database: for a
    standalone joiner, the joiner itself.
    """

    pool: dict
    host_ref: str
    host: dict
    hosts: dict
    pifs: dict
    vms: dict = dataclasses.field(default_factory=dict)
    srs: dict = dataclasses.field(default_factory=dict)

    @property
    def software(self):
        return self.host.get('software_version') or {}

    @property
    def mgmt_pif(self):
        """The management PIF record of :attr:`host_ref`, or None."""
        for rec in self.pifs.values():
            if (rec.get('host') == self.host_ref and
                    host_mod.as_bool(rec.get('management', False))):
                return rec
        return None


def read_side(session, local, known=None):
    """Read one side. ``local`` (the joiner) also reads its VMs and SRs.

    :param known: ``(pool record, host records)`` of this side read just
        before (e.g. by the host claim), or None to read them here.
    :raises XapiUnavailable, XapiError: from the session.
    """
    if known is None:
        _, pool_rec = host_mod.read_pool(session)
        hosts = session.call('host.get_all_records')
    else:
        pool_rec, hosts = known
    vms = session.call('VM.get_all_records') if local else {}
    srs = session.call('SR.get_all_records') if local else {}
    pifs = session.call('PIF.get_all_records')
    master_ref = pool_rec.get('master')
    return Side(pool=pool_rec, host_ref=master_ref,
                host=hosts.get(master_ref, {}), hosts=hosts, pifs=pifs,
                vms=vms, srs=srs)


def preflight(joiner, master, force=False, joiner_uuid=None, joiner_known=None):
    """Every mismatch xapi would refuse the join of ``joiner`` for.

    Pre: both sessions answer. Post: nothing changed on either side.

    :param joiner: :class:`XapiSession` on the joining host.
    :param master: :class:`XapiSession` on the pool master.
    :param force: ``join_force`` will be used: skip HOSTS_NOT_HOMOGENEOUS
        (the only check xapi skips for it).
    :param joiner_uuid: the uuid the caller believes the joiner has (e.g. from
        ``slave_info``); checked against the joiner's own record.
    :param joiner_known: ``(pool record, host records)`` of the joiner read
        moments before (the join's host claim reads exactly these): not read
        again. NOTE: the claim changes only the pool's ``other_config``,
        which no check looks at.
    :returns: list of :class:`Mismatch`, in xapi's order; empty when
        the join would pass these checks.
    :raises OperationRefused: ``joiner_uuid`` is not the joiner's uuid.
    :raises XapiUnavailable, XapiError: a side could not be read.
    """
    # NOTE: two hosts, two handles: the master's side is read while the
    # joiner's is (its round trips are not added to the joiner's), both
    # read-only; the joiner's answer is looked at first, as before.
    theirs = _meanwhile(read_side, master, local=False)
    me = read_side(joiner, local=True, known=joiner_known)
    actual = me.host.get('uuid')
    if joiner_uuid and actual != joiner_uuid:
        # NOTE: a stale uuid would make us wait for a host that never shows
        # up, then leave the real member unrecorded: refuse before any change.
        raise exception.OperationRefused(
            'pool.join', joiner_uuid,
            'the xapi at %s is host %s, not %s' % (joiner.address, actual, joiner_uuid))
    them = theirs()
    return compare(me, them, force=force)


def _meanwhile(fn, *args, **kwargs):
    """Start ``fn(*args, **kwargs)`` in a thread; returns ``wait()``, which
    returns its value or raises its exception.

    NOTE: a daemon thread, not an executor: a caller that leaves early (an
    error on the joiner's side, a Ctrl-C) never waits for a slow master's
    read, not even when the process exits; the read only reads.
    """
    box = {}

    def run():
        try:
            box['value'] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - NOTE: handed to wait()
            box['error'] = exc

    thread = threading.Thread(target=run, name='preflight-master', daemon=True)
    thread.start()

    def wait():
        thread.join()
        if 'error' in box:
            raise box['error']
        return box['value']
    return wait


def compare(me, them, force=False):
    """Pure comparison of two :class:`Side` values (see :func:`preflight`)."""
    found = []
    for check in _CHECKS:
        if force and check is _homogeneous:
            continue
        mismatch = check(me, them)
        if mismatch is not None:
            found.append(mismatch)
    return found


# NOTE: each check below mirrors one assertion of xapi's pre_join_checks,
# listed in the order xapi runs them; `me` is the joiner, `them` the master.

def _mgmt_interface(me, them):
    if me.mgmt_pif is None:
        return Mismatch('HOST_STILL_BOOTING', [],
                                  'joining host has no management interface yet')


def _ha_on_me(me, them):
    if host_mod.as_bool(me.pool.get('ha_enabled', False)):
        return Mismatch('HA_IS_ENABLED', [], 'HA is enabled on the joining host')


def _ha_on_pool(me, them):
    if host_mod.as_bool(them.pool.get('ha_enabled', False)):
        return Mismatch('HA_IS_ENABLED', [], 'HA is enabled on the pool')


def _not_myself(me, them):
    if me.host.get('uuid') == them.host.get('uuid'):
        text = ('Host is already part of a pool' if len(me.hosts) > 1
                else 'Host cannot become slave of itself')
        return Mismatch('OPERATION_NOT_ALLOWED', [text],
                                  'joining host is the pool master')


def _no_other_hosts(me, them):
    if len(me.hosts) > 1:
        return Mismatch('JOINING_HOST_CANNOT_BE_MASTER_OF_OTHER_HOSTS', [],
                                  'joining host is already in a pool of %d hosts'
                                  % len(me.hosts))


def _guests(vms):
    return [r for r in vms.values() if not host_mod.as_bool(r.get('is_control_domain', False))]


def _no_running_vms(me, them):
    # NOTE: only Running trips xapi's check; Paused/Suspended do not.
    names = sorted(r.get('name_label', '') for r in _guests(me.vms)
                   if r.get('power_state') == 'Running')
    if names:
        return Mismatch('JOINING_HOST_CANNOT_HAVE_RUNNING_VMS', [],
                                  'running VMs on the joining host: %s' % ', '.join(names))


def _no_vms_with_ops(me, them):
    names = sorted(r.get('name_label', '') for r in me.vms.values()
                   if r.get('current_operations'))
    if names:
        return Mismatch('JOINING_HOST_CANNOT_HAVE_VMS_WITH_CURRENT_OPERATIONS', [],
                                  'VMs with operations in progress: %s' % ', '.join(names))


def _compat_name(software):
    return software.get('product_brand', software.get('platform_name'))


def _compatible(me, them):
    mine = (me.software.get('platform_version'), _compat_name(me.software))
    theirs = (them.software.get('platform_version'), _compat_name(them.software))
    if mine != theirs:
        return Mismatch('HOSTS_NOT_COMPATIBLE', [],
                                  'platform/brand %s differs from the master\'s %s'
                                  % (_show(mine), _show(theirs)))


def _major_minor(version):
    return '.'.join((version or '').split('.')[:2])


def _software_key(software):
    return (_major_minor(software.get('xapi')), _compat_name(software) or '',
            software.get('git_id', ''), 'xs:linux' in software)


def _cpu_vendor(side, pool_wide):
    cpu = (side.pool.get('cpu_info') or {}) if pool_wide else {}
    return cpu.get('vendor') or (side.host.get('cpu_info') or {}).get('vendor', '')


def _homogeneous(me, them):
    # NOTE: the only check join_force skips; xapi raises the first of its two.
    mine, theirs = _software_key(me.software), _software_key(them.software)
    if mine != theirs:
        return Mismatch('HOSTS_NOT_HOMOGENEOUS', ['Software version differs'],
                                  'software %s differs from the master\'s %s'
                                  % (_show(mine), _show(theirs)))
    mine, theirs = _cpu_vendor(me, False), _cpu_vendor(them, True)
    if mine != theirs:
        return Mismatch('HOSTS_NOT_HOMOGENEOUS', ['CPUs differ'],
                                  'CPU vendor %r differs from the pool\'s %r' % (mine, theirs))


def _is_tools_sr(rec):
    other = rec.get('other_config') or {}
    return (host_mod.as_bool(rec.get('is_tools_sr', False)) or
            host_mod.as_bool(other.get('xenserver_tools_sr', False)))


def _no_shared_srs(me, them):
    names = sorted(r.get('name_label', '') for r in me.srs.values()
                   if host_mod.as_bool(r.get('shared', False)) and not _is_tools_sr(r))
    if names:
        return Mismatch('JOINING_HOST_CANNOT_CONTAIN_SHARED_SRS', [],
                                  'shared SRs on the joining host: %s' % ', '.join(names))


def _vlan(pif):
    try:
        return str(int(pif.get('VLAN', -1)))
    except (TypeError, ValueError):
        return str(pif.get('VLAN'))


def _mgmt_vlan(me, them):
    mine, theirs = me.mgmt_pif, them.mgmt_pif
    if mine is None or theirs is None:
        return None
    if _vlan(mine) != _vlan(theirs):
        return Mismatch('POOL_JOINING_HOST_MANAGEMENT_VLAN_DOES_NOT_MATCH',
                                  [_vlan(mine), _vlan(theirs)],
                                  'management VLAN %s differs from the master\'s %s'
                                  % (_vlan(mine), _vlan(theirs)))


def _external_auth(me, them):
    def key(rec):
        return (rec.get('external_auth_type', ''),
                (rec.get('external_auth_service_name', '') or '').lower())
    if key(me.host) != key(them.host):
        return Mismatch('POOL_JOINING_EXTERNAL_AUTH_MISMATCH', [],
                                  'external authentication %s differs from the master\'s %s'
                                  % (_show(key(me.host)), _show(key(them.host))))


def _edition(me, them):
    # NOTE: xapi lets v6d rank differing edition strings; we cannot, so any
    # difference is reported, naming the master's edition first.
    mine = me.host.get('edition', '')
    pool_editions = [them.host.get('edition', '')] + sorted(
        r.get('edition', '') for r in them.hosts.values())
    other = [e for e in pool_editions if e != mine]
    if other:
        return Mismatch('LICENSE_HOST_POOL_MISMATCH',
                                  ['host edition = "%s"' % mine, 'pool edition = "%s"' % other[0]],
                                  'edition %r differs from the pool\'s %r' % (mine, other[0]))


def _network_backend(me, them):
    mine = me.software.get('network_backend', 'bridge')
    theirs = them.software.get('network_backend', 'bridge')
    if mine != theirs:
        return Mismatch('OPERATION_NOT_ALLOWED', ['Network backends differ'],
                                  'network backend %r differs from the master\'s %r'
                                  % (mine, theirs))


def _api_version(rec):
    def num(field):
        try:
            return str(int(rec.get(field, 0)))
        except (TypeError, ValueError):
            return str(rec.get(field))
    return '%s.%s' % (num('API_version_major'), num('API_version_minor'))


def _same_api(me, them):
    mine, theirs = _api_version(me.host), _api_version(them.host)
    if mine != theirs:
        return Mismatch('POOL_JOINING_HOST_MUST_HAVE_SAME_API_VERSION',
                                  [mine, theirs],
                                  'API version %s differs from the master\'s %s' % (mine, theirs))


def _same_schema(me, them):
    # NOTE: a missing db_schema counts as a mismatch, as in xapi.
    mine = me.software.get('db_schema', '')
    theirs = them.software.get('db_schema', '')
    if not mine or not theirs or mine != theirs:
        return Mismatch('POOL_JOINING_HOST_MUST_HAVE_SAME_DB_SCHEMA', [mine, theirs],
                                  'database schema %r differs from the master\'s %r'
                                  % (mine, theirs))


def _tls(me, them):
    mine = host_mod.as_bool(me.pool.get('tls_verification_enabled', False))
    theirs = host_mod.as_bool(them.pool.get('tls_verification_enabled', False))
    if mine != theirs:
        return Mismatch('POOL_JOINING_HOST_TLS_VERIFICATION_MISMATCH', [],
                                  'TLS verification is %s on the joining host, %s on the pool'
                                  % (_on(mine), _on(theirs)))


def _updating(side, where):
    if 'apply_updates' in (side.pool.get('current_operations') or {}).values():
        return Mismatch('NOT_SUPPORTED_DURING_UPGRADE', [],
                                  'updates are being applied on %s' % where)


def _not_updating_me(me, them):
    return _updating(me, 'the joining host')


def _not_updating_pool(me, them):
    return _updating(them, 'the pool')


def _show(values):
    return '/'.join(str(v) for v in values)


def _on(flag):
    return 'on' if flag else 'off'


_CHECKS = (
    _mgmt_interface,      # 2
    _ha_on_me,            # 3
    _ha_on_pool,          # 6
    _not_myself,          # 7
    _no_other_hosts,      # 8
    _no_running_vms,      # 9
    _no_vms_with_ops,     # 10
    _compatible,          # 12
    _homogeneous,         # 13 (skipped by force)
    _no_shared_srs,       # 14
    _mgmt_vlan,           # 19
    _external_auth,       # 20
    _edition,             # 21
    _network_backend,     # 22
    _same_api,            # 23
    _same_schema,         # 24
    _tls,                 # 28
    _not_updating_me,     # 31
    _not_updating_pool,   # 32
)
