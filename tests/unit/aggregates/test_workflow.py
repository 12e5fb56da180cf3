"""Tests of the aggregate state machine (pool operations mocked, autospec)."""

import json

from unittest import mock

import pytest

from tests import passwords
from tests.unit.aggregates import fakes
from tests.unit.aggregates.fakes import conf_fixture, xapi_fixture  # noqa: F401
from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import workflow as wf
from xenpool_driver.xapi import claims
from xenpool_driver.xapi import preflight

UUID = fakes.UUID
KINDS = [fakes.FakeAggregate, fakes.FakeAtomicAggregate]
NOT_ADDABLE = sorted(ps.ALL_STATES - ps.ACCEPTED_IN[ps.OP_ADD]) + [
    None, 'bogus', 'ACTIVE']
NOT_REMOVABLE = sorted(ps.ALL_STATES - ps.ACCEPTED_IN[ps.OP_REMOVE]) + [
    None, 'bogus']


def xerr(code='POOL_JOINING_HOST_MUST_HAVE_SAME_PRODUCT_VERSION', *params):
    return exception.XapiError(code, list(params) or ['8.2', '8.3'],
                               method='pool.join')


def created(kind=fakes.FakeAtomicAggregate, hosts=('c1',)):
    return kind(hosts=hosts, metadata={ps.POOL_FLAG: 'true',
                                       ps.KEY: ps.CREATED})


def active(kind=fakes.FakeAtomicAggregate, names=('c1',), state=ps.ACTIVE,
           failures=0, extra_hosts=()):
    md = {ps.POOL_FLAG: 'true', ps.KEY: state, bk.MASTER_COMPUTE: names[0]}
    md.update({n: UUID[n] for n in names})
    md[bk.KEY] = bk.encode(bk.Bookkeeping(failures=failures,
                                          master_address=fakes.ADDR[names[0]]))
    return kind(hosts=list(names) + list(extra_hosts), metadata=md)


def flow(conf, xapi, own_host='c1', **kw):
    return wf.Workflow(xapi.connector, conf=conf, own_host=own_host,
                       clock=lambda: 1000.0, owner='test', **kw)


def slave_info(name, with_uuid=True):
    info = {'url': fakes.ADDR[name] and 'https://%s' % fakes.ADDR[name]}
    if with_uuid:
        info['xenhost_uuid'] = UUID[name]
    return info


def failures(agg):
    return bk.read(agg.metadata).failures


# -- add: first host ----------------------------------------------------------

@pytest.mark.parametrize('kind', KINDS)
def test_first_host_becomes_master(conf, xapi, kind):
    agg = created(kind)
    xapi.ops['this_host'].return_value = fakes.host_info('c1')
    seen = {}
    xapi.on('this_host', lambda s: seen.update(agg.metadata) or
            fakes.host_info('c1'))

    assert flow(conf, xapi).add(agg, 'c1') == UUID['c1']

    # intent written, state changing, before the first XAPI call
    assert seen[ps.KEY] == ps.CHANGING
    intent = bk.read(seen).intent
    assert (intent.op, intent.host, intent.prev_state, intent.owner) == (
        'add', 'c1', 'created', 'test')
    assert xapi.calls == [('this_host', fakes.OWN_URL),
                          ('init_pool', fakes.OWN_URL)]
    xapi.ops['init_pool'].assert_called_once_with(
        xapi.sessions[fakes.OWN_URL], 'pool-a')
    md = agg.metadata
    assert md[ps.KEY] == ps.ACTIVE
    assert md[bk.MASTER_COMPUTE] == 'c1' and md['c1'] == UUID['c1']
    record = bk.read(md)
    assert record.intent is None and record.failures == 0
    assert record.master_address == fakes.ADDR['c1']


def test_first_host_is_claimed_before_the_pool_changes(conf, xapi):
    agg = created()
    xapi.ops['this_host'].return_value = fakes.host_info('c1')
    order = []
    xapi.claims['claim_first_host'].side_effect = \
        lambda session, claim, now=None, members=(): order.append(claim) or claim
    xapi.ops['init_pool'].side_effect = lambda s, n: order.append('init_pool')
    flow(conf, xapi).add(agg, 'c1')
    claim = order[0]
    assert order[1:] == ['init_pool']
    assert (claim.kind, claim.aggregate, claim.owner) == ('pool', 'pool-a', 'test')


def test_a_claimed_first_host_is_refused_and_counts_nothing(conf, xapi):
    agg = created()
    xapi.ops['this_host'].return_value = fakes.host_info('c1')
    xapi.claims['claim_first_host'].side_effect = exception.HostClaimed(
        'pool.add_to_other_config', UUID['c1'], 'claimed by aggregate other')
    with pytest.raises(exception.Refused, match='claimed by'):
        flow(conf, xapi).add(agg, 'c1')
    assert agg.metadata[ps.KEY] == ps.CREATED and failures(agg) == 0
    assert 'init_pool' not in xapi.names


def test_a_failed_join_releases_its_claim(conf, xapi):
    agg = active(extra_hosts=['c2'])
    xapi.ops['preflight'].return_value = []
    xapi.ops['join'].side_effect = xerr()
    xapi.ops['snapshot'].return_value = fakes.membership('c1')
    with pytest.raises(exception.XapiError):
        flow(conf, xapi).add(agg, 'c2', slave_info=slave_info('c2'))
    held = xapi.claims['claim_joiner'].call_args[0][1]
    xapi.claims['release'].assert_called_once_with(
        xapi.sessions['https://192.0.2.2'], held)


