"""The ``xenpool`` command as an operator runs it: a subprocess against a lab
served by ``xenpool lab serve`` (another subprocess), with an SQLite store.

Every step of a create / add / add / remove-master / remove / delete sequence
ends with ``aggregate show -f json`` reporting ``consistent: true``; errors are
one line with XAPI's code and their exit code (cli/errors.py); Ctrl-C and
SIGKILL in the middle of an add-host leave an intent record that
``aggregate reconcile`` resolves.
"""

import json
import os
import signal
import subprocess
import sys
import time
import xmlrpc.client

import pytest

from tests import passwords
from xenpool_driver import pool_states as ps
from xenpool_driver import store as store_mod
from xenpool_driver.aggregates import bookkeeping as bk

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
#: Ceiling of every wait for a subprocess state (never reached when all is well).
DEADLINE = 30.0
#: Lab of the sequence: 1 xapi second lasts 5 ms.
FAST_SCALE = 0.005
#: Lab of the interruptions: a join lasts about 2 s, long enough to interrupt.
SLOW_SCALE = 0.1
#: Lease of the slow lab's operations (s): a killed CLI's expires this soon.
LEASE = 8.0
#: Exit codes (xenpool_driver.cli.errors): refused by our rules, drift.
USAGE, REFUSED, DRIFT = 2, 3, 4
#: The fast lab's 4th host refuses pool.join with this code.
FAULT_CODE = 'POOL_JOINING_HOST_MUST_HAVE_SAME_PRODUCT_VERSION'

_outputs = []


def members(view):
    """The **host** objects of the live pool ``aggregate show`` read (or [])."""
    return (view['pool'] or {}).get('members', [])


def _env():
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_XENSERVER')}
    env['PYTHONPATH'] = ROOT
    env.pop('XENPOOL_LAB_PASSWORD', None)
    return env


