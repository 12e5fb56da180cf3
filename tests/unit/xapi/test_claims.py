"""Host claims against an autospec'd session over a small fake pool database.

The fake answers ``pool.add_to_other_config`` as xapi's database does
(``process_structured_field`` in ``ocaml/database/db_cache_impl.ml``: an
existing key is MAP_DUPLICATE_KEY); ``before`` hooks let a test run another
actor between two of our calls, which is how every race is pinned here.
"""

import copy
import json
import logging

import pytest

from xenpool_driver import exception
from xenpool_driver.xapi import claim_cas
from xenpool_driver.xapi import claims
from xenpool_driver.xapi import session as xsession

ADDR = '192.0.2.20'
NOW = 1_000_000.0
KEY = claims.KEY

MINE = claims.Claim.join('agg-a', 'intent-1', 'cli@a', NOW, 100)
FIRST = claims.Claim.pool('agg-a', 'intent-1', 'cli@a')


class FakePool(object):
    """One xapi database holding one pool and its hosts."""

    def __init__(self, hosts=('h1',), name_label='', other_config=None):
        self.pool_ref = 'OpaqueRef:pool'
        self.pool = {'uuid': 'pool-uuid', 'name_label': name_label,
                     'master': 'OpaqueRef:' + hosts[0],
                     'other_config': dict(other_config or {})}
        self.hosts = {'OpaqueRef:' + h: {'uuid': h, 'name_label': 'name-' + h,
                                         'address': '192.0.2.%d' % (30 + i)}
                      for i, h in enumerate(hosts)}
        self.before = {}    # method -> list of callables, one popped per call
        self.fail = {}      # method -> list of exceptions, one raised per call

    @property
    def oc(self):
        return self.pool['other_config']

    def call(self, method, *args):
        hooks = self.before.get(method)
        if hooks:
            hooks.pop(0)()
        failures = self.fail.get(method)
        if failures:
            error = failures.pop(0)
            if getattr(error, 'applied', False):
                self._apply(method, *args)
            raise error
        return self._apply(method, *args)

    def _apply(self, method, *args):
        if method == 'pool.get_all_records':
            return {self.pool_ref: copy.deepcopy(self.pool)}
        if method == 'host.get_all_records':
            return copy.deepcopy(self.hosts)
        if method == 'pool.add_to_other_config':
            ref, key, value = args
            assert ref == self.pool_ref
            if key in self.oc:
                raise exception.XapiError('MAP_DUPLICATE_KEY',
                                          ['pool', 'other_config', ref, key],
                                          method=method)
            self.oc[key] = value
            return ''
        if method == 'pool.remove_from_other_config':
            ref, key = args
            assert ref == self.pool_ref
            self.oc.pop(key, None)
            return ''
        raise AssertionError('unexpected call %s' % method)


def make_session(mocker, fake):
    s = mocker.create_autospec(xsession.XapiSession, instance=True)
    s.address = ADDR
    s.call.side_effect = fake.call
    return s


def calls(session):
    return [c.args[0] for c in session.call.call_args_list]


def writes(session):
    return [c.args[0] for c in session.call.call_args_list
            if not c.args[0].endswith('get_all_records')]


def stored(fake):
    raw = fake.oc.get(KEY)
    return None if raw is None else claims.Claim.decode(raw)


def lost(applied):
    err = exception.XapiUnavailable(ADDR, 'reset', method='pool.add_to_other_config',
                                    maybe_applied=applied)
    return err


@pytest.fixture
def fake():
    return FakePool()


@pytest.fixture
def session(mocker, fake):
    return make_session(mocker, fake)


# --- read ----------------------------------------------------------------------------------

