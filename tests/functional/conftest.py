"""Functional fixtures: the driver's real layers against a simulated lab.

Nothing here is a mock. A :class:`Env` wires

* a :class:`~xenpool_driver.simulator.Lab` (plain HTTP, or HTTPS with the
  lab's CA and verification on),
* the real session layer (``Connector(SessionSettings(...))``),
* a :class:`~xenpool_driver.aggregates.workflow.Workflow` over it,
* a store-backed aggregate (SQLite file; atomic compare-and-set),

and :func:`read_pool` reads real pool membership INDEPENDENTLY of the driver,
through the plain XenAPI SDK (its own login on the master, pool / host /
host_metrics records), so that :func:`assert_consistent` compares metadata
with what xapi itself says.
"""

import json
import os
import time

import pytest

from tests import passwords
from xenpool_driver import conf as xenpool_conf
from xenpool_driver import pool_states as ps
from xenpool_driver import store as store_mod
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import workflow as workflow_mod
from xenpool_driver.simulator import Lab
from xenpool_driver.xapi import connector as xconnector
from xenpool_driver.xapi import settings as xsettings
from tests.reality import (CEILING, MAX_BACKOFF, RealHost, RealPool,  # noqa: F401
                           assert_standalone, lab_host, read_pool)

#: 1 xapi second lasts 5 ms: a join's 10 s fuse is 50 ms, an eject reboot
#: (90 s) 0.45 s.
SCALE = 0.005

PLAIN, TLS = 'http', 'tls'


def scaled_sleep(seconds):
    time.sleep(min(seconds, MAX_BACKOFF))


def make_conf(lab, password=None, **overrides):
    """``[xenserver]`` options for ``lab``'s first host (what a driver has).

    The one lab configuration of the functional tests (the crash and fault
    tests add their small timeouts to it), built by
    :func:`xenpool_driver.conf.build` as the driver's own is.

    :param lab: a Lab, or its ``describe()`` dict (what a child process gets).
    :param overrides: further ``[xenserver]`` values (they win).
    """
    spec = lab if isinstance(lab, dict) else lab.describe()
    values = dict(connection_url=spec['hosts'][0]['url'],
                  connection_username=spec['username'],
                  connection_password=password or spec['password'],
                  ca_file=spec.get('ca_file'), login_timeout=5.0,
                  call_timeout=CEILING, task_timeout=CEILING,
                  live_timeout=CEILING)
    values.update(overrides)
    return xenpool_conf.build(xenserver=values)


def make_settings(conf):
    """The session settings of ``conf`` (as the driver builds them)."""
    return xsettings.SessionSettings.from_conf(conf)


class Env(object):
    """One lab, one store, one real connector and workflow.

    :param lab: a started Lab, or its ``describe()`` dict (in a child process).
    """

    def __init__(self, lab, store_url, password=None, sleep=scaled_sleep,
                 owner='functional-tests', **conf_overrides):
        self.lab = lab
        self.store_url = store_url
        self.store = store_mod.Store(store_url)
        self.conf = make_conf(lab, password=password, **conf_overrides)
        self.settings = make_settings(self.conf)
        self.connector = xconnector.Connector(self.settings, sleep=sleep)
        spec = lab if isinstance(lab, dict) else lab.describe()
        self.urls = {h['name']: h['url'] for h in spec['hosts']}
        self.workflow = workflow_mod.Workflow(
            self.connector, conf=self.conf, host_locator=self.urls.get,
            owner=owner)

    def names(self):
        return list(self.urls)

    def new_aggregate(self, name, **metadata):
        md = {ps.POOL_FLAG: 'true', ps.KEY: ps.CREATED}
        md.update(metadata)
        return self.store.create_aggregate(name, md)

    def add(self, agg, host, workflow=None):
        """What the compute API does: host list first, then the driver hook."""
        agg.add_host(host)
        try:
            return (workflow or self.workflow).add(agg, host,
                                                   slave_info={'url': self.urls[host]})
        except Exception:
            agg.delete_host(host)
            raise

    def remove(self, agg, host, workflow=None, **kw):
        (workflow or self.workflow).remove(agg, host, **kw)
        agg.delete_host(host)

    def close(self):
        self.connector.close()
        self.store.close()


def start_lab(hosts=4, tls=False, **kw):
    kw.setdefault('time_scale', SCALE)
    lab = Lab(hosts=hosts, tls=tls, **kw)
    passwords.remember(lab.password)
    return lab.start()


