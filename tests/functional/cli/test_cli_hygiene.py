"""Store hygiene of the ``xenpool`` command, run as an operator runs it.

Subprocesses, as in :mod:`tests.functional.cli.test_cli`: corrupted and
locked stores are one error line.
"""

import json
import os
import sqlite3
import subprocess
import sys

from tests.functional.cli.test_cli import DEADLINE, ROOT, _env
from xenpool_driver import store as store_mod


def _xenpool(*args, timeout=DEADLINE):
    return subprocess.run([sys.executable, '-m', 'xenpool_driver.cli.main'] + list(args),
                          cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=timeout)


def _assert_one_error_line(proc, *words):
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert proc.stderr.count('\n') == 1, proc.stderr
    assert proc.stderr.startswith('xenpool: error: '), proc.stderr
    for word in words:
        assert word in proc.stderr, proc.stderr


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
                        'aggregate', 'list', '--json', timeout=DEADLINE * 2 / 3)
    finally:
        writer.execute('ROLLBACK')
        writer.close()
    _assert_one_error_line(proc, 'database is locked')
    proc = _xenpool('--config-file', str(tmp_path / 'xenpool.conf'), '--store', url,
                    'aggregate', 'list', '--json')
    assert proc.returncode == 0 and json.loads(proc.stdout) == []
