"""A small Nova cloud around a simulated lab: one real ComputeManager per host.

Every compute host gets its own nova.conf: the README's block with that
host's xapi URL, password and CA put in, plus a test file with what a
devstack would have (``host``, ``transport_url = fake:/``, SQLite databases,
a placement endpoint that is never called). Nova's configuration is parsed
from those files and ``ComputeManager()`` is built, so Nova's own loader
(``nova.virt.driver.load_compute_driver``) loads the driver, then
``init_host()`` runs as the service's start does.
"""

import functools
import pathlib
import re
import time

import pytest
from nova import conf as nova_conf
from nova import context as nova_context
from nova import objects
from nova import rpc
from nova.compute import manager as compute_manager
from nova.db.sqlalchemy import api_models
from nova.objects import base as obj_base
from nova.tests import fixtures as nova_fixtures

from tests import passwords
from tests import reality
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.simulator import Lab
from xenpool_driver.xapi import connector as xconnector

CONF = nova_conf.CONF
ROOT = pathlib.Path(__file__).resolve().parents[2]
#: 1 xapi second lasts 5 ms (as in tests/functional).
SCALE = 0.005
#: Nova's API database column widths of aggregate metadata (its model).
KEY_WIDTH = api_models.AggregateMetadata.key.type.length
VALUE_WIDTH = api_models.AggregateMetadata.value.type.length

_README_BLOCK = re.compile(r'<!-- nova\.conf:[^>]*-->\s*```ini\n(.*?)```', re.S)

TEST_CONF = """[DEFAULT]
host = {host}
transport_url = fake:/
[database]
connection = sqlite://
[api_database]
connection = sqlite://
[placement]
# NOTE: nova builds its placement client at start; no flow here calls it
auth_type = none
endpoint_override = http://127.0.0.1:9/placement
"""


def readme_nova_conf():
    """The nova.conf block of the README, as the README shows it."""
    match = _README_BLOCK.search((ROOT / 'README.md').read_text())
    assert match, 'README.md lost its nova.conf block'
    return match.group(1)


def host_nova_conf(url, password, ca_file):
    """The README's block with one host's values put in (each exactly once)."""
    text = readme_nova_conf()
    for key, value in (('connection_url', url), ('connection_password', password),
                       ('ca_file', ca_file or '')):
        text, n = re.subn(r'^%s = .*$' % key, '%s = %s' % (key, value), text,
                          flags=re.M)
        assert n == 1, 'README nova.conf block: %s appears %d times' % (key, n)
    return text


def scaled_sleep(seconds):
    time.sleep(min(seconds, reality.MAX_BACKOFF))


@pytest.fixture(scope='session')
def nova_process(tmp_path_factory):
    """Once per run: Nova's objects, configuration and RPC (fake transport)."""
    objects.register_all()
    base = tmp_path_factory.mktemp('nova') / 'nova-test.conf'
    base.write_text(TEST_CONF.format(host='nova-api'))
    CONF(['--config-file', str(base)], project='nova', default_config_files=[])
    rpc.init(CONF)
    yield
    rpc.cleanup()


@pytest.fixture
def nova_databases(nova_process, monkeypatch):
    """Nova's main and API databases, fresh for each test (nova's fixture)."""
    # NOTE: the lab runs 200 times faster than xapi: so does the driver's
    # patience between reconnects while a host restarts (as in tests/functional).
    monkeypatch.setattr(xconnector, 'from_conf',
                        functools.partial(xconnector.from_conf, sleep=scaled_sleep))
    made = [nova_fixtures.Database(), nova_fixtures.Database(database='api')]
    for db in made:
        db.setUp()
    yield
    for db in reversed(made):
        db.cleanUp()


