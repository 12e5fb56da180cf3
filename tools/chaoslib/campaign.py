"""A seeded, model-based random campaign against simulated labs.

One *sequence* is a fresh lab of :data:`HOSTS` hosts, two aggregates in one
store (SQLite file or PostgreSQL) and two actors (drivers with their own
connectors and owner names, as two compute services or two CLIs). Each step
is drawn from the sequence's own ``random.Random`` (seeded with the campaign
seed and the sequence number, so ``--seed S --only I`` replays one sequence
exactly as it ran) and is one of:

* ``add`` / ``remove`` of a host by one actor (the remove may hit a slave, the
  master or the last host), as a compute service calls the hooks (host list
  first on add, undo on failure);
* ``dead``: a slave's xapi stops, the master reports it offline, and the
  actor removes it with ``dead=True``;
* ``reconcile`` by the other actor;
* ``fault``: one rule of the simulator's fault plan (an XAPI error, a dropped
  connection before or after the effect) armed on a random host for the
  next step;
* ``kill``: the add or remove runs in a child process that is SIGKILLed after
  it made a random number of XAPI calls; the other actor then reconciles;
* ``race``: both actors act at once on overlapping aggregates and hosts.

After every step the invariants of :mod:`.invariants` are checked; a
violation is recorded with the step that caused it, and the sequence stops.
"""

import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time

from tests.functional.faults import harness
from xenpool_driver import pool_states as ps
from xenpool_driver import store as store_mod
from xenpool_driver.simulator import Lab

from tools.chaoslib import invariants

HOSTS = 5
AGGREGATES = ('pool-a', 'pool-b')
STEPS = ('add', 'add', 'add', 'remove', 'remove', 'dead', 'reconcile', 'fault',
         'kill', 'race')
FAULTS = (
    dict(kind='fail', method='pool.join', code='JOINING_HOST_CONNECTION_FAILED'),
    dict(kind='fail', method='pool.eject', code='INTERNAL_ERROR', params=['chaos']),
    dict(kind='drop', method='pool.join', when='after'),
    dict(kind='drop', method='pool.eject', when='after'),
    dict(kind='drop', method='pool.designate_new_master', when='before'),
    dict(kind='fail', method='session.login_with_password',
         code='SESSION_AUTHENTICATION_FAILED'),
)
#: Bound of one step's wait for a killed operation to be repairable (s).
REPAIR_BOUND = 30.0
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclasses.dataclass
class Violation:
    seed: int
    sequence: int
    step: int
    action: str
    problems: list


@dataclasses.dataclass
class Result:
    sequences: int = 0
    steps: int = 0
    violations: list = dataclasses.field(default_factory=list)


