"""Crash safety: SIGKILL the driver at each step of join, eject, designate.

The driver runs in a child process (:mod:`.crash_child`) against a lab that
runs here, in the parent. A simulator fault holds the child at the chosen
step (a latency on the call that comes next, or a task that never ends); the
parent sees it arrive (the rule fired, the task exists, the effect is in the
master's database) and kills the child. A fresh driver then runs
``init_host`` (reconcile), and metadata must equal reality read through the
XenAPI SDK: ``active``, no intent record, nothing half-joined or
half-ejected.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.functional.faults import harness
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import bookkeeping as bk

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

#: xapi seconds of a latency that holds a call until the lab closes.
HOLD = 1e6


def _rule(host, kind, method, **kw):
    kw.setdefault('times', 1)
    rule = host.faults.add(kind, method, **kw)
    # NOTE: a fired rule leaves the plan; the test releases hung ones later
    ARMED.append(rule)
    return rule


#: Every rule armed by the running test.
ARMED = []


def _fired(rule):
    return lambda lab: rule.fired >= 1


def _in_master_db(lab, master, uuid):
    return any(r.get('uuid') == uuid
               for r in master.db.tables['host'].values())


# Each point: (op, pool hosts, host, arm(lab) -> predicate, outcome)
# outcome: 'rolled back' (the host is where it was) or 'finished'.

def _join_before_call(lab):
    return _fired(_rule(lab.hosts[1], 'latency', 'session.login_with_password',
                        seconds=HOLD))


def _join_task_before_effect(lab):
    return _fired(_rule(lab.hosts[1], 'hang', 'pool.join'))


def _join_task_after_effect(lab):
    _rule(lab.hosts[1], 'hang', 'pool.join', after_effect=True)
    return lambda lab: _in_master_db(lab, lab.hosts[0], lab.hosts[1].uuid)


def _join_after_task(lab):
    # NOTE: the task is read (success); its destroy is the next call.
    return _fired(_rule(lab.hosts[1], 'latency', 'task.destroy', seconds=HOLD))


def _join_waiting_live(lab):
    return _fired(_rule(lab.hosts[0], 'latency', 'event.from', seconds=HOLD))


def _join_live_before_write(lab):
    rule = _rule(lab.hosts[0], 'latency', 'host_metrics.get_record',
                 seconds=HOLD)
    joiner = lab.hosts[1]
    return lambda lab: rule.fired and joiner.state == 'running' and \
        joiner.role == 'slave'


def _eject_before_call(lab):
    return _fired(_rule(lab.hosts[0], 'latency', 'session.login_with_password',
                        seconds=HOLD))


def _eject_task_before_effect(lab):
    return _fired(_rule(lab.hosts[0], 'hang', 'pool.eject'))


def _eject_task_after_effect(lab):
    _rule(lab.hosts[0], 'hang', 'pool.eject', after_effect=True)
    return lambda lab: not _in_master_db(lab, lab.hosts[0], lab.hosts[1].uuid)


def _eject_after_task(lab):
    return _fired(_rule(lab.hosts[0], 'latency', 'task.destroy', seconds=HOLD))


def _designate_before_effect(lab):
    return _fired(_rule(lab.hosts[0], 'latency', 'pool.designate_new_master',
                        seconds=HOLD))


def _designate_middle(lab):
    # NOTE: the eject that follows is held, so the kill lands between the
    # designate's effect and the pool settling.
    for h in lab.hosts:
        _rule(h, 'latency', 'pool.eject', seconds=HOLD)
    master = lab.hosts[0]
    return lambda lab: any(c.method == 'pool.designate_new_master'
                           for c in list(master.calls))


def _designate_then_eject_task(lab):
    # NOTE: either slave may be chosen as the new master: arm both.
    rules = [_rule(h, 'hang', 'pool.eject') for h in lab.hosts[1:]]
    return lambda lab: any(r.fired for r in rules)


POINTS = {
    'join: before the XAPI call': ('add', 1, 'host2', _join_before_call,
                                   'rolled back'),
    # NOTE: a hung join, eject or designate runs to its end once released
    # (xapi_pool.ml: they cannot be cancelled): while it hangs, reconcile
    # cannot know the outcome and decides nothing; released, it finishes.
    'join: task running, before effect': ('add', 1, 'host2',
                                          _join_task_before_effect,
                                          'pending, then finished'),
    'join: task running, after effect': ('add', 1, 'host2',
                                         _join_task_after_effect, 'finished'),
    'join: after the task, before the metadata write': (
        'add', 1, 'host2', _join_after_task, 'finished'),
    'join: waiting for the host to go live': ('add', 1, 'host2',
                                              _join_waiting_live, 'finished'),
    'join: host live, before the metadata write': (
        'add', 1, 'host2', _join_live_before_write, 'finished'),
    'eject: before the XAPI call': ('remove', 2, 'host2', _eject_before_call,
                                    'rolled back'),
    'eject: task running, before effect': ('remove', 2, 'host2',
                                           _eject_task_before_effect,
                                           'pending, then finished'),
    'eject: task running, after effect': ('remove', 2, 'host2',
                                          _eject_task_after_effect,
                                          'finished'),
    'eject: after the task, before the metadata write': (
        'remove', 2, 'host2', _eject_after_task, 'finished'),
    'designate: before it takes effect': ('remove', 3, 'host1',
                                          _designate_before_effect,
                                          'rolled back'),
    # NOTE: dbsync_master.ml: pool.master moves only when the new master has
    # booted; reconcile waits for it (or for the old master outliving its
    # fuse, xapi_pool_transition.ml) before deciding: the old master stays,
    # a slave now, so the remove is rolled back under the new master.
    'designate: applied, pool restarting': ('remove', 3, 'host1',
                                            _designate_middle, 'rolled back'),
    'designate: done, eject task running': ('remove', 3, 'host1',
                                            _designate_then_eject_task,
                                            'pending, then finished'),
}


def _run_child(tmp_path, lab, store, op, host):
    spec = tmp_path / 'spec.json'
    spec.write_text(json.dumps({'lab': lab.describe(), 'store': store.url,
                                'aggregate': 'crash', 'op': op,
                                'host': host}))
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.Popen(
        [sys.executable, '-m', 'tests.functional.faults.crash_child',
         str(spec)], cwd=REPO, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)


def _wait(predicate, lab, child, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate(lab):
            return
        if child.poll() is not None:
            out, err = child.communicate()
            pytest.fail('child ended (%s) before the kill point:\n%s'
                        % (child.returncode, err.decode()[-3000:]))
        time.sleep(0.002)
    child.kill()
    pytest.fail('kill point never reached')


def _reconcile(lab, agg, later=0.0):
    """``init_host`` of a fresh driver (another actor), ``later`` s from now."""
    agg.refresh()
    driver = harness.make_driver(lab.describe(), aggregates=lambda h: [agg],
                                 clock=lambda: time.time() + later)
    try:
        reports = driver.init_host('host1')
    finally:
        driver.workflow.connector.close()
    assert len(reports) == 1
    agg.refresh()
    return reports[0]


@pytest.mark.parametrize('point', list(POINTS))
def test_sigkill_then_reconcile(point, make_lab, store, tmp_path):
    op, pooled, host, arm, outcome = POINTS[point]
    ARMED.clear()
    lab = make_lab(hosts=max(pooled + (op == 'add'), 2))
    names = [h.name for h in lab.hosts]
    agg = harness.build_pool(lab, store, 'crash', names[:pooled])
    assert harness.check(lab, agg) == []
    before = bk.recorded_hosts(agg.metadata)

    predicate = arm(lab)
    child = _run_child(tmp_path, lab, store, op, host)
    _wait(predicate, lab, child)
    agg.refresh()
    assert agg.metadata[ps.KEY] == ps.CHANGING
    assert bk.read(agg.metadata).intent is not None
    # NOTE: a second actor's reconcile while the owner holds its lease
    # leaves the operation alone (it used to take it over).
    busy = _reconcile(lab, agg)
    assert busy.busy and 'left alone' in busy.busy and busy.actions == []
    assert agg.metadata[ps.KEY] == ps.CHANGING
    os.kill(child.pid, signal.SIGKILL)
    child.communicate()
    assert child.returncode == -signal.SIGKILL
    hung = [r for r in ARMED if r.kind == 'hang']
    for h in lab.hosts:
        h.faults.clear()

    # NOTE: a later clock: the killed owner's lease has expired.
    later = 2 * harness.make_conf(lab.describe()).xenserver.lease_expiry
    if outcome.startswith('pending'):
        held = dict(agg.metadata)
        report = _reconcile(lab, agg, later=later)
        assert report.pending and report.actions == [], report
        assert agg.metadata == held          # nothing decided
        for rule in hung:
            rule.release()
        outcome = 'finished'
    report = _reconcile(lab, agg, later=later)
    assert report.error is None, report
    assert any(a.startswith(outcome) for a in report.actions), report.actions

    assert harness.check(lab, agg) == []
    agg.refresh()
    after = bk.recorded_hosts(agg.metadata)
    if outcome == 'rolled back':
        assert set(after) == set(before)
    elif op == 'add':
        assert set(after) == set(before) | {host}
    else:
        assert set(after) == set(before) - {host}
    assert agg.metadata[ps.KEY] == ps.ACTIVE
    assert bk.read(agg.metadata).failures == 0
