"""The bench's measurements (see ``tools/bench.py``); each returns plain data."""

import collections
import contextlib
import json
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from xenpool_driver import conf as xenpool_conf
from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver import store as store_mod
from xenpool_driver.aggregates import workflow as workflow_mod
from xenpool_driver.simulator import lab as lab_mod
from xenpool_driver.xapi import connector as xconnector
from xenpool_driver.xapi import session as xsession
from xenpool_driver.xapi import settings as xsettings
from xenpool_driver.xapi import tasks

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: 1 xapi second lasts 50 ms: a join (22 xapi s) lasts 1.1 s.
DEFAULT_SCALE = 0.05
#: Per-call network latency, real milliseconds (a LAN round trip).
DEFAULT_LATENCY_MS = 0.5
#: The Nova / os-xenapi peer polls task.get_status this often (real seconds).
POLL_INTERVAL = 0.5
#: A post-eject reboot is on no measured path; shortened so labs settle fast.
EJECT_REBOOT = 10.0
#: Ceiling of every wait (never reached in a sound run).
CEILING = 120.0

#: Why the driver makes each XAPI call (section 3). A call without a reason
#: here shows as "?" in the table: it is a candidate to cut.
REASONS = {
    'session.login_with_password': 'log in (once per host handle; sessions are pooled)',
    'session.logout': 'end a session the pool no longer needs',
    'pool.get_all_records': 'pool record: master ref, name (snapshot / this_host / refs)',
    'host.get_all_records': 'membership: hosts, enabled, metrics refs',
    'host.get_record': "the joiner's own host record (uuid, address)",
    'host_metrics.get_all_records': 'liveness of every member (snapshot)',
    'host_metrics.get_record': "liveness of one host (joiner's, or the one awaited)",
    'pool.set_name_label': 'first host: the pool takes the aggregate name',
    'pool.get_record': 'preflight: the master pool (HA, other config)',
    'host.get_software_version': 'preflight: product version / brand must match',
    'PIF.get_all_records': 'preflight: management network / VLAN must match',
    'SR.get_all_records': 'preflight: joiner must have no shared SR',
    'VM.get_all_records': 'preflight / eject: guests resident on the host',
    'host.license_params': 'preflight: licence / edition',
    'Async.pool.join': 'the join itself, on the joiner',
    'Async.pool.join_force': 'the join itself (forced), on the joiner',
    'Async.pool.eject': 'the eject itself, on the master',
    'pool.designate_new_master': 'the master change itself',
    'event.from': ('wait for the task / liveness / settle without polling; while '
                   'xapi restarts (no events then) retried every 0.25 s at most'),
    'task.get_record': 'task state when event.from had no record yet',
    'task.destroy': 'free the finished task on xapi',
    'pool.add_to_other_config': ('host claim: xapi adds the key atomically, so a host is '
                                 'claimed by one aggregate only'),
    'pool.remove_from_other_config': 'host claim released (last host removed, failed join)',
}


def _scaled_sleep(scale):
    # NOTE: the driver's back-off waits are in xapi seconds too; a lab that
    # runs 1/scale times faster than xapi gets a driver that waits as much
    # less, or every ratio would blame the scale, not the driver.
    def sleep(seconds):
        time.sleep(seconds * scale)
    return sleep


def _stats(values):
    """:func:`spread` of ``values`` and their 95th percentile."""
    values = sorted(values)
    return dict(spread(values),
                p95=values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))])


def _latency_rule(scale, latency_ms):
    return {'kind': 'latency', 'method': '*', 'seconds': latency_ms / 1000.0 / scale,
            'times': None}


@contextlib.contextmanager
def in_process_lab(hosts, scale, latency_ms, **kw):
    timings = lab_timings()
    faults = {i: [_latency_rule(scale, latency_ms)] for i in range(hosts)}
    # NOTE: as ``xenpool lab serve``: a chosen password, else a generated one
    kw.setdefault('password', os.environ.get('XENPOOL_LAB_PASSWORD') or None)
    lab = lab_mod.Lab(hosts=hosts, time_scale=scale, timings=timings, faults=faults, **kw)
    with lab:
        yield lab


