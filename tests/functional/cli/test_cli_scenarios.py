"""Issue 10's operator scenarios, run as an operator runs them.

Every test drives ``xenpool`` subprocesses against a lab served in another
subprocess, with an SQLite store, and asserts what the operator sees (exit
status, the one-line error, ``aggregate show -f json``) and reality read
independently over plain XML-RPC.

Kill points are held by the simulator's fault plan (``--faults``): a
``hang`` of ``pool.eject`` after its effect (the eject was applied, its task
never ends), a ``latency`` of ``host.destroy`` (sent, applied a little
later), a ``latency`` of the master's ``event.from`` (the wait until live is
held). Leases are short (``[xenserver] lease_expiry``), so a killed owner's
expires within the test; Ctrl-C releases it at once.

NOTE: ``xenpool lab serve`` offers no way to stop one host's xapi from
outside, and a dead host (``remove-host --dead``) or a joiner that never
becomes live needs exactly that; those tests use :class:`CtlLab`, the same
simulator :class:`~xenpool_driver.simulator.lab.Lab` served by a small
script of this module that also stops a host on request.
"""

import json
import signal
import subprocess
import sys
import time
import xmlrpc.client

import pytest

from tests.functional.cli.test_cli import (DEADLINE, DRIFT, FAST_SCALE, REFUSED, ROOT,
                                           Cli, Lab, _env, _outputs, _poll, members)
from xenpool_driver import pool_states as ps
from xenpool_driver import store as store_mod
from xenpool_driver.aggregates import bookkeeping as bk

#: Lease of every lab's operations (s): a killed CLI's expires this soon.
LEASE = 1.5
#: xapi seconds of a latency that holds a call until the lab closes.
HOLD = 1e6


def _config(live_timeout):
    return ('[xenserver]\nlease_renewal_interval = %s\nlease_expiry = %s\n'
            'live_timeout = %s\n' % (LEASE / 10, LEASE, live_timeout))


def _held(seconds):
    """xapi seconds of a latency that lasts ``seconds`` real seconds."""
    return seconds / FAST_SCALE


def _hang_eject():
    return {'kind': 'hang', 'method': 'pool.eject', 'after_effect': True, 'times': 1}


def _latency(method, seconds, times=1):
    return {'kind': 'latency', 'method': method, 'seconds': seconds, 'times': times}


# -- a lab whose hosts can be stopped ------------------------------------------

_CTL_SCRIPT = r'''
import json, os, signal, sys, threading
from xenpool_driver.simulator.lab import Lab
from xenpool_driver.simulator.serve import _answers, write_lab_file
spec = json.loads(sys.argv[1])
stop = threading.Event()
for sig in (signal.SIGINT, signal.SIGTERM):
    signal.signal(sig, lambda *_: stop.set())
lab = Lab(hosts=spec['hosts'], time_scale=spec['scale'],
          faults={int(k): v for k, v in spec['faults'].items()})
try:
    lab.start()
    lab.wait_until(lambda: all(_answers(h, None) for h in lab.hosts), timeout=30,
                   interval=0.05)
    write_lab_file(spec['path'], lab.describe())

    def commands():
        for line in sys.stdin:
            index, mode = line.split()
            if mode == 'armed':
                # NOTE: a fired rule (times 1) leaves the plan
                sys.stdout.write('%d\n' % len(lab.hosts[int(index)].faults.rules))
            else:
                lab.stop(int(index), mark_offline=mode == 'offline')
                sys.stdout.write('stopped %s\n' % index)
            sys.stdout.flush()
        stop.set()
    threading.Thread(target=commands, daemon=True).start()
    while not stop.wait(0.1):
        pass
finally:
    lab.close()
    if os.path.exists(spec['path']):
        os.unlink(spec['path'])
'''