def test_read_finds_the_claim_in_two_round_trips(session, fake):
    fake.oc[KEY] = MINE.encode()
    view = claims.read(session)
    assert calls(session) == ['pool.get_all_records', 'host.get_all_records']
    assert (view.pool_ref, view.claim, view.host_count, view.raw) == (
        'OpaqueRef:pool', MINE, 1, MINE.encode())
    assert view.master == ('h1', 'name-h1', '192.0.2.30')
    assert view.describe() == ("pool '' (uuid pool-uuid, 1 host, master h1 'name-h1' "
                               "at 192.0.2.30)")


def test_read_of_an_unclaimed_and_an_unreadable_pool(session, fake, caplog):
    assert claims.read(session).claim is None and claims.read(session).raw is None
    fake.oc[KEY] = 'garbage'
    with caplog.at_level(logging.WARNING):
        view = claims.read(session)
    assert view.claim is None and view.raw == 'garbage'
    assert 'unreadable' in caplog.text


def test_read_refuses_a_database_without_exactly_one_pool(session, fake):
    fake.pool_ref, fake.pool = None, None
    session.call.side_effect = lambda m, *a: {} if m == 'pool.get_all_records' else {}
    with pytest.raises(exception.XapiError) as info:
        claims.read(session)
    assert info.value.code == 'INTERNAL_ERROR'


# --- claim_first_host -------------------------------------------------------------------------

def test_first_host_alone_in_its_pool_is_claimed_in_three_round_trips(session, fake):
    assert claims.claim_first_host(session, FIRST, now=NOW) == FIRST
    assert calls(session) == ['pool.get_all_records', 'host.get_all_records',
                              'pool.add_to_other_config']
    session.call.assert_any_call('pool.add_to_other_config', 'OpaqueRef:pool', KEY,
                                 FIRST.encode())
    assert stored(fake) == FIRST


def test_first_host_in_a_pool_of_other_hosts_is_refused_naming_that_pool(mocker,
                                                                          record_exception_text):
    fake = FakePool(hosts=('m', 'h2'), name_label='prod')
    session = make_session(mocker, fake)
    with pytest.raises(exception.HostClaimed) as info:
        claims.claim_first_host(session, FIRST, now=NOW)
    record_exception_text(info.value)
    text = str(info.value)
    assert "not alone in its pool: pool 'prod' (uuid pool-uuid, 2 hosts, master m 'name-m'" \
        in text and '\n' not in text
    assert info.value.claimant is None and info.value.pool_uuid == 'pool-uuid'
    assert isinstance(info.value, exception.OperationRefused)
    assert writes(session) == [] and KEY not in fake.oc


@pytest.mark.parametrize('members, accepted', [
    ({'m', 'h2'}, True), ({'m'}, False), ({'m', 'h2', 'h3'}, False)])
def test_first_host_adopts_a_pool_whose_members_the_aggregate_records(mocker, members,
                                                                      accepted):
    fake = FakePool(hosts=('m', 'h2'))
    session = make_session(mocker, fake)
    if accepted:
        assert claims.claim_first_host(session, FIRST, now=NOW, members=members) == FIRST
        assert stored(fake) == FIRST
    else:
        with pytest.raises(exception.HostClaimed, match='not alone'):
            claims.claim_first_host(session, FIRST, now=NOW, members=members)
        assert KEY not in fake.oc


@pytest.mark.parametrize('held', [
    FIRST,                                                     # a retry
    claims.Claim.pool('agg-a', 'older-intent', 'cli@z'),       # the aggregate owns it
])
@pytest.mark.parametrize('hosts', [('h1',), ('h1', 'h2')])
def test_first_host_already_ours_is_accepted_without_a_write(mocker, held, hosts):
    fake = FakePool(hosts=hosts, other_config={KEY: held.encode()})
    session = make_session(mocker, fake)
    assert claims.claim_first_host(session, FIRST, now=NOW) == held
    assert writes(session) == []


