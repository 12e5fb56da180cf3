"""Dry runs against the simulator, through the real session layer and SDK.

A plan reads and decides as the operation would, and changes nothing: the
pool's records (read independently through the XenAPI SDK), the joiner's,
the aggregate's metadata and its history are the same before and after.
What an eject destroys comes from xapi itself: the VDIs on the host's local
SRs (``ocaml/xapi/xapi_pool.ml`` eject_self: ``unplug_pbds`` forgets every SR
whose only PBD is the host's, with its VDIs), which the real remove then
destroys.
"""

import pytest

from tests.functional.conftest import assert_consistent
from tests.reality import lab_host, login, logout_quietly
from xenpool_driver import pool_states as ps
from xenpool_driver.simulator import VDISpec, VMSpec

GIB = 1024 ** 3
#: Classes whose records a dry run must leave as they were (sessions and
#: tasks are the reader's own).
CLASSES = ('pool', 'host', 'host_metrics', 'VM', 'SR', 'VDI', 'PBD', 'VBD',
           'PIF', 'network')


def _records(lab, url):
    sdk = login(lab, url)
    try:
        return {cls: getattr(sdk.xenapi, cls).get_all_records() for cls in CLASSES}
    finally:
        logout_quietly(sdk)


@pytest.fixture
def env(make_env):
    # NOTE: host2 keeps a VM's disk and a loose VDI on its local storage;
    # host3 has its management interface on a VLAN (a pre-join mismatch).
    return make_env(3, lab_kw={'specs': {
        1: {'vms': [VMSpec('web', disks=[VDISpec('web-root', 20 * GIB)])],
            'vdis': [VDISpec('scratch', GIB)]},
        2: {'management_vlan': 10}}})


def test_plans_change_nothing_and_tell_what_an_eject_destroys(env):
    h1, h2, h3 = env.names()
    agg = env.new_aggregate('dry-run')
    for name in (h1, h2):
        env.add(agg, name)
    agg.refresh()
    master_url, joiner_url = lab_host(env.lab, h1).url, lab_host(env.lab, h3).url
    before = (_records(env.lab, master_url), _records(env.lab, joiner_url),
              dict(agg.metadata), list(agg.hosts))

    slave = env.workflow.plan_remove(agg, h2)
    master = env.workflow.plan_remove(agg, h1)
    joiner = env.workflow.plan_add(agg, h3, slave_info={'url': env.urls[h3]})

    agg.refresh()
    assert (_records(env.lab, master_url), _records(env.lab, joiner_url),
            dict(agg.metadata), list(agg.hosts)) == before
    assert_consistent(env, agg, ps.ACTIVE, hosts=[h1, h2], master=h1)

    # a slave: ejected; its local disks are lost, and the VM that had one
    assert (slave.refusal, slave.calls) == (None, ['Async.pool.eject(%s)' % h2])
    lost = {v.name_label: v for v in slave.losses.vdis}
    assert set(lost) == {'web-root', 'scratch'}
    assert lost['web-root'].virtual_size == 20 * GIB
    assert {v.sr_name for v in lost.values()} == {'Local storage'}
    assert [(vm.name_label, vm.disks) for vm in slave.losses.vms] == [
        ('web', (lost['web-root'].uuid,))]
    # the master: the one live slave designated first, then ejected
    assert master.designate == h2 and master.refusal is None
    assert master.calls == ['pool.designate_new_master(%s)' % h2,
                            'Async.pool.eject(%s)' % h1]
    assert master.losses.vdis == ()
    # a joiner: claimed, then joined to the master's address; xapi's own
    # pre-join check would refuse it
    assert joiner.calls == ['pool.add_to_other_config(xenpool.aggregate)',
                            'Async.pool.join(%s)' % lab_host(env.lab, h1).address]
    assert [m.code for m in joiner.preflight] == [
        'POOL_JOINING_HOST_MANAGEMENT_VLAN_DOES_NOT_MATCH']
    assert joiner.refusal.startswith('host %s cannot join' % h3)
    assert slave.to_dict()['losses']['virtual_size'] == 21 * GIB

    # the real remove destroys exactly what the plan said
    env.remove(agg, h2)
    assert_consistent(env, agg, ps.ACTIVE, hosts=[h1], master=h1)
    left = {r['uuid'] for r in _records(env.lab, master_url)['VDI'].values()}
    assert not left & {v.uuid for v in lost.values()}
