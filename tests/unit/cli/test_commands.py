"""The commands' wiring: what each asks the workflow and the store, and its exit code."""

import json
import re

import pytest

from tests.unit.aggregates import fakes
from tests.unit.cli.conftest import FakePlan, Tty, run
from xenpool_driver import exception
from xenpool_driver.aggregates import workflow as workflow_mod
from xenpool_driver.cli import errors
from xenpool_driver.xapi import preflight

URL = 'https://10.0.0.2'


@pytest.mark.parametrize('spelling', [['aggregate', 'add-host'], ['aggregate', 'add', 'host']])
@pytest.mark.parametrize('flags, force', [([], None), (['--force-join'], True)])
def test_add_host_passes_force_join_as_an_argument(ctx, spelling, flags, force):
    """A per-call flag: the workflow's ``force``, never a config override
    (None leaves it to [xenserver] use_join_force)."""
    ctx.workflow.add.return_value = 'u2'
    result = run(spelling + ['p1', 'h2'] + flags, ctx)
    assert result.status == 0, result.err
    ctx.workflow.add.assert_called_once_with(
        ctx.store.get_aggregate.return_value, 'h2', slave_info={'url': URL}, force=force)
    ctx.conf.set_override.assert_not_called()
    assert result.out == 'added h2 to p1: active\n'


def test_add_host_as_json_is_an_operation(ctx):
    ctx.workflow.add.return_value = 'u2'
    result = run(['aggregate', 'add-host', 'p1', 'h2', '-f', 'json'], ctx)
    record = json.loads(result.out)
    assert (record['op'], record['aggregate'], record['host'], record['host_uuid'],
            record['outcome'], record['state_after']) == (
        'add', 'p1', 'h2', 'u2', 'succeeded', 'active')


@pytest.mark.parametrize('given, url', [
    ('192.0.2.10', 'https://192.0.2.10'),
    ('xcp1.example.org', 'https://xcp1.example.org'),
    ('[fd00::1]', 'https://[fd00::1]'),
    ('fd00::1', 'https://[fd00::1]'),
    ('xcp1:8443', 'https://xcp1:8443'),
    ('http://10.0.0.2/', 'http://10.0.0.2/'),
])
def test_a_bare_address_means_https(ctx, given, url):
    ctx.workflow.membership.return_value = fakes.membership('c1')
    assert run(['aggregate', 'add-host', 'p1', 'h2', '--url', given], ctx).status == 0
    ctx.store.set_host_url.assert_called_once_with('h2', url)
    assert run(['pool', 'show', '--url', given], ctx).status == 0
    ctx.workflow.membership.assert_called_with(url)


def test_unknown_host_is_a_usage_error(ctx):
    ctx.locate.return_value = None
    result = run(['aggregate', 'add-host', 'p1', 'h9'], ctx)
    assert result.status == errors.USAGE and 'unknown host h9: give --url' in result.err
    ctx.workflow.add.assert_not_called()


# -- remove-host: what it destroys, asked ------------------------------------------

def _eject_plan(**kw):
    values = dict(operation='remove', aggregate='p1', host='h2', calls=['pool.eject'],
                  losses={'host_uuid': 'u2', 'srs': [],
                          'vms': [{'uuid': 'v1', 'name_label': 'web1'}],
                          'vdis': [{'uuid': 'd1', 'name_label': 'web1 disk 0'},
                                   {'uuid': 'd2', 'name_label': 'scratch'}],
                          'virtual_size': 3 * 2 ** 30})
    values.update(kw)
    return FakePlan(**values)


@pytest.mark.parametrize('flags, force, dead', [
    ([], False, False), (['--force'], True, False), (['--dead'], False, True)])
def test_remove_host_with_yes_passes_force_and_dead(ctx, flags, force, dead):
    ctx.workflow.plan_remove.return_value = _eject_plan()
    result = run(['aggregate', 'remove-host', 'p1', 'h2', '--yes'] + flags, ctx)
    assert result.status == 0, result.err
    agg = ctx.store.get_aggregate.return_value
    ctx.workflow.plan_remove.assert_called_once_with(agg, 'h2', force=force, dead=dead)
    ctx.workflow.remove.assert_called_once_with(agg, 'h2', force=force, dead=dead)
    assert result.out == 'removed h2 from p1: active\n'


