#!/usr/bin/env python3
"""Benchmark: how close the driver gets to xapi's own time, side by side
with a polling peer, on the simulated lab.

    python tools/bench.py [--json PATH] [--scale 0.05] [--quick]

Every lab here runs xapi's realistic delays (:class:`Timings`) multiplied by
``--scale`` and adds a per-call network latency (a ``latency`` fault on
every method). The driver's own back-off sleeps are scaled the same way, so
ratios mean what they would mean against real xapi; absolute figures are
this machine's only.

Sections: 1. completion detection delay (ours: ``event.from``; the Nova peer:
``task.get_status`` every 0.5 s, interleaved in the same run); 2. driver
overhead (wall time / xapi's modelled critical path); 3. round trips per
operation from the lab's call log, each with its reason; 4. parallel pools
(20 x 4 hosts in one lab served by ``xenpool lab serve``; the driver runs in
its own process so its peak RSS is its own); 5. simulator throughput.
"""

import argparse
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tools.benchlib import measure  # noqa: E402


def _fmt_ms(seconds):
    return '%.1f' % (seconds * 1000.0)


def render(results):
    """The table (list of lines) for ``results``."""
    lines = []
    cfg = results['config']
    lines.append('xenpool bench  %s  cores=%s  scale=%g  latency=%.2f ms/call' % (
        results['date'], results['cores'], cfg['scale'], cfg['latency_ms']))
    d = results['detection']
    lines.append('')
    lines.append('1. completion detection delay (%d tasks each, interleaved)' % d['n'])
    lines.append('   %-28s %10s %10s %10s' % ('waiter', 'median ms', 'p95 ms', 'max ms'))
    for key, label in (('ours', 'ours (event.from)'), ('poller', 'peer (poll 0.5 s)')):
        s = d[key]
        lines.append('   %-28s %10s %10s %10s' % (label, _fmt_ms(s['median']),
                                                 _fmt_ms(s['p95']), _fmt_ms(s['max'])))
    lines.append('   target ours median <= 10 ms: %s' % ('met' if d['target_met'] else 'MISSED'))
    o = results['overhead']
    lines.append('')
    lines.append('2. driver overhead (wall / xapi critical path: task and designate times as the '
                 'lab recorded them + the modelled restart, %d runs each)' % o['runs'])
    lines.append('   %-16s %10s %10s %10s %10s' % ('operation', 'wall ms', 'xapi ms',
                                                  'extra ms', 'ratio'))
    for op in ('add', 'remove', 'master'):
        s = o[op]
        lines.append('   %-16s %10s %10s %10s %10.3f' % (
            s['label'], _fmt_ms(s['wall']), _fmt_ms(s['xapi']),
            _fmt_ms(s['wall'] - s['xapi']), s['ratio']))
    lines.append('   target <= 1.03: %s' % ', '.join(
        '%s %s' % (op, 'met' if o[op]['ratio'] <= 1.03 else 'MISSED')
        for op in ('add', 'remove', 'master')))
    r = results['round_trips']
    lines.append('')
    lines.append('3. XAPI round trips per operation (lab call log)')
    for op in ('add', 'remove', 'master'):
        s = r[op]
        lines.append('   %s: %d by the driver, %d inside xapi' % (
            s['label'], s['driver_total'], s['xapi_internal_total']))
        for method, n in sorted(s['driver'].items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append('     %3d  %-32s %s' % (n, method, s['reasons'].get(method, '?')))
        if s['xapi_internal']:
            lines.append('     (xapi-internal: %s)' % ', '.join(
                '%s x%d' % kv for kv in sorted(s['xapi_internal'].items())))
    p = results['parallel']
    lines.append('')
    lines.append('4. parallel pools: %d aggregates x %d hosts in one lab' % (
        p['pools'], p['hosts_per_pool']))
    lines.append('   solo chain %.2f s, all pools %.2f s, longest chain in the run %.2f s' % (
        p['solo_chain'], p['total'], p['longest_chain']))
    lines.append('   parallel factor (all / solo chain) %.3f (target <= 1.2: %s); '
                 'all / longest chain %.3f' % (p['factor'],
                                               'met' if p['factor'] <= 1.2 else 'MISSED',
                                               p['total'] / p['longest_chain']))
    lines.append('   driver process peak RSS %.1f MiB' % p['peak_rss_mib'])
    s = results['simulator']
    lines.append('')
    lines.append('5. simulator throughput (%s, XML-RPC keep-alive)' % s['method'])
    lines.append('   1 client %.0f calls/s, 8 clients %.0f calls/s' % (s['one'], s['eight']))
    lines.append('')
    lines.append('ratios (stable across machines): overhead, parallel factor; '
                 'absolute (this machine only): ms, calls/s, RSS')
    lines.append(summary_line(results))
    return lines


def summary_line(results):
    o = results['overhead']
    return ('bench: detection median %s ms (poller %s ms), overhead add %.3f / remove %.3f / '
            'master %.3f, parallel %.3f, sim %.0f calls/s' % (
                _fmt_ms(results['detection']['ours']['median']),
                _fmt_ms(results['detection']['poller']['median']),
                o['add']['ratio'], o['remove']['ratio'], o['master']['ratio'],
                results['parallel']['factor'], results['simulator']['one']))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--json', metavar='PATH', help='write the figures as JSON')
    parser.add_argument('--scale', type=float, default=measure.DEFAULT_SCALE,
                        help='xapi time scale (default %(default)s)')
    parser.add_argument('--latency-ms', type=float, default=measure.DEFAULT_LATENCY_MS,
                        help='per-call network latency, real ms (default %(default)s)')
    parser.add_argument('--tasks', type=int, default=20, help='detection samples per waiter')
    parser.add_argument('--runs', type=int, default=3, help='overhead runs per operation')
    parser.add_argument('--pools', type=int, default=20)
    parser.add_argument('--sim-seconds', type=float, default=2.0)
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return measure.parallel_worker(args.worker)
    started = time.monotonic()
    results = {
        'date': time.strftime('%Y-%m-%d %H:%M'),
        'cores': os.cpu_count(),
        'python': platform.python_version(),
        'config': {'scale': args.scale, 'latency_ms': args.latency_ms},
    }
    results['detection'] = measure.detection(args.tasks, args.scale, args.latency_ms)
    results['overhead'], results['round_trips'] = measure.operations(
        args.runs, args.scale, args.latency_ms)
    results['parallel'] = measure.parallel(args.pools, 4, args.scale, args.latency_ms)
    results['simulator'] = measure.simulator(args.sim_seconds)
    results['seconds'] = time.monotonic() - started
    for line in render(results):
        print(line)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=2, sort_keys=True)
            f.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