def test_first_add_failure_restores_created_and_counts(conf, xapi):
    agg = created()
    xapi.ops['this_host'].return_value = fakes.host_info('c1')
    xapi.ops['init_pool'].side_effect = xerr('PERMISSION_DENIED')
    with pytest.raises(exception.XapiError) as err:
        flow(conf, xapi).add(agg, 'c1')
    assert err.value.code == 'PERMISSION_DENIED'
    assert agg.metadata[ps.KEY] == ps.CREATED
    assert bk.read(agg.metadata).intent is None
    assert failures(agg) == 1
    assert bk.MASTER_COMPUTE not in agg.metadata and 'c1' not in agg.metadata


# -- add: joining hosts --------------------------------------------------------

@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('force', [False, True])
def test_join_passes_use_join_force_and_credentials(kind, force, xapi):
    conf = fakes.make_conf(use_join_force=force)
    agg = active(kind, extra_hosts=['c2'])
    xapi.ops['preflight'].return_value = []
    flow(conf, xapi).add(agg, 'c2', slave_info=slave_info('c2'))

    joiner, master = xapi.sessions['https://192.0.2.2'], \
        xapi.sessions['https://192.0.2.1']
    xapi.ops['preflight'].assert_called_once_with(joiner, master, force=force,
                                                  joiner_uuid=UUID['c2'], joiner_known=None)
    xapi.ops['join'].assert_called_once_with(
        joiner, master, '192.0.2.1', 'root', passwords.PASSWORD, fakes.TIMEOUTS, force=force,
        joiner_uuid=UUID['c2'], on_progress=mock.ANY, on_phase=mock.ANY, on_wait=mock.ANY,
        on_task=mock.ANY)
    # NOTE: the XAPI round trips of an add are those of these two pool ops
    assert xapi.names == ['preflight', 'join']
    assert agg.metadata['c2'] == UUID['c2']
    assert agg.metadata[ps.KEY] == ps.ACTIVE
    assert bk.read(agg.metadata).intent is None
    for stored in agg.history:
        assert passwords.PASSWORD not in json.dumps(stored)


def test_join_sends_the_configured_username(xapi):
    # NOTE: fakes.make_conf's username is the option's default (root)
    conf = fakes.make_conf(connection_username='xp-operator')
    agg = active(extra_hosts=['c2'])
    xapi.ops['preflight'].return_value = []
    flow(conf, xapi).add(agg, 'c2', slave_info=slave_info('c2'))
    assert xapi.ops['join'].call_args.args[3:5] == ('xp-operator',
                                                    passwords.PASSWORD)


def test_the_joins_check_starts_from_the_claims_read_of_the_joiner(xapi):
    # the claim reads the joiner's pool and hosts; the preflight is given that
    # read instead of asking the joiner again (two round trips fewer)
    pool_rec, hosts = {'uuid': 'joiner-pool'}, {'OpaqueRef:h': {'uuid': UUID['c2']}}

    def claim_joiner(session, claim, now=None, seen=None):
        seen.append(claims.PoolView('OpaqueRef:p', None, 1, pool_rec, hosts))
        return claim

    xapi.claims['claim_joiner'].side_effect = claim_joiner
    xapi.ops['preflight'].return_value = []
    agg = active(extra_hosts=['c2'])
    flow(fakes.make_conf(), xapi).add(agg, 'c2', slave_info=slave_info('c2'))
    known = xapi.ops['preflight'].call_args.kwargs['joiner_known']
    assert known[0] is pool_rec and known[1] is hosts


@pytest.mark.parametrize('option, force, used', [
    (False, None, False), (True, None, True),     # None: the option decides
    (False, True, True), (True, False, False),    # the argument wins
])
def test_join_force_argument_overrides_the_option(xapi, option, force, used):
    conf = fakes.make_conf(use_join_force=option)
    agg = active(extra_hosts=['c2'])
    xapi.ops['preflight'].return_value = []
    flow(conf, xapi).add(agg, 'c2', slave_info=slave_info('c2'), force=force)
    assert xapi.ops['preflight'].call_args.kwargs['force'] is used
    assert xapi.ops['join'].call_args.kwargs['force'] is used
    assert conf.xenserver.use_join_force is option   # no override left behind


def test_intent_written_before_first_xapi_call_and_cleared(conf, xapi):
    agg = active(extra_hosts=['c2'])
    seen = []
    xapi.on('preflight', lambda *a, **k: seen.append(dict(agg.metadata)) or [])
    flow(conf, xapi).add(agg, 'c2', slave_info=slave_info('c2'))
    assert seen[0][ps.KEY] == ps.CHANGING
    intent = bk.read(seen[0]).intent
    assert intent.host == 'c2' and intent.host_uuid == UUID['c2']
    assert intent.url == 'https://192.0.2.2'
    assert bk.KEY not in agg.metadata or bk.read(agg.metadata).intent is None