def test_remove_host_without_a_terminal_nor_yes_is_refused(ctx):
    ctx.workflow.plan_remove.return_value = _eject_plan()
    result = run(['aggregate', 'remove-host', 'p1', 'h2'], ctx)
    assert result.status == errors.REFUSED
    assert result.err.count('\n') == 1 and 'give --yes' in result.err
    assert 'web1' in result.err and 'scratch' in result.err
    ctx.workflow.remove.assert_not_called()


@pytest.mark.parametrize('answer, removed', [('y\n', True), ('yes\n', True), ('\n', False),
                                             ('n\n', False)])
def test_remove_host_on_a_terminal_shows_the_losses_and_asks(ctx, answer, removed):
    ctx.workflow.plan_remove.return_value = _eject_plan()
    result = run(['aggregate', 'remove-host', 'p1', 'h2'], ctx, stdin=Tty(answer))
    assert 'vms: web1' in result.err and 'vdis: web1 disk 0, scratch' in result.err
    assert 'disk space: 3.0 GiB' in result.err and 'host_uuid' not in result.err
    assert 'Remove h2 from p1? [y/N]' in result.err
    assert ctx.workflow.remove.called is removed
    assert result.status == (0 if removed else errors.REFUSED)


def test_remove_host_that_destroys_nothing_is_not_asked(ctx):
    ctx.workflow.plan_remove.return_value = FakePlan('remove', 'p1', 'h2', calls=[])
    ctx.workflow.remove.return_value = False
    result = run(['aggregate', 'remove-host', 'p1', 'h2'], ctx)
    assert result.status == 0
    assert result.out == 'h2 is not a member of p1: nothing to remove\n'


def test_remove_host_refused_by_the_plan_changes_nothing(ctx):
    ctx.workflow.plan_remove.return_value = _eject_plan(refusal='running VMs: web1')
    result = run(['aggregate', 'remove-host', 'p1', 'h2', '--yes'], ctx)
    assert result.status == errors.REFUSED and 'running VMs: web1' in result.err
    ctx.workflow.remove.assert_not_called()


# -- --dry-run: the plan, nothing changed ----------------------------------------------

@pytest.mark.parametrize('argv, planner, kwargs', [
    (['aggregate', 'add-host', 'p1', 'h2', '--url', '10.0.0.2'], 'plan_add',
     {'slave_info': {'url': URL}, 'force': None}),
    (['aggregate', 'remove-host', 'p1', 'h2', '--force'], 'plan_remove',
     {'force': True, 'dead': False}),
])
def test_dry_run_prints_the_plan_and_changes_nothing(ctx, argv, planner, kwargs):
    plan = _eject_plan(operation=argv[1].split('-')[0], designate='h3',
                       preflight=[{'code': 'HOSTS_NOT_HOMOGENEOUS', 'params': [],
                                   'reason': 'cpu'}])
    getattr(ctx.workflow, planner).return_value = plan
    result = run(argv + ['--dry-run'], ctx)
    assert result.status == 0, result.err
    getattr(ctx.workflow, planner).assert_called_once_with(
        ctx.store.get_aggregate.return_value, 'h2', **kwargs)
    for change in ('add', 'remove'):
        getattr(ctx.workflow, change).assert_not_called()
    ctx.store.set_host_url.assert_not_called()
    assert 'dry run: nothing changed' in result.out
    assert '  call: pool.eject' in result.out and '  new master: h3' in result.out
    assert '  destroys: vms: web1' in result.out
    assert '  preflight: HOSTS_NOT_HOMOGENEOUS : cpu' in result.out
    data = json.loads(run(argv + ['--dry-run', '-f', 'json'], ctx).out)
    assert data == plan.to_dict()


def test_dry_run_of_a_refused_plan_exits_refused(ctx):
    ctx.workflow.plan_add.return_value = FakePlan('add', 'p1', 'h2',
                                                  refusal='setup in progress')
    result = run(['aggregate', 'add-host', 'p1', 'h2', '--dry-run'], ctx)
    assert result.status == errors.REFUSED
    assert '  refused: setup in progress' in result.out


# -- reads and their exit codes ----------------------------------------------------