def make_conf(url, username, password):
    """The bench driver's configuration (:func:`xenpool_driver.conf.build`)."""
    return xenpool_conf.build(xenserver=dict(
        connection_url=url, connection_username=username,
        connection_password=password, call_timeout=CEILING,
        task_timeout=CEILING, live_timeout=CEILING))


class Driver(object):
    """The driver's real layers: connector, workflow, SQLite-backed aggregates."""

    def __init__(self, url, username, password, scale, urls, store_url):
        self.conf = make_conf(url, username, password)
        self.connector = xconnector.from_conf(self.conf, sleep=_scaled_sleep(scale))
        self.urls = urls
        self._seen = {}
        self.store = store_mod.Store(store_url)
        self.workflow = workflow_mod.Workflow(self.connector, conf=self.conf,
                                              host_locator=urls.get, owner='bench')

    def new_aggregate(self, name):
        return self.store.create_aggregate(name, {ps.POOL_FLAG: 'true', ps.KEY: ps.CREATED})

    def add(self, agg, host):
        agg.add_host(host)
        self.workflow.add(agg, host, slave_info={'url': self.urls[host]})

    def remove(self, agg, host):
        self.workflow.remove(agg, host)
        agg.delete_host(host)

    def call_counts(self):
        """Wire calls of every session handle this driver ever had."""
        # NOTE: handles seen once are kept: the connector may drop one (a
        # host that left the pool) and its calls must still count.
        for session in self.connector.handles():
            self._seen[id(session)] = session
        total = collections.Counter()
        for session in self._seen.values():
            total.update(session.call_counts)
        return total

    def close(self):
        self.connector.close()
        self.store.close()


# -- 1. completion detection -------------------------------------------------

def _poll_task(xs, task_ref, interval):
    """The Nova / os-xenapi waiter: task.get_status every ``interval`` s."""
    while True:
        if xs.call('task.get_status', task_ref) != 'pending':
            return
        time.sleep(interval)


def detection(n, scale, latency_ms, seed=1, poll_interval=POLL_INTERVAL,
              finish_after=(0.05, 0.6)):
    """Delay from the simulator finishing a task to each waiter returning.

    Each round starts one ``Async.host.disable`` task per waiter (the lab's
    ``hang`` fault holds them), then ends both at the same random moment
    (uniform in ``finish_after`` seconds) through the lab's cancel event; the lab
    records when it finished each task (``perf_counter``).
    """
    rng = random.Random(seed)
    with in_process_lab(1, scale, latency_ms) as lab:
        h = lab.hosts[0]
        settings = xsettings.SessionSettings(
            username=lab.username, password=lab.password, call_timeout=CEILING)
        ours = xsession.XapiSession(h.url, settings, sleep=_scaled_sleep(scale))
        peer = xsession.XapiSession(h.url, settings, sleep=_scaled_sleep(scale))
        host_ref = ours.call('host.get_all')[0]
        peer.call('host.get_all')
        delays = {'ours': [], 'poller': []}
        try:
            for _ in range(n):
                # NOTE: a hang holds both tasks until released (xapi cannot
                # cancel them either); one rule per round, released below.
                rule = h.faults.add('hang', 'host.disable', times=2)
                refs = {'ours': ours.call('Async.host.disable', host_ref),
                        'poller': peer.call('Async.host.disable', host_ref)}
                returned = {}

                def wait_ours():
                    try:
                        tasks.await_task(ours, refs['ours'], 'host.disable',
                                         time.monotonic() + CEILING, time.monotonic)
                    except exception.XapiError as exc:
                        assert exc.code == 'TASK_CANCELLED', exc
                    returned['ours'] = time.perf_counter()

                def wait_poller():
                    _poll_task(peer, refs['poller'], poll_interval)
                    returned['poller'] = time.perf_counter()

                threads = [threading.Thread(target=wait_ours),
                           threading.Thread(target=wait_poller)]
                for t in threads:
                    t.start()
                time.sleep(rng.uniform(*finish_after))
                rule.release()
                for t in threads:
                    t.join(CEILING)
                for key, ref in refs.items():
                    delays[key].append(returned[key] - lab.task_finished_at(ref))
                peer.call('task.destroy', refs['poller'])
        finally:
            ours.close()
            peer.close()
    out = {'n': n, 'ours': _stats(delays['ours']), 'poller': _stats(delays['poller']),
           'poll_interval': poll_interval}
    out['target_met'] = out['ours']['median'] <= 0.010
    return out


