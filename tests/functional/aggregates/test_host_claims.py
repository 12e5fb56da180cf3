"""A host belongs to at most one pool aggregate, whoever the callers are.

Regression tests for what the randomized campaign (tools/chaos.py) and the
field found first: a host already in another pool was accepted as the first
host of a new aggregate (it renamed the other pool, recorded the other
pool's master, and a later removal there ejected the other pool's master);
one host added to two aggregates at once had both joins sent. The mechanism
(xapi's atomic ``pool.add_to_other_config``, MAP_DUPLICATE_KEY from
``ocaml/database/db_cache_impl.ml``) is in ``doc/design-claims.md``; here it is
driven through the workflow, against the simulator, with two actors that
share nothing (their own stores and connectors, as two compute services).
"""

import concurrent.futures
import threading

import pytest

from tests.functional.conftest import Env, assert_consistent
from tests.reality import read_pool
from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import bookkeeping as bk

#: xapi seconds a racing join lasts (scaled: long enough for both to meet).
SLOW = 100.0


@pytest.fixture
def two(make_env, tmp_path):
    """Two actors on one lab, each with its own store (nothing shared)."""
    first = make_env(4)
    other = Env(first.lab, 'sqlite:///%s' % (tmp_path / 'other.sqlite'),
                owner='other-actor')
    yield first, other
    other.close()


def _pool_of_two(env, name):
    agg = env.new_aggregate(name)
    env.add(agg, 'host1')
    env.add(agg, 'host2')
    return agg


@pytest.mark.parametrize('host', ['host1', 'host2'], ids=['its-master', 'its-slave'])
def test_a_host_of_another_pool_is_refused_as_first_host(two, host):
    env, other = two
    theirs = _pool_of_two(env, 'theirs')
    before = read_pool(env.lab, env.urls['host1'])
    mine = other.new_aggregate('mine')
    with pytest.raises(exception.Refused) as err:
        other.add(mine, host)
    assert '\n' not in str(err.value)
    # NOTE: a slave's URL answers for its master (HOST_IS_SLAVE), a master's
    # pool has 2 hosts and the other aggregate's claim: either way, refused
    assert ('member of the pool' in err.value.reason or
            'theirs' in err.value.reason), err.value.reason
    mine.refresh()
    assert mine.metadata[ps.KEY] == ps.CREATED and not bk.recorded_hosts(mine.metadata)
    assert bk.read(mine.metadata).failures == 0        # a refusal counts nothing
    after = read_pool(env.lab, env.urls['host1'])
    assert (after.name_label, after.master_uuid, set(after.hosts)) == (
        before.name_label, before.master_uuid, set(before.hosts)) == (
        'theirs', env.lab.hosts[0].uuid, set(before.hosts))
    assert_consistent(env, theirs, ps.ACTIVE, hosts={'host1', 'host2'}, master='host1')


def test_a_standalone_master_of_another_aggregate_is_refused_as_joiner(two):
    env, other = two
    theirs = env.new_aggregate('theirs')
    env.add(theirs, 'host3')                       # host3: standalone, theirs
    mine = other.new_aggregate('mine')
    other.add(mine, 'host1')
    with pytest.raises(exception.Refused) as err:
        other.add(mine, 'host3')
    assert 'theirs' in err.value.reason
    assert read_pool(env.lab, env.urls['host3']).name_label == 'theirs'
    assert_consistent(env, theirs, ps.ACTIVE, hosts={'host3'}, master='host3')
    assert_consistent(other, mine, ps.ACTIVE, hosts={'host1'}, master='host1')


def test_one_host_added_to_two_aggregates_at_once_joins_one(two):
    env, other = two
    a = env.new_aggregate('a')
    env.add(a, 'host1')
    b = other.new_aggregate('b')
    other.add(b, 'host2')
    for h in env.lab.hosts[2:3]:
        h.faults.latency(SLOW, 'pool.join')
    barrier = threading.Barrier(2)

    def racer(actor, agg):
        barrier.wait(timeout=30)
        try:
            actor.add(agg, 'host3')
            return 'ok'
        except exception.Refused as exc:
            return exc.reason

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda p: racer(*p), [(env, a), (other, b)]))
    assert sorted(o == 'ok' for o in outcomes) == [False, True], outcomes
    (refusal,) = [o for o in outcomes if o != 'ok']
    assert 'host3' in refusal or 'claim' in refusal, refusal
    joins = [c for c in env.lab.hosts[2].calls
             if c.method in ('Async.pool.join', 'pool.join')]
    assert len(joins) == 1                        # the loser never sent one
    winner, loser = ((env, a), (other, b)) if outcomes[0] == 'ok' else ((other, b), (env, a))
    assert_consistent(winner[0], winner[1], ps.ACTIVE, hosts={winner[1].hosts[0], 'host3'})
    loser[1].refresh()
    assert 'host3' not in bk.recorded_hosts(loser[1].metadata)
    assert bk.read(loser[1].metadata).failures == 0


def test_the_last_host_removed_frees_it_for_another_aggregate(two):
    env, other = two
    a = env.new_aggregate('a')
    env.add(a, 'host1')
    env.remove(a, 'host1')
    b = other.new_aggregate('b')
    other.add(b, 'host1')                        # the pool claim went with a
    assert_consistent(other, b, ps.ACTIVE, hosts={'host1'}, master='host1')