class CtlLab(Lab):
    """The simulator's Lab in a subprocess that stops a host on request."""

    # NOTE: Lab.__init__ is not called: the lab runs in another process
    def __init__(self, tmp, hosts, scale, faults=None):
        self.path = str(tmp / 'lab.json')
        spec = {'hosts': hosts, 'scale': scale, 'faults': faults or {},
                'path': self.path}
        self.proc = subprocess.Popen(
            [sys.executable, '-c', _CTL_SCRIPT, json.dumps(spec)], cwd=ROOT, env=_env(),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        self._read_lab_file()

    def stop(self, name, offline=True):
        """Stop host ``name``'s xapi; its master reports it offline (or never)."""
        index = [h['name'] for h in self.data['hosts']].index(name)
        self.proc.stdin.write('%d %s\n' % (index, 'offline' if offline else 'never'))
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == 'stopped %d' % index

    def fired(self, name):
        """True once every fault rule armed on host ``name`` fired."""
        index = [h['name'] for h in self.data['hosts']].index(name)
        self.proc.stdin.write('%d armed\n' % index)
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip() == '0'


# -- reality, read independently -------------------------------------------------

def _address(lab, name):
    return lab.hosts[name]['address']


def _reality(lab, name):
    """What host ``name``'s xapi says, over plain XML-RPC.

    :returns: ``{'slave_of': address}`` for a slave; ``{'name_label',
        'master', 'members': {uuid: live}}`` for a master; None when its
        xapi does not answer.
    """
    proxy = xmlrpc.client.ServerProxy(lab.url(name))
    try:
        answer = proxy.session.login_with_password(lab.data['username'],
                                                   lab.data['password'])
        if answer['Status'] != 'Success':
            error = answer['ErrorDescription']
            if error[0] == 'HOST_IS_SLAVE':
                return {'slave_of': error[1]}
            return {'error': error}
        session = answer['Value']
        pool = list(proxy.pool.get_all_records(session)['Value'].values())[0]
        hosts = proxy.host.get_all_records(session)['Value']
        metrics = proxy.host_metrics.get_all_records(session)['Value']
        proxy.session.logout(session)
        return {'name_label': pool['name_label'],
                'master': hosts[pool['master']]['uuid'],
                'members': {r['uuid']: bool(metrics.get(r['metrics'], {}).get('live'))
                            for r in hosts.values()}}
    except (OSError, xmlrpc.client.Error, IndexError, KeyError):
        return None     # NOTE: not answering, or between two databases (a joiner)
    finally:
        proxy('close')()


def _members(lab, master):
    real = _reality(lab, master)
    assert real and 'members' in real, real
    return real['members']


def _intent(cli, name):
    return bk.read(cli.metadata(name)).intent


def _errors(stderr):
    """The operator's error lines (progress lines start with two blanks)."""
    return [line for line in stderr.splitlines() if not line.startswith('  ')]


def _run_all(cli, *commands):
    """Run ``commands`` (argv tuples) at once; their CompletedProcess-likes."""
    procs = [cli.popen(*argv) for argv in commands]
    done = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=DEADLINE * 2)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        _outputs.append(out + err)
        assert cli.lab.data['password'] not in out + err
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def _ok(procs):
    for proc in procs:
        assert proc.returncode == 0, (proc.args[-3:], proc.stdout, proc.stderr)
    return procs


def _no_host_without_uuid(view):
    assert all(view['hosts'].values()), view['hosts']


def _signal_and_wait(proc, sig):
    try:
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return out, err


def _expire(cli, name):
    _poll(lambda: _intent(cli, name).expires < time.time(), 'the lease to expire',
          interval=0.05)


# -- labs ------------------------------------------------------------------------

#: Scenario 1 (eject): (aggregate, master, slave, host removed, signal).
#: The removed master's eject runs on the slave it designated: the slave's
#: pool.eject hangs; a removed slave's eject runs on the master.
EJECT_CASES = {
    'slave-sigkill': ('rs-k', 'host1', 'host2', 'host2', signal.SIGKILL),
    'slave-ctrl-c': ('rs-i', 'host3', 'host4', 'host4', signal.SIGINT),
    'master-sigkill': ('rm-k', 'host5', 'host6', 'host5', signal.SIGKILL),
    'master-ctrl-c': ('rm-i', 'host7', 'host8', 'host7', signal.SIGINT),
}

#: Scenario 1 (--dead): (aggregate, master, dead slave, signal).
DEAD_CASES = {
    'dead-sigkill': ('rd-k', 'host1', 'host2', signal.SIGKILL),
    'dead-ctrl-c': ('rd-i', 'host3', 'host4', signal.SIGINT),
}


