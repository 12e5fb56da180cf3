"""The [store] options and the default SQLite file."""

import os

import pytest
from oslo_config import cfg

from tests import passwords
from xenpool_driver import store as store_mod
from xenpool_driver.store import conf as store_conf


@pytest.fixture
def conf():
    c = cfg.ConfigOpts()
    # NOTE: a group of our own: oslo.config copies an OptGroup shallowly, so
    # an override set through the shared module-level group would leak into
    # the global CONF.
    c.register_opts(store_conf.store_opts, group='store')
    c([], default_config_files=[])
    return c


def test_list_opts():
    [(group, opts)] = store_conf.list_opts()
    assert group.name == 'store'
    assert {o.name for o in opts} >= {'connection', 'busy_timeout'}


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
    assert cfg.CONF.store.connection is None


def test_store_without_url_uses_the_default_file(tmp_path, monkeypatch):
    monkeypatch.setenv('XDG_STATE_HOME', str(tmp_path))
    with store_mod.Store() as s:
        s.create_aggregate('pool')
    assert os.path.exists(tmp_path / 'xenpool' / 'aggregates.sqlite')


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