def test_joiner_uuid_read_when_not_given(conf, xapi):
    agg = active(extra_hosts=['c2'])
    xapi.ops['this_host'].return_value = fakes.host_info('c2')
    xapi.ops['preflight'].return_value = []
    flow(conf, xapi).add(agg, 'c2', slave_info=slave_info('c2', False))
    assert xapi.names == ['this_host', 'preflight', 'join']
    assert agg.metadata['c2'] == UUID['c2']


def test_host_locator_used(conf, xapi):
    agg = active(extra_hosts=['c3'])
    xapi.ops['preflight'].return_value = []
    xapi.ops['this_host'].return_value = fakes.host_info('c3')
    locator = {'c3': 'https://192.0.2.3'}.get
    flow(conf, xapi, host_locator=locator).add(agg, 'c3')
    assert xapi.calls[0] == ('this_host', 'https://192.0.2.3')


def test_unlocatable_host_refused_before_any_change(conf, xapi):
    agg = active(extra_hosts=['c3'])
    before = dict(agg.metadata)
    with pytest.raises(exception.InvalidAggregateAction) as err:
        flow(conf, xapi).add(agg, 'c3')
    assert 'cannot locate the xapi of host c3' in str(err.value)
    assert agg.metadata == before and xapi.calls == []


def test_slave_info_url_userinfo_dropped(conf, xapi):
    agg = active(extra_hosts=['c2'])
    xapi.ops['preflight'].return_value = []
    info = {'url': 'https://root:%s@192.0.2.2' % passwords.PASSWORD,
            'xenhost_uuid': UUID['c2']}
    flow(conf, xapi).add(agg, 'c2', slave_info=info)
    assert xapi.calls[0][1] == 'https://192.0.2.2'
    for stored in agg.history:
        assert passwords.PASSWORD not in json.dumps(stored)


def test_preflight_mismatches_all_reported_and_not_counted(conf, xapi):
    """A refusal attempted nothing on the pool: no failure is counted."""
    agg = active(extra_hosts=['c2'])
    mismatches = [preflight.Mismatch('POOL_JOINING_HOST_HAS_RUNNING_VMS', [],
                                     'running VMs'),
                  preflight.Mismatch('POOL_JOINING_HOST_MANAGEMENT_VLAN_'
                                     'DOES_NOT_MATCH', ['0', '10'], 'vlan')]
    xapi.ops['preflight'].return_value = mismatches
    with pytest.raises(exception.PreflightFailed) as err:
        flow(conf, xapi).add(agg, 'c2', slave_info=slave_info('c2'))
    assert err.value.mismatches == mismatches
    assert 'running VMs' in str(err.value) and 'vlan' in str(err.value)
    assert xapi.names == ['preflight']  # no join, no re-read
    assert agg.metadata[ps.KEY] == ps.ACTIVE
    assert failures(agg) == 0 and 'c2' not in agg.metadata
    assert bk.read(agg.metadata).intent is None


# -- preflight: the add flow's check, alone ------------------------------------

@pytest.mark.parametrize('option, force, used', [
    (False, None, False), (True, None, True), (False, True, True)])
def test_preflight_checks_as_the_join_does(xapi, option, force, used):
    """The joiner's host read first, its uuid checked, the add's force."""
    conf = fakes.make_conf(use_join_force=option)
    agg = active(extra_hosts=['c2'])
    xapi.ops['this_host'].return_value = fakes.host_info('c2')
    mismatch = preflight.Mismatch('HOSTS_NOT_HOMOGENEOUS', [], 'cpu')
    xapi.ops['preflight'].return_value = [mismatch]
    before = dict(agg.metadata)
    got = flow(conf, xapi).preflight(agg, 'c2', url='https://192.0.2.2',
                                     force=force)
    assert got == [mismatch]
    joiner, master = xapi.sessions['https://192.0.2.2'], \
        xapi.sessions['https://192.0.2.1']
    xapi.ops['this_host'].assert_called_once_with(joiner)
    xapi.ops['preflight'].assert_called_once_with(joiner, master, force=used,
                                                  joiner_uuid=UUID['c2'], joiner_known=None)
    assert xapi.names == ['this_host', 'preflight']
    # NOTE: a check changes nothing: no intent, no claim
    assert agg.metadata == before and agg.history == []
    assert not xapi.claims['claim_joiner'].called


def test_preflight_locates_the_host_like_add(conf, xapi):
    agg = active(extra_hosts=['c3'])
    xapi.ops['this_host'].return_value = fakes.host_info('c3')
    xapi.ops['preflight'].return_value = []
    locator = {'c3': 'https://192.0.2.3'}.get
    assert flow(conf, xapi, host_locator=locator).preflight(agg, 'c3') == []
    assert xapi.calls == [('this_host', 'https://192.0.2.3'),
                          ('preflight', 'https://192.0.2.3')]


@pytest.mark.parametrize('make, host, says', [
    (lambda: created(), 'c1', 'aggregate pool-a has no master yet'),
    (lambda: active(names=('c1', 'c2')), 'c2', 'host c2 is a member of pool-a'),
    (lambda: fakes.FakeAggregate(metadata={}), 'c2', 'not a pool aggregate'),
    (lambda: active(), 'c3', 'cannot locate the xapi of host c3'),
], ids=['no-master', 'recorded', 'not-a-pool', 'unlocatable'])
def test_preflight_refusals_read_nothing(conf, xapi, make, host, says):
    agg = make()
    with pytest.raises(exception.InvalidAggregateAction, match=says):
        flow(conf, xapi).preflight(agg, host)
    assert xapi.calls == []


