"""What the CLI shows: an aggregate beside its live pool, reports, pools.

:func:`compare` is read-only (unlike reconcile, it repairs nothing): it says
whether an aggregate's metadata and the pool xapi reports agree.
"""

from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.xapi import pool


def compare(metadata, members):
    """Differences between ``metadata`` and ``members`` (a Membership or None).

    :returns: list of human-readable differences; empty when they agree.
    """
    problems = []
    state = metadata.get(ps.KEY)
    record = bk.read(metadata)
    recorded = bk.recorded_hosts(metadata)
    if record.intent is not None:
        problems.append('operation in flight: %s %s' % (record.intent.op, record.intent.host))
    if state == ps.CHANGING:
        problems.append('state is changing')
    if members is None:
        if recorded:
            problems.append('hosts recorded but no pool read')
        return problems
    real = {h.uuid: h for h in members.hosts}
    for host, uuid in sorted(recorded.items()):
        if uuid not in real:
            problems.append('%s (%s) recorded but not a member' % (host, uuid))
    for uuid, info in sorted(real.items()):
        if uuid not in recorded.values():
            problems.append('member %s (%s) not recorded' % (uuid, info.address))
        elif not (info.enabled and info.live):
            problems.append('member %s not enabled and live' % uuid)
    master = metadata.get(bk.MASTER_COMPUTE)
    if master and recorded.get(master) != members.master_uuid:
        problems.append('master is %s, metadata says %s' % (members.master_uuid, master))
    return problems


def membership_view(members):
    return {
        'pool_uuid': members.pool_uuid,
        'name_label': members.name_label,
        'master': members.master_uuid,
        'hosts': [{'uuid': h.uuid, 'name_label': h.name_label, 'address': h.address,
                   'enabled': h.enabled, 'live': h.live} for h in members.hosts],
    }


def aggregate_view(ctx, agg):
    """Metadata and live membership side by side, with ``consistent``."""
    md = dict(agg.metadata)
    recorded = bk.recorded_hosts(md)
    view = {
        'name': agg.name,
        'operational_state': md.get(ps.KEY),
        'hypervisor_pool': ps.is_hv_pool(md),
        'hosts': {h: recorded.get(h) for h in agg.hosts},
        'master': md.get(bk.MASTER_COMPUTE),
        'metadata': md,
        'xapi_hosts': [],
        'xapi_master': None,
        'xapi_error': None,
    }
    members = None
    if view['hypervisor_pool'] and recorded:
        try:
            members = pool.snapshot(ctx.session(ctx.workflow.master_url(md)))
        except exception.XenPoolError as exc:
            view['xapi_error'] = str(exc)
    if members is not None:
        live = membership_view(members)
        view['xapi_hosts'] = live['hosts']
        view['xapi_master'] = live['master']
        view['pool_name_label'] = live['name_label']
    problems = compare(md, members) if view['hypervisor_pool'] else []
    if view['xapi_error']:
        problems.append(view['xapi_error'])
    view['differences'] = problems
    view['consistent'] = not problems
    return view


def render(view):
    lines = ['aggregate %s: %s%s' % (view['name'], view['operational_state'] or '-',
                                     '' if view['hypervisor_pool'] else ' (not a pool)')]
    by_uuid = {h['uuid']: h for h in view['xapi_hosts']}
    lines.append('  %-16s %-38s | %-15s %s' % ('host', 'metadata uuid', 'xapi address',
                                              'xapi state'))
    shown = set()
    for host, uuid in sorted(view['hosts'].items()):
        real = by_uuid.get(uuid)
        shown.add(uuid)
        role = ' master' if host == view['master'] else ''
        lines.append('  %-16s %-38s | %-15s %s' % (
            host + role, uuid or '-', real['address'] if real else '-',
            _state(real) + (' master' if real and uuid == view['xapi_master'] else '')))
    for uuid, real in sorted(by_uuid.items()):
        if uuid not in shown:
            lines.append('  %-16s %-38s | %-15s %s' % ('?', uuid, real['address'],
                                                      _state(real)))
    lines.append('  consistent: %s' % ('yes' if view['consistent'] else 'NO'))
    for problem in view['differences']:
        lines.append('    - %s' % problem)
    return '\n'.join(lines)


def _state(real):
    if real is None:
        return 'not a member'
    return '%s, %s' % ('live' if real['live'] else 'not live',
                       'enabled' if real['enabled'] else 'disabled')


def render_membership(data):
    lines = ['pool %s "%s"' % (data['pool_uuid'], data['name_label'])]
    for h in data['hosts']:
        lines.append('  %-38s %-15s %s%s' % (h['uuid'], h['address'], _state(h),
                                             ' master' if h['uuid'] == data['master'] else ''))
    return '\n'.join(lines)


def report_view(agg, report):
    return {'name': agg.name, 'state_before': report.state_before,
            'state_after': report.state_after, 'actions': list(report.actions),
            'drift': list(report.drift), 'unhealthy': list(report.unhealthy),
            'error': report.error, 'agreed': report.agreed}


def render_report(r):
    lines = ['aggregate %s: %s -> %s, %s' % (
        r['name'], r['state_before'], r['state_after'],
        'agrees with xapi' if r['agreed'] else 'DOES NOT agree with xapi')]
    lines += ['  did: %s' % a for a in r['actions']]
    lines += ['  drift: %s' % d for d in r['drift']]
    lines += ['  unhealthy: %s' % u for u in r['unhealthy']]
    if r['error']:
        lines.append('  error: %s' % r['error'])
    return '\n'.join(lines)