@pytest.mark.parametrize('flags, force', [([], None), (['--force-join'], True)])
def test_preflight_is_the_workflows_check(ctx, flags, force):
    ctx.workflow.preflight.return_value = [
        preflight.Mismatch('HOSTS_NOT_HOMOGENEOUS', ['cpu'], 'cpu differs')]
    result = run(['preflight', 'p1', 'h2', '--url', URL] + flags, ctx)
    assert result.status == errors.REFUSED
    ctx.workflow.preflight.assert_called_once_with(
        ctx.store.get_aggregate.return_value, 'h2', url=URL, force=force)
    ctx.session.assert_not_called()     # NOTE: no xapi check of its own
    assert result.out == 'HOSTS_NOT_HOMOGENEOUS cpu: cpu differs\n'
    data = json.loads(run(['preflight', 'p1', 'h2', '-f', 'json'], ctx).out)
    assert data['can_join'] is False and data['mismatches'] == [
        {'code': 'HOSTS_NOT_HOMOGENEOUS', 'params': ['cpu'], 'reason': 'cpu differs'}]


def test_preflight_without_a_master_says_so(ctx, mocker):
    connector = mocker.Mock()
    ctx.workflow = workflow_mod.Workflow(connector, conf=fakes.make_conf())
    ctx.store.get_aggregate.return_value = fakes.FakeAggregate(
        name='p1', metadata={'hypervisor_pool': 'true', 'operational_state': 'created'})
    result = run(['preflight', 'p1', 'h2', '--url', URL], ctx)
    assert result.status == errors.REFUSED
    assert 'aggregate p1 has no master yet' in result.err
    connector.get.assert_not_called()


def test_pool_show_reads_through_the_workflow(ctx):
    ctx.workflow.membership.return_value = fakes.membership('c1')
    result = run(['pool', 'show', '--url', 'https://10.0.0.1', '-f', 'json'], ctx)
    ctx.workflow.membership.assert_called_once_with('https://10.0.0.1')
    ctx.session.assert_not_called()
    data = json.loads(result.out)
    assert data['master_uuid'] == fakes.UUID['c1']
    assert [m['master'] for m in data['members']] == [True]


@pytest.mark.parametrize('consistent, status', [(True, 0), (False, errors.DRIFT)])
def test_show_exits_drift_unless_consistent(ctx, mocker, consistent, status):
    from xenpool_driver.cli import views
    view = views.aggregate_record(ctx.store.get_aggregate.return_value)
    view.update(pool=None, xapi_error=None, consistent=consistent, differences=[],
                unhealthy=[])
    mocker.patch.object(views, 'aggregate_view', autospec=True, return_value=view)
    result = run(['aggregate', 'show', 'p1'], ctx)
    assert result.status == status
    assert ('consistent        | %s' % ('yes' if consistent else 'NO')) in result.out


@pytest.mark.parametrize('agreed, status', [(True, 0), (False, errors.DRIFT)])
def test_reconcile_exits_drift_unless_agreed(ctx, mocker, agreed, status):
    report = mocker.Mock(state_before='active', state_after='active', actions=[],
                         drift=[] if agreed else ['x'], unhealthy=[], error=None,
                         busy=None, pending=None, reason=None, agreed=agreed)
    ctx.workflow.reconcile.return_value = report
    result = run(['aggregate', 'reconcile', 'p1'], ctx)
    assert result.status == status
    assert result.out.startswith('aggregate p1: active -> active, ')


def test_reconcile_needs_a_name_or_all(ctx):
    assert run(['aggregate', 'reconcile'], ctx).status == errors.USAGE


def test_history_lists_the_stores_records(ctx, mocker):
    record = mocker.Mock()
    record.to_dict.return_value = {
        'id': 'op1', 'aggregate': 'p1', 'op': 'add', 'host': 'h2', 'owner': 'u@x:1',
        'started': 1.0, 'ended': 3.5, 'duration': 2.5, 'outcome': 'succeeded',
        'state_after': 'active', 'xapi_code': None, 'xapi_params': [], 'task': 'T1',
        'error': None}
    ctx.store.history.return_value = [record]
    result = run(['aggregate', 'history', 'p1', '--limit', '5', '-f', 'json'], ctx)
    ctx.store.history.assert_called_once_with('p1', limit=5)
    assert json.loads(result.out) == [record.to_dict.return_value]
    result = run(['aggregate', 'history', 'p1', '-f', 'csv'], ctx)
    assert result.out.splitlines()[0] == ('"id","op","host","owner","started","duration",'
                                          '"outcome","state_after","xapi_code","task"')
    # NOTE: csv is for machines (cliff: the raw values); a table is for a
    # person: the time in UTC, the duration to a tenth of a second
    assert result.out.splitlines()[1].startswith('"op1","add","h2","u@x:1","1.0","2.5",')
    table = run(['aggregate', 'history', 'p1', '-f', 'table', '-c', 'started',
                 '-c', 'duration'], ctx).out
    assert re.search(r'\|\s+1970-01-01T00:00:01Z\s+\|\s+2\.5\s+\|', table), table
    assert run(['aggregate', 'history', 'p1', '--limit', '0'], ctx).status == errors.USAGE


