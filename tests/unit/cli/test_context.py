"""What a command works with: the store URL it may use, its busy timeout, its host input."""

import pytest

from tests import passwords
from xenpool_driver import store as store_mod
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.cli import commands
from xenpool_driver.cli import context as context_mod
from tests.unit.store import busy_timeout_ms


@pytest.mark.parametrize('url', [
    'sqlite://', 'sqlite:///:memory:', 'sqlite+pysqlite://',
    'sqlite+pysqlite:///:memory:', 'sqlite:///file:x?mode=memory&uri=true',
])
def test_in_memory_store_is_refused(url):
    with pytest.raises(store_mod.InvalidInput) as exc:
        context_mod.check_store_url(url)
    assert 'in-memory' in str(exc.value) and '\n' not in str(exc.value)


@pytest.mark.parametrize('url', [
    'sqlite:///x.sqlite', 'sqlite:////var/lib/xenpool/a.sqlite',
    'postgresql+psycopg://op@db.example.org/xenpool',
])
def test_lasting_store_is_accepted(url):
    assert context_mod.check_store_url(url) == url


def test_context_refuses_an_in_memory_store_before_opening_it(mocker):
    opened = mocker.patch.object(store_mod, 'Store', autospec=True)
    ctx = context_mod.Context(commands.build_conf(['aggregate', 'list']),
                              store_url='sqlite://')
    with pytest.raises(store_mod.InvalidInput):
        ctx.store
    opened.assert_not_called()


def test_context_honours_the_store_busy_timeout(tmp_path):
    (tmp_path / 'xenpool.conf').write_text('[store]\nbusy_timeout = 2.5\n')
    conf = commands.build_conf(['--config-file', str(tmp_path / 'xenpool.conf'),
                                'aggregate', 'list'])
    ctx = context_mod.Context(conf, store_url='sqlite:///%s' % (tmp_path / 's.sqlite'))
    try:
        assert busy_timeout_ms(ctx.store) == 2500
    finally:
        ctx.close()


@pytest.mark.parametrize('host', sorted(bk.RESERVED_KEYS))
def test_reserved_host_name_is_refused(host):
    with pytest.raises(store_mod.InvalidInput) as exc:
        context_mod.check_host_args(host)
    assert ', '.join(sorted(bk.RESERVED_KEYS)) in str(exc.value)


def test_url_with_userinfo_is_refused():
    with pytest.raises(store_mod.InvalidInput) as exc:
        context_mod.check_host_args('h2', 'http://root:%s@10.0.0.2' % passwords.PASSWORD)
    assert passwords.PASSWORD not in str(exc.value)


def test_plain_host_and_url_are_accepted():
    context_mod.check_host_args('h2', 'https://10.0.0.2:443/')


@pytest.mark.parametrize('argv', [
    ['aggregate', 'add-host', 'p1', 'master_compute'],
    ['aggregate', 'add-host', 'p1', 'h2', '--url', 'http://root:%s@10.0.0.2' % passwords.PASSWORD],
    ['aggregate', 'remove-host', 'p1', 'operational_state'],
    ['preflight', 'p1', 'xenpool:state'],
    ['preflight', 'p1', 'h2', '--url', 'http://root@10.0.0.2'],
    ['pool', 'show', '--url', 'http://root:%s@10.0.0.1' % passwords.PASSWORD],
])
def test_commands_check_host_input_before_anything(mocker, argv):
    conf = commands.build_conf(argv)
    ctx = mocker.Mock()
    key = (conf.command.name, getattr(conf.command, 'action', None))
    with pytest.raises(store_mod.InvalidInput):
        commands.COMMANDS[key](ctx, commands._Args(conf.command))
    assert ctx.mock_calls == []
