"""Argument parsing and the one-line errors of the ``xenpool`` commands."""

import json

import pytest

from xenpool_driver import exception
from xenpool_driver.aggregates import workflow as workflow_mod
from xenpool_driver.cli import commands
from xenpool_driver.cli import main as cli_main
from xenpool_driver.xapi import preflight
from tests import passwords
from tests.unit.aggregates import fakes


def _command(argv):
    conf = commands.build_conf(argv)
    return conf, commands._Args(conf.command)


@pytest.mark.parametrize('argv, key, aggregate', [
    (['aggregate', 'create', 'p1'], ('aggregate', 'create'), 'p1'),
    (['aggregate', 'show', 'p1'], ('aggregate', 'show'), 'p1'),
    (['aggregate', 'add-host', 'p1', 'h2'], ('aggregate', 'add-host'), 'p1'),
    (['aggregate', 'remove-host', 'p1', 'h2'], ('aggregate', 'remove-host'), 'p1'),
    (['aggregate', 'reconcile', 'p1'], ('aggregate', 'reconcile'), 'p1'),
    (['aggregate', 'delete', 'aggregate'], ('aggregate', 'delete'), 'aggregate'),
    (['preflight', 'p1', 'h2'], ('preflight', None), 'p1'),
])
def test_sub_command_and_aggregate_name_are_kept_apart(argv, key, aggregate):
    conf, args = _command(argv)
    assert (conf.command.name, args.action) == key
    assert key in commands.COMMANDS
    assert args.aggregate == aggregate


def test_add_host_arguments():
    _conf, args = _command(['aggregate', 'add-host', 'p1', 'h2', '--url',
                            'http://10.0.0.2/', '--force-join'])
    assert (args.host, args.url, args.force_join) == ('h2', 'http://10.0.0.2/', True)


@pytest.mark.parametrize('flags, force, dead', [
    ([], False, False), (['--force'], True, False), (['--dead'], False, True)])
def test_remove_host_passes_force_and_dead(mocker, flags, force, dead):
    _conf, args = _command(['aggregate', 'remove-host', 'p1', 'h2'] + flags)
    ctx = mocker.Mock()
    ctx.store.get_aggregate.return_value.hosts = []
    assert commands.cmd_remove_host(ctx, args) == 0
    ctx.workflow.remove.assert_called_once_with(
        ctx.store.get_aggregate.return_value, 'h2', force=force, dead=dead)


def test_store_and_lab_file_options():
    conf, _args = _command(['--store', 'sqlite:///x.sqlite', '--lab-file', 'lab.json',
                            'aggregate', 'list'])
    assert conf.store_url == 'sqlite:///x.sqlite'
    assert conf.lab_file == 'lab.json'
    assert hasattr(conf.store, 'connection')   # the [store] group stays reachable


@pytest.mark.parametrize('argv', [
    ['aggregate', 'list', '--json'],
    ['aggregate', 'show', 'p1', '--json'],
    ['aggregate', 'reconcile', '--all', '--json'],
    ['preflight', 'p1', 'h2', '--json'],
    ['pool', 'show', '--url', 'http://10.0.0.1/', '--json'],
])
def test_json_on_read_commands(argv):
    _conf, args = _command(argv)
    assert args.json is True


@pytest.mark.parametrize('argv', [
    ['--xenserver-connection_password', passwords.PASSWORD, 'aggregate', 'list'],
    ['--connection-password', passwords.PASSWORD, 'aggregate', 'list'],
    ['--password', passwords.PASSWORD, 'aggregate', 'list'],
    ['aggregate', 'add-host', 'p1', 'h2', '--password', passwords.PASSWORD],
    ['pool', 'show', '--url', 'http://10.0.0.1/', '--password', passwords.PASSWORD],
])
def test_credentials_are_never_a_command_line_argument(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        commands.build_conf(argv)
    assert exc.value.code == 2


def test_no_option_names_a_secret():
    conf = commands.build_conf(['aggregate', 'list'])
    parser_help = []
    for opt in commands.cli_opts:
        parser_help.append(opt.dest)
    assert not [d for d in parser_help if 'pass' in d or 'secret' in d]
    # NOTE: the password is an option of the config file and environment only
    assert 'connection_password' in conf.xenserver
    assert not conf.xenserver.connection_password


def test_password_from_the_environment(monkeypatch):
    monkeypatch.setenv('OS_XENSERVER__CONNECTION_PASSWORD', passwords.PASSWORD)
    conf = commands.build_conf(['aggregate', 'list'])
    assert conf.xenserver.connection_password == passwords.PASSWORD


def test_error_line_carries_the_xapi_code_on_one_line():
    exc = exception.XapiError('POOL_JOINING_HOST_MUST_HAVE_SAME_PRODUCT_VERSION',
                              ['8.2.1', '8.3.0'], method='pool.join')
    line = commands.error_line(exc)
    assert line.startswith('xapi error POOL_JOINING_HOST_MUST_HAVE_SAME_PRODUCT_VERSION')
    assert '8.2.1' in line and '(in pool.join)' in line
    assert '\n' not in line


def test_error_line_of_other_errors_is_their_text():
    exc = exception.XapiUnavailable('http://10.0.0.1/', 'connection refused')
    assert commands.error_line(exc) == str(exc)
    assert '\n' not in commands.error_line(exc)


def test_main_prints_one_error_line_and_fails(tmp_path, capsys):
    status = cli_main.main(['--store', 'sqlite:///%s' % (tmp_path / 's.sqlite'),
                            'aggregate', 'show', 'nope'])
    err = capsys.readouterr().err
    assert status == 1
    assert err.count('\n') == 1 and err.startswith('xenpool: error: ')


def test_bad_lab_file_is_one_error_line(tmp_path, capsys):
    (tmp_path / 'lab.json').write_text('{}')
    status = cli_main.main(['--lab-file', str(tmp_path / 'lab.json'), '--store',
                            'sqlite:///%s' % (tmp_path / 's.sqlite'), 'aggregate', 'list'])
    err = capsys.readouterr().err
    assert status == 1
    assert 'malformed lab file' in err and err.count('\n') == 1


def test_create_list_show_without_xapi(tmp_path, capsys):
    store = ['--store', 'sqlite:///%s' % (tmp_path / 's.sqlite')]
    assert cli_main.main(store + ['aggregate', 'create', 'p1']) == 0
    assert cli_main.main(store + ['aggregate', 'create', 'plain', '--no-hv-pool']) == 0
    assert cli_main.main(store + ['aggregate', 'create', 'p1']) == 1
    capsys.readouterr()
    assert cli_main.main(store + ['aggregate', 'list', '--json']) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r['name'], r['operational_state']) for r in rows] == [
        ('p1', 'created'), ('plain', None)]
    assert cli_main.main(store + ['aggregate', 'show', 'p1', '--json']) == 0
    view = json.loads(capsys.readouterr().out)
    assert (view['name'], view['consistent'], view['hosts']) == ('p1', True, {})


