"""Ours against the peers, interleaved on one lab (sections 2-4 of the bench).

Every peer runs the same cycle on the same three hosts of one
:class:`~.labproc.LabProcess`: host1 is the master; host2 and host3 join
(two measured adds); host1, the master, is removed (a measured master
removal: a designate, then its eject); the remaining slave is removed (a
measured slave removal). Runs rotate the order of the peers, so that no peer
always follows another's eject reboot. xapi's own time for each operation is
read from the lab's records of ours (the ``Async.`` tasks from arrival to
finish, the designate's call, plus the modelled restart): one lab, one set of
timings, so it is every peer's.
"""

import collections
import os
import time

from tools.benchlib import measure
from tools.benchlib import nova_peer

OPS = ('add', 'remove', 'master')


class OursPeer:
    """Ours: the driver's workflow (what ``add_to_aggregate`` and
    ``remove_from_aggregate`` run), with its SQLite bookkeeping.

    NOTE: a compute service changes the aggregate's host list before it calls
    the driver (Nova's ``AggregateAPI.add_host_to_aggregate`` /
    ``remove_host_from_aggregate``): that write is the service's, made before
    the measured call, as there.
    """

    label = 'ours'

    def __init__(self, lab, scale, store_url):
        self.lab = lab
        urls = {h.name: h.url for h in lab.hosts}
        self.driver = measure.Driver(lab.hosts[0].url, lab.username, lab.password,
                                     scale, urls, store_url)
        self.agg = None
        #: the slave ours designated when the master left (the peers follow it)
        self.chosen = None
        self.rounds = 0
        self.cpu = collections.defaultdict(list)
        self.calls = {}

    def _timed(self, op, fn):
        before = self.driver.call_counts()
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - t0
        self.cpu[op].append(time.process_time() - cpu0)
        self.calls.setdefault(op, self.driver.call_counts() - before)
        return elapsed

    def begin(self, first):
        self.rounds += 1
        self.agg = self.driver.new_aggregate('bench-%d' % self.rounds)
        self.driver.add(self.agg, first.name)

    def add(self, joiner, master):
        self.agg.add_host(joiner.name)
        return self._timed('add', lambda: self.driver.workflow.add(
            self.agg, joiner.name, slave_info={'url': joiner.url}))

    def remove_master(self, master, new_master):
        self.agg.delete_host(master.name)
        elapsed = self._timed('master', lambda: self.driver.workflow.remove(
            self.agg, master.name))
        chosen = self.agg.metadata['master_compute']
        if new_master is not None and chosen != new_master.name:
            raise RuntimeError('ours designated %s, not %s as before' % (chosen, new_master.name))
        self.chosen = next(h for h in self.lab.hosts if h.name == chosen)
        return elapsed

    def remove(self, master, host):
        self.agg.delete_host(host.name)
        return self._timed('remove', lambda: self.driver.workflow.remove(
            self.agg, host.name))

    def end(self, last):
        self.driver.remove(self.agg, last.name)

    def close(self):
        self.driver.close()


def _cycle(lab, peer, windows, ours):
    """One cycle of ``peer``; appends ``(op, seconds, t0, t1)`` to ``windows``.

    NOTE: the new master is the slave ours designates (its rule: the first
    live recorded slave xapi lists); every peer designates the same one.
    """
    h1, h2, h3 = lab.hosts[:3]

    def run(op, fn, *args):
        t0 = time.perf_counter()
        seconds = fn(*args)
        windows.append((op, seconds, t0, time.perf_counter()))

    peer.begin(h1)
    run('add', peer.add, h2, h1)
    run('add', peer.add, h3, h1)
    run('master', peer.remove_master, h1, ours.chosen)
    new = ours.chosen
    slave = h3 if new is h2 else h2
    run('remove', peer.remove, new, slave)
    peer.end(new)
    if not lab.settle(measure.CEILING):
        raise RuntimeError('lab did not settle after a cycle of %s' % peer.label)


def _xapi_seconds(lab, t0, t1, restart):
    """xapi's time in one window of ours (see :func:`measure.xapi_work_of`)."""
    work = measure.xapi_work_of(lab.calls(t0, t1), lab.finished(t0, t1))
    return None if work is None else work + restart


def _lab_counts(lab, t0, t1):
    counts = collections.Counter()
    for _index, method, _start, _end in lab.calls(t0, t1):
        counts[measure.WIRE.get(method, method)] += 1
    return counts