# -- 2 and 3. xapi's time and round trips ---------------------------------------

def lab_timings():
    """The bench's xapi delays (xapi's own, the post-eject reboot shortened)."""
    return lab_mod.Timings(eject_reboot=EJECT_REBOOT)


def lab_process(hosts, scale, latency_ms, password=None):
    """A lab of ``hosts`` in a process of its own (:class:`~.labproc.LabProcess`)."""
    from tools.benchlib import labproc
    return labproc.LabProcess(hosts, scale, latency_ms, password=password)


def critical_paths(timings, scale):
    """xapi's own time for each operation as the lab models it (real seconds)."""
    t = timings
    paths = {
        # Async.pool.join task, the joiner's restart fuse, xapi down, booting
        'add': t.join_duration + t.fuse + t.restart + t.boot,
        # Async.pool.eject task (the host has left the master's DB at its end)
        'remove': t.eject_duration,
        # designate (sync), every member restarts (fuse, down, booting), eject
        'master': t.designate_duration + t.fuse + t.restart + t.boot + t.eject_duration,
    }
    return {k: v * scale for k, v in paths.items()}


def restart_paths(timings, scale):
    """The part of each critical path after xapi's answer (real seconds): the
    restart fuse, xapi down, booting - timers the lab runs exactly as modelled."""
    restart = (timings.fuse + timings.restart + timings.boot) * scale
    return {'add': restart, 'remove': 0.0, 'master': restart}


#: XAPI calls whose server-side time is xapi's own work for a pool operation.
_ASYNC_POOL_OPS = frozenset({'Async.pool.join', 'Async.pool.join_force', 'Async.pool.eject'})
_SYNC_POOL_OPS = frozenset({'pool.designate_new_master'})


def xapi_work_of(calls, finishes):
    """Seconds xapi itself spent on the pool operations of a window, as recorded.

    Each async task counts from the arrival of its ``Async.`` call to the
    moment the lab finished it; each synchronous designate from arrival to
    answer. NOTE: this includes xapi's own work inside the task (the joiner's
    calls to the master, their latency), which is not the driver's.

    :param calls: ``[(host index, method, start, end)]`` that arrived in it.
    :param finishes: perf_counter() times at which tasks finished in it.
    :returns: seconds, or None when calls and tasks cannot be paired.
    """
    starts, sync = [], 0.0
    for _index, method, start, end in calls:
        if method in _ASYNC_POOL_OPS:
            starts.append(start)
        elif method in _SYNC_POOL_OPS:
            sync += end - start
    if len(starts) != len(finishes):
        return None
    # NOTE: the tasks of one operation run one after the other: pair in order
    return sync + sum(f - s for s, f in zip(sorted(starts), sorted(finishes)))


LABELS = {'add': 'add (join)', 'remove': 'remove (eject)',
          'master': 'remove master'}


#: Wire spellings of XAPI names (the SDK sends event.from as event_from).
WIRE = {'event_from': 'event.from'}


# -- 4. parallel pools -------------------------------------------------------

