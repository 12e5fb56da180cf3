"""Configuration: the one builder, options registered, defaults sane, the sample in sync."""

import os
import subprocess
import sys

import pytest
from oslo_config import cfg

from xenpool_driver import conf
from xenpool_driver import opts as opts_mod
from xenpool_driver.store import conf as store_conf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(ROOT, 'etc', 'xenpool_driver', 'xenpool_driver.conf.sample')
GENERATOR_CONF = os.path.join(ROOT, 'etc', 'xenpool_driver',
                              'xenpool-driver-config-generator.conf')


def test_defaults():
    x = conf.build().xenserver
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
    full = conf.build(registrars=[store_conf.register_opts])
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


@pytest.mark.parametrize('how', ['config_files', 'argv'])
def test_build_parses_a_config_file_and_an_override_beats_it(tmp_path, how):
    path = tmp_path / 'xenpool.conf'
    path.write_text('[xenserver]\n'
                    'connection_url = https://192.0.2.9\n'
                    'call_timeout = 7.5\n'
                    'pool_error_threshold = 5\n'
                    '[store]\n'
                    'busy_timeout = 2.5\n')
    given = ({'config_files': [str(path)]} if how == 'config_files'
             else {'argv': ['--config-file', str(path)]})
    c = conf.build(xenserver={'pool_error_threshold': 2},
                   registrars=[store_conf.register_opts], **given)
    assert c.xenserver.connection_url == 'https://192.0.2.9'     # the file
    assert c.xenserver.call_timeout == 7.5                       # the file
    assert c.xenserver.pool_error_threshold == 2                 # the override
    assert c.xenserver.login_timeout == 10.0                     # the default
    assert c.store.busy_timeout == 2.5                  # a registrar's group


def test_build_reads_no_file_unless_asked(tmp_path, monkeypatch):
    # NOTE: oslo.config would look for ~/.xenpool/xenpool.conf by default
    (tmp_path / '.xenpool').mkdir()
    (tmp_path / '.xenpool' / 'xenpool.conf').write_text(
        '[xenserver]\npool_error_threshold = 9\n')
    monkeypatch.setenv('HOME', str(tmp_path))
    assert conf.build().xenserver.pool_error_threshold == 3


def test_build_refuses_a_bad_command_line():
    with pytest.raises(SystemExit):
        conf.build(argv=['--no-such-option'], prog='xenpool-test')


def test_two_builds_share_no_state(tmp_path):
    path = tmp_path / 'xenpool.conf'
    path.write_text('[xenserver]\nconnection_url = https://192.0.2.9\n')
    global_groups = set(cfg.CONF)
    a = conf.build(xenserver={'pool_error_threshold': 1},
                   config_files=[str(path)])
    b = conf.build()
    a.set_override('call_timeout', 3.0, 'xenserver')
    assert (a.xenserver.pool_error_threshold, a.xenserver.call_timeout,
            a.xenserver.connection_url) == (1, 3.0, 'https://192.0.2.9')
    assert (b.xenserver.pool_error_threshold, b.xenserver.call_timeout,
            b.xenserver.connection_url) == (3, 60.0, None)
    c = conf.build(registrars=[store_conf.register_opts])
    assert c.xenserver.call_timeout == 60.0
    assert 'store' not in b and 'store' in c
    # NOTE: nothing is registered on the global configuration either
    assert set(cfg.CONF) == global_groups


def test_snapshot_keeps_the_values_of_the_moment():
    source = conf.build(xenserver={'connection_url': 'https://192.0.2.1',
                                   'pool_error_threshold': 7})
    copy = conf.snapshot(source)
    source.set_override('connection_url', 'https://192.0.2.2', 'xenserver')
    assert copy.xenserver.connection_url == 'https://192.0.2.1'
    assert copy.xenserver.pool_error_threshold == 7
    for opt in conf.xenserver_opts:
        assert getattr(copy.xenserver, opt.dest) == getattr(source.xenserver, opt.dest) \
            or opt.dest == 'connection_url'


def test_importing_the_driver_registers_no_option():
    # NOTE: a fresh interpreter: in this one, any test may have registered.
    # NOTE: what a compute service loads (the cli extra may be absent there).
    code = ('from oslo_config import cfg\n'
            'import xenpool_driver.conf, xenpool_driver.opts, xenpool_driver.driver\n'
            'import xenpool_driver.cli.main\n'
            'assert "xenserver" not in cfg.CONF and "store" not in cfg.CONF, list(cfg.CONF)\n')
    subprocess.run([sys.executable, '-c', code], check=True)
