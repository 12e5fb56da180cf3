"""What a command works with: the store URL it may use, its busy timeout, its host input."""

import types
import uuid

import pytest

from tests import passwords
from xenpool_driver import conf as xenpool_conf
from xenpool_driver import exception
from xenpool_driver import redaction
from xenpool_driver import store as store_mod
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.cli import app
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
    ctx = context_mod.Context(_conf(), store_url='sqlite://')
    with pytest.raises(store_mod.InvalidInput):
        ctx.store
    opened.assert_not_called()


def test_context_honours_the_store_busy_timeout(tmp_path):
    (tmp_path / 'xenpool.conf').write_text('[store]\nbusy_timeout = 2.5\n')
    conf = _conf(str(tmp_path / 'xenpool.conf'))
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


def _conf(*config_files):
    return app.build_conf(types.SimpleNamespace(config_file=list(config_files)))


def test_password_from_the_environment(monkeypatch):
    monkeypatch.setenv('OS_XENSERVER__CONNECTION_PASSWORD', passwords.PASSWORD)
    assert _conf().xenserver.connection_password == passwords.PASSWORD


@pytest.mark.parametrize('configured, url', [
    ('192.0.2.10', 'https://192.0.2.10'), ('https://192.0.2.10', 'https://192.0.2.10')])
def test_a_bare_connection_url_means_https(configured, url):
    conf = _conf()
    conf.set_override('connection_url', configured, 'xenserver')
    context_mod.Context(conf)
    assert conf.xenserver.connection_url == url


#: A lab file whose first host is not the configured connection_url.
LAB = {'username': 'root', 'password': passwords.PASSWORD,
       'hosts': [{'name': 'h1', 'url': 'https://192.0.2.1',
                  'address': '192.0.2.1', 'uuid': 'u1'}]}


@pytest.mark.parametrize('configured, url', [
    (None, 'https://192.0.2.1'), ('https://192.0.2.50', 'https://192.0.2.50')])
def test_a_configured_connection_url_beats_the_lab_files_first_host(configured, url):
    conf = xenpool_conf.build(xenserver={'connection_url': configured})
    context_mod.Context(conf, lab=context_mod.LabFile(LAB))
    assert conf.xenserver.connection_url == url


def test_the_configured_password_is_masked_once_the_context_exists():
    # NOTE: a password of its own: the suite's are registered by other tests
    password = 'xp-ctx-%s' % uuid.uuid4().hex
    passwords.remember(password)
    context_mod.Context(xenpool_conf.build(xenserver={'connection_password': password}))
    assert redaction.redact('pw=%s' % password) == 'pw=' + redaction.MASK


def test_the_configured_password_opens_the_connector():
    conf = xenpool_conf.build(xenserver={'connection_password': passwords.PASSWORD})
    ctx = context_mod.Context(conf)
    try:
        assert ctx.connector.settings.password == passwords.PASSWORD
    finally:
        ctx.close()


def test_no_password_no_connector():
    ctx = context_mod.Context(xenpool_conf.build())
    with pytest.raises(exception.XenPoolError, match='no xapi password'):
        ctx.connector


def test_the_workflow_records_every_operation_in_the_store(mocker):
    """Context builds the workflow with history=the store's record_operation."""
    workflow = mocker.patch.object(context_mod.workflow_mod, 'Workflow', autospec=True)
    ctx = context_mod.Context(_conf(), store_url='sqlite:///x.sqlite')
    ctx._store = mocker.Mock()
    assert ctx.workflow is workflow.return_value
    sink = workflow.call_args.kwargs['history']
    sink('the record')
    ctx._store.record_operation.assert_called_once_with('the record')
