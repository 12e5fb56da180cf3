"""The [store] options: registered explicitly, read by the store, the default file."""

import os
import subprocess
import sys

import pytest

from tests import passwords
from tests.unit.store import busy_timeout_ms
from xenpool_driver import conf as xenpool_conf
from xenpool_driver import store as store_mod
from xenpool_driver.store import conf as store_conf


def _parsed(tmp_path, text=''):
    """A ``ConfigOpts`` as the command builds it, from a file with ``text``."""
    path = tmp_path / 'xenpool.conf'
    path.write_text(text)
    return xenpool_conf.build(registrars=[store_conf.register_opts],
                              argv=['--config-file', str(path)])


@pytest.fixture(autouse=True)
def state_home(tmp_path, monkeypatch):
    """``$XDG_STATE_HOME`` of the test: an ignored option opens no file in $HOME."""
    state = tmp_path / 'state'
    monkeypatch.setenv('XDG_STATE_HOME', str(state))
    return state


@pytest.fixture
def conf(tmp_path):
    return _parsed(tmp_path)


def test_list_opts():
    [(group, opts)] = store_conf.list_opts()
    assert group.name == 'store'
    assert {o.name for o in opts} >= {'connection', 'busy_timeout'}


def test_importing_the_store_registers_no_option():
    # NOTE: a fresh interpreter: in this one, any test may have registered.
    code = ('from oslo_config import cfg\n'
            'import xenpool_driver.store.conf, xenpool_driver.store.database\n'
            'assert "store" not in cfg.CONF, list(cfg.CONF)\n')
    subprocess.run([sys.executable, '-c', code], check=True)


@pytest.mark.parametrize('environ, expected', [
    ({'HOME': '/home/op'},
     '/home/op/.local/state/xenpool/aggregates.sqlite'),
    ({'HOME': '/home/op', 'XDG_STATE_HOME': '/var/state'},
     '/var/state/xenpool/aggregates.sqlite'),
    # NOTE: relative XDG values are to be ignored (XDG base directory spec).
    ({'HOME': '/home/op', 'XDG_STATE_HOME': 'rel'},
     '/home/op/.local/state/xenpool/aggregates.sqlite'),
])
def test_default_is_a_sqlite_file_in_the_state_dir(conf, environ, expected):
    assert store_conf.connection_url(conf, environ) == 'sqlite:///' + expected


def test_configured_connection_wins(conf):
    conf.set_override('connection', 'sqlite:///x.db', group='store')
    assert store_conf.connection_url(conf, {}) == 'sqlite:///x.db'
    other = xenpool_conf.build(registrars=[store_conf.register_opts])
    assert other.store.connection is None


def test_configured_connection_is_the_store_opened(tmp_path, state_home):
    path = tmp_path / 'shared' / 'a.sqlite'
    conf = _parsed(tmp_path, '[store]\nconnection = sqlite:///%s\n' % path)
    with store_mod.Store.from_conf(conf) as s:
        s.create_aggregate('pool')
        assert s.url == 'sqlite:///%s' % path
    with store_mod.Store('sqlite:///%s' % path) as s:
        assert [a.name for a in s.list_aggregates()] == ['pool']
    assert not state_home.exists()


def test_a_given_url_overrides_the_configured_connection(tmp_path):
    conf = _parsed(tmp_path, '[store]\nconnection = sqlite:///%s\n'
                   % (tmp_path / 'configured.sqlite'))
    with store_mod.Store.from_conf(
            conf, url='sqlite:///%s' % (tmp_path / 'given.sqlite')):
        pass
    assert (tmp_path / 'given.sqlite').exists()
    assert not (tmp_path / 'configured.sqlite').exists()


def test_configured_busy_timeout_reaches_sqlite(tmp_path, sqlite_url):
    # NOTE: 2.5 s, not the default 30: an ignored option fails here, and no
    # test waits for a lock.
    conf = _parsed(tmp_path, '[store]\nbusy_timeout = 2.5\n')
    with store_mod.Store.from_conf(conf, url=sqlite_url) as s:
        assert busy_timeout_ms(s) == 2500


def test_store_without_a_configured_url_uses_the_default_file(conf, state_home):
    with store_mod.Store.from_conf(conf) as s:
        s.create_aggregate('pool')
    assert os.path.exists(state_home / 'xenpool' / 'aggregates.sqlite')


@pytest.mark.parametrize('url', ['', 'not a url', 'nosuchdb://x', 42])
def test_bad_url_is_invalid_input(url):
    with pytest.raises(store_mod.InvalidInput):
        store_mod.Store(url)


def test_unreachable_database_hides_the_password():
    url = ('postgresql+psycopg://op:%s@127.0.0.1:1/x?connect_timeout=2'
           % passwords.PASSWORD)
    with pytest.raises(store_mod.StoreUnavailable) as info:
        store_mod.Store(url)
    assert passwords.PASSWORD not in str(info.value)
    assert '127.0.0.1' in str(info.value)
