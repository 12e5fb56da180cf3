"""Nova 22.4.0's ComputeManager drives the driver against a simulated lab.

Each test builds the managers from nova.conf files (the README's block), keeps
the aggregate in nova's API database and does what nova-api does before each
cast; after every step the aggregate (hosts and metadata) must equal the pool
as xapi reports it, read independently through the XenAPI SDK.
"""

import dataclasses
import time

import pytest
from nova import exception as nova_exception

from tests import passwords
from tests import reality
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.nova import driver as nova_driver
from xenpool_driver.simulator import HostSpec


def test_nova_loads_the_driver_named_in_the_readme(cloud):
    for manager in cloud.managers.values():
        assert isinstance(manager.driver, nova_driver.XenPoolComputeDriver)
        assert type(manager.driver).__module__ == 'xenpool_driver.nova.driver'
        assert manager.driver.pool.host == manager.host


def test_build_and_dismantle_a_three_host_pool(cloud):
    agg = cloud.create_aggregate('pool1')
    cloud.add(agg, 'host1')
    cloud.assert_agrees(agg, ps.ACTIVE, master='host1')
    cloud.add(agg, 'host2')
    cloud.assert_agrees(agg, ps.ACTIVE, master='host1')
    cloud.add(agg, 'host3')
    real = cloud.assert_agrees(agg, ps.ACTIVE, master='host1')
    assert len(real.hosts) == 3
    # a slave leaves
    cloud.remove(agg, 'host3')
    cloud.assert_agrees(agg, ps.ACTIVE, master='host1')
    reality.assert_standalone(cloud.lab, 'host3')
    # the master leaves: host2 is designated first, then host1 is ejected
    cloud.remove(agg, 'host1')
    cloud.assert_agrees(agg, ps.ACTIVE, master='host2')
    reality.assert_standalone(cloud.lab, 'host1')
    # the last host leaves: the pool is cleared, the aggregate is created again
    cloud.remove(agg, 'host2')
    cloud.assert_agrees(agg, ps.CREATED)
    assert cloud.aggregate(agg).hosts == []
    assert reality.read_pool(cloud.lab, cloud.lab.hosts[1].url).name_label == ''


def _pool_of_two(cloud):
    agg = cloud.create_aggregate('pool1')
    cloud.add(agg, 'host1')
    cloud.add(agg, 'host2')
    cloud.assert_agrees(agg, ps.ACTIVE, master='host1')
    return agg


FAILED_JOINS = {
    # xapi's pre-join check would refuse it: our preflight refuses first
    'preflight mismatch': (dict(specs={2: HostSpec(management_vlan=10)}),
                           'POOL_JOINING_HOST_MANAGEMENT_VLAN_DOES_NOT_MATCH', 0),
    # host3's nova.conf has the wrong password: xapi refuses the login
    'wrong password': (dict(passwords_by_host={'host3': passwords.WRONG_PASSWORD}),
                       'SESSION_AUTHENTICATION_FAILED', 1),
    # xapi accepted the join, then its task failed
    'join task failed': (dict(faults={2: [{'kind': 'fail', 'method': 'pool.join',
                                           'code': 'JOINING_HOST_CONNECTION_FAILED'}]}),
                         'JOINING_HOST_CONNECTION_FAILED', 1),
}


@pytest.mark.parametrize('tls', [False, True], ids=['http', 'tls'])
@pytest.mark.parametrize('case', sorted(FAILED_JOINS))
def test_a_failed_join_is_undone_by_nova(make_cloud, case, tls):
    lab_kw, code, counted = FAILED_JOINS[case]
    cloud = make_cloud(hosts=3, tls=tls, **lab_kw)
    agg = _pool_of_two(cloud)
    with pytest.raises(nova_exception.AggregateError) as err:
        cloud.add(agg, 'host3')
    # what Nova logs: its own type, XAPI's code in the text and in kwargs
    assert code in str(err.value)
    assert err.value.kwargs['xapi_code'] == code
    assert err.value.kwargs['aggregate_id'] == agg
    assert passwords.WRONG_PASSWORD not in str(err.value)
    # Nova's undo ran: host3 left nova's host list; state and count are right
    assert cloud.aggregate(agg).hosts == ['host1', 'host2']
    cloud.assert_agrees(agg, ps.ACTIVE, master='host1')
    assert cloud.failures(agg) == counted
    assert 'host3' not in cloud.aggregate(agg).metadata


def test_a_join_fixed_after_a_failure_succeeds_and_resets_the_count(make_cloud):
    cloud = make_cloud(hosts=3, faults={2: [{'kind': 'fail', 'method': 'pool.join',
                                              'code': 'JOINING_HOST_CONNECTION_FAILED'}]})
    agg = _pool_of_two(cloud)
    with pytest.raises(nova_exception.AggregateError):
        cloud.add(agg, 'host3')
    assert cloud.failures(agg) == 1
    cloud.add(agg, 'host3')  # the fault fired once
    cloud.assert_agrees(agg, ps.ACTIVE, master='host1')
    assert cloud.failures(agg) == 0


def test_failures_at_the_threshold_move_the_pool_to_error(make_cloud):
    cloud = make_cloud(hosts=3, faults={2: [{'kind': 'fail', 'method': 'pool.join',
                                              'code': 'JOINING_HOST_CONNECTION_FAILED',
                                              'times': None}]})
    agg = _pool_of_two(cloud)
    for _ in range(3):  # NOTE: pool_error_threshold's default
        with pytest.raises(nova_exception.AggregateError):
            cloud.add(agg, 'host3')
    assert cloud.aggregate(agg).metadata[ps.KEY] == ps.ERROR
    assert cloud.aggregate(agg).hosts == ['host1', 'host2']