def _build(cli, pools):
    """Aggregates ``{name: [first host, second host, ...]}``, built at once."""
    _ok(_run_all(cli, *[('aggregate', 'create', name) for name in pools]))
    depth = max(len(hosts) for hosts in pools.values())
    for i in range(depth):
        _ok(_run_all(cli, *[('aggregate', 'add-host', name, hosts[i])
                            for name, hosts in pools.items() if len(hosts) > i]))


@pytest.fixture(scope='module')
def ejects(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('scen-eject')
    faults = {'0': [_hang_eject()], '2': [_hang_eject()], '5': [_hang_eject()],
              '7': [_hang_eject()]}
    lab = Lab(tmp, 8, FAST_SCALE, faults=faults)
    try:
        cli = Cli(lab, tmp, config=_config(20))
        _build(cli, {agg: [master, slave]
                     for agg, master, slave, _, _ in EJECT_CASES.values()})
        yield cli
    finally:
        lab.close()


@pytest.fixture(scope='module')
def ctl(tmp_path_factory):
    """host1..host4: dead cases (host.destroy held 1.5 s); host5 + host6: the
    joiner that never becomes live (host5's wait until live held 1.5 s)."""
    tmp = tmp_path_factory.mktemp('scen-ctl')
    destroy = _latency('host.destroy', _held(1.5))
    faults = {'0': [destroy], '2': [dict(destroy)],
              '4': [_latency('event.from', _held(1.5))]}
    lab = CtlLab(tmp, 6, FAST_SCALE, faults=faults)
    try:
        cli = Cli(lab, tmp, config=_config(3))
        _build(cli, {'rd-k': ['host1', 'host2'], 'rd-i': ['host3', 'host4'],
                     'never': ['host5']})
        yield cli
    finally:
        lab.close()


#: Shared lab: which hosts each scenario uses.
#: 2: live-add (host1 + host2, host1's wait until live held);
#: 3: other (host3 master + host4 slave); 4a: dup (host5 + host6, host5 held);
#: 4b: x (host7) and y (host8) racing for host9 (both held);
#: 5/6: wayout (host10 + host11), host12 spare.
SHARED_HOLD = 4.0


@pytest.fixture(scope='module')
def shared(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('scen-shared')
    hold = _latency('event.from', _held(SHARED_HOLD))
    race = _latency('event.from', _held(2.0))
    faults = {'0': [hold], '4': [dict(race)], '6': [dict(race)], '7': [dict(race)]}
    lab = Lab(tmp, 12, FAST_SCALE, faults=faults)
    try:
        cli = Cli(lab, tmp, config=_config(20))
        _build(cli, {'live-add': ['host1'], 'other': ['host3', 'host4'],
                     'dup': ['host5'], 'x': ['host7'], 'y': ['host8'],
                     'wayout': ['host10', 'host11']})
        yield cli
    finally:
        lab.close()


# -- 1. interrupted removal ------------------------------------------------------

def _after_interrupted_remove(cli, lab, agg, left, gone, proc, sig, out, err,
                              applied=lambda: None):
    """Reconcile repairs; show agrees; the last host goes; delete works.

    :param applied: waits until the interrupted call took effect.
    """
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL, err
        # NOTE: the killed owner's lease is alive: another shell's reconcile
        # leaves the operation alone and says so
        seen = cli.run('aggregate', 'reconcile', agg, status=DRIFT)
        assert 'left alone' in seen.stdout, seen.stdout
        applied()
        _expire(cli, agg)
    else:
        assert proc.returncode == 130, err
        assert 'reconcile %s' % agg in err and 'Traceback' not in err
        applied()
    assert cli.metadata(agg)[ps.KEY] == ps.CHANGING
    done = cli.run('aggregate', 'reconcile', agg)
    assert 'finished remove of host %s' % gone in done.stdout, done.stdout
    assert 'agrees with xapi' in done.stdout
    view = cli.assert_consistent(agg)
    _no_host_without_uuid(view)
    assert view['hosts'] == {left: lab.uuid(left)}
    assert view['master'] == left and view['operational_state'] == ps.ACTIVE
    assert [h['uuid'] for h in members(view)] == [lab.uuid(left)]
    assert set(_members(lab, left)) == {lab.uuid(left)}
    # nothing stuck: the last host leaves, the aggregate is deleted
    assert 'removed %s from %s: created' % (left, agg) in cli.run(
        'aggregate', 'remove-host', agg, left, '--yes').stdout
    cli.run('aggregate', 'delete', agg)
    view = cli.assert_consistent(agg)
    assert (view['operational_state'], view['hosts']) == (ps.DISMISSED, {})


@pytest.mark.parametrize('case', list(EJECT_CASES))
def test_interrupted_remove_then_reconcile(ejects, case):
    cli, lab = ejects, ejects.lab
    agg, master, slave, gone, sig = EJECT_CASES[case]
    left = slave if gone == master else master
    proc = cli.popen('aggregate', 'remove-host', agg, gone, '--yes')

    def ejected():
        # NOTE: the eject was applied (the master no longer lists the host)
        # and its task hangs: the CLI waits for it
        intent = _intent(cli, agg)
        if intent is None or intent.phase != 'eject':
            return False
        real = _reality(lab, left)
        return real and 'members' in real and lab.uuid(gone) not in real['members'] \
            and real['master'] == lab.uuid(left)
    try:
        _poll(lambda: ejected() or proc.poll() is not None, 'the eject applied')
        assert proc.poll() is None, proc.communicate()
    except BaseException:
        proc.kill()
        raise
    out, err = _signal_and_wait(proc, sig)
    _after_interrupted_remove(cli, lab, agg, left, gone, proc, sig, out, err)


@pytest.mark.parametrize('case', list(DEAD_CASES))
def test_interrupted_dead_remove_then_reconcile(ctl, case):
    cli, lab = ctl, ctl.lab
    agg, master, dead, sig = DEAD_CASES[case]
    lab.stop(dead, offline=True)
    _poll(lambda: _members(lab, master).get(lab.uuid(dead)) is False,
          'the master to report %s offline' % dead)
    proc = cli.popen('aggregate', 'remove-host', agg, dead, '--dead', '--yes')
    try:
        # NOTE: host.destroy is sent (its latency rule fired: the lab holds
        # it 1.5 s, then applies it)
        _poll(lambda: (_intent(cli, agg) is not None and
                       _intent(cli, agg).phase == 'destroy' and lab.fired(master)) or
              proc.poll() is not None, 'host.destroy sent')
        assert proc.poll() is None, proc.communicate()
    except BaseException:
        proc.kill()
        raise
    out, err = _signal_and_wait(proc, sig)
    _after_interrupted_remove(
        cli, lab, agg, master, dead, proc, sig, out, err,
        applied=lambda: _poll(lambda: lab.uuid(dead) not in _members(lab, master),
                              'host.destroy applied'))


# -- 2. a live add is left alone; so are forget-host and set-state ------------------

def test_reconcile_leaves_a_live_add_alone(shared):
    cli, lab = shared, shared.lab
    proc = cli.popen('aggregate', 'add-host', 'live-add', 'host2')
    try:
        _poll(lambda: (_intent(cli, 'live-add') is not None and
                       _intent(cli, 'live-add').phase == 'live') or
              proc.poll() is not None, 'the wait until live')
        assert proc.poll() is None, proc.communicate()
        started = time.monotonic()
        reconcile, forget, force = _run_all(
            cli, ('aggregate', 'reconcile', 'live-add'),
            ('aggregate', 'forget-host', 'live-add', 'host2'),
            ('aggregate', 'set-state', 'live-add', 'active'))
        # NOTE: all three answered while the add was still waiting
        assert time.monotonic() - started < SHARED_HOLD
        assert proc.poll() is None
        out, err = proc.communicate(timeout=DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert reconcile.returncode == DRIFT, reconcile.stdout + reconcile.stderr
    assert 'left alone' in reconcile.stdout, reconcile.stdout
    for refused in (forget, force):
        assert refused.returncode == REFUSED, refused.stdout + refused.stderr
        assert len(_errors(refused.stderr)) == 1, refused.stderr
        assert refused.stderr.startswith('xenpool: error: ') and 'in flight' in refused.stderr
    assert proc.returncode == 0, err
    assert 'added host2 to live-add: active' in out
    view = cli.assert_consistent('live-add')
    assert view['hosts'] == {'host1': lab.uuid('host1'), 'host2': lab.uuid('host2')}
    assert set(_members(lab, 'host1')) == {lab.uuid('host1'), lab.uuid('host2')}


# -- 3. a host of another pool is no first host ------------------------------------

@pytest.mark.parametrize('host', ['host3', 'host4'], ids=['its-master', 'its-slave'])
def test_host_of_another_pool_is_refused_as_first_host(shared, host):
    cli, lab = shared, shared.lab
    name = 'steal-%s' % host
    cli.run('aggregate', 'create', name)
    before = _reality(lab, 'host3')
    proc = cli.run('aggregate', 'add-host', name, host, status=REFUSED)
    errors = _errors(proc.stderr)
    assert len(errors) == 1 and errors[0].startswith('xenpool: error: '), proc.stderr
    # the other pool is named: by its name, or by its master's address
    assert "'other'" in errors[0] or _address(lab, 'host3') in errors[0], errors[0]
    after = _reality(lab, 'host3')
    assert after == before
    assert (after['name_label'], after['master']) == ('other', lab.uuid('host3'))
    assert _reality(lab, 'host4') == {'slave_of': _address(lab, 'host3')}
    view = cli.assert_consistent(name)
    assert (view['operational_state'], view['hosts'], view['master']) == (
        ps.CREATED, {}, None)
    view = cli.assert_consistent('other')
    assert view['hosts'] == {'host3': lab.uuid('host3'), 'host4': lab.uuid('host4')}


# -- 4. concurrent adds of one host ------------------------------------------------

def test_same_host_added_twice_at_once(shared):
    cli, lab = shared, shared.lab
    procs = _run_all(cli, ('aggregate', 'add-host', 'dup', 'host6'),
                     ('aggregate', 'add-host', 'dup', 'host6'))
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, REFUSED], [(p.returncode, p.stdout, p.stderr) for p in procs]
    won = [p for p in procs if p.returncode == 0][0]
    lost = [p for p in procs if p.returncode == REFUSED][0]
    assert 'added host6 to dup: active' in won.stdout
    assert len(_errors(lost.stderr)) == 1, lost.stderr
    view = cli.assert_consistent('dup')
    assert view['hosts'] == {'host5': lab.uuid('host5'), 'host6': lab.uuid('host6')}
    assert view['operational_state'] == ps.ACTIVE
    assert set(_members(lab, 'host5')) == {lab.uuid('host5'), lab.uuid('host6')}


def test_same_host_added_to_two_aggregates_at_once(shared):
    cli, lab = shared, shared.lab
    started = time.monotonic()
    procs = [cli.popen('aggregate', 'add-host', agg, 'host9') for agg in ('x', 'y')]
    ended = {}
    try:
        _poll(lambda: any(p.poll() is not None for p in procs), 'one add to end',
              timeout=15)
        for p in procs:
            out, err = p.communicate(timeout=DEADLINE)
            ended[p] = (time.monotonic() - started, out, err)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, REFUSED], [(p.returncode, ended[p]) for p in procs]
    won = [p for p in procs if p.returncode == 0][0]
    lost = [p for p in procs if p.returncode == REFUSED][0]
    winner = won.args[-2]
    loser = lost.args[-2]
    took, _, err = ended[lost]
    # refused quickly: no wait until live_timeout (20 s), no join sent
    assert took < 10, (took, err)
    assert len(_errors(err)) == 1, err
    assert '  join' not in err
    master = {'x': 'host7', 'y': 'host8'}
    assert set(_members(lab, master[winner])) == {lab.uuid(master[winner]),
                                                   lab.uuid('host9')}
    assert set(_members(lab, master[loser])) == {lab.uuid(master[loser])}
    assert cli.assert_consistent(winner)['hosts'] == {
        master[winner]: lab.uuid(master[winner]), 'host9': lab.uuid('host9')}
    assert cli.assert_consistent(loser)['hosts'] == {
        master[loser]: lab.uuid(master[loser])}


# -- 5. ways out -------------------------------------------------------------------

def _write(cli, name, updates=None, add_host=None):
    with store_mod.Store(cli.store_url) as store:
        agg = store.get_aggregate(name)
        if updates:
            agg.update_metadata(updates)
        if add_host:
            agg.add_host(add_host)


def _reconciled(cli, name, action):
    proc = cli.run('aggregate', 'reconcile', name)
    assert action in proc.stdout and 'agrees with xapi' in proc.stdout, proc.stdout
    return cli.assert_consistent(name)


def test_ways_out_of_bad_states(shared):
    cli, lab = shared, shared.lab
    name = 'wayout'
    good = {'host10': lab.uuid('host10'), 'host11': lab.uuid('host11')}
    assert cli.assert_consistent(name)['hosts'] == good
    for bad in ('Active', 'bogus'):
        _write(cli, name, {ps.KEY: bad})
        view = cli.show(name)
        assert not view['consistent']
        assert any('unknown operational_state' in d for d in view['differences'])
        view = _reconciled(cli, name, 'operational_state %r -> active' % bad)
        assert view['operational_state'] == ps.ACTIVE and view['hosts'] == good

    # a wrong recorded master address (another, standalone host's): the
    # pool is found through a recorded host
    record = bk.read(cli.metadata(name)).replace(master_address=_address(lab, 'host12'))
    _write(cli, name, {bk.KEY: bk.encode(record)})
    assert not cli.show(name)['consistent']
    view = _reconciled(cli, name, 'master address is now %s' % _address(lab, 'host10'))
    assert view['master'] == 'host10' and view['hosts'] == good

    # a member in the host list without uuid: recorded again
    _write(cli, name, {'host11': None})
    view = cli.show(name)
    assert any('host11 is in the host list with no uuid' in d
               for d in view['differences']), view['differences']
    view = _reconciled(cli, name, 'recorded member host11')
    assert view['hosts'] == good

    # a non-member in the host list without uuid: unlisted by reconcile ...
    _write(cli, name, add_host='host12')
    view = _reconciled(cli, name, 'removed host12 from the host list')
    assert view['hosts'] == good
    # ... or forgotten by the admin
    _write(cli, name, add_host='host12')
    out = cli.run('aggregate', 'forget-host', name, 'host12').stdout
    assert 'forgot host12 in wayout' in out
    assert cli.assert_consistent(name)['hosts'] == good

    # set-state: forced, then reset once reconcile agrees
    out = cli.run('aggregate', 'set-state', name, 'error').stdout
    assert 'forced from active to error' in out
    assert cli.show(name)['operational_state'] == ps.ERROR
    cli.run('aggregate', 'reset', name)
    assert cli.assert_consistent(name)['operational_state'] == ps.ACTIVE
    assert set(_members(lab, 'host10')) == set(good.values())


def test_stale_master_without_hosts_is_cleared_then_deleted(shared):
    """The lab restarted under an existing store: a master, no host, active."""
    cli = shared
    name = 'restarted'
    cli.run('aggregate', 'create', name)
    record = bk.Bookkeeping().replace(master_address='127.0.10.1')
    _write(cli, name, {ps.KEY: ps.ACTIVE, bk.MASTER_COMPUTE: 'host1',
                       bk.KEY: bk.encode(record)})
    view = cli.show(name)
    assert not view['consistent'] and view['hosts'] == {}
    proc = cli.run('aggregate', 'reconcile', name)
    assert 'cleared the master recorded without hosts' in proc.stdout, proc.stdout
    assert 'agrees with xapi' in proc.stdout
    view = cli.assert_consistent(name)
    assert (view['operational_state'], view['master']) == (ps.CREATED, None)
    cli.run('aggregate', 'delete', name)
    assert cli.assert_consistent(name)['operational_state'] == ps.DISMISSED


# -- 6. wrong passwords count nothing ----------------------------------------------

def test_three_wrong_passwords_leave_a_healthy_pool_active(shared, tmp_path):
    cli, lab = shared, shared.lab
    name = 'wayout'
    before = cli.assert_consistent(name)
    bad = dict(lab.data, password='not-' + lab.data['password'][::-1])
    path = tmp_path / 'bad-lab.json'
    path.write_text(json.dumps(bad))
    wrong = list(cli.base)
    wrong[wrong.index('--lab-file') + 1] = str(path)
    for _ in range(3):
        proc = subprocess.run(wrong + ['aggregate', 'add-host', name, 'host12'], cwd=ROOT,
                              env=_env(), capture_output=True, text=True,
                              timeout=DEADLINE * 2)
        assert proc.returncode == 1, (proc.stdout, proc.stderr)
        errors = _errors(proc.stderr)
        assert len(errors) == 1 and 'SESSION_AUTHENTICATION_FAILED' in errors[0], \
            proc.stderr
        assert bad['password'] not in proc.stdout + proc.stderr
    view = cli.assert_consistent(name)
    assert view['operational_state'] == ps.ACTIVE
    assert view['hosts'] == before['hosts']
    assert view['failures'] == 0
    assert view['reason'] and 'SESSION_AUTHENTICATION_FAILED' in view['reason']
    text = cli.run('aggregate', 'show', name).stdout
    assert '| reason ' in text and 'SESSION_AUTHENTICATION_FAILED' in text
    assert _reality(lab, 'host12')['members'] == {lab.uuid('host12'): True}


# -- 7. bounded waits that say what they wait for --------------------------------

def test_lab_killed_during_wait_until_live(tmp_path):
    live_timeout = 3.0
    lab = Lab(tmp_path, 2, FAST_SCALE, faults={'0': [_latency('event.from', HOLD)]})
    try:
        cli = Cli(lab, tmp_path, config=_config(live_timeout))
        cli.run('aggregate', 'create', 'gone')
        cli.run('aggregate', 'add-host', 'gone', 'host1')
        proc = cli.popen('aggregate', 'add-host', 'gone', 'host2')
        try:
            _poll(lambda: (_intent(cli, 'gone') is not None and
                           _intent(cli, 'gone').phase == 'live') or
                  proc.poll() is not None, 'the wait until live')
            assert proc.poll() is None, proc.communicate()
            lab.proc.kill()
            lab.proc.wait()
            killed = time.monotonic()
            out, err = proc.communicate(timeout=live_timeout + DEADLINE)
            took = time.monotonic() - killed
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    finally:
        lab.close()
    assert proc.returncode == 1, (out, err)
    assert 'active' not in out, out
    waits = [line for line in err.splitlines() if 'waiting for ' in line]
    assert waits and 'host %s enabled and live' % lab.uuid('host2') in waits[0], err
    assert took < live_timeout + 10, took
    errors = _errors(err)
    assert len(errors) == 1 and errors[0].startswith('xenpool: error: '), err


def test_host_never_live_is_a_failure(ctl):
    cli, lab = ctl, ctl.lab
    proc = cli.popen('aggregate', 'add-host', 'never', 'host6')
    try:
        # NOTE: host5's wait until live is held 1.5 s; meanwhile host6
        # restarts as a slave, and is stopped for good (offline)
        _poll(lambda: _reality(lab, 'host6') == {'slave_of': _address(lab, 'host5')}
              or proc.poll() is not None, 'host6 to run as a slave')
        assert proc.poll() is None, proc.communicate()
        lab.stop('host6', offline=True)
        out, err = proc.communicate(timeout=DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, (out, err)
    assert 'added host6' not in out and 'active' not in out, out
    # NOTE: the host is a member (recorded: one truth); the add failed and
    # counts; the state follows the failure rule (error only at
    # pool_error_threshold, 3) - README, commit 8985bbd
    view = cli.show('never')
    assert (view['operational_state'], view['failures']) == (ps.ACTIVE, 1), view
    assert view['hosts'].get('host6') == lab.uuid('host6')
    assert view['consistent'] and view['unhealthy'] == ['host host6 is not live'], view
    assert view['reason'].startswith('add of host6 failed: ') and \
        'timed out' in view['reason'], view['reason']
    assert 'add of host6 failed' in cli.run('aggregate', 'show',
                                                          'never').stdout
    assert _members(lab, 'host5') == {lab.uuid('host5'): True, lab.uuid('host6'): False}
    # the operator's error: one line, no traceback
    assert 'Traceback' not in err, err
    errors = _errors(err)
    assert len(errors) == 1 and 'enabled and live' in errors[0], err
