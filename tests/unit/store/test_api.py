"""Aggregates, metadata, hosts and the inventory, on every backend."""

import pytest

from xenpool_driver import exception
from xenpool_driver import store as store_mod
from xenpool_driver.aggregates import contract


def _snapshot(store):
    return ([(a.name, a.metadata, a.hosts) for a in store.list_aggregates()],
            store.list_hosts())


def test_create_get_list_delete(store):
    created = store.create_aggregate('pool-b', {'hypervisor_pool': 'true'})
    store.create_aggregate('pool-a')
    assert created.name == 'pool-b'
    assert created.metadata == {'hypervisor_pool': 'true'}
    assert created.hosts == []
    assert created.created_at is not None
    for key in (created.id, 'pool-b', str(created.id)):
        got = store.get_aggregate(key)
        assert (got.id, got.name, got.metadata) == (
            created.id, 'pool-b', {'hypervisor_pool': 'true'})
    assert [a.name for a in store.list_aggregates()] == ['pool-a', 'pool-b']
    store.delete_aggregate('pool-b')
    assert [a.name for a in store.list_aggregates()] == ['pool-a']
    with pytest.raises(store_mod.NotFound):
        store.get_aggregate('pool-b')


def test_implements_the_atomic_contract(store):
    aggregate = store.create_aggregate('pool')
    assert isinstance(aggregate, contract.AtomicAggregate)
    assert contract.supports_cas(aggregate)
    assert aggregate.to_dict()['name'] == 'pool'


def test_update_metadata_sets_and_none_deletes(store):
    aggregate = store.create_aggregate('pool', {'a': '1', 'b': '2'})
    aggregate.update_metadata({'a': None, 'b': '3', 'c': '4', 'gone': None})
    assert aggregate.metadata == {'b': '3', 'c': '4'}
    assert store.get_aggregate('pool').metadata == {'b': '3', 'c': '4'}


def test_update_metadata_reflects_others_writes(store):
    mine = store.create_aggregate('pool', {'a': '1'})
    store.get_aggregate('pool').update_metadata({'other': 'x'})
    mine.update_metadata({'a': '2'})
    assert mine.metadata == {'a': '2', 'other': 'x'}


def test_cas_success(store):
    aggregate = store.create_aggregate('pool', {'operational_state': 'active'})
    assert aggregate.compare_and_set_metadata(
        {'operational_state': 'active', 'intent': None},
        {'operational_state': 'changing', 'intent': '{}'})
    assert aggregate.metadata == {'operational_state': 'changing',
                                  'intent': '{}'}
    assert store.get_aggregate('pool').metadata == aggregate.metadata


@pytest.mark.parametrize('expected', [
    {'operational_state': 'created'},       # other value
    {'operational_state': None},            # key must be absent
    {'operational_state': 'active', 'x': 'y'},  # one of two differs
])
def test_cas_failure_changes_nothing(store, expected):
    aggregate = store.create_aggregate('pool', {'operational_state': 'active'})
    store.get_aggregate('pool').update_metadata({'seen': 'later'})
    assert not aggregate.compare_and_set_metadata(
        expected, {'operational_state': 'changing', 'seen': None})
    # NOTE: refreshed even on failure (the contract says so).
    assert aggregate.metadata == {'operational_state': 'active',
                                  'seen': 'later'}
    assert store.get_aggregate('pool').metadata == aggregate.metadata


def test_hosts_add_and_delete(store):
    aggregate = store.create_aggregate('pool')
    aggregate.add_host('h2')
    aggregate.add_host('h1')
    assert aggregate.hosts == ['h1', 'h2']
    with pytest.raises(store_mod.Conflict, match='already'):
        aggregate.add_host('h1')
    aggregate.delete_host('h2')
    assert aggregate.hosts == ['h1']
    with pytest.raises(store_mod.NotFound, match='not in aggregate'):
        aggregate.delete_host('h2')
    assert store.get_aggregate('pool').hosts == ['h1']
    aggregate.refresh()
    assert aggregate.hosts == ['h1']


def test_delete_removes_metadata_and_hosts(store):
    aggregate = store.create_aggregate('pool', {'k': 'v'})
    aggregate.add_host('h1')
    store.delete_aggregate('pool')
    again = store.create_aggregate('pool')
    assert (again.metadata, again.hosts) == ({}, [])
    for call in (aggregate.refresh, lambda: aggregate.update_metadata({}),
                 lambda: aggregate.add_host('h2')):
        with pytest.raises(store_mod.NotFound):
            call()