@pytest.mark.parametrize('held, reason', [
    (claims.Claim.pool('agg-b', 'i', 'o'), 'it is claimed: pool claim of aggregate agg-b'),
    (claims.Claim.join('agg-b', 'i', 'o', NOW, 10), 'it is claimed: join claim of aggregate agg-b'),
    (claims.Claim.join('agg-a', 'other', 'o', NOW, 10),
     'another operation of this aggregate holds it: join claim'),
])
def test_first_host_claimed_by_another_is_refused_naming_the_claimant(mocker, held, reason):
    fake = FakePool(other_config={KEY: held.encode()})
    session = make_session(mocker, fake)
    with pytest.raises(exception.HostClaimed, match=reason) as info:
        claims.claim_first_host(session, FIRST, now=NOW)
    assert info.value.claimant == held
    assert 'owner o' in str(info.value)
    assert writes(session) == [] and stored(fake) == held


def test_first_host_with_an_unreadable_claim_is_refused_never_taken_over(mocker):
    fake = FakePool(other_config={KEY: '{"broken'})
    session = make_session(mocker, fake)
    with pytest.raises(exception.HostClaimed, match='unreadable value'):
        claims.claim_first_host(session, FIRST, now=NOW + 10 ** 9)
    assert writes(session) == [] and fake.oc[KEY] == '{"broken'


def test_claim_functions_check_the_kind(session):
    with pytest.raises(ValueError):
        claims.claim_first_host(session, MINE, now=NOW)
    with pytest.raises(ValueError):
        claims.claim_joiner(session, FIRST, now=NOW)
    session.call.assert_not_called()


# --- claim_joiner --------------------------------------------------------------------------------

def test_standalone_joiner_is_claimed(session, fake):
    assert claims.claim_joiner(session, MINE, now=NOW) == MINE
    assert calls(session) == ['pool.get_all_records', 'host.get_all_records',
                              'pool.add_to_other_config']
    assert stored(fake) == MINE


def test_joiner_retry_of_the_same_operation_is_ours(mocker):
    # NOTE: the stored copy may carry another owner (a takeover of the intent).
    held = claims.Claim('agg-a', 'intent-1', 'reconcile@b', 'join', NOW + 5)
    fake = FakePool(other_config={KEY: held.encode()})
    session = make_session(mocker, fake)
    assert claims.claim_joiner(session, MINE, now=NOW) == held
    assert writes(session) == []


@pytest.mark.parametrize('hosts, reason', [
    (('m', 'joiner'), "not standalone: pool 'p' (uuid pool-uuid, 2 hosts, master m"),
    (('joiner', 'slave'), "not standalone: pool 'p' (uuid pool-uuid, 2 hosts, master joiner"),
])
def test_joiner_not_standalone_is_refused(mocker, hosts, reason):
    fake = FakePool(hosts=hosts, name_label='p')
    session = make_session(mocker, fake)
    with pytest.raises(exception.HostClaimed, match=reason.replace('(', r'\(')):
        claims.claim_joiner(session, MINE, now=NOW)
    assert writes(session) == []


@pytest.mark.parametrize('held, reason', [
    (claims.Claim.pool('agg-b', 'i', 'o'), 'it is claimed: pool claim of aggregate agg-b'),
    (claims.Claim.pool('agg-a', 'i', 'o'), "master of this aggregate's own pool"),
    (claims.Claim.join('agg-b', 'i', 'o', NOW, 10), 'it is claimed: join claim of aggregate agg-b'),
    (claims.Claim.join('agg-a', 'i2', 'o', NOW, 10), 'another operation of this aggregate'),
])
def test_joiner_claimed_by_another_is_refused(mocker, held, reason):
    fake = FakePool(other_config={KEY: held.encode()})
    session = make_session(mocker, fake)
    with pytest.raises(exception.HostClaimed, match=reason) as info:
        claims.claim_joiner(session, MINE, now=NOW + 10)     # not expired yet (boundary)
    assert info.value.claimant == held
    assert writes(session) == []