def test_preflight_of_a_member_of_another_pool_is_refused(conf, xapi):
    agg = active(extra_hosts=['c2'])
    xapi.ops['this_host'].return_value = fakes.host_info('c3')

    def followed(url):   # NOTE: the session followed HOST_IS_SLAVE to c3
        session = xapi.session(url)
        session.url = 'https://192.0.2.3'
        return session
    xapi.connector.get.side_effect = lambda url: (
        followed(url) if url == 'https://192.0.2.2' else xapi.session(url))
    xapi.ops['snapshot'].return_value = fakes.membership('c1')
    with pytest.raises(exception.InvalidAggregateAction,
                       match='member of the pool mastered by 192.0.2.3'):
        flow(conf, xapi).preflight(agg, 'c2', url='https://192.0.2.2')
    assert 'preflight' not in xapi.names


def test_join_error_propagates_code_and_params(conf, xapi):
    agg = active(extra_hosts=['c2'])
    xapi.ops['preflight'].return_value = []
    xapi.ops['join'].side_effect = xerr()
    xapi.ops['snapshot'].return_value = fakes.membership('c1')
    with pytest.raises(exception.XapiError) as err:
        flow(conf, xapi).add(agg, 'c2', slave_info=slave_info('c2'))
    assert err.value.code == 'POOL_JOINING_HOST_MUST_HAVE_SAME_PRODUCT_VERSION'
    assert err.value.params == ['8.2', '8.3']
    assert xapi.names == ['preflight', 'join', 'snapshot']  # reality re-read
    assert agg.metadata[ps.KEY] == ps.ACTIVE
    assert bk.read(agg.metadata).intent is None
    assert failures(agg) == 1 and 'c2' not in agg.metadata


def test_join_error_but_host_joined_is_success(conf, xapi):
    agg = active(extra_hosts=['c2'], failures=2)
    xapi.ops['preflight'].return_value = []
    xapi.ops['join'].side_effect = exception.XapiUnavailable(
        '192.0.2.2', 'connection reset', method='Async.pool.join',
        maybe_applied=True)
    xapi.ops['snapshot'].return_value = fakes.membership('c1', 'c2')
    flow(conf, xapi).add(agg, 'c2', slave_info=slave_info('c2'))
    assert agg.metadata['c2'] == UUID['c2']
    assert agg.metadata[ps.KEY] == ps.ACTIVE and failures(agg) == 0


def test_reread_failure_keeps_the_original_error(conf, xapi):
    agg = active(extra_hosts=['c2'])
    xapi.ops['preflight'].return_value = []
    xapi.ops['join'].side_effect = xerr()
    xapi.ops['snapshot'].side_effect = exception.XapiUnavailable(
        '192.0.2.1', 'refused')
    with pytest.raises(exception.XapiError):
        flow(conf, xapi).add(agg, 'c2', slave_info=slave_info('c2'))
    assert agg.metadata[ps.KEY] == ps.ACTIVE and failures(agg) == 1


# -- failure counting ------------------------------------------------------------

@pytest.mark.parametrize('threshold', [1, 2, 3, 5])
def test_threshold_consecutive_failures_move_active_to_error(xapi, threshold):
    conf = fakes.make_conf(pool_error_threshold=threshold)
    agg = active(extra_hosts=['c2'])
    xapi.ops['preflight'].return_value = []
    xapi.ops['join'].side_effect = xerr()
    xapi.ops['snapshot'].return_value = fakes.membership('c1')
    for attempt in range(1, threshold + 1):
        with pytest.raises(exception.XapiError):
            flow(conf, xapi).add(agg, 'c2', slave_info=slave_info('c2'))
        assert failures(agg) == attempt
        expected = ps.ERROR if attempt == threshold else ps.ACTIVE
        assert agg.metadata[ps.KEY] == expected
    with pytest.raises(exception.InvalidAggregateAction) as err:
        flow(conf, xapi).add(agg, 'c2', slave_info=slave_info('c2'))
    assert err.value.reason == 'aggregate in error'


def test_default_threshold_is_three(conf, xapi):
    agg = active(extra_hosts=['c2'], failures=1)
    xapi.ops['preflight'].return_value = []
    xapi.ops['join'].side_effect = xerr()
    xapi.ops['snapshot'].return_value = fakes.membership('c1')
    with pytest.raises(exception.XapiError):
        flow(conf, xapi).add(agg, 'c2', slave_info=slave_info('c2'))
    assert agg.metadata[ps.KEY] == ps.ACTIVE  # 2 < 3
    with pytest.raises(exception.XapiError):
        flow(conf, xapi).add(agg, 'c2', slave_info=slave_info('c2'))
    assert agg.metadata[ps.KEY] == ps.ERROR


def test_success_resets_failure_count(conf, xapi):
    agg = active(extra_hosts=['c2'], failures=2)
    xapi.ops['preflight'].return_value = []
    flow(conf, xapi).add(agg, 'c2', slave_info=slave_info('c2'))
    assert failures(agg) == 0 and agg.metadata[ps.KEY] == ps.ACTIVE


