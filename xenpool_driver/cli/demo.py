"""``xenpool demo``: the whole thing on an embedded simulated lab.

Starts a lab of four simulated XCP-ng hosts in this process, creates a
hypervisor-pool aggregate in a throw-away store, adds the four hosts (the
first becomes master, the others join over real HTTP with the real XenAPI
SDK), removes the master of the non-empty pool (designate, then eject),
and after each step shows metadata and the live pool side by side. Exits 0
only when metadata and reality agree at every step.
"""

import argparse
import os
import sys
import tempfile
import time


from xenpool_driver import conf as xenpool_conf
from xenpool_driver import pool_states as ps
from xenpool_driver.cli import context as context_mod
from xenpool_driver.cli import progress as progress_mod
from xenpool_driver.cli import views
from xenpool_driver.store import conf as store_conf

#: Scaled xapi delays: 1 xapi second lasts this long (a 10 s fuse: 0.2 s).
DEFAULT_TIME_SCALE = 0.02


def _parse(argv):
    parser = argparse.ArgumentParser(prog='xenpool demo', description=__doc__.split('\n')[0])
    parser.add_argument('--hosts', type=int, default=4, help='lab hosts (>= 2; default 4)')
    parser.add_argument('--time-scale', type=float, default=DEFAULT_TIME_SCALE,
                        help='multiplier of xapi delays (1.0 = real xapi timing)')
    parser.add_argument('--tls', action='store_true', help='serve HTTPS, verified with the '
                        "lab's CA")
    args = parser.parse_args(argv)
    if args.hosts < 2:
        parser.error('--hosts must be at least 2')
    return args


def main(argv=None):
    """Run the demo; returns 0 when every step ended consistent."""
    from xenpool_driver.simulator import lab as lab_mod

    args = _parse(sys.argv[1:] if argv is None else argv)
    out = sys.stdout
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix='xenpool-demo-') as tmp, \
            lab_mod.Lab(hosts=args.hosts, time_scale=args.time_scale, tls=args.tls) as lab:
        out.write('lab: %d simulated hosts on %s (time scale %g)\n' % (
            len(lab.hosts), ', '.join(h.url for h in lab.hosts), args.time_scale))
        conf = xenpool_conf.build(registrars=[store_conf.register_opts])
        ctx = context_mod.Context(
            conf, lab=context_mod.LabFile(lab.describe()),
            store_url='sqlite:///' + os.path.join(tmp, 'aggregates.sqlite'),
            progress=progress_mod.Progress(stream=out))
        try:
            ok = _run(ctx, lab, out)
        finally:
            ctx.close()
    out.write('demo %s in %.1f s\n' % ('finished' if ok else 'FAILED',
                                       time.monotonic() - started))
    return 0 if ok else 1


def _run(ctx, lab, out):
    names = [h.name for h in lab.hosts]
    agg = ctx.store.create_aggregate('demo-pool', {ps.POOL_FLAG: 'true', ps.KEY: ps.CREATED})
    steps = [('create aggregate demo-pool', None)]
    steps += [('add %s%s' % (n, ' (becomes master)' if i == 0 else ' (pool.join)'),
               ('add', n)) for i, n in enumerate(names)]
    steps.append(('remove master %s (designate, then eject)' % names[0], ('remove', names[0])))
    ok = True
    for number, (title, action) in enumerate(steps, 1):
        out.write('\n== step %d: %s\n' % (number, title))
        t0 = time.monotonic()
        if action is not None:
            verb, host = action
            if verb == 'add':
                ctx.workflow.add(agg, host, slave_info={'url': ctx.locate(host)})
            else:
                ctx.workflow.remove(agg, host)
            ctx.progress.close()
        agg.refresh()
        view = views.aggregate_view(ctx, agg)
        out.write(views.render(view) + '\n')
        out.write('  (%.2f s)\n' % (time.monotonic() - t0))
        ok = ok and view['consistent']
    return ok