@pytest.mark.parametrize('held', [
    claims.Claim.join('agg-b', 'i', 'o', NOW - 100, 10),      # another aggregate's
    claims.Claim.join('agg-a', 'i2', 'o', NOW - 100, 10),     # a killed add of ours
])
def test_an_expired_join_claim_on_a_standalone_host_is_taken_over(mocker, held, caplog):
    fake = FakePool(other_config={KEY: held.encode()})
    session = make_session(mocker, fake)
    with caplog.at_level(logging.WARNING):
        assert claims.claim_joiner(session, MINE, now=NOW) == MINE
    assert stored(fake) == MINE
    assert 'Taking over the expired join claim' in caplog.text
    guard = [c.args[2] for c in session.call.call_args_list
             if c.args[0] == 'pool.add_to_other_config'][0]
    assert guard.startswith(claims.TAKEOVER_PREFIX)
    # guard, re-read, remove, add, drop the guard; nothing of the guard is left
    assert writes(session) == ['pool.add_to_other_config', 'pool.remove_from_other_config',
                               'pool.add_to_other_config', 'pool.remove_from_other_config']
    assert set(fake.oc) == {KEY}


def test_an_expired_claim_is_taken_over_for_a_first_host_too(mocker):
    held = claims.Claim.join('agg-b', 'i', 'o', NOW - 100, 10)
    fake = FakePool(other_config={KEY: held.encode()})
    session = make_session(mocker, fake)
    assert claims.claim_first_host(session, FIRST, now=NOW) == FIRST
    assert stored(fake) == FIRST


def test_an_expired_join_claim_on_a_pool_of_several_hosts_is_not_taken_over(mocker):
    held = claims.Claim.join('agg-b', 'i', 'o', NOW - 100, 10)
    fake = FakePool(hosts=('h1', 'h2'), other_config={KEY: held.encode()})
    session = make_session(mocker, fake)
    with pytest.raises(exception.HostClaimed, match='it is claimed'):
        claims.claim_joiner(session, MINE, now=NOW)
    assert stored(fake) == held


# --- races -----------------------------------------------------------------------------------

def test_concurrent_claim_loses_on_map_duplicate_key_and_names_the_winner(session, fake):
    winner = claims.Claim.join('agg-b', 'intent-9', 'compute@b', NOW, 100)
    fake.before['pool.add_to_other_config'] = [
        lambda: fake.oc.__setitem__(KEY, winner.encode())]
    with pytest.raises(exception.HostClaimed, match='join claim of aggregate agg-b') as info:
        claims.claim_joiner(session, MINE, now=NOW)
    assert info.value.claimant == winner and 'owner compute@b' in str(info.value)
    assert stored(fake) == winner
    # read, add (MAP_DUPLICATE_KEY), read again and decide
    assert calls(session) == ['pool.get_all_records', 'host.get_all_records',
                              'pool.add_to_other_config',
                              'pool.get_all_records', 'host.get_all_records']


def test_duplicate_of_our_own_value_is_ours(session, fake):
    # NOTE: our own earlier attempt landed (e.g. the answer was lost, then retried).
    fake.before['pool.add_to_other_config'] = [lambda: fake.oc.__setitem__(KEY, MINE.encode())]
    assert claims.claim_joiner(session, MINE, now=NOW) == MINE


def test_a_claim_released_in_between_is_claimed_on_the_next_round(session, fake):
    other = claims.Claim.join('agg-b', 'i', 'o', NOW, 100).encode()

    def add_then_release():
        fake.oc[KEY] = other
        fake.before['pool.get_all_records'] = [lambda: fake.oc.pop(KEY)]
    fake.before['pool.add_to_other_config'] = [add_then_release]
    assert claims.claim_joiner(session, MINE, now=NOW) == MINE
    assert stored(fake) == MINE