def test_created_pool_never_goes_to_error(xapi):
    conf = fakes.make_conf(pool_error_threshold=1)
    agg = created()
    xapi.ops['this_host'].return_value = fakes.host_info('c1')
    xapi.ops['init_pool'].side_effect = exception.XapiUnavailable(
        'x', 'reset', maybe_applied=True)
    with pytest.raises(exception.XapiUnavailable):
        flow(conf, xapi).add(agg, 'c1')
    assert agg.metadata[ps.KEY] == ps.CREATED and failures(agg) == 1


@pytest.mark.parametrize('error', [
    exception.XapiUnavailable('https://192.0.2.1', 'connection refused'),
    exception.XapiError('SESSION_AUTHENTICATION_FAILED', ['root', 'bad']),
], ids=['connection', 'authentication'])
def test_failure_before_the_first_change_is_not_counted_but_kept(conf, xapi, error):
    agg = active(extra_hosts=['c2'], failures=2)
    xapi.ops['preflight'].side_effect = error
    with pytest.raises(type(error)):
        flow(conf, xapi).add(agg, 'c2', slave_info=slave_info('c2'))
    record = bk.read(agg.metadata)
    assert agg.metadata[ps.KEY] == ps.ACTIVE and record.failures == 2
    assert record.intent is None and str(error)[:40] in record.reason
    assert 'join' not in xapi.names


# -- refusals, non-pools, races ----------------------------------------------------

@pytest.mark.parametrize('state', NOT_ADDABLE)
@pytest.mark.parametrize('kind', KINDS)
def test_add_refused(conf, xapi, kind, state):
    agg = active(kind, state=state, extra_hosts=['c2'])
    if state is None:
        del agg.metadata[ps.KEY]
    before = dict(agg.metadata)
    with pytest.raises(exception.InvalidAggregateAction) as err:
        flow(conf, xapi).add(agg, 'c2', slave_info=slave_info('c2'))
    assert err.value.reason == ps.refusal_reason(ps.OP_ADD, state)
    assert err.value.action == 'add_to_aggregate'
    assert agg.metadata == before and xapi.calls == []


@pytest.mark.parametrize('state', NOT_REMOVABLE)
@pytest.mark.parametrize('kind', KINDS)
def test_remove_refused(conf, xapi, kind, state):
    agg = active(kind, names=('c1', 'c2'), state=state)
    if state is None:
        del agg.metadata[ps.KEY]
    before = dict(agg.metadata)
    with pytest.raises(exception.InvalidAggregateAction) as err:
        flow(conf, xapi).remove(agg, 'c2')
    assert err.value.reason == ps.refusal_reason(ps.OP_REMOVE, state)
    assert agg.metadata == before and xapi.calls == []


@pytest.mark.parametrize('flag', ['false', 'FALSE', '0', 'no', 'Off', None])
def test_non_pool_aggregates_ignored(conf, xapi, flag):
    agg = active(names=('c1', 'c2'))
    if flag is None:
        del agg.metadata[ps.POOL_FLAG]
    else:
        agg.metadata[ps.POOL_FLAG] = flag
    before = dict(agg.metadata)
    w = flow(conf, xapi)
    assert w.add(agg, 'c3', slave_info={'url': 'https://192.0.2.3'}) is None
    w.remove(agg, 'c2')
    assert agg.metadata == before and xapi.calls == []


def test_cas_race_loser_refused_nothing_lost(conf, xapi):
    agg = active(fakes.FakeAtomicAggregate, extra_hosts=['c2', 'c3'])
    winner = bk.new_intent('add', 'c3', 'active', 'other', 1.0)

    def other_request_wins():
        agg.update_metadata(dict(bk.updates(
            bk.read(agg.metadata).replace(intent=winner)), **{ps.KEY: ps.CHANGING}))
    agg.before_cas = other_request_wins
    with pytest.raises(exception.InvalidAggregateAction) as err:
        flow(conf, xapi).add(agg, 'c2', slave_info=slave_info('c2'))
    assert err.value.reason == 'setup in progress'
    assert xapi.calls == []
    assert agg.metadata[ps.KEY] == ps.CHANGING
    assert bk.read(agg.metadata).intent == winner
    expected, updates = agg.cas_calls[0]
    assert expected[ps.KEY] == ps.ACTIVE and updates[ps.KEY] == ps.CHANGING
    assert bk.INTENT_KEY in updates  # state and intent in ONE update


def test_cas_refused_when_bookkeeping_changed(conf, xapi):
    agg = active(fakes.FakeAtomicAggregate, extra_hosts=['c2'])
    agg.before_cas = lambda: agg.update_metadata(
        {bk.KEY: bk.encode(bk.Bookkeeping(failures=1))})
    with pytest.raises(exception.InvalidAggregateAction) as err:
        flow(conf, xapi).add(agg, 'c2', slave_info=slave_info('c2'))
    assert 'another request changed the aggregate' in err.value.reason
    assert xapi.calls == []


def test_garbage_bookkeeping_treated_as_absent(conf, xapi):
    agg = created()
    agg.metadata[bk.KEY] = '{garbage'
    xapi.ops['this_host'].return_value = fakes.host_info('c1')
    flow(conf, xapi).add(agg, 'c1')
    assert agg.metadata[ps.KEY] == ps.ACTIVE
    assert bk.read(agg.metadata).master_address == '192.0.2.1'


