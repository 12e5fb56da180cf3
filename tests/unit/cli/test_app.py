"""The cliff application: its version, help, exit codes, errors and logging."""

import json

import pytest

from tests import passwords
from tests.unit.cli.conftest import run
from xenpool_driver import exception
from xenpool_driver import store as store_mod
from xenpool_driver.cli import app
from xenpool_driver.cli import errors


def test_version_is_the_packages(capsys):
    assert run(['--version']).status == 0
    assert capsys.readouterr().out.strip() == 'xenpool %s' % app.version()
    assert app.version() not in ('', 'unknown')


def test_help_names_the_store_the_lab_timing_and_every_exit_code():
    result = run(['--help'])
    assert result.status == 0
    text = ' '.join(result.out.split())
    assert '~/.local/state/xenpool/aggregates.sqlite' in text
    assert '$XDG_STATE_HOME/xenpool/aggregates.sqlite' in text
    assert 'real xapi timing' in text and '--time-scale' in text
    for code, meaning in errors.EXIT_CODES:
        assert '%d %s' % (code, ' '.join(meaning.split())) in text
    for command in ('aggregate add-host', 'aggregate history', 'pool show', 'preflight',
                    'lab', 'demo'):
        assert command in text


def test_exit_codes_are_distinct_and_documented():
    codes = [code for code, _ in errors.EXIT_CODES]
    assert codes == [errors.OK, errors.FAILURE, errors.USAGE, errors.REFUSED,
                     errors.DRIFT, errors.INTERRUPTED] == [0, 1, 2, 3, 4, 130]


@pytest.mark.parametrize('exc, code', [
    (exception.XapiError('HOST_OFFLINE', ['h']), errors.FAILURE),
    (exception.XapiUnavailable('https://h', 'refused'), errors.FAILURE),
    (store_mod.NotFound('no aggregate x'), errors.FAILURE),
    (store_mod.StoreUnavailable('locked'), errors.FAILURE),
    (RuntimeError('a bug'), errors.FAILURE),
    (errors.UsageError('bad'), errors.USAGE),
    (store_mod.InvalidInput('reserved'), errors.USAGE),
    (exception.InvalidAggregateAction('add', 1, 'setup in progress'), errors.REFUSED),
    (exception.OperationRefused('pool.eject', 'u', 'running VMs'), errors.REFUSED),
    (store_mod.Conflict('exists'), errors.REFUSED),
    (errors.Interrupted('interrupted'), errors.INTERRUPTED),
])
def test_exit_code_of_each_kind_of_error(exc, code):
    assert errors.exit_code(exc) == code


@pytest.mark.parametrize('argv, words', [
    ([], 'no command given'),
    (['--shell_completion', 'bash'], 'unknown option --shell_completion'),
    (['aggregate', 'frob'], 'unknown command "aggregate frob"'),
    (['aggregate', 'add-host', 'p1'], 'required'),
    (['aggregate', 'set-state', 'p1', 'bogus'], 'invalid choice'),
    (['--store'], 'expected one argument'),
])
def test_usage_errors_are_one_line_exit_2(argv, words):
    result = run(argv)
    assert result.status == errors.USAGE
    assert result.err.count('\n') == 1 and result.err.startswith('xenpool: error: ')
    assert words in result.err and 'Traceback' not in result.err
    assert result.out == ''


@pytest.mark.parametrize('argv', [
    ['--xenserver-connection_password', passwords.PASSWORD, 'aggregate', 'list'],
    ['--connection-password', passwords.PASSWORD, 'aggregate', 'list'],
    ['--password', passwords.PASSWORD, 'aggregate', 'list'],
    ['aggregate', 'add-host', 'p1', 'h2', '--password', passwords.PASSWORD],
    ['aggregate', 'add-host', 'p1', 'h2', '--password=%s' % passwords.PASSWORD],
    ['pool', 'show', '--url', 'http://10.0.0.1/', '--password', passwords.PASSWORD],
])
def test_credentials_are_never_a_command_line_argument(argv):
    result = run(argv)
    assert result.status == errors.USAGE
    assert passwords.PASSWORD not in result.err + result.out
    assert result.err.count('\n') == 1


@pytest.mark.parametrize('argv', [
    ['aggregate', 'show', 'nope', '-f', 'json'],
    ['aggregate', 'show', 'nope', '-fjson'],
    ['aggregate', 'list', '--format', 'json', '--nosuch'],
    ['aggregate', 'show', 'nope', '--json'],
])
def test_with_json_the_error_is_json_on_stderr(tmp_path, argv):
    result = run(['--store', 'sqlite:///%s' % (tmp_path / 's.sqlite')] + argv)
    assert result.status in (errors.FAILURE, errors.USAGE)
    assert result.out == '' and result.err.count('\n') == 1
    error = json.loads(result.err)['error']
    assert error['exit_code'] == result.status
    assert set(error) >= {'type', 'message', 'code', 'params', 'method', 'host'}


