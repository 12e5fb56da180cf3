"""Host claims over real HTTP: the real session layer and XenAPI SDK, the simulator lab.

The claim is one key in ``pool.other_config``; xapi arbitrates it with
``pool.add_to_other_config``, which adds under the database lock and refuses
an existing key (``process_structured_field`` in
``ocaml/database/db_cache_impl.ml``: ``Duplicate_key``, answered as
``MAP_DUPLICATE_KEY`` by ``ocaml/xapi/exnHelper.ml``). Time is injected
(``now``): nothing here waits for a lease to run out.
"""

import threading

import pytest

from tests.functional.conftest import make_conf, make_settings, scaled_sleep, start_lab
from tests.reality import CEILING
from xenpool_driver import exception
from xenpool_driver.xapi import claims
from xenpool_driver.xapi import pool as pool_mod
from xenpool_driver.xapi import session as xsession
from xenpool_driver.xapi import timeouts

NOW = 2_000_000.0
LEASE = 600.0
TIMEOUTS = timeouts.PoolTimeouts(task=CEILING, live=CEILING)


@pytest.fixture
def lab():
    lab = start_lab(3)
    yield lab
    lab.close()


@pytest.fixture
def connect(lab):
    """``connect(index)`` -> a fresh :class:`XapiSession` on lab host ``index``."""
    settings = make_settings(make_conf(lab))
    made = []

    def connect(index):
        s = xsession.XapiSession(lab.hosts[index].url, settings, sleep=scaled_sleep)
        made.append(s)
        return s
    yield connect
    for s in made:
        s.close()


def join_claim(aggregate, intent, owner='tests', now=NOW):
    return claims.Claim.join(aggregate, intent, owner, now, LEASE)


def join(lab, connect, joiner, master):
    """``pool.join`` of lab host ``joiner`` into ``master``'s pool, awaited until live."""
    return pool_mod.join(connect(joiner), connect(master), lab.hosts[master].address,
                         lab.username, lab.password, TIMEOUTS)


class AtTheGate(object):
    """A session whose ``pool.add_to_other_config`` waits at a barrier first.

    Both racers have read the key absent before either adds: only xapi's
    atomic add can decide between them.
    """

    def __init__(self, session, barrier):
        self.session, self.barrier = session, barrier

    @property
    def address(self):
        return self.session.address

    def call(self, method, *args):
        if method == 'pool.add_to_other_config' and args[1] == claims.KEY:
            self.barrier.wait(timeout=10)
        return self.session.call(method, *args)


def race(*attempts):
    """Run the callables in threads at once; their results or HostClaimed errors."""
    results = [None] * len(attempts)

    def run(i, attempt):
        try:
            results[i] = attempt()
        except exception.HostClaimed as refused:
            results[i] = refused
    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    return results


def test_xapi_answers_map_duplicate_key_for_an_existing_key(connect):
    # NOTE: db_cache_impl.ml raises Duplicate_key (tblname, fld, objref, key), and
    # exnHelper.ml answers MAP_DUPLICATE_KEY [tbl; fld; <that ref>; key], whatever the value.
    s = connect(0)
    ref = claims.read(s).pool_ref
    s.call('pool.add_to_other_config', ref, 'xenpool.test', 'one')
    for value in ('two', 'one'):
        with pytest.raises(exception.XapiError) as info:
            s.call('pool.add_to_other_config', ref, 'xenpool.test', value)
        err = info.value
        assert err.code == 'MAP_DUPLICATE_KEY'
        assert (err.params[0], err.params[1], err.params[3]) == (
            'pool', 'other_config', 'xenpool.test')
    assert s.call('pool.get_other_config', ref)['xenpool.test'] == 'one'