# -- remove ---------------------------------------------------------------------

@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('force', [False, True])
def test_remove_slave_ejects_on_master(conf, xapi, kind, force):
    agg = active(kind, names=('c1', 'c2'))
    seen = []
    xapi.on('eject', lambda *a, **k: seen.append(dict(agg.metadata)))
    flow(conf, xapi).remove(agg, 'c2', force=force)
    xapi.ops['eject'].assert_called_once_with(
        xapi.sessions['https://192.0.2.1'], UUID['c2'], fakes.TIMEOUTS, force=force,
        on_progress=mock.ANY, on_task=mock.ANY, membership=None)
    assert xapi.names == ['eject']
    assert seen[0][ps.KEY] == ps.CHANGING
    assert bk.read(seen[0]).intent.op == 'remove'
    assert 'c2' not in agg.metadata and agg.metadata[ps.KEY] == ps.ACTIVE
    assert agg.metadata[bk.MASTER_COMPUTE] == 'c1'
    assert bk.read(agg.metadata).intent is None


def test_remove_master_designates_then_ejects(conf, xapi):
    agg = active(names=('c1', 'c2', 'c3'))
    xapi.ops['snapshot'].return_value = fakes.membership(
        'c1', 'c2', 'c3', c2={'live': False})
    flow(conf, xapi).remove(agg, 'c1')
    assert xapi.calls == [('snapshot', 'https://192.0.2.1'),
                          ('refuse_guests', 'https://192.0.2.1'),
                          ('designate_new_master', 'https://192.0.2.1'),
                          ('eject', 'https://192.0.2.3')]
    xapi.ops['designate_new_master'].assert_called_once_with(
        xapi.sessions['https://192.0.2.1'], UUID['c3'], fakes.TIMEOUTS,  # c2 is not live
        membership=xapi.ops['snapshot'].return_value)  # NOTE: read once, not twice
    # NOTE: the guests were refused before the designate (not asked again:
    # force), and the pool as it settled is the eject's (not read again)
    xapi.ops['eject'].assert_called_once_with(
        xapi.sessions['https://192.0.2.3'], UUID['c1'], fakes.TIMEOUTS, force=True,
        on_progress=mock.ANY, on_task=mock.ANY,
        membership=xapi.ops['designate_new_master'].return_value)
    md = agg.metadata
    assert md[bk.MASTER_COMPUTE] == 'c3' and 'c1' not in md
    assert bk.read(md).master_address == '192.0.2.3'
    assert md[ps.KEY] == ps.ACTIVE


def test_remove_master_whose_master_already_moved(conf, xapi):
    agg = active(names=('c1', 'c2'))
    xapi.ops['snapshot'].return_value = fakes.membership('c1', 'c2',
                                                         master='c2')
    flow(conf, xapi).remove(agg, 'c1')
    assert xapi.names == ['snapshot', 'eject']  # never designate again
    assert agg.metadata[bk.MASTER_COMPUTE] == 'c2'


def test_remove_master_without_live_slave_refused(conf, xapi):
    agg = active(names=('c1', 'c2'))
    xapi.ops['snapshot'].return_value = fakes.membership(
        'c1', 'c2', c2={'live': False})
    with pytest.raises(exception.InvalidAggregateAction) as err:
        flow(conf, xapi).remove(agg, 'c1')
    assert 'no live slave' in err.value.reason
    assert xapi.names == ['snapshot']
    assert agg.metadata[ps.KEY] == ps.ACTIVE and agg.metadata['c1']


@pytest.mark.parametrize('state', [ps.ACTIVE, ps.ERROR])
def test_remove_last_host_clears_pool(conf, xapi, state):
    agg = active(names=('c1',), state=state)
    xapi.ops['snapshot'].return_value = fakes.membership('c1')
    flow(conf, xapi).remove(agg, 'c1')
    assert xapi.names == ['snapshot', 'clear_pool']
    assert agg.metadata == {ps.POOL_FLAG: 'true', ps.KEY: ps.CREATED}


def test_remove_in_error_stays_error_until_reset(conf, xapi):
    agg = active(names=('c1', 'c2'), state=ps.ERROR, failures=3)
    flow(conf, xapi).remove(agg, 'c2')
    assert agg.metadata[ps.KEY] == ps.ERROR and failures(agg) == 0


def test_remove_of_a_host_that_is_not_a_member_is_a_success(conf, xapi):
    agg = active(names=('c1',))
    before = dict(agg.metadata)
    flow(conf, xapi).remove(agg, 'c9')      # idempotent: nothing to do
    assert agg.metadata == before and 'eject' not in xapi.names


def test_eject_failure_restores_and_counts(conf, xapi):
    agg = active(names=('c1', 'c2'))
    xapi.ops['eject'].side_effect = exception.XapiError(
        'OPERATION_NOT_ALLOWED', ['VM resident on host'], method='pool.eject')
    xapi.ops['snapshot'].return_value = fakes.membership('c1', 'c2')
    with pytest.raises(exception.XapiError) as err:
        flow(conf, xapi).remove(agg, 'c2')
    assert err.value.params == ['VM resident on host']
    assert agg.metadata['c2'] == UUID['c2']
    assert agg.metadata[ps.KEY] == ps.ACTIVE and failures(agg) == 1