class NovaCloud:
    """A lab of ``hosts`` XCP-ng hosts, each the hypervisor of a compute host.

    :param tmp_path: where the nova.conf files go.
    :param passwords_by_host: ``{host: password}`` put in that host's nova.conf
        instead of the lab's (a misconfigured compute host).
    :param lab_kw: passed to :class:`~xenpool_driver.simulator.Lab`.
    """

    def __init__(self, tmp_path, hosts=3, tls=False, passwords_by_host=None, **lab_kw):
        self.tmp = pathlib.Path(tmp_path)
        self.tmp.mkdir(parents=True, exist_ok=True)
        lab_kw.setdefault('time_scale', SCALE)
        self.lab = Lab(hosts=hosts, tls=tls, **lab_kw)
        passwords.remember(self.lab.password)
        self.lab.start()
        self.ctx = nova_context.get_admin_context()
        self.passwords = dict(passwords_by_host or {})
        self.managers = {}
        for h in self.lab.hosts:
            self.managers[h.name] = self.start_compute(h.name)

    # -- the compute services ------------------------------------------------

    def nova_conf_files(self, name):
        """Write ``name``'s nova.conf (the README block) and the test settings."""
        h = reality.lab_host(self.lab, name)
        password = self.passwords.get(name, self.lab.password)
        main = self.tmp / ('%s-nova.conf' % name)
        main.write_text(host_nova_conf(h.url, password, self.lab.ca_file))
        extra = self.tmp / ('%s-test.conf' % name)
        extra.write_text(TEST_CONF.format(host=name))
        return [str(main), str(extra)]

    def start_compute(self, name):
        """Parse ``name``'s nova.conf, build its ComputeManager, run init_host."""
        args = []
        for path in self.nova_conf_files(name):
            args += ['--config-file', path]
        CONF(args, project='nova', default_config_files=[])
        manager = compute_manager.ComputeManager()
        assert manager.host == name
        manager.init_host()
        return manager

    def restart_compute(self, name):
        """A new service process for ``name``: a fresh manager, init_host run."""
        self.managers[name] = self.start_compute(name)
        return self.managers[name]

    # -- what nova-api does ----------------------------------------------------

    def create_aggregate(self, name):
        """``openstack aggregate create --property hypervisor_pool=true ...``."""
        agg = objects.Aggregate(self.ctx, name=name, metadata={
            ps.POOL_FLAG: 'true', ps.KEY: ps.CREATED})
        agg.create()
        return agg.id

    def aggregate(self, agg_id):
        """The aggregate as nova's API database holds it now."""
        return objects.Aggregate.get_by_id(self.ctx, agg_id)

    def over_rpc(self, aggregate):
        """The copy a compute host receives: through nova's RPC serializer."""
        serializer = obj_base.NovaObjectSerializer()
        return serializer.deserialize_entity(
            self.ctx, serializer.serialize_entity(self.ctx, aggregate))

    def add(self, agg_id, name):
        """nova-api's add_host_to_aggregate: host list first, then the cast."""
        aggregate = self.aggregate(agg_id)
        aggregate.add_host(name)
        self.managers[name].add_aggregate_host(
            self.ctx, aggregate=self.over_rpc(aggregate), host=name,
            slave_info=None)

    def remove(self, agg_id, name):
        """nova-api's remove_host_from_aggregate: host list first, then the cast."""
        aggregate = self.aggregate(agg_id)
        aggregate.delete_host(name)
        self.managers[name].remove_aggregate_host(
            self.ctx, host=name, slave_info=None,
            aggregate=self.over_rpc(aggregate))

    # -- checks ----------------------------------------------------------------

    def assert_agrees(self, agg_id, state, master=None):
        """Nova's aggregate (hosts and metadata) equals the real pool.

        :returns: the :class:`tests.reality.RealPool`, or None without hosts.
        """
        agg = self.aggregate(agg_id)
        md = dict(agg.metadata)
        assert md.get(ps.KEY) == state, md
        assert bk.read(md).intent is None, md
        for key, value in md.items():
            assert len(key) <= KEY_WIDTH and len(value or '') <= VALUE_WIDTH, (key, value)
            for secret in set(passwords.all_passwords()) | {self.lab.password}:
                assert secret not in key and secret not in (value or '')
        recorded = bk.recorded_hosts(md)
        assert sorted(agg.hosts) == sorted(recorded), (agg.hosts, md)
        if not recorded:
            assert bk.MASTER_COMPUTE not in md and bk.read(md).master_address is None, md
            return None
        real = reality.read_pool(self.lab, reality.lab_host(self.lab, sorted(recorded)[0]).url)
        assert set(real.hosts) == set(recorded.values()), (real, md)
        for name, host_uuid in recorded.items():
            assert host_uuid == reality.lab_host(self.lab, name).uuid, (name, md)
            assert real.hosts[host_uuid].enabled and real.hosts[host_uuid].live
        real_master = self.lab.host_at(real.master.address).name
        assert md.get(bk.MASTER_COMPUTE) == real_master, (md, real)
        assert bk.read(md).master_address == real.master.address, md
        assert real.name_label == agg.name
        if master is not None:
            assert real_master == master
        return real

    def failures(self, agg_id):
        return bk.read(self.aggregate(agg_id).metadata).failures

    def close(self):
        for manager in self.managers.values():
            manager.driver.pool._get_connector().close()
        self.lab.close()