def test_two_stores_share_one_database(db_url):
    with store_mod.Store(db_url) as one, store_mod.Store(db_url) as two:
        one.create_aggregate('pool')
        two.get_aggregate('pool').update_metadata({'k': 'v'})
        assert one.get_aggregate('pool').metadata == {'k': 'v'}
        with pytest.raises(store_mod.Conflict):
            two.create_aggregate('pool')


@pytest.mark.parametrize('call, error, match', [
    (lambda s: s.create_aggregate(''), store_mod.InvalidInput, 'non-empty'),
    (lambda s: s.create_aggregate('   '), store_mod.InvalidInput, 'non-empty'),
    (lambda s: s.create_aggregate(' x'), store_mod.InvalidInput, 'blanks'),
    (lambda s: s.create_aggregate(None), store_mod.InvalidInput, 'non-empty'),
    (lambda s: s.create_aggregate('x' * 256), store_mod.InvalidInput, 'longer'),
    (lambda s: s.create_aggregate('new', {'k': 1}), store_mod.InvalidInput,
     'must be a string'),
    (lambda s: s.create_aggregate('new', {'': 'v'}), store_mod.InvalidInput,
     'key'),
    (lambda s: s.create_aggregate('new', ['k']), store_mod.InvalidInput,
     'mapping'),
    (lambda s: s.create_aggregate('pool'), store_mod.Conflict, 'exists'),
    (lambda s: s.get_aggregate('nope'), store_mod.NotFound, 'no aggregate'),
    (lambda s: s.get_aggregate(999), store_mod.NotFound, 'no aggregate'),
    (lambda s: s.get_aggregate(True), store_mod.InvalidInput, 'name or id'),
    (lambda s: s.delete_aggregate('nope'), store_mod.NotFound, 'no aggregate'),
    (lambda s: s.delete_aggregate(''), store_mod.InvalidInput, 'non-empty'),
    (lambda s: s.get_aggregate('pool').update_metadata({'a': None, 'b': 2}),
     store_mod.InvalidInput, 'must be a string'),
    (lambda s: s.get_aggregate('pool').compare_and_set_metadata(
        {'state': 'a'}, {'state': 3}), store_mod.InvalidInput, 'string'),
    (lambda s: s.get_aggregate('pool').compare_and_set_metadata(
        {'state': 1}, {}), store_mod.InvalidInput, 'string'),
    (lambda s: s.get_aggregate('pool').add_host(''), store_mod.InvalidInput,
     'host name'),
    (lambda s: s.set_host_url('h1', 'ftp://x'), store_mod.InvalidInput,
     'http'),
    (lambda s: s.set_host_url('h1', ''), store_mod.InvalidInput, 'URL'),
    (lambda s: s.set_host_url('', 'https://x'), store_mod.InvalidInput,
     'host name'),
    (lambda s: s.set_host_url('h1', 'https://x', uuid=''),
     store_mod.InvalidInput, 'uuid'),
    (lambda s: s.get_host_url('nope'), store_mod.NotFound, 'inventory'),
    (lambda s: s.forget_host('nope'), store_mod.NotFound, 'inventory'),
])
def test_bad_input_is_refused_and_changes_nothing(store, call, error, match):
    aggregate = store.create_aggregate('pool', {'a': '1'})
    aggregate.add_host('h0')
    store.set_host_url('h1', 'https://192.0.2.1', uuid='u-1')
    before = _snapshot(store)
    with pytest.raises(error, match=match) as info:
        call(store)
    assert isinstance(info.value, exception.XenPoolError)
    assert _snapshot(store) == before


def test_host_inventory(store):
    assert store.list_hosts() == []
    store.set_host_url('h2', 'https://192.0.2.2')
    store.set_host_url('h1', 'http://127.0.0.1:8080', uuid='uuid-1')
    assert store.get_host_url('h1') == 'http://127.0.0.1:8080'
    assert store.get_host('h2') == store_mod.HostRecord(
        'h2', 'https://192.0.2.2', None)
    # NOTE: a new URL keeps the uuid unless one is given; None clears it.
    store.set_host_url('h1', 'https://192.0.2.1')
    assert store.get_host('h1').uuid == 'uuid-1'
    store.set_host_url('h1', 'https://192.0.2.1', uuid=None)
    assert store.get_host('h1').uuid is None
    assert [h.name for h in store.list_hosts()] == ['h1', 'h2']
    store.forget_host('h2')
    assert store.list_hosts() == [
        store_mod.HostRecord('h1', 'https://192.0.2.1', None)]