class Sequence:
    """One lab, one store, two actors; :meth:`run` plays ``steps`` steps."""

    def __init__(self, seed, index, store_url, workdir, time_scale=0.004):
        self.seed, self.index = seed, index
        self.rng = random.Random('%d:%d' % (seed, index))
        self.lab = Lab(hosts=HOSTS, time_scale=time_scale).start()
        self.info = self.lab.describe()
        self.store_url = store_url
        # NOTE: every other sequence plays the xenpool command (the host
        # lists are the workflow's, repaired by reconcile), the others a
        # compute service (its lists are its own: reported, never changed).
        self.owns_lists = index % 2 == 0
        self.store = store_mod.Store(store_url, owns_host_lists=self.owns_lists)
        self.workdir = workdir
        # NOTE: names unique per run: a PostgreSQL store is shared across runs
        tag = '%d-%d-%s' % (seed, index, os.urandom(3).hex())
        self.aggs = [self.store.create_aggregate(
            '%s-%s' % (name, tag), {ps.POOL_FLAG: 'true', ps.KEY: ps.CREATED})
            for name in AGGREGATES]
        self.actors = [harness.make_driver(self.info) for _ in range(2)]
        for i, actor in enumerate(self.actors):
            actor.workflow.owner = 'chaos-actor-%d' % i
        # NOTE: the actor that repairs after a kill has waited out the killed
        # owner's lease (a clock one lease ahead): it may take over.
        expiry = harness.make_conf(self.info).xenserver.lease_expiry
        self.repairer = harness.make_driver(
            self.info, clock=lambda: time.time() + expiry + 1.0)
        self.repairer.workflow.owner = 'chaos-repairer'
        self.log = []

    def close(self):
        for actor in self.actors + [self.repairer]:
            actor.workflow.connector.close()
        self.store.close()
        self.lab.close()

    # -- choices ---------------------------------------------------------------

    def _names(self):
        return [h['name'] for h in self.info['hosts']
                if self.lab.hosts[self._index(h['name'])].state == 'running']

    def _index(self, name):
        return [h.name for h in self.lab.hosts].index(name)

    def _pick(self):
        agg = self.rng.choice(self.aggs)
        agg.refresh()
        return agg, self.rng.choice(self._names())

    def _pick_member(self):
        agg = self.rng.choice(self.aggs)
        agg.refresh()
        members = sorted(agg.hosts)
        return agg, (self.rng.choice(members) if members else None)

    # -- steps -------------------------------------------------------------------

    def run(self, steps, result):
        for number in range(steps):
            action = self.rng.choice(STEPS)
            detail = getattr(self, '_step_' + action)()
            self.log.append('%s %s' % (action, detail))
            result.steps += 1
            # NOTE: a fault is armed for its step only: the invariants read
            # reality through the same xapis
            for host in self.lab.hosts:
                host.faults.clear()
            problems = invariants.check_all(self.lab, self.store, self.aggs)
            if problems:
                result.violations.append(Violation(
                    self.seed, self.index, number, '; '.join(self.log), problems))
                return

    def _hook(self, actor, op, agg, host):
        try:
            if op == 'add':
                harness.add(actor, self.info, agg, host)
            else:
                harness.remove(actor, agg, host)
            return 'ok'
        except Exception as exc:  # noqa: BLE001 - NOTE: refusals are expected
            return '%s: %s' % (type(exc).__name__, str(exc)[:80])

    def _step_add(self):
        agg, host = self._pick()
        return '%s %s -> %s' % (agg.name, host, self._hook(self.actors[0], 'add', agg, host))

    def _step_remove(self):
        agg, host = self._pick_member()
        if host is None:
            return 'nothing to remove'
        return '%s %s -> %s' % (agg.name, host,
                                self._hook(self.actors[0], 'remove', agg, host))

    def _step_dead(self):
        agg, host = self._pick_member()
        if host is None or agg.metadata.get('master_compute') == host:
            return 'no slave to kill'
        index = self._index(host)
        self.lab.stop(index, mark_offline=True)
        outcome = self._remove_dead(agg, host)
        if outcome == 'ok':
            # NOTE: a forgotten host comes back reinstalled, standalone
            self.lab.reboot_standalone(self.lab.hosts[index])
        else:
            self.lab.start_host(index)
        return '%s %s -> %s' % (agg.name, host, outcome)

    def _remove_dead(self, agg, host):
        try:
            harness.remove(self.actors[0], agg, host, dead=True)
        except Exception as exc:  # noqa: BLE001
            return '%s: %s' % (type(exc).__name__, str(exc)[:80])
        return 'ok'

    def _step_reconcile(self):
        agg = self.rng.choice(self.aggs)
        agg.refresh()
        report = self.actors[1].reconcile(agg)
        return '%s -> %s' % (agg.name, report.actions or report.drift or 'agreed')

    def _step_fault(self):
        rule = dict(self.rng.choice(FAULTS))
        host = self.rng.choice(self.lab.hosts)
        host.faults.add(rule.pop('kind'), rule.pop('method'), **rule)
        return 'armed on %s, then %s' % (host.name, self._step_add()
                                          if self.rng.random() < 0.5 else self._step_remove())

    def _step_race(self):
        plans = []
        for actor in self.actors:
            if self.rng.random() < 0.6:
                agg, host = self._pick()
                plans.append((actor, 'add', self.store.get_aggregate(agg.name), host))
            else:
                agg, host = self._pick_member()
                if host is not None:
                    plans.append((actor, 'remove', self.store.get_aggregate(agg.name), host))
        outcomes = [None] * len(plans)

        def act(i, plan):
            outcomes[i] = self._hook(*plan)
        threads = [threading.Thread(target=act, args=(i, p)) for i, p in enumerate(plans)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(REPAIR_BOUND * 4)
        return ' | '.join('%s %s %s -> %s' % (p[1], p[2].name, p[3], o)
                          for p, o in zip(plans, outcomes))

    def _step_kill(self):
        if self.rng.random() < 0.6:
            agg, host = self._pick()
            op = 'add'
        else:
            agg, host = self._pick_member()
            op = 'remove'
            if host is None:
                return 'nothing to remove'
        calls = self.rng.randint(1, 40)
        killed = self._run_child_and_kill(op, agg, host, calls)
        agg.refresh()
        repaired = self._repair(agg)
        return '%s %s %s after %d calls: %s; %s' % (op, agg.name, host, calls,
                                                   killed, repaired)

    def _run_child_and_kill(self, op, agg, host, calls):
        spec = dict(lab=self.info, store=self.store_url, aggregate=agg.name,
                    op=op, host=host)
        fd, path = tempfile.mkstemp(suffix='.json', dir=self.workdir)
        with os.fdopen(fd, 'w') as f:
            json.dump(spec, f)
        before = self._call_count()
        child = subprocess.Popen(
            [sys.executable, '-m', 'tests.functional.faults.crash_child', path],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait(lambda: child.poll() is not None or
                  self._call_count() - before >= calls, REPAIR_BOUND)
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
                child.wait()
                return 'killed'
            return 'exited %d' % child.returncode
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            os.unlink(path)

    def _call_count(self):
        return sum(len(h.calls) for h in self.lab.hosts)

    def _repair(self, agg):
        """The other actor reconciles until nothing is in flight (bounded)."""
        deadline = time.monotonic() + REPAIR_BOUND
        while True:
            self.lab.settle(timeout=REPAIR_BOUND)
            agg.refresh()
            report = self.repairer.reconcile(agg)
            agg.refresh()
            if agg.metadata.get(ps.KEY) != ps.CHANGING or time.monotonic() > deadline:
                return 'reconcile: %s' % (report.actions or report.drift or 'agreed')
            time.sleep(0.05)  # NOTE: an outcome not known yet: look again


def _wait(predicate, timeout):
    """Poll ``predicate`` every 2 ms until true or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.002)


def run(seed, sequences, steps=8, store_urls=('sqlite',), only=None, progress=None):
    """Play ``sequences`` sequences of ``steps`` steps; returns a :class:`Result`.

    :param store_urls: store kinds to alternate between: ``'sqlite'`` (a file
        per sequence) or a SQLAlchemy URL (e.g. PostgreSQL).
    :param only: replay just this sequence number.
    """
    result = Result()
    with tempfile.TemporaryDirectory(prefix='xenpool-chaos-') as workdir:
        for index in range(sequences):
            if only is not None and index != only:
                continue
            kind = store_urls[index % len(store_urls)]
            url = ('sqlite:///%s/chaos-%d.sqlite' % (workdir, index)
                   if kind == 'sqlite' else kind)
            seq = Sequence(seed, index, url, workdir)
            try:
                seq.run(steps, result)
            finally:
                seq.close()
            result.sequences += 1
            if progress is not None:
                progress(index, result)
    return result
