"""The claim decision, row by row of the table in doc/design-claims.md ("Rules").

No session: :func:`decide` only looks at a :class:`~.claims.PoolView`.
"""

import pytest

from xenpool_driver import exception
from xenpool_driver.xapi import claim_decision as decision
from xenpool_driver.xapi import claims
from xenpool_driver.xapi.claim_value import KEY, Claim

NOW = 1_000_000.0
FIRST = Claim.pool('agg-a', 'intent-1', 'cli@a')
JOINER = Claim.join('agg-a', 'intent-1', 'cli@a', NOW, 100)

LIVE_OTHER_OP = Claim.join('agg-a', 'intent-0', 'cli@z', NOW, 10)
EXPIRED_OTHER_OP = Claim.join('agg-a', 'intent-0', 'cli@z', NOW - 100, 10)
OWN_POOL = Claim.pool('agg-a', 'intent-0', 'cli@z')
OTHER_POOL = Claim.pool('agg-b', 'i', 'o')
OTHER_JOIN = Claim.join('agg-b', 'i', 'o', NOW, 10)
OTHER_EXPIRED = Claim.join('agg-b', 'i', 'o', NOW - 100, 10)


def view(held=None, hosts=('h1',), raw=None):
    """A :class:`PoolView` of ``hosts`` (the first is master) holding ``held``."""
    if held is not None:
        raw = held.encode()
    pool = {'uuid': 'pool-uuid', 'name_label': 'p', 'master': 'OpaqueRef:' + hosts[0],
            'other_config': {} if raw is None else {KEY: raw}}
    recs = {'OpaqueRef:' + h: {'uuid': h, 'name_label': h, 'address': '192.0.2.%d' % i}
            for i, h in enumerate(hosts, 30)}
    return claims.PoolView('OpaqueRef:pool', held, len(hosts), pool, recs, raw)


ALONE, TWO = ('h1',), ('h1', 'h2')


@pytest.mark.parametrize('found, hosts, first_host, members, expected', [
    # nothing, 1 host
    (None, ALONE, True, (), decision.ADD),
    (None, ALONE, False, (), decision.ADD),
    # nothing, several hosts: refused unless a first host's members are exactly them
    (None, TWO, True, (), 'not alone in its pool'),
    (None, TWO, True, {'h1', 'h2'}, decision.ADD),
    (None, TWO, True, {'h1'}, 'not alone in its pool'),
    (None, TWO, False, (), 'not standalone'),
    # this very claim: a retry
    (FIRST, TWO, True, (), decision.OURS),
    (JOINER, ALONE, False, (), decision.OURS),
    # the aggregate's own pool claim
    (OWN_POOL, TWO, True, (), decision.OURS),
    (OWN_POOL, ALONE, False, (), "master of this aggregate's own pool"),
    # another operation of the same aggregate
    (LIVE_OTHER_OP, ALONE, True, (), 'another operation of this aggregate'),
    (LIVE_OTHER_OP, ALONE, False, (), 'another operation of this aggregate'),
    (EXPIRED_OTHER_OP, ALONE, False, (), decision.TAKEOVER),
    (EXPIRED_OTHER_OP, TWO, False, (), 'another operation of this aggregate'),
    # another aggregate's
    (OTHER_POOL, ALONE, True, (), 'it is claimed: pool claim of aggregate agg-b'),
    (OTHER_JOIN, ALONE, False, (), 'it is claimed: join claim of aggregate agg-b'),
    (OTHER_EXPIRED, ALONE, True, (), decision.TAKEOVER),
    (OTHER_EXPIRED, ALONE, False, (), decision.TAKEOVER),
    (OTHER_EXPIRED, TWO, False, (), 'it is claimed'),
])
def test_the_rules(found, hosts, first_host, members, expected):
    claim = FIRST if first_host else JOINER
    pool = view(found, hosts)
    if expected in (decision.ADD, decision.OURS, decision.TAKEOVER):
        assert decision.decide(pool, claim, NOW, first_host, frozenset(members)) == expected
        return
    with pytest.raises(exception.HostClaimed, match=expected) as err:
        decision.decide(pool, claim, NOW, first_host, frozenset(members))
    assert err.value.claimant == found and err.value.pool_uuid == 'pool-uuid'


@pytest.mark.parametrize('first_host', [True, False])
def test_an_unreadable_value_is_refused_never_taken_over(first_host):
    claim = FIRST if first_host else JOINER
    with pytest.raises(exception.HostClaimed, match='unreadable value') as err:
        decision.decide(view(raw='{"broken'), claim, NOW + 10 ** 9, first_host, frozenset())
    assert err.value.claimant is None


def test_a_refusal_names_the_pools_master_and_describes_the_pool():
    refused = decision.refused(JOINER, view(OTHER_JOIN, TWO), 'busy')
    assert refused.host == 'h1'
    assert "busy on pool 'p' (uuid pool-uuid, 2 hosts, master h1" in str(refused)
    assert '\n' not in str(refused)
    bare = decision.refused(FIRST, None, 'contended')
    assert (bare.host, bare.claimant, bare.pool_uuid) == ('?', None, None)


@pytest.mark.parametrize('pool, text', [
    (None, 'unknown'),
    (view(), 'no claim'),
    (view(OTHER_JOIN), OTHER_JOIN.describe()),
    (view(raw='x' * 200), "an unreadable value '%s' under %s" % ('x' * 80, KEY)),
])
def test_holder(pool, text):
    assert decision.holder(pool) == text