@pytest.mark.parametrize('kinds', [('join', 'join'), ('pool', 'join'), ('pool', 'pool')])
def test_two_claimers_of_one_standalone_host_at_once_exactly_one_wins(lab, connect, kinds):
    gate = threading.Barrier(2)
    mine = [claims.Claim.pool('agg-%d' % i, 'intent-%d' % i, 'actor-%d' % i)
            if kind == 'pool' else join_claim('agg-%d' % i, 'intent-%d' % i, 'actor-%d' % i)
            for i, kind in enumerate(kinds)]

    def attempt(i):
        s = AtTheGate(connect(1), gate)
        if mine[i].kind == 'pool':
            return lambda: claims.claim_first_host(s, mine[i], now=NOW)
        return lambda: claims.claim_joiner(s, mine[i], now=NOW)
    results = race(attempt(0), attempt(1))
    won = [r for r in results if isinstance(r, claims.Claim)]
    lost = [r for r in results if isinstance(r, exception.HostClaimed)]
    assert len(won) == 1 and len(lost) == 1, results
    assert lost[0].claimant == won[0]
    assert 'owner %s' % won[0].owner in str(lost[0])
    assert claims.read(connect(1)).claim == won[0]


def test_a_host_in_a_two_host_pool_is_refused_as_first_host(lab, connect):
    join(lab, connect, 1, 0)
    for index in (0, 1):        # the master, and the slave (its session reaches the master)
        with pytest.raises(exception.HostClaimed) as info:
            claims.claim_first_host(connect(index), claims.Claim.pool('agg', 'i', 'o'),
                                    now=NOW)
        text = str(info.value)
        assert 'not alone in its pool' in text and '2 hosts' in text
        assert "master %s 'host1' at %s" % (lab.hosts[0].uuid, lab.hosts[0].address) in text
        assert claims.read(connect(0)).raw is None
    # a slave is never a joiner either
    with pytest.raises(exception.HostClaimed, match='not standalone.*2 hosts'):
        claims.claim_joiner(connect(1), join_claim('agg-b', 'j'), now=NOW)
    # the same pool, adopted by the aggregate that records exactly its members
    members = {lab.hosts[0].uuid, lab.hosts[1].uuid}
    adopted = claims.claim_first_host(connect(0), claims.Claim.pool('agg', 'i', 'o'),
                                      now=NOW, members=members)
    assert claims.read(connect(1)).claim == adopted


def test_the_pool_claim_survives_joins_and_designate_new_master(lab, connect):
    first = claims.Claim.pool('agg', 'intent-1', 'tests')
    assert claims.claim_first_host(connect(0), first, now=NOW) == first
    pool_uuid = claims.read(connect(0)).pool_uuid

    joiner = join_claim('agg', 'intent-2')
    assert claims.claim_joiner(connect(1), joiner, now=NOW) == joiner
    # another aggregate cannot take the joiner, nor found a pool on it, meanwhile
    with pytest.raises(exception.HostClaimed, match='join claim of aggregate agg '):
        claims.claim_joiner(connect(1), join_claim('other', 'x'), now=NOW)
    with pytest.raises(exception.HostClaimed, match='join claim of aggregate agg '):
        claims.claim_first_host(connect(1), claims.Claim.pool('other', 'x', 'o'), now=NOW)
    join(lab, connect, 1, 0)
    # the joiner's own pool (and the join claim) is gone: it sees the aggregate's pool
    view = claims.read(connect(1))
    assert (view.pool_uuid, view.claim, view.host_count) == (pool_uuid, first, 2)
    assert claims.release(connect(1), joiner) is False      # nothing of it left to release
    assert claims.read(connect(0)).claim == first

    s = connect(0)
    members = pool_mod.snapshot(s)
    pool_mod.designate_new_master(s, lab.hosts[1].uuid, TIMEOUTS, membership=members)
    view = claims.read(connect(1))
    assert view.master[0] == lab.hosts[1].uuid
    assert (view.pool_uuid, view.claim) == (pool_uuid, first)
    # still this aggregate's pool: a first-host claim of it is accepted, another refused
    assert claims.claim_first_host(connect(1), claims.Claim.pool('agg', 'later', 'o'),
                                   now=NOW) == first
    with pytest.raises(exception.HostClaimed, match='pool claim of aggregate agg '):
        claims.claim_first_host(connect(0), claims.Claim.pool('other', 'x', 'o'), now=NOW)
    with pytest.raises(exception.HostClaimed):
        claims.claim_joiner(connect(1), join_claim('other', 'y'), now=NOW)


