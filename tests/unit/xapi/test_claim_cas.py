"""Compare-and-set on pool.other_config, against an autospec'd session.

The fake answers ``pool.add_to_other_config`` as xapi's database does
(``process_structured_field`` in ``ocaml/database/db_cache_impl.ml``: an
existing key is MAP_DUPLICATE_KEY); ``before`` runs another actor just
before one of our calls.
"""

import json
import logging

import pytest

from xenpool_driver import exception
from xenpool_driver.xapi import claim_cas
from xenpool_driver.xapi import session as xsession
from xenpool_driver.xapi.claim_value import KEY, Claim

ADDR = '192.0.2.20'
REF = 'OpaqueRef:pool'
NOW = 1_000_000.0
STALE = Claim.join('agg-z', 'dead', 'gone', NOW - 100, 10).encode()
MINE = Claim.join('agg-a', 'intent-1', 'cli@a', NOW, 100)


@pytest.fixture
def oc():
    return {}


@pytest.fixture
def session(mocker, oc):
    s = mocker.create_autospec(xsession.XapiSession, instance=True)
    s.address = ADDR
    s.before = {}

    def call(method, *args):
        hooks = s.before.get(method)
        if hooks:
            hooks.pop(0)()
        if method == 'pool.get_all_records':
            return {REF: {'uuid': 'pool-uuid', 'other_config': dict(oc)}}
        if method == 'pool.add_to_other_config':
            _ref, key, value = args
            if key in oc:
                raise exception.XapiError('MAP_DUPLICATE_KEY',
                                          ['pool', 'other_config', REF, key], method=method)
            oc[key] = value
            return ''
        if method == 'pool.remove_from_other_config':
            oc.pop(args[1], None)
            return ''
        raise AssertionError('unexpected call %s' % method)
    s.call.side_effect = call
    return s


def calls(session):
    return [c.args[0] for c in session.call.call_args_list]


def guard(expires):
    return json.dumps({'aggregate': 'agg-y', 'intent': 'x', 'owner': 'other',
                       'expires': expires})


# --- add --------------------------------------------------------------------------------

def test_add_to_an_absent_key_wins_and_to_a_present_one_loses(session, oc):
    assert claim_cas.add(session, REF, KEY, 'v1') is True
    assert claim_cas.add(session, REF, KEY, 'v2') is False
    assert oc == {KEY: 'v1'}
    assert calls(session) == ['pool.add_to_other_config'] * 2


def test_add_raises_other_refusals(session):
    denied = exception.XapiError('RBAC_PERMISSION_DENIED', ['pool.add_to_other_config'])
    session.call.side_effect = denied
    with pytest.raises(exception.XapiError) as err:
        claim_cas.add(session, REF, KEY, 'v')
    assert err.value is denied


@pytest.mark.parametrize('maybe_applied, present, outcome', [
    (False, None, 'raised'),          # never left: no read back
    (True, 'v', True),                # it landed
    (True, 'other', False),           # someone else's is there
    (True, None, 'raised'),           # maybe sent, not there
    (True, 'unreadable', 'raised'),   # the read back failed too
])
def test_a_lost_answer_is_settled_by_reading_the_key_back(session, oc, maybe_applied,
                                                          present, outcome):
    lost = exception.XapiUnavailable(ADDR, 'reset', method='pool.add_to_other_config',
                                     maybe_applied=maybe_applied)
    inner = session.call.side_effect

    def call(method, *args):
        if method == 'pool.add_to_other_config':
            if present not in (None, 'unreadable'):
                oc[KEY] = present
            raise lost
        if present == 'unreadable':
            raise exception.XapiUnavailable(ADDR, 'connection refused')
        return inner(method, *args)
    session.call.side_effect = call
    if outcome == 'raised':
        with pytest.raises(exception.XapiUnavailable) as err:
            claim_cas.add(session, REF, KEY, 'v')
        assert err.value is lost
    else:
        assert claim_cas.add(session, REF, KEY, 'v') is outcome
    reads = [m for m in calls(session) if m == 'pool.get_all_records']
    assert reads == ([] if not maybe_applied else ['pool.get_all_records'])


# --- replace ----------------------------------------------------------------------------