def _poll(predicate, what, timeout=DEADLINE, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError('timed out waiting for %s' % what)


class Lab(object):
    """``xenpool lab serve`` in a subprocess; its lab file read back."""

    def __init__(self, tmp, hosts, scale, faults=None):
        self.path = str(tmp / 'lab.json')
        argv = [sys.executable, '-m', 'xenpool_driver.cli.main', 'lab', 'serve',
                '--hosts', str(hosts), '--lab-file', self.path, '--time-scale', str(scale)]
        if faults:
            fpath = tmp / 'faults.json'
            fpath.write_text(json.dumps(faults))
            argv += ['--faults', str(fpath)]
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self._read_lab_file()

    def _read_lab_file(self):
        """Wait for the lab process's lab file and read it (or stop the lab)."""
        try:
            _poll(lambda: os.path.exists(self.path) or self.proc.poll() is not None,
                  'the lab file')
            assert self.proc.poll() is None, self.proc.communicate()
            with open(self.path) as f:
                self.data = json.load(f)
        except BaseException:
            self.close()
            raise
        passwords.remember(self.data['password'])
        self.hosts = {h['name']: h for h in self.data['hosts']}

    def url(self, name):
        return self.hosts[name]['url']

    def uuid(self, name):
        return self.hosts[name]['uuid']

    def xapi(self, name):
        """A plain XML-RPC client logged in on host ``name`` (independent of the driver)."""
        proxy = xmlrpc.client.ServerProxy(self.url(name))
        answer = proxy.session.login_with_password(self.data['username'],
                                                   self.data['password'])
        if answer['Status'] != 'Success':
            proxy('close')()
            return None, None
        return proxy, answer['Value']

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.communicate(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()


class Cli(object):
    """Runs ``xenpool --lab-file F --store URL ...`` as a subprocess."""

    def __init__(self, lab, tmp, config=None):
        self.lab = lab
        self.store_url = 'sqlite:///%s' % (tmp / 's.sqlite')
        self.base = [sys.executable, '-m', 'xenpool_driver.cli.main', '--lab-file', lab.path,
                     '--store', self.store_url]
        if config:
            path = tmp / 'xenpool.conf'
            path.write_text(config)
            self.base += ['--config-file', str(path)]

    def argv(self, *args):
        return self.base + list(args)

    def popen(self, *args):
        return subprocess.Popen(self.argv(*args), cwd=ROOT, env=_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def run(self, *args, status=0):
        proc = subprocess.run(self.argv(*args), cwd=ROOT, env=_env(), capture_output=True,
                              text=True, timeout=DEADLINE * 2)
        _outputs.append(proc.stdout + proc.stderr)
        assert self.lab.data['password'] not in proc.stdout + proc.stderr
        if status is not None:
            assert proc.returncode == status, (args, proc.stdout, proc.stderr)
        return proc

    def show(self, name):
        """``aggregate show NAME -f json``: exit 0 when consistent, else 4 (drift)."""
        proc = self.run('aggregate', 'show', name, '-f', 'json', status=None)
        view = json.loads(proc.stdout)
        for key in ('name', 'operational_state', 'hosts', 'master', 'pool',
                    'consistent'):
            assert key in view, key
        assert proc.returncode == (0 if view['consistent'] else DRIFT), proc.stderr
        return view

    def assert_consistent(self, name):
        view = self.show(name)
        assert view['consistent'] is True, view['differences']
        assert bk.read(view['metadata']).intent is None
        return view

    def metadata(self, name):
        with store_mod.Store(self.store_url) as store:
            return store.get_aggregate(name).metadata


@pytest.fixture(scope='module')
def fast(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('cli-fast')
    lab = Lab(tmp, 4, FAST_SCALE, faults={'3': [
        {'kind': 'fail', 'method': 'pool.join', 'code': FAULT_CODE,
         'params': ['8.2.1', '8.3.0'], 'times': None}]})
    try:
        yield Cli(lab, tmp)
    finally:
        lab.close()


@pytest.fixture(scope='module')
def slow(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('cli-slow')
    lab = Lab(tmp, 3, SLOW_SCALE)
    try:
        # NOTE: short leases, so that a killed owner's expires within the test
        yield Cli(lab, tmp, config='[xenserver]\nlease_renewal_interval = %s\n'
                  'lease_expiry = %s\n' % (LEASE / 4, LEASE))
    finally:
        lab.close()


def test_sequence_is_consistent_after_every_step(fast):
    cli, lab = fast, fast.lab
    out = cli.run('aggregate', 'create', 'seq').stdout
    assert 'created aggregate seq' in out
    view = cli.assert_consistent('seq')
    assert (view['operational_state'], view['hosts'], view['master']) == (
        ps.CREATED, {}, None)

    cli.run('aggregate', 'add-host', 'seq', 'host1')
    view = cli.assert_consistent('seq')
    assert view['master'] == 'host1' and view['hosts'] == {'host1': lab.uuid('host1')}

    proc = cli.run('aggregate', 'add-host', 'seq', 'host2')
    assert 'added host2 to seq: active' in proc.stdout
    assert '  join ...' in proc.stderr        # not a terminal: plain progress lines
    view = cli.assert_consistent('seq')
    assert view['operational_state'] == ps.ACTIVE
    assert sorted(h['uuid'] for h in members(view)) == sorted(
        [lab.uuid('host1'), lab.uuid('host2')])

    # without a terminal to ask and without --yes: refused, nothing changed
    proc = cli.run('aggregate', 'remove-host', 'seq', 'host1', status=REFUSED)
    assert 'give --yes' in proc.stderr and proc.stderr.count('\n') == 1
    assert cli.assert_consistent('seq')['hosts'] == {'host1': lab.uuid('host1'),
                                                     'host2': lab.uuid('host2')}
    cli.run('aggregate', 'remove-host', 'seq', 'host1', '--yes')     # the master
    view = cli.assert_consistent('seq')
    assert view['master'] == 'host2' and view['hosts'] == {'host2': lab.uuid('host2')}
    assert [h['uuid'] for h in members(view)] == [lab.uuid('host2')]

    cli.run('aggregate', 'remove-host', 'seq', 'host2', '--yes')     # the last host
    view = cli.assert_consistent('seq')
    assert (view['operational_state'], view['hosts']) == (ps.CREATED, {})

    cli.run('aggregate', 'delete', 'seq')
    view = cli.assert_consistent('seq')
    assert view['operational_state'] == ps.DISMISSED


def test_show_human_output_pool_show_and_preflight(fast):
    cli, lab = fast, fast.lab
    cli.run('aggregate', 'create', 'look')
    cli.run('aggregate', 'add-host', 'look', 'host3')
    text = cli.run('aggregate', 'show', 'look').stdout
    rows = {line.split('|')[1].strip(): line.split('|')[2].strip()
            for line in text.splitlines() if line.startswith('| ')}
    assert rows['name'] == 'look' and rows['operational_state'] == 'active'
    assert rows['master'] == 'host3' and rows['consistent'] == 'yes'
    assert 'host3 %s' % lab.uuid('host3') in text
    assert 'live, enabled, master' in text

    text = cli.run('pool', 'show', '--url', lab.url('host3')).stdout
    assert lab.uuid('host3') in text and 'look' in text
    data = json.loads(cli.run('pool', 'show', '--url', lab.url('host3'), '-f',
                              'json').stdout)
    assert data['master_uuid'] == lab.uuid('host3') and data['name_label'] == 'look'
    assert [(m['uuid'], m['master']) for m in data['members']] == [
        (lab.uuid('host3'), True)]
    # NOTE: a bare address means https: the lab serves http, so it fails - in a
    # way that says where it went (no "unsupported XML-RPC protocol" crash)
    bare = lab.url('host3').split('://', 1)[1].rstrip('/')
    proc = cli.run('pool', 'show', '--url', bare, '-f', 'json', status=1)
    assert json.loads(proc.stderr)['error']['host'].startswith('https://' + bare)

    out = cli.run('preflight', 'look', 'host4').stdout
    assert out.strip() == 'host4 can join look'
    data = json.loads(cli.run('preflight', 'look', 'host4', '-f', 'json').stdout)
    assert (data['can_join'], data['mismatches']) == (True, [])

    listed = json.loads(cli.run('aggregate', 'list', '-f', 'json').stdout)
    look = [r for r in listed if r['name'] == 'look'][0]
    assert (look['operational_state'], look['hosts'], look['master']) == (
        ps.ACTIVE, {'host3': lab.uuid('host3')}, 'host3')
    assert cli.run('aggregate', 'list', '-f', 'value', '-c', 'name').stdout.split() == [
        r['name'] for r in listed]


def test_xapi_error_is_one_line_with_the_code(fast):
    cli = fast
    cli.run('aggregate', 'create', 'err')
    cli.run('aggregate', 'add-host', 'err', 'host1')
    proc = cli.run('aggregate', 'add-host', 'err', 'host4', status=1)
    errors = [line for line in proc.stderr.splitlines() if not line.startswith('  ')]
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith('xenpool: error: xapi error %s' % FAULT_CODE)
    assert '8.2.1' in errors[0]
    view = cli.assert_consistent('err')
    assert view['operational_state'] == ps.ACTIVE
    assert 'host4' not in view['hosts']


@pytest.mark.parametrize('args, message, status', [
    (('aggregate', 'show', 'missing'), 'missing', 1),
    (('aggregate', 'add-host', 'refuse', 'nosuchhost'), 'unknown host nosuchhost', USAGE),
    (('aggregate', 'create', 'refuse'), 'already exists', REFUSED),
    (('aggregate', 'forget-host', 'missing', 'host9'), 'missing', 1),
    (('aggregate', 'remove-host', 'refuse', 'host1', '--dead', '--bogus'), '--bogus', USAGE),
])
def test_refusals_are_one_line(fast, args, message, status):
    fast.run('aggregate', 'create', 'refuse', status=None)
    proc = fast.run(*args, status=status)
    assert proc.stderr.count('\n') == 1 and proc.stderr.startswith('xenpool: error: ')
    assert message in proc.stderr
    # the same error as JSON on stderr
    proc = fast.run(*args, '-f', 'json', status=status)
    error = json.loads(proc.stderr)['error']
    assert error['exit_code'] == status and message in error['message']


def test_removing_a_host_that_is_not_a_member_is_a_success(fast):
    fast.run('aggregate', 'create', 'idem')
    out = fast.run('aggregate', 'remove-host', 'idem', 'host2').stdout
    assert out == 'host2 is not a member of idem: nothing to remove\n'
    fast.assert_consistent('idem')


def _join_task_pending(lab, host):
    """True while an ``Async.pool.join`` task is pending on ``host``'s xapi."""
    try:
        proxy, session = lab.xapi(host)
    except OSError:
        return False
    if proxy is None:
        return False
    try:
        tasks = proxy.task.get_all_records(session).get('Value') or {}
        return any('pool.join' in t['name_label'] and t['status'] == 'pending'
                   for t in tasks.values())
    finally:
        proxy('close')()


def _member_live(lab, master, host):
    """True once ``host`` is an enabled, live member of ``master``'s pool."""
    try:
        proxy, session = lab.xapi(master)
        if proxy is None:
            return False
    except OSError:
        return False
    try:
        hosts = proxy.host.get_all_records(session).get('Value') or {}
        for rec in hosts.values():
            if rec['uuid'] == lab.uuid(host):
                metrics = proxy.host_metrics.get_record(session, rec['metrics'])
                return rec['enabled'] and metrics.get('Value', {}).get('live')
        return False
    except (OSError, xmlrpc.client.Error):
        return False
    finally:
        proxy('close')()


@pytest.mark.parametrize('sig, host, status', [
    (signal.SIGINT, 'host2', 130),
    (signal.SIGKILL, 'host3', -signal.SIGKILL),
], ids=['ctrl-c', 'sigkill'])
def test_interrupted_add_host_is_resolved_by_reconcile(slow, sig, host, status):
    cli, lab = slow, slow.lab
    name = 'intr-%s' % host
    cli.run('aggregate', 'create', name)
    cli.run('aggregate', 'add-host', name, 'host1')
    proc = cli.popen('aggregate', 'add-host', name, host)
    try:
        # NOTE: mid-join = the intent record says so AND xapi runs the join task
        intent = _poll(lambda: bk.read(cli.metadata(name)).intent, 'the intent record')
        assert (intent.op, intent.host) == (ps.OP_ADD, host)
        _poll(lambda: bk.read(cli.metadata(name)).intent.phase == 'join'
              and _join_task_pending(lab, host), 'the join task')
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == status, err
    if sig == signal.SIGKILL:
        # NOTE: its lease is alive: another shell's reconcile leaves it alone
        # (first thing after the kill: the lease lasts LEASE seconds)
        proc = cli.run('aggregate', 'reconcile', name, status=DRIFT)
        assert 'left alone' in proc.stdout, proc.stdout
    if sig == signal.SIGINT:
        assert 'reconcile %s' % name in err and 'Traceback' not in err
    md = cli.metadata(name)
    assert md[ps.KEY] == ps.CHANGING
    assert bk.read(md).intent.host == host           # the intent record stays
    assert cli.show(name)['consistent'] is False
    if sig == signal.SIGKILL:
        _poll(lambda: bk.read(cli.metadata(name)).intent.expires < time.time(),
              'the lease to expire', interval=0.05)
    # Ctrl-C released the lease at once; the join task may still run: reconcile
    # waits for it (xapi finishes it without us), then finishes the add
    out = cli.run('aggregate', 'reconcile', name).stdout
    assert 'finished add of host %s' % host in out and 'agrees with xapi' in out
    view = cli.assert_consistent(name)
    assert view['operational_state'] == ps.ACTIVE
    assert view['hosts'][host] == lab.uuid(host)
    cli.run('aggregate', 'remove-host', name, host, '--yes')
    cli.assert_consistent(name)
    # NOTE: host1 leaves too: its pool's claim goes with the last host, so
    # the next test may found its own aggregate on it (another aggregate's
    # master would be refused: a host belongs to one pool aggregate).
    cli.run('aggregate', 'remove-host', name, 'host1', '--yes')
    assert cli.assert_consistent(name)['operational_state'] == ps.CREATED