def test_contention_is_bounded(session, fake):
    # NOTE: every add meets a key that is gone again by the next read.
    dup = exception.XapiError('MAP_DUPLICATE_KEY', ['pool', 'other_config', 'r', KEY])
    fake.fail['pool.add_to_other_config'] = [dup] * claims.MAX_ROUNDS
    with pytest.raises(exception.HostClaimed, match='contended'):
        claims.claim_joiner(session, MINE, now=NOW)
    assert calls(session).count('pool.add_to_other_config') == claims.MAX_ROUNDS


@pytest.mark.parametrize('applied, present, outcome', [
    (True, None, 'claimed'),          # it landed: read back, ours
    (False, None, 'raised'),          # never left: re-raised
    (None, None, 'raised-after-read'),  # maybe sent, not there: re-raised
    (None, 'other', 'refused'),       # maybe sent, someone else's is there
])
def test_a_lost_answer_of_the_add_is_settled_by_reading_back(session, fake, applied, present,
                                                             outcome):
    err = lost(applied is not False)
    err.applied = bool(applied)
    fake.fail['pool.add_to_other_config'] = [err]
    if present:
        other = claims.Claim.join('agg-b', 'i', 'o', NOW, 100).encode()
        fake.before['pool.add_to_other_config'] = [lambda: fake.oc.__setitem__(KEY, other)]
    if outcome == 'claimed':
        assert claims.claim_joiner(session, MINE, now=NOW) == MINE
    elif outcome == 'refused':
        with pytest.raises(exception.HostClaimed, match='agg-b'):
            claims.claim_joiner(session, MINE, now=NOW)
    else:
        with pytest.raises(exception.XapiUnavailable) as info:
            claims.claim_joiner(session, MINE, now=NOW)
        assert info.value is err
        reads_after = calls(session)[3:]
        assert reads_after == ([] if outcome == 'raised' else ['pool.get_all_records'])


def test_other_xapi_errors_of_the_add_are_raised(session, fake):
    denied = exception.XapiError('RBAC_PERMISSION_DENIED', ['pool.add_to_other_config', 'no'])
    fake.fail['pool.add_to_other_config'] = [denied]
    with pytest.raises(exception.XapiError) as info:
        claims.claim_joiner(session, MINE, now=NOW)
    assert info.value is denied


def test_two_takers_of_one_expired_claim_only_one_wins(mocker):
    stale = claims.Claim.join('agg-z', 'dead', 'gone', NOW - 100, 10)
    fake = FakePool(other_config={KEY: stale.encode()})
    a = make_session(mocker, fake)
    b = make_session(mocker, fake)
    theirs = claims.Claim.join('agg-b', 'intent-b', 'cli@b', NOW, 100)
    results = {}

    def b_runs_now():
        # B arrives while A holds the guard, before A removed the stale claim.
        try:
            results['b'] = claims.claim_joiner(b, theirs, now=NOW)
        except exception.HostClaimed as refused:
            results['b'] = refused
    # A's pool reads: the decision's, then (guard held) the re-read: B runs just before it.
    fake.before['pool.get_all_records'] = [lambda: None, b_runs_now]
    assert claims.claim_joiner(a, MINE, now=NOW) == MINE
    assert isinstance(results['b'], exception.HostClaimed)
    assert 'another actor is taking over' in str(results['b'])
    assert 'cli@a' in str(results['b'])
    assert stored(fake) == MINE and set(fake.oc) == {KEY}


def test_a_stale_takeover_guard_is_taken_over_too(mocker):
    stale = claims.Claim.join('agg-z', 'dead', 'gone', NOW - 100, 10)
    fake = FakePool(other_config={KEY: stale.encode()})
    session = make_session(mocker, fake)
    # a taker died holding the guard, long ago
    guard = claim_cas.guard_key(stale.encode())
    fake.oc[guard] = json.dumps({'aggregate': 'agg-y', 'intent': 'x', 'owner': 'dead',
                                 'expires': NOW - 1})
    assert claims.claim_joiner(session, MINE, now=NOW) == MINE
    assert set(fake.oc) == {KEY}


