"""``xenpool lab serve``: lab file, then serve until SIGTERM/SIGINT."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import XenAPI

from tests import passwords


@pytest.mark.parametrize('sig, extra', [(signal.SIGTERM, ['--vdis', '2']),
                                        (signal.SIGINT, ['--tls'])])
def test_serve_writes_lab_file_and_stops_cleanly(tmp_path, sig, extra):
    lab_file = tmp_path / 'lab.json'
    env = dict(os.environ, XENPOOL_LAB_PASSWORD=passwords.PASSWORD)
    proc = subprocess.Popen([sys.executable, '-m', 'xenpool_driver.cli.main', 'lab', 'serve',
                             '--hosts', '2', '--lab-file', str(lab_file),
                             '--time-scale', '0.001'] + extra,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not lab_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        data = json.loads(lab_file.read_text())
        assert oct(lab_file.stat().st_mode & 0o777) == '0o600'
        assert data['username'] == 'root' and data['password'] == passwords.PASSWORD
        assert [h['address'] for h in data['hosts']] == ['127.0.10.1', '127.0.10.2']
        assert {'name', 'url', 'address', 'uuid'} == set(data['hosts'][0])
        assert ('ca_file' in data) == ('--tls' in extra)
        h = data['hosts'][1]
        if '--tls' in extra:
            import ssl
            ctx = ssl.create_default_context(cafile=data['ca_file'])
            s = XenAPI.Session(h['url'],
                               transport=XenAPI.xmlrpclib.SafeTransport(context=ctx))
        else:
            s = XenAPI.Session(h['url'])
        s.xenapi.login_with_password(data['username'], data['password'])
        me = s.xenapi.host.get_by_uuid(h['uuid'])
        assert s.xenapi.host.get_address(me) == h['address']
        # --vdis N: N disks on each host's local SR (what its eject destroys)
        disks = sorted(r['name_label'] for r in s.xenapi.VDI.get_all_records().values())
        assert disks == (['disk 1 of host2', 'disk 2 of host2'] if '--vdis' in extra else [])
    finally:
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert passwords.PASSWORD.encode() not in out + err
    assert not lab_file.exists()


def test_bad_host_count():
    from xenpool_driver.simulator import serve
    assert serve.main(['serve', '--hosts', '0']) == 2
    assert serve.main(['serve', '--vdis', '-1']) == 2