def test_release_removes_only_our_own_claim(connect):
    mine = join_claim('agg', 'intent-1')
    claims.claim_joiner(connect(2), mine, now=NOW)
    assert claims.release(connect(2), join_claim('agg', 'intent-other')) is False
    assert claims.release(connect(2), join_claim('agg-b', 'intent-1')) is False
    assert claims.release_pool(connect(2), 'agg') is False
    assert claims.read(connect(2)).claim == mine
    assert claims.release(connect(2), mine) is True
    view = claims.read(connect(2))
    assert view.raw is None and claims.KEY not in view.other_config
    assert claims.release(connect(2), mine) is False


def test_a_failed_join_releases_its_claim_and_the_host_is_free_again(lab, connect):
    claims.claim_first_host(connect(0), claims.Claim.pool('agg', 'i0', 'o'), now=NOW)
    mine = join_claim('agg', 'intent-1')
    claims.claim_joiner(connect(2), mine, now=NOW)
    lab.hosts[2].faults.fail('pool.join', 'HOSTS_NOT_HOMOGENEOUS', ['CPUs differ'])
    with pytest.raises(exception.XapiError, match='HOSTS_NOT_HOMOGENEOUS'):
        join(lab, connect, 2, 0)
    assert claims.read(connect(2)).claim == mine
    assert claims.release(connect(2), mine) is True
    theirs = join_claim('agg-b', 'intent-b')
    assert claims.claim_joiner(connect(2), theirs, now=NOW) == theirs


def test_an_expired_join_claim_is_taken_over(connect):
    dead = join_claim('agg', 'killed-add', 'cli@gone', now=NOW)
    claims.claim_joiner(connect(2), dead, now=NOW)
    later = NOW + LEASE / 2
    with pytest.raises(exception.HostClaimed, match='killed-add'):
        claims.claim_joiner(connect(2), join_claim('agg-b', 'i', now=later), now=later)
    after = NOW + LEASE + 1
    fresh = join_claim('agg-b', 'i', now=after)
    assert claims.claim_joiner(connect(2), fresh, now=after) == fresh
    view = claims.read(connect(2))
    assert view.claim == fresh
    assert [k for k in view.other_config if k.startswith(claims.TAKEOVER_PREFIX)] == []


def test_the_last_host_leaving_releases_the_pool_claim(lab, connect):
    first = claims.Claim.pool('agg', 'intent-1', 'tests')
    claims.claim_first_host(connect(0), first, now=NOW)
    pool_mod.init_pool(connect(0), 'agg')
    # the last host leaves: the pool is cleared and the claim released
    pool_mod.clear_pool(connect(0))
    assert claims.release_pool(connect(0), 'other-agg') is False
    assert claims.release_pool(connect(0), 'agg') is True
    assert claims.read(connect(0)).raw is None
    theirs = claims.Claim.pool('agg-b', 'i', 'o')
    assert claims.claim_first_host(connect(0), theirs, now=NOW) == theirs


@pytest.mark.parametrize('when, claimed', [('after', True), ('before', False)])
def test_a_lost_answer_of_the_claim_is_settled_by_reading_it_back(lab, connect, when, claimed):
    lab.hosts[2].faults.drop('pool.add_to_other_config', when=when)
    mine = join_claim('agg', 'intent-1')
    if claimed:
        assert claims.claim_joiner(connect(2), mine, now=NOW) == mine
        assert claims.read(connect(2)).claim == mine
    else:
        with pytest.raises(exception.XapiUnavailable) as info:
            claims.claim_joiner(connect(2), mine, now=NOW)
        assert info.value.maybe_applied
        assert claims.read(connect(2)).raw is None
        # never sent twice: the caller decides (here: claim again)
        assert claims.claim_joiner(connect(2), mine, now=NOW) == mine