def test_eject_error_but_host_gone_is_success(conf, xapi):
    agg = active(names=('c1', 'c2'))
    xapi.ops['eject'].side_effect = exception.XapiTimeout('192.0.2.1', 't')
    xapi.ops['snapshot'].return_value = fakes.membership('c1')
    flow(conf, xapi).remove(agg, 'c2')
    assert 'c2' not in agg.metadata and agg.metadata[ps.KEY] == ps.ACTIVE


def test_designate_done_eject_failed_metadata_follows_master(conf, xapi):
    agg = active(names=('c1', 'c2'))
    xapi.ops['snapshot'].side_effect = [
        fakes.membership('c1', 'c2'), fakes.membership('c1', 'c2',
                                                       master='c2')]
    xapi.ops['eject'].side_effect = exception.XapiUnavailable('x', 'reset')
    with pytest.raises(exception.XapiUnavailable):
        flow(conf, xapi).remove(agg, 'c1')
    md = agg.metadata
    assert md[bk.MASTER_COMPUTE] == 'c2'
    assert bk.read(md).master_address == '192.0.2.2'
    assert md[ps.KEY] == ps.ACTIVE and md['c1'] == UUID['c1']


# -- delete, reset, record_failure ------------------------------------------------

@pytest.mark.parametrize('kind', KINDS)
def test_delete_empty_aggregate_dismissed(conf, xapi, kind):
    agg = created(kind, hosts=())
    flow(conf, xapi).delete(agg)
    assert agg.metadata[ps.KEY] == ps.DISMISSED and xapi.calls == []


def test_delete_refusals(conf, xapi):
    with pytest.raises(exception.InvalidAggregateAction) as err:
        flow(conf, xapi).delete(created(hosts=('c1',)))
    assert err.value.reason == 'pool still has hosts'
    with pytest.raises(exception.InvalidAggregateAction) as err:
        flow(conf, xapi).delete(active())
    assert err.value.reason == 'pool still has hosts'


def test_reset_when_reality_agrees(conf, xapi):
    agg = active(names=('c1', 'c2'), state=ps.ERROR, failures=3)
    xapi.ops['snapshot'].return_value = fakes.membership('c1', 'c2')
    report = flow(conf, xapi).reset(agg)
    assert report.agreed
    assert agg.metadata[ps.KEY] == ps.ACTIVE and failures(agg) == 0


def test_reset_empty_pool_goes_created(conf, xapi):
    agg = fakes.FakeAtomicAggregate(metadata={ps.POOL_FLAG: 'yes',
                                              ps.KEY: ps.ERROR})
    flow(conf, xapi).reset(agg)
    assert agg.metadata[ps.KEY] == ps.CREATED and xapi.calls == []


def test_reset_refused_with_drift_listed(conf, xapi):
    agg = active(names=('c1', 'c2'), state=ps.ERROR, failures=3)
    xapi.ops['snapshot'].return_value = fakes.membership('c1', 'c3')
    with pytest.raises(exception.InvalidAggregateAction) as err:
        flow(conf, xapi).reset(agg)
    # NOTE: reconcile forgot c2's uuid (the pool does not list it); the
    # compute service's host list still names it: reported, not repaired.
    assert 'host c2 is in the host list with no uuid recorded' in \
        err.value.reason
    assert 'member %s' % UUID['c3'] in err.value.reason
    assert agg.metadata[ps.KEY] == ps.ERROR and failures(agg) == 3


def test_reset_refused_when_pool_unreadable(conf, xapi):
    agg = active(state=ps.ERROR)
    xapi.ops['snapshot'].side_effect = exception.XapiUnavailable('x', 'down')
    with pytest.raises(exception.InvalidAggregateAction) as err:
        flow(conf, xapi).reset(agg)
    assert 'cannot read the pool' in err.value.reason
    assert agg.metadata[ps.KEY] == ps.ERROR


@pytest.mark.parametrize('state', [ps.ACTIVE, ps.CREATED, ps.CHANGING])
def test_reset_refused_when_not_in_error(conf, xapi, state):
    with pytest.raises(exception.InvalidAggregateAction) as err:
        flow(conf, xapi).reset(active(state=state))
    assert err.value.reason == ps.refusal_reason(ps.OP_RESET, state)


def test_record_failure_does_not_double_count(conf, xapi):
    agg = active(extra_hosts=['c2'])
    xapi.ops['preflight'].return_value = []
    xapi.ops['join'].side_effect = xerr()
    xapi.ops['snapshot'].return_value = fakes.membership('c1')
    w = flow(conf, xapi)
    with pytest.raises(exception.XapiError):
        w.add(agg, 'c2', slave_info=slave_info('c2'))
    assert failures(agg) == 1
    assert w.record_failure(agg, 'c2') is False
    assert failures(agg) == 1
    assert w.record_failure(agg, 'c2') is True  # a new failure counts
    assert failures(agg) == 2


def test_record_failure_applies_threshold(xapi):
    conf = fakes.make_conf(pool_error_threshold=2)
    agg = active(failures=1)
    assert flow(conf, xapi).record_failure(agg, 'c2') is True
    assert agg.metadata[ps.KEY] == ps.ERROR


