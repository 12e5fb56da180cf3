"""Dry runs: Workflow.plan_add / plan_remove answer a Plan and change nothing
(pool operations, claims and the eject's losses mocked, autospec)."""

import pytest

from tests.unit.aggregates import fakes
from tests.unit.aggregates.fakes import conf_fixture, xapi_fixture  # noqa: F401
from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import plan as plan_mod
from xenpool_driver.aggregates import workflow as wf
from xenpool_driver.xapi import claims
from xenpool_driver.xapi import eject_losses
from xenpool_driver.xapi import preflight

UUID = fakes.UUID
#: Everything that changes a pool or a claim: a dry run calls none of them.
WRITES = ('init_pool', 'clear_pool', 'join', 'eject', 'designate_new_master',
          'destroy_host')
CLAIM_WRITES = ('claim_first_host', 'claim_joiner', 'release', 'release_pool')


def created(hosts=('c1',)):
    return fakes.FakeAtomicAggregate(hosts=hosts, metadata={
        ps.POOL_FLAG: 'true', ps.KEY: ps.CREATED})


def active(names=('c1',), state=ps.ACTIVE, extra_hosts=()):
    md = {ps.POOL_FLAG: 'true', ps.KEY: state, bk.MASTER_COMPUTE: names[0]}
    md.update({n: UUID[n] for n in names})
    md[bk.KEY] = bk.encode(bk.Bookkeeping(master_address=fakes.ADDR[names[0]]))
    return fakes.FakeAtomicAggregate(hosts=list(names) + list(extra_hosts),
                                     metadata=md)


def flow(conf, xapi):
    return wf.Workflow(xapi.connector, conf=conf, own_host='c1',
                       clock=lambda: 1000.0, owner='test')


def slave_info(name):
    return {'url': 'https://%s' % fakes.ADDR[name]}


@pytest.fixture(name='unchanged')
def unchanged_fixture(xapi):
    """Call with an aggregate: asserts nothing was written, anywhere."""
    def check(agg):
        assert agg.history == [] and agg.cas_calls == []
        for name in WRITES:
            xapi.ops[name].assert_not_called()
        for name in CLAIM_WRITES:
            xapi.claims[name].assert_not_called()
        for session in xapi.sessions.values():
            session.call_async.assert_not_called()
    return check


# -- add ---------------------------------------------------------------------------

def test_the_first_host_plan_claims_then_names_the_pool(conf, xapi, unchanged):
    agg = created()
    xapi.ops['this_host'].return_value = fakes.host_info('c1')
    plan = flow(conf, xapi).plan_add(agg, 'c1')
    assert plan == plan_mod.Plan('add', 'pool-a', 'c1', calls=[
        fakes.CLAIM_WRITE, 'pool.set_name_label(pool-a)'])
    claim = xapi.claims['plan'].call_args
    assert claim.kwargs['first_host'] is True
    assert (claim.args[1].kind, claim.args[1].aggregate) == ('pool', 'pool-a')
    unchanged(agg)


def test_a_first_host_whose_pool_is_ours_and_named_needs_no_call(conf, xapi, unchanged):
    agg = created()
    xapi.ops['this_host'].return_value = fakes.host_info('c1')
    xapi.claimed_pool['name_label'] = 'pool-a'
    xapi.claims['plan'].side_effect = lambda session, claim, **kw: \
        claims.ClaimPlan([], xapi.claims['read'](session))
    assert flow(conf, xapi).plan_add(agg, 'c1').calls == []
    unchanged(agg)


def test_a_first_host_in_another_pool_is_refused(conf, xapi, unchanged):
    agg = created()
    xapi.ops['this_host'].side_effect = lambda session: (
        setattr(session, 'url', 'https://192.0.2.9') or fakes.host_info('c2'))
    plan = flow(conf, xapi).plan_add(agg, 'c1')
    assert 'only a standalone host can be the first host' in plan.refusal
    assert plan.calls == []
    unchanged(agg)


@pytest.mark.parametrize('force, method', [(False, 'pool.join'),
                                           (True, 'pool.join_force')])
def test_the_join_plan_claims_then_joins_the_masters_address(conf, xapi, unchanged,
                                                             force, method):
    agg = active(extra_hosts=['c2'])
    xapi.ops['this_host'].return_value = fakes.host_info('c2')
    xapi.ops['preflight'].return_value = []
    plan = flow(conf, xapi).plan_add(agg, 'c2', slave_info=slave_info('c2'),
                                     force=force)
    assert plan.refusal is None and plan.preflight == []
    assert plan.calls == [fakes.CLAIM_WRITE, 'Async.%s(192.0.2.1)' % method]
    # the add's own check: the joiner first, the same force, its uuid
    joiner, master = (xapi.sessions['https://192.0.2.2'],
                      xapi.sessions['https://192.0.2.1'])
    xapi.ops['preflight'].assert_called_once_with(joiner, master, force=force,
                                                  joiner_uuid=UUID['c2'], joiner_known=None)
    assert xapi.claims['plan'].call_args.args[1].kind == 'join'
    unchanged(agg)


