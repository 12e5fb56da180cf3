"""Input and store hygiene of the ``xenpool`` command, run as an operator runs it.

Subprocesses, as in :mod:`tests.functional.cli.test_cli`: reserved host
names and URLs with userinfo are refused against a served lab with nothing
changed; in-memory, corrupted and locked stores are one error line.
"""

import json
import os
import sqlite3
import subprocess
import sys
import urllib.parse

import pytest

from tests.functional.cli.test_cli import (DEADLINE, FAST_SCALE, ROOT, USAGE, Cli, Lab,
                                           _env)
from xenpool_driver import store as store_mod
from xenpool_driver.aggregates import bookkeeping as bk

RESERVED = sorted(bk.RESERVED_KEYS)


def _xenpool(*args, timeout=DEADLINE):
    return subprocess.run([sys.executable, '-m', 'xenpool_driver.cli.main'] + list(args),
                          cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=timeout)


def _assert_one_error_line(proc, *words, status=1):
    assert proc.returncode == status, (proc.stdout, proc.stderr)
    assert proc.stderr.count('\n') == 1, proc.stderr
    assert proc.stderr.startswith('xenpool: error: '), proc.stderr
    for word in words:
        assert word in proc.stderr, proc.stderr


@pytest.fixture(scope='module')
def cli(tmp_path_factory):
    """A 2-host lab and a store with aggregate ``hyg``: host1 is its master."""
    tmp = tmp_path_factory.mktemp('cli-hygiene')
    lab = Lab(tmp, 2, FAST_SCALE)
    try:
        cli = Cli(lab, tmp)
        cli.run('aggregate', 'create', 'hyg')
        cli.run('aggregate', 'add-host', 'hyg', 'host1')
        yield cli
    finally:
        lab.close()


def _state(cli):
    with store_mod.Store(cli.store_url) as store:
        agg = store.get_aggregate('hyg')
        return agg.hosts, agg.metadata, store.list_hosts()


@pytest.mark.parametrize('host', RESERVED)
def test_reserved_host_name_is_refused_and_nothing_changes(cli, host):
    before = _state(cli)
    proc = cli.run('aggregate', 'add-host', 'hyg', host, '--url', cli.lab.url('host2'),
                   status=None)
    _assert_one_error_line(proc, 'reserved', ', '.join(RESERVED), status=USAGE)
    assert _state(cli) == before
    cli.assert_consistent('hyg')


@pytest.mark.parametrize('args', [
    ('aggregate', 'remove-host', 'hyg', 'master_compute', '--yes'),
    ('preflight', 'hyg', 'operational_state'),
])
def test_reserved_host_name_is_refused_by_every_host_command(cli, args):
    before = _state(cli)
    _assert_one_error_line(cli.run(*args, status=None), 'reserved', status=USAGE)
    assert _state(cli) == before


def test_url_with_password_is_refused_never_stored(cli):
    password = cli.lab.data['password']
    parts = urllib.parse.urlsplit(cli.lab.url('host2'))
    secret_url = parts._replace(netloc='root:%s@%s' % (password, parts.netloc)).geturl()
    before = _state(cli)
    proc = cli.run('aggregate', 'add-host', 'hyg', 'host2', '--url', secret_url,
                   status=None)         # NOTE: Cli.run asserts the password is not shown
    _assert_one_error_line(proc, 'refused', 'never stored', parts.netloc, status=USAGE)
    assert _state(cli) == before
    with open(cli.store_url[len('sqlite:///'):], 'rb') as f:
        assert password.encode() not in f.read()
    # NOTE: the same URL without its userinfo is accepted: that was the refusal.
    cli.run('aggregate', 'add-host', 'hyg', 'host2', '--url', cli.lab.url('host2'))
    view = cli.assert_consistent('hyg')
    assert sorted(view['hosts']) == ['host1', 'host2']


@pytest.mark.parametrize('url', ['sqlite://', 'sqlite:///:memory:', 'sqlite+pysqlite://'])
def test_in_memory_store_is_refused(url):
    proc = _xenpool('--store', url, 'aggregate', 'create', 'p1')
    _assert_one_error_line(proc, 'in-memory', 'lost', status=USAGE)
    assert proc.stdout == ''


def test_corrupted_store_file_is_one_line(tmp_path):
    path = tmp_path / 's.sqlite'
    garbage = os.urandom(16384)
    path.write_bytes(garbage)
    proc = _xenpool('--store', 'sqlite:///%s' % path, 'aggregate', 'list')
    _assert_one_error_line(proc, 'not a usable database', str(path))
    assert 'Traceback' not in proc.stderr
    assert path.read_bytes() == garbage


def test_store_busy_timeout_is_honoured(tmp_path):
    url = 'sqlite:///%s' % (tmp_path / 's.sqlite')
    store_mod.Store(url).close()
    (tmp_path / 'xenpool.conf').write_text('[store]\nbusy_timeout = 0\n')
    writer = sqlite3.connect(tmp_path / 's.sqlite', isolation_level=None)
    writer.execute('BEGIN IMMEDIATE')
    try:
        # NOTE: ignored, the default 30 s wait outlasts this timeout.
        proc = _xenpool('--config-file', str(tmp_path / 'xenpool.conf'), '--store', url,
                        'aggregate', 'list', '-f', 'json', timeout=DEADLINE * 2 / 3)
    finally:
        writer.execute('ROLLBACK')
        writer.close()
    assert proc.returncode == 1 and proc.stderr.count('\n') == 1, proc.stderr
    error = json.loads(proc.stderr)['error']     # NOTE: -f json: the error is JSON
    assert error['type'] == 'store' and 'database is locked' in error['message']
    proc = _xenpool('--config-file', str(tmp_path / 'xenpool.conf'), '--store', url,
                    'aggregate', 'list', '-f', 'json')
    assert proc.returncode == 0 and json.loads(proc.stdout) == []