@pytest.mark.parametrize('tls', [False, True], ids=['http', 'tls'])
def test_a_remove_refused_by_our_rules_puts_the_host_back(make_cloud, tls):
    cloud = make_cloud(hosts=3, tls=tls)
    agg = _pool_of_two(cloud)
    master = cloud.lab.hosts[0]
    # a guest VM running on host2: ejecting it would destroy the VM
    sdk = reality.login(cloud.lab, master.url)
    try:
        vm = master.db.create('VM', name_label='guest', power_state='Halted')
        sdk.xenapi.VM.start_on(vm, cloud.lab.hosts[1].ref, False, False)
    finally:
        sdk.xenapi.session.logout()
    with pytest.raises(nova_exception.InvalidAggregateAction) as err:
        cloud.remove(agg, 'host2')
    assert 'not halted' in str(err.value) and 'Running' in str(err.value)
    assert sorted(cloud.aggregate(agg).hosts) == ['host1', 'host2']
    cloud.assert_agrees(agg, ps.ACTIVE, master='host1')
    assert cloud.failures(agg) == 0


def test_init_host_finishes_an_add_interrupted_by_a_crash(make_cloud):
    """host3's service died after xapi's join: its restart repairs the aggregate."""
    cloud = make_cloud(hosts=3)
    agg = _pool_of_two(cloud)
    aggregate = cloud.aggregate(agg)
    aggregate.add_host('host3')  # nova-api's part, then the crash mid-cast:
    host3 = cloud.lab.hosts[2]
    intent = dataclasses.replace(bk.new_intent(ps.OP_ADD, 'host3', ps.ACTIVE, 'host3', 0.0,
                                               url=host3.url, host_uuid=host3.uuid),
                                 phase='join')
    record = bk.read(aggregate.metadata).replace(intent=intent)
    aggregate.update_metadata(dict(bk.updates(record), **{ps.KEY: ps.CHANGING}))
    sdk = reality.login(cloud.lab, host3.url)
    try:
        sdk.xenapi.pool.join(cloud.lab.hosts[0].address, cloud.lab.username,
                             cloud.lab.password)
    finally:
        reality.logout_quietly(sdk)
    cloud.restart_compute('host3')
    cloud.assert_agrees(agg, ps.ACTIVE, master='host1')
    assert 'host3' in cloud.aggregate(agg).hosts


def test_init_host_leaves_a_live_lease_alone_and_takes_over_an_expired_one(make_cloud,
                                                                          caplog):
    """Leases on nova's own aggregate object (no compare-and-set there)."""
    cloud = make_cloud(hosts=3)
    agg = _pool_of_two(cloud)
    aggregate = cloud.aggregate(agg)
    aggregate.add_host('host3')  # nova-api's part; host3's service runs the join
    host3 = cloud.lab.hosts[2]
    intent = dataclasses.replace(bk.new_intent(
        ps.OP_ADD, 'host3', ps.ACTIVE, 'host3:4242', time.time(), url=host3.url,
        host_uuid=host3.uuid, expires=time.time() + 300), phase='join')
    record = bk.read(aggregate.metadata).replace(intent=intent)
    aggregate.update_metadata(dict(bk.updates(record), **{ps.KEY: ps.CHANGING}))
    cloud.restart_compute('host1')          # another service's init_host
    aggregate = cloud.aggregate(agg)
    assert aggregate.metadata[ps.KEY] == ps.CHANGING
    assert bk.read(aggregate.metadata).intent.id == intent.id
    assert any('left alone' in r.getMessage() for r in caplog.records)
    # the owner died: its lease runs out; nothing was joined
    stale = dataclasses.replace(intent, expires=time.time() - 1)
    aggregate.update_metadata(bk.updates(bk.read(aggregate.metadata).replace(
        intent=stale)))
    cloud.restart_compute('host1')
    aggregate = cloud.aggregate(agg)
    assert aggregate.metadata[ps.KEY] == ps.ACTIVE
    assert bk.read(aggregate.metadata).intent is None
    assert 'host3' not in bk.recorded_hosts(aggregate.metadata)


def test_init_host_reports_and_leaves_an_unreadable_pool(make_cloud, caplog):
    """The service starts although its pool's master is down; nothing changes."""
    cloud = make_cloud(hosts=2)
    agg = cloud.create_aggregate('pool1')
    cloud.add(agg, 'host1')
    cloud.add(agg, 'host2')
    before = dict(cloud.aggregate(agg).metadata)
    cloud.lab.stop(0)
    cloud.restart_compute('host2')
    assert dict(cloud.aggregate(agg).metadata) == before
    assert any('Reconciled aggregate' in r.getMessage() and 'error' in r.getMessage()
               for r in caplog.records)


def test_classic_slave_info_is_used_without_its_password(make_cloud):
    """The classic xenapi forwarded the cast to the master with slave_info.

    Its dict carried the joiner's URL, uuid and a password: the URL and uuid
    locate the joiner, the password is never stored (the secret scan and the
    metadata check see no password anywhere).
    """
    cloud = make_cloud(hosts=3)
    agg = _pool_of_two(cloud)
    host3 = cloud.lab.hosts[2]
    aggregate = cloud.aggregate(agg)
    aggregate.add_host('host3')
    slave_info = {'compute_uuid': 'c0ffee', 'url': host3.url, 'user': cloud.lab.username,
                  'passwd': cloud.lab.password, 'xenhost_uuid': host3.uuid}
    cloud.managers['host1'].add_aggregate_host(
        cloud.ctx, aggregate=cloud.over_rpc(aggregate), host='host3',
        slave_info=slave_info)
    cloud.assert_agrees(agg, ps.ACTIVE, master='host1')
    assert cloud.aggregate(agg).metadata['host3'] == host3.uuid