def test_every_preflight_mismatch_is_the_plans_refusal(conf, xapi, unchanged):
    agg = active(extra_hosts=['c2'])
    xapi.ops['this_host'].return_value = fakes.host_info('c2')
    mismatches = [preflight.Mismatch('HOSTS_NOT_HOMOGENEOUS', ['CPUs'], 'cpu'),
                  preflight.Mismatch('POOL_JOINING_HOST_MANAGEMENT_VLAN_DOES_NOT_'
                                     'MATCH', ['10', '-1'], 'vlan')]
    xapi.ops['preflight'].return_value = mismatches
    plan = flow(conf, xapi).plan_add(agg, 'c2', slave_info=slave_info('c2'))
    assert plan.preflight == mismatches
    assert plan.refusal.startswith('host c2 cannot join: HOSTS_NOT_HOMOGENEOUS')
    assert 'MANAGEMENT_VLAN' in plan.refusal
    assert plan.to_dict()['preflight'][0] == {
        'code': 'HOSTS_NOT_HOMOGENEOUS', 'params': ['CPUs'], 'reason': 'cpu'}
    unchanged(agg)


def test_a_claimed_joiner_is_the_plans_refusal(conf, xapi, unchanged):
    agg = active(extra_hosts=['c2'])
    xapi.ops['this_host'].return_value = fakes.host_info('c2')
    xapi.ops['preflight'].return_value = []
    claimed = exception.HostClaimed('join claim for aggregate pool-a', UUID['c2'],
                                    'it is claimed: aggregate other')
    xapi.claims['plan'].side_effect = lambda session, claim, **kw: \
        claims.ClaimPlan([fakes.CLAIM_WRITE], xapi.claims['read'](session), claimed)
    plan = flow(conf, xapi).plan_add(agg, 'c2', slave_info=slave_info('c2'))
    assert plan.refusal == str(claimed) and 'aggregate other' in plan.refusal
    unchanged(agg)


@pytest.mark.parametrize('agg, host, info, refusal', [
    (active(state=ps.CHANGING, extra_hosts=['c2']), 'c2', slave_info('c2'),
     'setup in progress'),
    (active(), 'c3', None, 'cannot locate the xapi of host c3'),
    (fakes.FakeAtomicAggregate(metadata={ps.KEY: ps.ACTIVE}), 'c2', None,
     'not a pool aggregate'),
], ids=['state', 'unlocatable', 'not-a-pool'])
def test_a_refusal_before_any_read(conf, xapi, unchanged, agg, host, info, refusal):
    plan = flow(conf, xapi).plan_add(agg, host, slave_info=info)
    assert plan.refusal.startswith(refusal) and plan.calls == []
    assert xapi.calls == []
    unchanged(agg)


def test_a_recorded_host_needs_nothing(conf, xapi, unchanged):
    agg = active(names=('c1', 'c2'))
    assert flow(conf, xapi).plan_add(agg, 'c2') == plan_mod.Plan('add', 'pool-a', 'c2')
    unchanged(agg)


# -- remove ------------------------------------------------------------------------

LOSSES = eject_losses.Losses(UUID['c2'], vdis=(
    eject_losses.LostVDI('v1', 'root', 10, 'sr', 'Local storage'),))


def test_the_slave_plan_ejects_and_tells_what_it_destroys(conf, xapi, unchanged):
    agg = active(names=('c1', 'c2'))
    xapi.ops['ejectable'].return_value = 'OpaqueRef:c2'
    xapi.ops['read_losses'].return_value = LOSSES
    plan = flow(conf, xapi).plan_remove(agg, 'c2')
    assert plan == plan_mod.Plan('remove', 'pool-a', 'c2',
                                 calls=['Async.pool.eject(c2)'], losses=LOSSES)
    master = xapi.sessions['https://192.0.2.1']
    xapi.ops['read_losses'].assert_called_once_with(master, UUID['c2'])
    xapi.ops['refuse_guests'].assert_called_once_with(master, UUID['c2'],
                                                      'OpaqueRef:c2')
    assert plan.to_dict()['losses']['vdis'][0]['name_label'] == 'root'
    unchanged(agg)