@pytest.mark.parametrize('flags, force', [([], None), (['--force-join'], True)])
def test_add_host_passes_force_join_as_an_argument(mocker, flags, force):
    """A per-call flag: the workflow's ``force``, never a config override
    (None leaves it to [xenserver] use_join_force)."""
    _conf, args = _command(['aggregate', 'add-host', 'p1', 'h2'] + flags)
    ctx = mocker.Mock()
    ctx.locate.return_value = 'https://10.0.0.2'
    assert commands.cmd_add_host(ctx, args) == 0
    ctx.workflow.add.assert_called_once_with(
        ctx.store.get_aggregate.return_value, 'h2',
        slave_info={'url': 'https://10.0.0.2'}, force=force)
    ctx.conf.set_override.assert_not_called()


@pytest.mark.parametrize('flags, force', [([], None), (['--force-join'], True)])
def test_preflight_is_the_workflows_check(mocker, capsys, flags, force):
    _conf, args = _command(['preflight', 'p1', 'h2', '--url', 'https://10.0.0.2']
                           + flags)
    ctx = mocker.Mock()
    ctx.workflow.preflight.return_value = [
        preflight.Mismatch('HOSTS_NOT_HOMOGENEOUS', [], 'cpu')]
    assert commands.cmd_preflight(ctx, args) == 1
    ctx.workflow.preflight.assert_called_once_with(
        ctx.store.get_aggregate.return_value, 'h2', url='https://10.0.0.2',
        force=force)
    ctx.session.assert_not_called()     # NOTE: no xapi check of its own
    assert capsys.readouterr().out == 'HOSTS_NOT_HOMOGENEOUS []: cpu\n'


def test_preflight_without_a_master_says_so(mocker):
    _conf, args = _command(['preflight', 'p1', 'h2', '--url', 'https://10.0.0.2'])
    ctx = mocker.Mock()
    connector = mocker.Mock()
    ctx.workflow = workflow_mod.Workflow(connector, conf=fakes.make_conf())
    ctx.store.get_aggregate.return_value = fakes.FakeAggregate(
        name='p1', metadata={'hypervisor_pool': 'true',
                             'operational_state': 'created'})
    with pytest.raises(exception.XenPoolError) as err:
        commands.cmd_preflight(ctx, args)
    assert 'aggregate p1 has no master yet' in str(err.value)
    connector.get.assert_not_called()
    ctx.session.assert_not_called()


def test_pool_show_reads_through_the_workflow(mocker, capsys):
    _conf, args = _command(['pool', 'show', '--url', 'https://10.0.0.1', '--json'])
    ctx = mocker.Mock()
    ctx.workflow.membership.return_value = fakes.membership('c1')
    assert commands.cmd_pool_show(ctx, args) == 0
    ctx.workflow.membership.assert_called_once_with('https://10.0.0.1')
    ctx.session.assert_not_called()
    assert json.loads(capsys.readouterr().out)['master'] == fakes.UUID['c1']


def test_the_result_line_comes_after_the_progress_display_ends(capsys):
    order = []

    class Progress:
        def close(self):
            order.append('close')
            print('', end='')   # NOTE: what tqdm's close ends with on stderr

    class Ctx:
        progress = Progress()

    commands._result(Ctx(), 'added h2 to p1: active')
    order.append(capsys.readouterr().out)
    assert order == ['close', 'added h2 to p1: active\n']