@pytest.mark.parametrize('argv, call', [
    (['aggregate', 'delete', 'p1'], 'delete'),
    (['aggregate', 'forget-host', 'p1', 'h2'], 'forget_host'),
    (['aggregate', 'set-state', 'p1', 'error'], 'force_state'),
])
def test_refusals_of_the_workflow_exit_refused(ctx, argv, call):
    getattr(ctx.workflow, call).side_effect = exception.InvalidAggregateAction(
        call, 'p1', 'an operation is in flight')
    result = run(argv, ctx)
    assert result.status == errors.REFUSED
    assert result.err.count('\n') == 1 and 'in flight' in result.err


def test_create_list_show_without_xapi(tmp_path):
    store = ['--store', 'sqlite:///%s' % (tmp_path / 's.sqlite')]
    assert run(store + ['aggregate', 'create', 'p1']).status == 0
    assert run(store + ['aggregate', 'create', 'plain', '--no-hv-pool']).status == 0
    assert run(store + ['aggregate', 'create', 'p1']).status == errors.REFUSED
    rows = json.loads(run(store + ['aggregate', 'list', '-f', 'json']).out)
    assert [(r['name'], r['operational_state'], r['hosts'], r['master']) for r in rows] == [
        ('p1', 'created', {}, None), ('plain', None, {}, None)]
    assert run(store + ['aggregate', 'list', '-f', 'value', '-c', 'name']).out == 'p1\nplain\n'
    view = json.loads(run(store + ['aggregate', 'show', 'p1', '-f', 'json']).out)
    assert (view['name'], view['consistent'], view['hosts'], view['pool']) == (
        'p1', True, {}, None)


@pytest.mark.parametrize('argv', [
    ['aggregate', 'add-host', 'p1', 'master_compute'],
    ['aggregate', 'add-host', 'p1', 'h2', '--url', 'http://root:pw@10.0.0.2'],
    ['aggregate', 'remove-host', 'p1', 'operational_state', '--yes'],
    ['preflight', 'p1', 'xenpool:state'],
    ['preflight', 'p1', 'h2', '--url', 'http://root@10.0.0.2'],
    ['pool', 'show', '--url', 'root:pw@10.0.0.1'],
])
def test_commands_check_host_input_before_anything(ctx, argv):
    result = run(argv, ctx)
    assert result.status == errors.USAGE and result.err.count('\n') == 1
    assert 'pw' not in result.err
    assert ctx.workflow.mock_calls == [] and ctx.store.mock_calls == []


def test_remove_host_reads_the_workflows_real_plan(ctx):
    """The plan of aggregates.plan, its losses those of xapi.eject_losses."""
    from xenpool_driver.aggregates import plan as plan_mod
    from xenpool_driver.xapi import eject_losses as el
    losses = el.Losses(host_uuid='u2', srs=(el.LostSR('s1', 'Local storage', 'ext'),),
                       vdis=(el.LostVDI('d1', 'web1 disk 0', 2 ** 30, 's1',
                                        'Local storage'),),
                       vms=(el.LostVM('v1', 'web1', 'Halted', False, ('d1',)),))
    ctx.workflow.plan_remove.return_value = plan_mod.Plan(
        'remove', 'p1', 'h2', calls=['pool.eject(h2) on the master'], losses=losses)
    result = run(['aggregate', 'remove-host', 'p1', 'h2'], ctx)
    assert result.status == errors.REFUSED
    assert 'lost: srs: Local storage; vdis: web1 disk 0; vms: web1; disk space: 1.0 GiB' \
        in result.err
    ctx.workflow.remove.assert_not_called()
    data = json.loads(run(['aggregate', 'remove-host', 'p1', 'h2', '--dry-run', '-f',
                           'json'], ctx).out)
    assert data['losses']['vms'][0]['name_label'] == 'web1'