def test_replace_takes_the_guard_then_swaps_the_value(session, oc):
    oc[KEY] = STALE
    assert claim_cas.replace(session, REF, KEY, STALE, MINE.encode(), MINE, NOW) == (True, None)
    assert oc == {KEY: MINE.encode()}
    assert calls(session) == ['pool.add_to_other_config', 'pool.get_all_records',
                              'pool.remove_from_other_config', 'pool.add_to_other_config',
                              'pool.remove_from_other_config']
    marker = json.loads(session.call.call_args_list[0].args[3])
    assert marker == {'aggregate': 'agg-a', 'intent': 'intent-1', 'owner': 'cli@a',
                      'expires': NOW + claim_cas.TAKEOVER_LEASE}


def test_a_live_guard_of_another_taker_names_it(session, oc):
    oc[KEY], oc[claim_cas.guard_key(STALE)] = STALE, guard(NOW + 60)
    assert claim_cas.replace(session, REF, KEY, STALE, 'v', MINE, NOW) == (False, guard(NOW + 60))
    assert oc[KEY] == STALE


def test_a_guard_gone_in_between_means_decide_again(session, oc):
    oc[KEY] = STALE
    session.before['pool.add_to_other_config'] = [
        lambda: oc.__setitem__(claim_cas.guard_key(STALE), guard(NOW + 60))]
    session.before['pool.get_all_records'] = [
        lambda: oc.pop(claim_cas.guard_key(STALE))]        # that taker just finished
    assert claim_cas.replace(session, REF, KEY, STALE, 'v', MINE, NOW) == (False, None)


@pytest.mark.parametrize('stale_guard', [guard(NOW - 1), 'not json', json.dumps([1])])
def test_a_stale_or_unreadable_guard_is_taken_over(session, oc, stale_guard, caplog):
    oc[KEY], oc[claim_cas.guard_key(STALE)] = STALE, stale_guard
    with caplog.at_level(logging.WARNING):
        assert claim_cas.replace(session, REF, KEY, STALE, 'v', MINE, NOW) == (True, None)
    assert oc == {KEY: 'v'}
    assert 'stale takeover guard' in caplog.text


def test_takeovers_of_guards_are_bounded(session, oc):
    # NOTE: every guard in the chain is stale: a taker gives up past the depth.
    oc[KEY] = STALE
    key, text = claim_cas.guard_key(STALE), guard(NOW - 1)
    for _ in range(claim_cas.MAX_TAKEOVER_DEPTH + 1):
        oc[key] = text
        key = claim_cas.guard_key(text)
        text = json.dumps({'expires': NOW - 1, 'n': len(oc)})
    won, taker = claim_cas.replace(session, REF, KEY, STALE, 'v', MINE, NOW)
    assert won is False and taker is not None
    assert oc[KEY] == STALE


def test_a_value_changed_under_the_guard_is_left_and_the_guard_dropped(session, oc):
    oc[KEY] = STALE
    session.before['pool.get_all_records'] = [lambda: oc.__setitem__(KEY, 'renewed')]
    assert claim_cas.replace(session, REF, KEY, STALE, 'v', MINE, NOW) == (False, None)
    assert oc == {KEY: 'renewed'}


def test_a_guard_that_cannot_be_removed_is_logged(session, oc, caplog):
    oc[KEY] = STALE
    inner = session.call.side_effect
    removes = []

    def call(method, *args):
        if method == 'pool.remove_from_other_config' and args[1] != KEY:
            removes.append(args[1])
            raise exception.XapiUnavailable(ADDR, 'connection reset')
        return inner(method, *args)
    session.call.side_effect = call
    with caplog.at_level(logging.WARNING):
        assert claim_cas.replace(session, REF, KEY, STALE, 'v', MINE, NOW) == (True, None)
    assert removes == [claim_cas.guard_key(STALE)]
    assert 'Could not remove takeover guard' in caplog.text


def test_guard_keys_are_unique_to_the_stale_value():
    assert claim_cas.guard_key(STALE) == claim_cas.guard_key(STALE)
    assert claim_cas.guard_key(STALE) != claim_cas.guard_key(MINE.encode())
    assert claim_cas.guard_key(STALE).startswith(KEY + '.takeover.')