def test_a_live_takeover_guard_refuses_at_once(mocker):
    stale = claims.Claim.join('agg-z', 'dead', 'gone', NOW - 100, 10)
    fake = FakePool(other_config={KEY: stale.encode()})
    session = make_session(mocker, fake)
    guard = claim_cas.guard_key(stale.encode())
    fake.oc[guard] = json.dumps({'aggregate': 'agg-y', 'intent': 'x', 'owner': 'busy',
                                 'expires': NOW + 60})
    with pytest.raises(exception.HostClaimed, match='another actor is taking over.*busy'):
        claims.claim_joiner(session, MINE, now=NOW)
    assert stored(fake) == stale and guard in fake.oc


def test_a_takeover_whose_claim_changed_meanwhile_decides_again(mocker):
    stale = claims.Claim.join('agg-z', 'dead', 'gone', NOW - 100, 10)
    fake = FakePool(other_config={KEY: stale.encode()})
    session = make_session(mocker, fake)
    fresh = claims.Claim.join('agg-z', 'dead', 'gone', NOW, 100)    # renewed by its owner
    # A's calls: read(2), guard add, then the guard-protected read sees a new value
    fake.before['pool.get_all_records'] = [lambda: None,
                                           lambda: fake.oc.__setitem__(KEY, fresh.encode())]
    with pytest.raises(exception.HostClaimed, match='agg-z'):
        claims.claim_joiner(session, MINE, now=NOW)
    assert stored(fake) == fresh and set(fake.oc) == {KEY}


# --- release ----------------------------------------------------------------------------------

def test_release_removes_our_claim(session, fake):
    fake.oc[KEY] = claims.Claim('agg-a', 'intent-1', 'reconcile@b', 'join', 1.0).encode()
    fake.oc['other'] = 'kept'
    assert claims.release(session, MINE) is True
    assert calls(session) == ['pool.get_all_records', 'host.get_all_records',
                              'pool.remove_from_other_config']
    session.call.assert_any_call('pool.remove_from_other_config', 'OpaqueRef:pool', KEY)
    assert fake.oc == {'other': 'kept'}


@pytest.mark.parametrize('held', [
    None,
    claims.Claim.join('agg-a', 'intent-2', 'cli@a', NOW, 10),   # another operation's
    claims.Claim.join('agg-b', 'intent-1', 'cli@a', NOW, 10),   # another aggregate's
    claims.Claim.pool('agg-a', 'intent-0', 'cli@a'),  # the master's, seen after the join
    'garbage',
])
def test_release_leaves_what_is_not_ours(session, fake, held):
    if held is not None:
        fake.oc[KEY] = held if isinstance(held, str) else held.encode()
    before = dict(fake.oc)
    assert claims.release(session, MINE) is False
    assert writes(session) == [] and fake.oc == before


@pytest.mark.parametrize('held, released', [
    (claims.Claim.pool('agg-a', 'intent-0', 'cli@z'), True),
    (claims.Claim.pool('agg-b', 'intent-0', 'cli@z'), False),
    (claims.Claim.join('agg-a', 'intent-0', 'cli@z', NOW, 1), False),
    (None, False),
])
def test_release_pool_removes_only_the_aggregates_pool_claim(session, fake, held, released):
    if held is not None:
        fake.oc[KEY] = held.encode()
    assert claims.release_pool(session, 'agg-a') is released
    assert (KEY in fake.oc) is (held is not None and not released)


def test_force_release_removes_anything_with_a_warning(session, fake, caplog):
    fake.oc[KEY] = 'garbage'
    fake.oc[claims.TAKEOVER_PREFIX + 'abc'] = '{}'
    fake.oc['other'] = 'kept'
    with caplog.at_level(logging.WARNING):
        assert claims.force_release(session, 'admin forgot host1') == 'garbage'
    assert fake.oc == {'other': 'kept'}
    assert 'admin forgot host1' in caplog.text
    assert claims.force_release(session, 'again') is None
