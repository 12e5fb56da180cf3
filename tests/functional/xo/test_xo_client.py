"""XenOrchestra's ``xen-api`` client (npm, pinned in package.json) against a lab.

A client nobody here wrote: it connects through a slave (follows
HOST_IS_SLAVE), fills its object cache with every class it derives from
``system.listMethods``, resolves ``callAsync`` of ``pool.join`` and
``pool.eject`` through its task watcher (``event.from`` on ``task``), sees
task progress and watched changes, and disconnects; over JSON-RPC and
XML-RPC, plain HTTP and verified TLS (the lab's CA via NODE_EXTRA_CA_CERTS).

Install the client with ``npm ci --prefix tests/functional/xo``. Without
node or that install these tests skip, unless XENPOOL_REQUIRE_XO=1.
"""

import json
import os
import shutil
import subprocess

import pytest

from tests import passwords
from tests import reality
from xenpool_driver.simulator import Lab, Timings

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, 'xo_client.mjs')
INSTALL = 'npm ci --prefix tests/functional/xo'

#: The lab runs 100 times faster than xapi, but slow enough that XO's event
#: loop (debounce 50 ms) sees each task pending before it ends.
SCALE = 0.01
TIMINGS = Timings(join_duration=40, eject_duration=40, fuse=60, restart=2, boot=5,
                  eject_reboot=90)
#: Real seconds one XO step may take before the script reports it stuck.
STEP_TIMEOUT_MS = 30000

#: The classes the simulator models that have ``get_all_records``.
XO_TYPES = ['PBD', 'PIF', 'SR', 'VBD', 'VDI', 'VIF', 'VM', 'VM_guest_metrics', 'VM_metrics',
            'host', 'host_metrics', 'network', 'pool', 'task']
#: Classes a fresh lab has no object of (no guest, no disk, no guest agent).
EMPTY_IN_A_LAB = {'task', 'VBD', 'VDI', 'VIF', 'VM_guest_metrics'}


@pytest.fixture
def node():
    """The node binary, or a skip (a failure with XENPOOL_REQUIRE_XO=1)."""
    node = shutil.which('node')
    missing = None
    if node is None:
        missing = 'node is not installed'
    elif not os.path.isfile(os.path.join(HERE, 'node_modules', 'xen-api', 'package.json')):
        missing = "XenOrchestra's xen-api is not installed (run: %s)" % INSTALL
    if missing is not None:
        if os.environ.get('XENPOOL_REQUIRE_XO') == '1':
            pytest.fail(missing + ' and XENPOOL_REQUIRE_XO=1')
        pytest.skip(missing)
    return node


@pytest.fixture(params=['http', 'tls'])
def lab(request):
    lab = Lab(hosts=3, tls=request.param == 'tls', time_scale=SCALE, timings=TIMINGS,
              password=passwords.PASSWORD)
    passwords.remember(lab.password)
    lab.start()
    try:
        yield lab
    finally:
        lab.close()


def _join_second_host(lab):
    """host2 joins host1 through the Python SDK; returns once it is a running slave."""
    h1, h2 = lab.hosts[0], lab.hosts[1]
    s = reality.login(lab, h2.url, follow_master=False)
    s.xenapi.pool.join(h1.address, lab.username, lab.password)
    assert lab.wait_until(lambda: h2.role == 'slave' and h2.state == 'running', timeout=30)
    assert lab.wait_until(lambda: h2.db.get('host', h2.ref)['enabled'], timeout=30)


def run_xo(node, lab, transport):
    """Run the node script: what XO saw, or a failure carrying XO's error text."""
    h1, h2, h3 = lab.hosts
    cfg = {'entryUrl': h2.url, 'joinerUrl': h3.url, 'masterAddress': h1.address,
           'user': lab.username, 'password': lab.password, 'transport': transport,
           'stepTimeoutMs': STEP_TIMEOUT_MS}
    env = dict(os.environ)
    if lab.ca_file:
        env['NODE_EXTRA_CA_CERTS'] = lab.ca_file
    proc = subprocess.run([node, SCRIPT, json.dumps(cfg)], cwd=HERE, env=env,
                          capture_output=True, text=True, timeout=STEP_TIMEOUT_MS / 100)
    lines = proc.stdout.strip().splitlines()
    try:
        seen = json.loads(lines[-1])
    except (IndexError, ValueError):
        pytest.fail('xo_client.mjs exited %d without a result\nstdout: %s\nstderr: %s'
                    % (proc.returncode, proc.stdout[-2000:], proc.stderr[-4000:]))
    if proc.returncode != 0 or 'failed' in seen:
        err = seen.get('error', {})
        pytest.fail('XenOrchestra failed at %r: %s\ncode=%s params=%s call=%s\n%s\n'
                    'steps done: %s\nstderr: %s'
                    % (seen.get('failed'), err.get('message'), err.get('code'),
                       err.get('params'), err.get('call'), err.get('stack'),
                       seen.get('steps'), proc.stderr[-3000:]))
    return seen


@pytest.mark.parametrize('transport', ['json-rpc', 'xml-rpc'])
def test_xo_client(node, lab, transport):
    _join_second_host(lab)
    h1, h2, h3 = lab.hosts
    seen = run_xo(node, lab, transport)

    # connected through the slave's URL: HOST_IS_SLAVE followed to the master
    assert seen['connectedTo'] == h1.address
    assert seen['status'] == 'connected'
    assert seen['masterAddress'] == h1.address
    # object cache: every class XO derived from system.listMethods, filled
    assert seen['types'] == XO_TYPES
    for cls in set(XO_TYPES) - EMPTY_IN_A_LAB:
        assert seen['counts'].get(cls, 0) >= 1, (cls, seen['counts'])
    assert seen['counts']['host'] == seen['hostsBefore'] == 2
    # callAsync resolved through the task watcher (void results are '')
    assert seen['joinResult'] == ''
    assert seen['ejectResult'] == ''
    # task progress seen: pending at 0, then success at 1
    for states in (seen['joinTask'], seen['ejectTask']):
        assert states[0] == ['pending', 0], states
        assert states[-1] == ['success', 1], states
    # the watched change: the joiner appeared, enabled; then left
    assert seen['joinedHost'] == {'uuid': h3.uuid, 'address': h3.address, 'enabled': True}
    assert 'watch ejected host removed' in seen['steps']
    assert seen['statusAfter'] == 'disconnected'
