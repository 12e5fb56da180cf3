"""Configuration: options registered, defaults sane, the sample in sync."""

import os
import subprocess
import sys

from oslo_config import cfg

from xenpool_driver import conf
from xenpool_driver import opts as opts_mod
from xenpool_driver.store import conf as store_conf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(ROOT, 'etc', 'xenpool_driver', 'xenpool_driver.conf.sample')
GENERATOR_CONF = os.path.join(ROOT, 'etc', 'xenpool_driver',
                              'xenpool-driver-config-generator.conf')


def test_defaults():
    c = cfg.ConfigOpts()
    conf.register_opts(c)
    c([], project='xenpool-test')
    x = c.xenserver
    assert x.insecure is False  # TLS verified by default
    assert x.pool_error_threshold == 3
    assert x.use_join_force is False
    assert x.connection_concurrent >= 1


def test_password_is_secret():
    opts = {o.name: o for o in conf.xenserver_opts}
    assert opts['connection_password'].secret is True


def test_list_opts_lists_every_registered_option_once():
    # NOTE: what a fully registered ConfigOpts holds, group by group, must be
    # exactly what the generator is given (an option left out fails here)
    full = cfg.ConfigOpts()
    conf.register_opts(full)
    store_conf.register_opts(full)
    registered = {(group, name) for group in ('xenserver', 'store')
                  for name in full[group]}
    listed = [(group.name, o.dest) for group, opts in opts_mod.list_opts() for o in opts]
    assert len(listed) == len(set(listed))
    assert set(listed) == registered


def test_sample_in_sync(tmp_path):
    out = tmp_path / 'sample.conf'
    subprocess.run([sys.executable, '-m', 'oslo_config.generator',
                    '--config-file', GENERATOR_CONF, '--output-file', str(out)],
                   check=True, cwd=ROOT)
    with open(SAMPLE) as f:
        committed = f.read()
    assert out.read_text() == committed, (
        'etc/xenpool_driver/xenpool_driver.conf.sample is stale: run tox -e genconfig')


def test_overrides_do_not_leak_between_config_objects():
    a, b = cfg.ConfigOpts(), cfg.ConfigOpts()
    conf.register_opts(a)
    conf.register_opts(b)
    a([], project='xenpool-test')
    b([], project='xenpool-test')
    a.set_override('pool_error_threshold', 1, 'xenserver')
    assert a.xenserver.pool_error_threshold == 1
    assert b.xenserver.pool_error_threshold == 3


def test_snapshot_keeps_the_values_of_the_moment():
    source = cfg.ConfigOpts()
    conf.register_opts(source)
    source([], project='xenpool-test')
    source.set_override('connection_url', 'https://192.0.2.1', 'xenserver')
    source.set_override('pool_error_threshold', 7, 'xenserver')
    copy = conf.snapshot(source)
    source.set_override('connection_url', 'https://192.0.2.2', 'xenserver')
    assert copy.xenserver.connection_url == 'https://192.0.2.1'
    assert copy.xenserver.pool_error_threshold == 7
    for opt in conf.xenserver_opts:
        assert getattr(copy.xenserver, opt.dest) == getattr(source.xenserver, opt.dest) \
            or opt.dest == 'connection_url'