def test_xapi_error_is_structured_in_json(ctx):
    ctx.store.get_aggregate.side_effect = exception.XapiError(
        'POOL_JOINING_HOST_MUST_HAVE_SAME_PRODUCT_VERSION', ['8.2.1', '8.3.0'],
        method='pool.join', host='https://10.0.0.4')
    result = run(['aggregate', 'show', 'p1', '-f', 'json'], ctx)
    assert result.status == errors.FAILURE
    assert json.loads(result.err)['error'] == {
        'type': 'xapi_error', 'code': 'POOL_JOINING_HOST_MUST_HAVE_SAME_PRODUCT_VERSION',
        'params': ['8.2.1', '8.3.0'], 'method': 'pool.join', 'host': 'https://10.0.0.4',
        'message': str(ctx.store.get_aggregate.side_effect), 'exit_code': 1}


def test_xapi_error_line_carries_the_code_on_one_line():
    exc = exception.XapiError('POOL_JOINING_HOST_MUST_HAVE_SAME_PRODUCT_VERSION',
                              ['8.2.1', '8.3.0'], method='pool.join')
    assert errors.line(exc) == ('xapi error POOL_JOINING_HOST_MUST_HAVE_SAME_PRODUCT_'
                                'VERSION [8.2.1, 8.3.0] (in pool.join)')


def test_a_bug_is_one_line_too(ctx):
    ctx.store.list_aggregates.side_effect = KeyError('x')
    result = run(['aggregate', 'list'], ctx)
    assert result.status == errors.FAILURE
    assert result.err == "xenpool: error: KeyError: 'x'\n"


def test_ctrl_c_is_130_and_names_reconcile(ctx):
    ctx.workflow.add.side_effect = KeyboardInterrupt
    result = run(['aggregate', 'add-host', 'p1', 'h2'], ctx)
    assert result.status == errors.INTERRUPTED
    assert result.err == ('xenpool: error: interrupted: the intent record is kept and '
                          'its lease released; run "xenpool aggregate reconcile p1"\n')
    ctx.progress.close.assert_called()
    ctx.close.assert_called_once_with()


def test_a_bad_config_file_is_a_usage_error(tmp_path):
    result = run(['--config-file', str(tmp_path / 'missing.conf'), 'aggregate', 'list'])
    assert result.status == errors.USAGE and result.err.count('\n') == 1


# -- logging ------------------------------------------------------------------------

@pytest.fixture
def setup(mocker):
    return mocker.patch.object(app.oslo_log, 'setup', autospec=True)


def test_silent_by_default(ctx, setup):
    ctx.store.list_aggregates.return_value = []
    assert run(['aggregate', 'list'], ctx).status == 0
    setup.assert_not_called()


@pytest.mark.parametrize('argv, debug, log_file, use_stderr', [
    (['--debug'], True, None, True),
    (['-v'], False, None, True),
    (['--log-file', '/tmp/x.log'], False, '/tmp/x.log', False),
    (['--debug', '--log-file', '/tmp/x.log'], True, '/tmp/x.log', False),
])
def test_oslo_log_is_set_up_as_services_do(ctx, setup, argv, debug, log_file,
                                           use_stderr):
    ctx.store.list_aggregates.return_value = []
    application = app.XenpoolApp(context_factory=lambda _app: ctx)
    assert application.run(argv + ['aggregate', 'list']) == 0
    setup.assert_called_once_with(application.conf, 'xenpool')
    conf = application.conf
    assert (conf.debug, conf.log_file, conf.use_stderr) == (debug, log_file, use_stderr)


def test_the_commands_are_the_entry_points_of_setup_cfg():
    import configparser
    import pathlib
    cfg = configparser.ConfigParser()
    cfg.read(pathlib.Path(__file__).resolve().parents[3] / 'setup.cfg')
    declared = {line.split('=')[0].strip().replace('_', ' ')
                for line in cfg['entry_points'][app.NAMESPACE].splitlines() if line.strip()}
    loaded = {name for name, _ep in app.CommandManager(app.NAMESPACE,
                                                       convert_underscores=True)}
    assert declared == loaded, 'stale install: rm -rf *.egg-info; pip install -e .'
    assert {'aggregate add-host', 'aggregate add host', 'aggregate remove-host',
            'aggregate history', 'lab', 'demo'} <= loaded


def test_json_is_still_spelled_json(tmp_path):
    """The spelling before cliff (README, scripts) is -f json."""
    store = ['--store', 'sqlite:///%s' % (tmp_path / 's.sqlite')]
    run(store + ['aggregate', 'create', 'p1'])
    assert run(store + ['aggregate', 'list', '--json']).out == run(
        store + ['aggregate', 'list', '-f', 'json']).out
