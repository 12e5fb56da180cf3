"""The claim value: its fields, its JSON text, its expiry."""

import json

import pytest

from xenpool_driver.xapi import claim_value

NOW = 1_000_000.0

MINE = claim_value.Claim.join('agg-a', 'intent-1', 'cli@a', NOW, 100)
FIRST = claim_value.Claim.pool('agg-a', 'intent-1', 'cli@a')


def test_encode_is_compact_sorted_json_and_round_trips():
    text = MINE.encode()
    assert text == ('{"aggregate":"agg-a","expires":1000100.0,"intent":"intent-1",'
                    '"kind":"join","owner":"cli@a"}')
    assert claim_value.Claim.decode(text) == MINE
    assert claim_value.Claim.decode(FIRST.encode()) == FIRST
    assert json.loads(FIRST.encode())['expires'] is None


@pytest.mark.parametrize('text, error', [
    ('not json', 'not JSON'),
    (None, 'not JSON'),
    ('[1, 2]', 'not a JSON object'),
    ('{"aggregate": "a", "intent": "i", "kind": "pool"}', 'missing field'),
    ('{"aggregate": "a", "intent": "i", "owner": "o", "kind": "lease"}', 'kind'),
    ('{"aggregate": "", "intent": "i", "owner": "o", "kind": "pool"}', 'aggregate'),
    ('{"aggregate": "a", "intent": 7, "owner": "o", "kind": "pool"}', 'intent'),
    ('{"aggregate": "a", "intent": "i", "owner": "o", "kind": "join", "expires": "soon"}',
     'expires'),
    ('{"aggregate": "a", "intent": "i", "owner": "o", "kind": "join", "expires": true}',
     'expires'),
])
def test_decode_refuses_what_is_not_a_claim(text, error):
    with pytest.raises(ValueError, match=error):
        claim_value.Claim.decode(text)


@pytest.mark.parametrize('now, expired', [(NOW + 99, False), (NOW + 100, False),
                                          (NOW + 100.5, True)])
def test_a_join_claim_expires_after_its_lease(now, expired):
    assert MINE.expires == NOW + 100
    assert MINE.expired(now) is expired
    assert FIRST.expired(now + 10 ** 9) is False


def test_same_operation_ignores_the_owner():
    other_owner = claim_value.Claim('agg-a', 'intent-1', 'reconcile@b', 'join', 5.0)
    assert MINE.same_operation(other_owner)
    assert not MINE.same_operation(FIRST)          # kind differs
    assert not MINE.same_operation(None)
    assert 'owner cli@a' in MINE.describe() and 'expires' in MINE.describe()
    assert 'no expiry' in FIRST.describe()


def test_the_claim_lives_under_one_key_of_pool_other_config():
    assert claim_value.KEY == 'xenpool.aggregate'
    assert claim_value.KINDS == ('pool', 'join')