def test_record_failure_never_touches_changing(conf, xapi):
    agg = active(state=ps.CHANGING)
    before = dict(agg.metadata)
    assert flow(conf, xapi).record_failure(agg, 'c2') is False
    assert agg.metadata == before


def test_join_reports_progress_phases(conf, xapi):
    agg = active(extra_hosts=['c2'])
    xapi.ops['preflight'].return_value = []

    def join(*args, on_progress, on_phase, **kwargs):
        on_progress(0.5)
        on_phase('wait until live')

    xapi.ops['join'].side_effect = join
    seen = []
    workflow = flow(conf, xapi)
    workflow.progress = lambda phase, fraction: seen.append((phase, fraction))
    workflow.add(agg, 'c2', slave_info=slave_info('c2'))
    assert seen == [('preflight', None), ('join', 0.5), ('wait until live', None)]


def test_a_failing_progress_display_does_not_fail_the_join(conf, xapi):
    agg = active(extra_hosts=['c2'])
    xapi.ops['preflight'].return_value = []
    workflow = flow(conf, xapi)
    workflow.progress = mock.Mock(side_effect=OSError('terminal gone'))
    workflow.add(agg, 'c2', slave_info=slave_info('c2'))
    assert agg.metadata[ps.KEY] == ps.ACTIVE


def test_remove_master_ejects_through_the_session_that_followed_the_new_master(conf, xapi):
    agg = active(names=('c1', 'c2', 'c3'))
    xapi.ops['snapshot'].return_value = fakes.membership(
        'c1', 'c2', 'c3', c2={'live': False})
    old = xapi.session('https://192.0.2.1')

    def designate(session, uuid, timeouts, membership):
        session.address = '192.0.2.3'  # HOST_IS_SLAVE followed to c3
    xapi.ops['designate_new_master'].side_effect = designate
    flow(conf, xapi).remove(agg, 'c1')
    xapi.ops['eject'].assert_called_once_with(old, UUID['c1'], fakes.TIMEOUTS, force=True,
                                              on_progress=mock.ANY, on_task=mock.ANY,
                                              membership=None)


def test_a_dead_master_is_refused_before_any_change(conf, xapi):
    agg = active(names=('c1', 'c2'))
    before = dict(agg.metadata)
    with pytest.raises(exception.InvalidAggregateAction) as err:
        flow(conf, xapi).remove(agg, 'c1', dead=True)
    assert 'master' in err.value.reason
    assert agg.metadata == before and xapi.names == []


def test_a_dead_host_reported_live_is_refused_and_restored(conf, xapi):
    agg = active(names=('c1', 'c2'))
    xapi.ops['destroy_host'].side_effect = exception.OperationRefused(
        'host.destroy', UUID['c2'], 'the master reports it live')
    with pytest.raises(exception.OperationRefused):
        flow(conf, xapi).remove(agg, 'c2', dead=True)
    assert agg.metadata['c2'] == UUID['c2'] and agg.metadata[ps.KEY] == ps.ACTIVE
    assert bk.read(agg.metadata).intent is None


def test_a_host_never_live_within_live_timeout_is_a_failure_not_active(conf, xapi):
    agg = active(extra_hosts=['c2'])
    xapi.ops['preflight'].return_value = []
    xapi.ops['join'].side_effect = exception.XapiTimeout(
        'https://192.0.2.1', 'timed out after 600.0s waiting for host enabled and live')
    xapi.ops['snapshot'].return_value = fakes.membership('c1', 'c2', c2={'live': False})
    with pytest.raises(exception.XapiTimeout):
        flow(conf, xapi).add(agg, 'c2', slave_info=slave_info('c2'))
    md = agg.metadata
    # NOTE: it is a member (one truth: recorded); the add failed and counts
    assert md['c2'] == UUID['c2'] and md[ps.KEY] == ps.ACTIVE
    record = bk.read(md)
    assert record.intent is None and record.failures == 1
    assert 'timed out' in record.reason
    xapi.claims['release'].assert_not_called()      # it joined: nothing to free



def test_removing_a_master_with_guests_is_refused_before_the_designate(conf, xapi):
    # NOTE: the eject after the designate would refuse them: the master must
    # not move for an eject that cannot happen.
    agg = active(names=('c1', 'c2'))
    xapi.ops['snapshot'].return_value = fakes.membership('c1', 'c2')
    xapi.ops['refuse_guests'].side_effect = exception.OperationRefused(
        'pool.eject', UUID['c1'], 'guest VMs are not halted on it: web')
    with pytest.raises(exception.OperationRefused):
        flow(conf, xapi).remove(agg, 'c1')
    assert 'designate_new_master' not in xapi.names
    assert agg.metadata[ps.KEY] == ps.ACTIVE and failures(agg) == 0
    assert agg.metadata[bk.MASTER_COMPUTE] == 'c1'
    xapi.ops['refuse_guests'].reset_mock()
    flow(conf, xapi).remove(agg, 'c1', force=True)      # force: no guest check
    xapi.ops['refuse_guests'].assert_not_called()
    assert xapi.names[-2:] == ['designate_new_master', 'eject']