def compare(runs, scale, latency_ms, tmp, with_xo=True):
    """Run every peer ``runs`` times, interleaved; figures per operation.

    :returns: ``{'runs', 'peers': [labels], 'xo_missing': reason or None,
        'ops': {op: {'xapi': spread, 'ours': spread, 'nova': ..., 'xo': ...,
        'vs_nova', 'vs_xo', 'overhead'}}, 'round_trips': {...}, 'cpu': {...}}``.
    """
    timings = measure.lab_timings()
    restarts = measure.restart_paths(timings, scale)
    password = os.environ.get('XENPOOL_LAB_PASSWORD') or None
    with measure.lab_process(3, scale, latency_ms, password) as lab:
        ours = OursPeer(lab, scale, 'sqlite:///%s' % os.path.join(tmp, 'compare.sqlite'))
        nova = nova_peer.NovaPeer(lab.username, lab.password)
        peers = [ours, nova]
        xo_missing, xo, ok = None, None, False
        if with_xo:
            # NOTE: imported only when asked for (node and the npm client)
            from tools.benchlib import xo_peer
            ok, reason = xo_peer.available()
        if ok:
            xo = _XoAdapter(lab, xo_peer)
            peers.append(xo)
        else:
            xo_missing = reason if with_xo else 'not asked for'
        samples = collections.defaultdict(lambda: collections.defaultdict(list))
        xapi = collections.defaultdict(list)
        first_windows = {}
        try:
            for run in range(runs):
                order = peers[run % len(peers):] + peers[:run % len(peers)]
                for peer in order:
                    windows = []
                    _cycle(lab, peer, windows, ours)
                    for op, seconds, t0, t1 in windows:
                        samples[op][peer.label].append(seconds)
                        if peer is ours:
                            spent = _xapi_seconds(lab, t0, t1, restarts[op])
                            if spent is not None:
                                xapi[op].append(spent)
                            first_windows.setdefault(op, (t0, t1))
            trips = {op: _round_trips(op, ours.calls[op], _lab_counts(lab, *first_windows[op]))
                     for op in OPS}
        finally:
            ours.close()
            nova.close()
            if xo is not None:
                xo.close()
    out = {'runs': runs, 'peers': [p.label for p in peers], 'xo_missing': xo_missing,
           'poll_interval': nova.poll, 'ops': {}, 'round_trips': trips,
           'cpu': {op: measure.spread(ours.cpu[op]) for op in OPS}}
    for op in OPS:
        row = {'label': measure.LABELS[op],
               'xapi': measure.spread(xapi[op] or [measure.critical_paths(timings, scale)[op]])}
        for label, key in (('ours', 'ours'), (nova.label, 'nova'), ('XenOrchestra', 'xo')):
            if samples[op].get(label):
                row[key] = measure.spread(samples[op][label])
        row['overhead'] = row['ours']['median'] / row['xapi']['median']
        for key in ('nova', 'xo'):
            if key in row:
                row['vs_' + key] = row['ours']['median'] / row[key]['median']
        out['ops'][op] = row
    return out


class _XoAdapter:
    """XenOrchestra's client: the same cycle through :class:`~.xo_peer.XoPeer`.

    NOTE: one node program per cycle: its clients of the cycle before follow
    hosts that were ejected and rebooted since; set-up and connections
    (untimed) are what a running XenOrchestra has already.
    """

    label = 'XenOrchestra'

    def __init__(self, lab, module):
        self.lab = lab
        self.module = module
        self.peer = None

    def begin(self, first):
        self.peer = self.module.XoPeer(self.lab)
        self.peer.start()
        self.peer.connect(first.url)

    def end(self, last):
        self.peer.close()
        self.peer = None

    def add(self, joiner, master):
        self.peer.connect(joiner.url)
        return self.peer.add(joiner.url, master.url, master.address)

    def remove_master(self, master, new_master):
        return self.peer.remove_master(master.url, new_master.uuid, master.uuid,
                                       new_master.url)

    def remove(self, master, host):
        return self.peer.remove(master.url, host.uuid)

    def close(self):
        if self.peer is not None:
            self.peer.close()


def _round_trips(op, driver, lab_counts):
    internal = {m: lab_counts[m] - driver.get(m, 0) for m in lab_counts
                if lab_counts[m] > driver.get(m, 0)}
    return {'label': measure.LABELS[op], 'driver': dict(driver),
            'driver_total': sum(driver.values()), 'lab': dict(lab_counts),
            'xapi_internal': internal, 'xapi_internal_total': sum(internal.values()),
            'reasons': {m: measure.REASONS.get(m, '?') for m in driver}}
