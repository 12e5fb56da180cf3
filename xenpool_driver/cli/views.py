"""What the CLI shows: an aggregate beside its live pool, reports, pools.

:func:`compare` is read-only (unlike reconcile, it repairs nothing): it says
whether an aggregate's metadata and the pool xapi reports agree.
"""

import time

from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import agreement
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import reconcile


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
    record = bk.read(md)
    view['reason'] = record.reason
    view['failures'] = record.failures
    members = None
    if view['hypervisor_pool'] and recorded:
        _, members, view['xapi_error'] = reconcile.read_pool(agg, ctx.workflow.locator)
    if members is not None:
        live = membership_view(members)
        view['xapi_hosts'] = live['hosts']
        view['xapi_master'] = live['master']
        view['pool_name_label'] = live['name_label']
    result = agreement.compare(agg.name, agg.hosts, md, members,
                               error=view['xapi_error'], now=time.time())
    view['differences'] = list(result.differences) if view['hypervisor_pool'] else []
    view['unhealthy'] = list(result.unhealthy)
    view['consistent'] = not view['differences']
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
    for problem in view.get('unhealthy', ()):
        lines.append('  unhealthy: %s' % problem)
    if view.get('reason'):
        lines.append('  last failure: %s' % view['reason'])
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
            'error': report.error, 'busy': report.busy,
            'pending': report.pending, 'reason': report.reason,
            'agreed': report.agreed}


def render_report(r):
    lines = ['aggregate %s: %s -> %s, %s' % (
        r['name'], r['state_before'], r['state_after'],
        'agrees with xapi' if r['agreed'] else 'DOES NOT agree with xapi')]
    lines += ['  did: %s' % a for a in r['actions']]
    lines += ['  drift: %s' % d for d in r['drift']]
    lines += ['  unhealthy: %s' % u for u in r['unhealthy']]
    if r['error']:
        lines.append('  error: %s' % r['error'])
    if r.get('busy'):
        lines.append('  busy: %s' % r['busy'])
    if r.get('pending'):
        lines.append('  not known yet: %s' % r['pending'])
    if r.get('reason'):
        lines.append('  last failure: %s' % r['reason'])
    return '\n'.join(lines)