def _serve(tmp, hosts, scale, latency_ms):
    lab_file = os.path.join(tmp, 'lab-%d.json' % hosts)
    faults = os.path.join(tmp, 'faults-%d.json' % hosts)
    with open(faults, 'w') as f:
        json.dump({str(i): [_latency_rule(scale, latency_ms)] for i in range(hosts)}, f)
    proc = subprocess.Popen(
        [sys.executable, '-m', 'xenpool_driver.cli.main', 'lab', 'serve', '--hosts',
         str(hosts), '--lab-file', lab_file, '--time-scale', str(scale), '--faults', faults],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + CEILING
    while not os.path.exists(lab_file):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError('lab serve failed: %s' % proc.communicate()[1])
        time.sleep(0.05)
    return proc, lab_file


def process_cpu(pid):
    """CPU seconds (user + system) process ``pid`` has used, from /proc; None elsewhere."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except OSError:
        return None
    # NOTE: utime and stime are fields 14 and 15 of stat(5), in clock ticks
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def _run_workers(tmp, name, lab_file, scale, store, jobs, start_at, lab_pid=None):
    """Run one worker process per job (lists of [pool name, hosts]); all
    start their chains at ``start_at`` (perf_counter). Returns their outputs
    and, with ``lab_pid``, the lab process's CPU seconds over the run."""
    procs = []
    for i, job in enumerate(jobs):
        spec = os.path.join(tmp, '%s-%d.json' % (name, i))
        with open(spec, 'w') as f:
            json.dump({'lab_file': lab_file, 'scale': scale, 'store': store, 'chains': job,
                       'start_at': start_at, 'out': spec + '.out'}, f)
        procs.append((spec, subprocess.Popen(
            [sys.executable, os.path.join(ROOT, 'tools', 'bench.py'), '--worker', spec],
            cwd=ROOT)))
    lab_cpu = None
    if lab_pid is not None:
        time.sleep(max(0.0, start_at - time.perf_counter()))
        before = process_cpu(lab_pid)
    outs = []
    for spec, proc in procs:
        if proc.wait(timeout=CEILING * 3) != 0:
            raise RuntimeError('bench worker %s failed' % spec)
        with open(spec + '.out') as f:
            outs.append(json.load(f))
    if lab_pid is not None and before is not None:
        lab_cpu = process_cpu(lab_pid) - before
    return outs, lab_cpu


#: Seconds a worker process is given to start before the chains begin.
WORKER_START = 3.0


def parallel(pools, per_pool, scale, latency_ms, workers=1, store=None):
    """One solo chain, then ``pools`` chains at once, split over ``workers``
    driver processes, against ``xenpool lab serve`` (a process of its own).

    :param store: the store URL the workers share (default: a SQLite file).
    :returns: figures, including each side's CPU seconds over the parallel
        run: the driver processes' and the simulator's.
    """
    hosts = (pools + 1) * per_pool
    with tempfile.TemporaryDirectory(prefix='xenpool-bench-') as tmp:
        store = store or 'sqlite:///%s' % os.path.join(tmp, 'parallel.sqlite')
        proc, lab_file = _serve(tmp, hosts, scale, latency_ms)
        try:
            with open(lab_file) as f:
                names = [h['name'] for h in json.load(f)['hosts']]
            solo_job = [['solo', names[-per_pool:]]]
            (solo,), _ = _run_workers(tmp, 'solo', lab_file, scale, store, [solo_job],
                                      time.perf_counter() + WORKER_START)
            chains = [['pool-%02d' % i, names[i * per_pool:(i + 1) * per_pool]]
                      for i in range(pools)]
            jobs = [chains[w::workers] for w in range(workers)]
            start_at = time.perf_counter() + WORKER_START
            outs, lab_cpu = _run_workers(tmp, 'all', lab_file, scale, store, jobs,
                                         start_at, lab_pid=proc.pid)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.communicate(timeout=CEILING)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
    lengths = [c for out in outs for c in out['chains']]
    total = max(out['ended'] for out in outs) - start_at
    driver_cpu = sum(out['cpu'] for out in outs)
    return {'pools': pools, 'hosts_per_pool': per_pool, 'workers': workers,
            'store': store.split(':', 1)[0].split('+', 1)[0], 'solo_chain': solo['chains'][0],
            'total': total, 'longest_chain': max(lengths), 'chains': lengths,
            'factor': total / solo['chains'][0],
            'late': max(out['late'] for out in outs),
            'driver_cpu': driver_cpu, 'sim_cpu': lab_cpu,
            'driver_cpu_per_add': driver_cpu / (pools * per_pool),
            # NOTE: each chain's first step (its first host), in the run and solo
            'first_step': spread([st[0] for out in outs for st in out['steps']]),
            'solo_first_step': solo['steps'][0][0],
            'peak_rss_mib': max(out['peak_rss_mib'] for out in outs)}


def spread(values):
    """Median, min, max and n of ``values``."""
    return {'median': statistics.median(values), 'min': min(values), 'max': max(values),
            'n': len(values)}


def _chain(driver, name, hosts, steps=None):
    agg = driver.new_aggregate(name)
    t0 = time.perf_counter()
    for host in hosts:
        t = time.perf_counter()
        driver.add(agg, host)
        if steps is not None:
            steps.append(time.perf_counter() - t)
    return time.perf_counter() - t0


def parallel_worker(spec_path):
    """A driver process of :func:`parallel` (``bench.py --worker SPEC``):
    its chains in threads of one driver, started at the spec's ``start_at``."""
    with open(spec_path) as f:
        spec = json.load(f)
    with open(spec['lab_file']) as f:
        lab = json.load(f)
    urls = {h['name']: h['url'] for h in lab['hosts']}
    driver = Driver(lab['hosts'][0]['url'], lab['username'], lab['password'], spec['scale'],
                    urls, spec['store'])
    chains = [None] * len(spec['chains'])
    steps = [[] for _ in spec['chains']]
    errors = []

    def run(i, name, hosts):
        try:
            chains[i] = _chain(driver, name, hosts, steps[i])
        except Exception as exc:  # noqa: BLE001
            errors.append('%s: %s' % (name, exc))

    threads = [threading.Thread(target=run, args=(i, name, hosts))
               for i, (name, hosts) in enumerate(spec['chains'])]
    try:
        late = time.perf_counter() - spec['start_at']
        time.sleep(max(0.0, -late))
        cpu0 = time.process_time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ended = time.perf_counter()
        cpu = time.process_time() - cpu0
    finally:
        driver.close()
    if errors:
        raise RuntimeError('; '.join(errors))
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(spec['out'], 'w') as f:
        json.dump({'chains': chains, 'steps': steps, 'ended': ended, 'cpu': cpu,
                   'late': max(0.0, late), 'peak_rss_mib': rss_kib / 1024.0}, f)
    return 0


# -- 5. simulator throughput -------------------------------------------------

def simulator(seconds, method='host.get_name_label'):
    """Calls/s one simulated host serves (tools/sim_bench.py's measurement)."""
    from tools import sim_bench
    with lab_mod.Lab(hosts=1, time_scale=0.001) as lab:
        one = sim_bench.run(lab, 1, seconds, method)
        eight = sim_bench.run(lab, 8, seconds, method)
    return {'method': method, 'seconds': seconds, 'one': one, 'eight': eight}


# -- a shared PostgreSQL store ------------------------------------------------

#: The local server the tests use too (``XENPOOL_TEST_POSTGRES_URL`` overrides).
POSTGRES_URL = 'postgresql+psycopg://postgres@127.0.0.1:5432/test'


@contextlib.contextmanager
def postgres_schema():
    """``(url, None)`` of a fresh schema on the PostgreSQL test database,
    dropped afterwards; ``(None, reason)`` when the server is unreachable."""
    import uuid

    import sqlalchemy as sa
    from sqlalchemy import pool as sa_pool
    url = sa.engine.make_url(os.environ.get('XENPOOL_TEST_POSTGRES_URL') or POSTGRES_URL)
    engine = sa.create_engine(url, poolclass=sa_pool.NullPool,
                              connect_args={'connect_timeout': 3})
    schema = 'xenpool_bench_%s' % uuid.uuid4().hex[:12]
    try:
        with engine.begin() as conn:
            conn.execute(sa.text('CREATE SCHEMA "%s"' % schema))
    except Exception as exc:  # noqa: BLE001 - NOTE: any failure: no usable server
        engine.dispose()
        yield None, 'PostgreSQL at %s is unreachable (%s)' % (
            url.render_as_string(hide_password=True),
            str(getattr(exc, 'orig', exc)).strip().splitlines()[0])
        return
    try:
        yield url.update_query_dict({'options': '-csearch_path=%s' % schema}
                                    ).render_as_string(hide_password=False), None
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text('DROP SCHEMA IF EXISTS "%s" CASCADE' % schema))
        engine.dispose()