@pytest.fixture
def make_env(tmp_path):
    """Factory: ``make_env(hosts=4, tls=False, lab=None, **kw)`` -> Env.

    Every lab, connector and store made is closed after the test.
    """
    made = []

    def make(hosts=4, tls=False, lab=None, lab_kw=None, db='aggregates', **kw):
        if lab is None:
            lab = start_lab(hosts, tls=tls, **(lab_kw or {}))
            made.append(lab)
        env = Env(lab, 'sqlite:///' + str(tmp_path / ('%s.sqlite' % db)), **kw)
        made.append(env)
        return env
    try:
        yield make
        # NOTE: after every flow, whatever it did: no stored metadata value
        # (nor the database file itself) carries a password.
        for env in made:
            if isinstance(env, Env):
                assert_store_has_no_secrets(env)
    finally:
        for thing in reversed(made):
            thing.close()


@pytest.fixture(params=[PLAIN, TLS])
def env(request, make_env):
    """A 4-host lab over plain HTTP, then over HTTPS with verification on."""
    return make_env(4, tls=request.param == TLS)


def assert_no_secrets(metadata, lab=None):
    """No metadata key or value carries a configured password."""
    secrets = set(passwords.all_passwords())
    if lab is not None:
        secrets.add(lab.password)
    for key, value in metadata.items():
        for secret in secrets:
            assert secret not in key, 'password in metadata key %r' % key[:8]
            assert secret not in (value or ''), \
                'password in metadata value of %r' % key


def _secrets_of(env):
    secrets = set(passwords.all_passwords())
    secrets.add(env.lab['password'] if isinstance(env.lab, dict) else env.lab.password)
    secrets.add(env.settings.password)
    return {s for s in secrets if s}


def assert_store_has_no_secrets(env):
    """Every aggregate's metadata, and the SQLite files' bytes, hold no password."""
    secrets = _secrets_of(env)
    for agg in env.store.list_aggregates():
        for key, value in agg.metadata.items():
            for secret in secrets:
                assert secret not in key and secret not in (value or ''), \
                    'password in metadata %r of aggregate %s' % (key, agg.name)
    path = env.store_url.split('sqlite:///', 1)[-1]
    for suffix in ('', '-wal', '-journal'):
        if os.path.exists(path + suffix):
            with open(path + suffix, 'rb') as f:
                data = f.read()
            for secret in secrets:
                assert secret.encode() not in data, 'password in %s' % (
                    os.path.basename(path + suffix))


def assert_clean_bookkeeping(metadata):
    """The bookkeeping key is absent or valid JSON; no intent key."""
    assert bk.INTENT_KEY not in metadata
    raw = metadata.get(bk.KEY)
    if raw is not None:
        data = json.loads(raw)
        assert isinstance(data, dict) and data.get('v') == bk.VERSION, raw
        assert 'intent' not in data, raw
    assert bk.read(metadata).intent is None


def assert_consistent(env, agg, state, hosts=None, master=None, classic=False):
    """Metadata of ``agg`` and the real pool agree; returns the RealPool.

    :param state: expected ``operational_state``.
    :param hosts: expected compute host names recorded (None: don't care).
    :param master: expected master compute host (None: whatever is real).
    :param classic: the master address may be absent (the classic layout,
        where the driver's own xapi leads to the master).
    """
    lab = env.lab
    agg.refresh()
    md = dict(agg.metadata)
    assert md.get(ps.KEY) == state, md
    assert_clean_bookkeeping(md)
    assert_no_secrets(md, lab)
    recorded = bk.recorded_hosts(md)
    if hosts is not None:
        assert set(recorded) == set(hosts), md
    assert set(agg.hosts) == set(recorded), (agg.hosts, md)
    if not recorded:
        assert bk.MASTER_COMPUTE not in md, md
        assert bk.read(md).master_address is None, md
        assert state in (ps.CREATED, ps.DISMISSED)
        return None
    start = lab_host(lab, sorted(recorded)[0]).url
    real = read_pool(lab, start)
    assert set(real.hosts) == set(recorded.values()), (real, md)
    for name, host_uuid in recorded.items():
        h = lab_host(lab, name)
        assert host_uuid == h.uuid, (name, md)
        info = real.hosts[host_uuid]
        assert info.address == h.address
        assert info.enabled and info.live, info
    real_master = lab.host_at(real.master.address).name
    assert md.get(bk.MASTER_COMPUTE) == real_master, (md, real)
    assert real.answered_by == real.master.address
    address = bk.read(md).master_address
    if not (classic and address is None):
        assert address == real.master.address, md
    assert real.name_label == agg.name
    if master is not None:
        assert real_master == master
    return real


def free_port():
    """A loopback TCP port nobody listens on (closed at once)."""
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


__all__ = ['CEILING', 'Env', 'SCALE', 'assert_clean_bookkeeping',
           'assert_store_has_no_secrets',
           'assert_consistent', 'assert_no_secrets', 'assert_standalone',
           'free_port', 'lab_host', 'make_conf', 'make_settings', 'read_pool',
           'start_lab']