def test_guests_are_the_plans_refusal_and_the_losses_are_still_told(conf, xapi,
                                                                    unchanged):
    agg = active(names=('c1', 'c2'))
    xapi.ops['ejectable'].return_value = 'OpaqueRef:c2'
    xapi.ops['read_losses'].return_value = LOSSES
    xapi.ops['refuse_guests'].side_effect = exception.OperationRefused(
        'pool.eject', UUID['c2'], 'guest VMs are not halted on it: web')
    plan = flow(conf, xapi).plan_remove(agg, 'c2')
    assert plan.refusal.startswith('Refused pool.eject of host %s' % UUID['c2'])
    assert plan.calls == ['Async.pool.eject(c2)'] and plan.losses == LOSSES
    xapi.ops['refuse_guests'].reset_mock()
    assert flow(conf, xapi).plan_remove(agg, 'c2', force=True).refusal is None
    xapi.ops['refuse_guests'].assert_not_called()
    unchanged(agg)


def test_the_master_plan_designates_the_slave_remove_would(conf, xapi, unchanged):
    agg = active(names=('c1', 'c2', 'c3'))
    xapi.ops['snapshot'].return_value = fakes.membership(
        'c1', 'c2', 'c3', c2={'live': False})
    xapi.ops['read_losses'].return_value = LOSSES
    plan = flow(conf, xapi).plan_remove(agg, 'c1')
    assert plan.designate == 'c3'            # c2 is not live
    assert plan.calls == ['pool.designate_new_master(c3)', 'Async.pool.eject(c1)']
    unchanged(agg)
    # and the real remove designates the same slave
    flow(conf, xapi).remove(agg, 'c1')
    assert xapi.ops['designate_new_master'].call_args.args[1] == UUID['c3']


def test_a_master_without_a_live_slave_is_refused(conf, xapi, unchanged):
    agg = active(names=('c1', 'c2'))
    xapi.ops['snapshot'].return_value = fakes.membership('c1', 'c2',
                                                         c2={'live': False})
    plan = flow(conf, xapi).plan_remove(agg, 'c1')
    assert plan.refusal == 'no live slave recorded in the aggregate can become master'
    unchanged(agg)


def test_the_last_host_plan_clears_the_pool_and_releases_its_claim(conf, xapi,
                                                                   unchanged):
    agg = active()
    xapi.ops['snapshot'].return_value = fakes.membership('c1')
    xapi.claims['read'].side_effect = lambda session: claims.PoolView(
        'OpaqueRef:pool', claims.Claim.pool('pool-a', 'i', 'o'), 1,
        {'name_label': 'pool-a'}, {})
    plan = flow(conf, xapi).plan_remove(agg, 'c1')
    assert plan.calls == ['pool.set_name_label("")',
                          'pool.remove_from_other_config(xenpool.aggregate)']
    assert plan.losses is None and plan.designate is None
    unchanged(agg)


def test_the_dead_host_plan_destroys_its_record_once_offline(conf, xapi, unchanged):
    agg = active(names=('c1', 'c2'))
    xapi.ops['destroyable'].return_value = fakes.host_info('c2', live=False)
    plan = flow(conf, xapi).plan_remove(agg, 'c2', dead=True)
    assert plan == plan_mod.Plan('dead-remove', 'pool-a', 'c2',
                                 calls=['host.destroy(c2)'])
    xapi.ops['destroyable'].side_effect = exception.OperationRefused(
        'host.destroy', UUID['c2'], 'the master reports it live')
    assert 'reports it live' in flow(conf, xapi).plan_remove(
        agg, 'c2', dead=True).refusal
    assert 'a dead master cannot be removed' in flow(conf, xapi).plan_remove(
        agg, 'c1', dead=True).refusal
    unchanged(agg)


def test_a_host_that_is_not_a_member_needs_nothing(conf, xapi, unchanged):
    agg = active(names=('c1',))
    xapi.ops['snapshot'].return_value = fakes.membership('c1')
    plan = flow(conf, xapi).plan_remove(agg, 'c9')
    assert plan == plan_mod.Plan('remove', 'pool-a', 'c9')
    unchanged(agg)


@pytest.mark.parametrize('state', [ps.CREATED, ps.CHANGING, ps.DISMISSED])
def test_the_state_refuses_a_remove_plan(conf, xapi, unchanged, state):
    agg = active(names=('c1', 'c2'), state=state)
    plan = flow(conf, xapi).plan_remove(agg, 'c2')
    assert plan.refusal == ps.refusal_reason(ps.OP_REMOVE, state)
    assert plan.calls == []
    unchanged(agg)
