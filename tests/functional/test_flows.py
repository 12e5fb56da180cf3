"""Every flow of the design, end to end: real session layer, real SDK, real HTTP(S).

One aggregate lives through its whole life on a 4-host lab - built into a
pool host by host, emptied (a slave, then the master of a non-empty pool,
then the rest, ending with the last host), then deleted - and after every
step the aggregate's metadata is compared with the pool as xapi itself
reports it (read independently through the XenAPI SDK). The lab runs over
plain HTTP and over HTTPS with certificate verification on.
"""

import pytest

from tests.functional.conftest import assert_consistent, assert_standalone
from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import bookkeeping as bk


def test_pool_lifecycle(env):
    h1, h2, h3, h4 = env.names()
    agg = env.new_aggregate('flows-pool')
    assert_consistent(env, agg, ps.CREATED, hosts=[])

    # build: the first host becomes master, the others pool.join it
    added = []
    for name in (h1, h2, h3, h4):
        host_uuid = env.add(agg, name)
        added.append(name)
        real = assert_consistent(env, agg, ps.ACTIVE, hosts=added, master=h1)
        assert host_uuid == agg.metadata[name] and host_uuid in real.hosts
    assert len(real.hosts) == 4

    # remove a slave: ejected, and it comes back as a standalone host
    env.remove(agg, h2)
    assert_consistent(env, agg, ps.ACTIVE, hosts=[h1, h3, h4], master=h1)
    assert_standalone(env.lab, h2)

    # remove the master of a non-empty pool: designate a live slave, then eject
    env.remove(agg, h1)
    real = assert_consistent(env, agg, ps.ACTIVE, hosts=[h3, h4])
    new_master = agg.metadata[bk.MASTER_COMPUTE]
    assert new_master in (h3, h4)
    assert real.master_uuid == agg.metadata[new_master]
    assert_standalone(env.lab, h1)

    # remove the remaining slave, then the last host: the pool is cleared
    slave = h4 if new_master == h3 else h3
    env.remove(agg, slave)
    assert_consistent(env, agg, ps.ACTIVE, hosts=[new_master], master=new_master)
    env.remove(agg, new_master)
    assert_consistent(env, agg, ps.CREATED, hosts=[])
    for name in (h1, h2, h3, h4):
        assert_standalone(env.lab, name)
    assert env.lab.hosts[[h1, h2, h3, h4].index(new_master)].role == 'master'

    # delete the aggregate: dismissed, and nothing of ours is left behind
    env.workflow.delete(agg)
    assert_consistent(env, agg, ps.DISMISSED, hosts=[])
    assert bk.KEY not in agg.metadata, agg.metadata
    assert bk.MASTER_COMPUTE not in agg.metadata


def test_a_former_master_rejoins_through_the_same_driver(make_env):
    # NOTE: one long-lived driver (one connector) the whole time, as in a
    # compute service: the handle that followed HOST_IS_SLAVE away from the
    # old master must not keep answering for the old master's URL.
    env = make_env(3)
    h1, h2, h3 = env.names()
    agg = env.new_aggregate('rejoin')
    for name in (h1, h2, h3):
        env.add(agg, name)
    env.remove(agg, h1)
    assert_standalone(env.lab, h1)
    new_master = agg.metadata[bk.MASTER_COMPUTE]
    env.add(agg, h1)
    assert_consistent(env, agg, ps.ACTIVE, hosts=[h1, h2, h3], master=new_master)


def test_a_dead_slave_is_forgotten_only_when_asked_and_offline(make_env):
    env = make_env(3)
    h1, h2, h3 = env.names()
    agg = env.new_aggregate('dead-host')
    for name in (h1, h2, h3):
        env.add(agg, name)
    # alive: refused (eject it instead), nothing changed
    with pytest.raises(exception.OperationRefused) as err:
        env.workflow.remove(agg, h3, dead=True)
    assert 'live' in str(err.value)
    assert_consistent(env, agg, ps.ACTIVE, hosts=[h1, h2, h3], master=h1)
    # dead: its xapi is gone and the master reports it offline
    env.lab.stop(2, mark_offline=True)
    env.remove(agg, h3, dead=True)
    assert_consistent(env, agg, ps.ACTIVE, hosts=[h1, h2], master=h1)
