"""Atomicity under contention: threads and processes, on every backend."""

import concurrent.futures
import multiprocessing
import threading

import pytest

from tests.unit.store import _workers
from xenpool_driver import store as store_mod

THREADS = 20


def _run_together(count, fn):
    """Run ``fn(i)`` in ``count`` threads released at once; return results."""
    barrier = threading.Barrier(count)

    def task(i):
        barrier.wait(timeout=60)
        return fn(i)

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        return list(pool.map(task, range(count)))


def test_cas_threads_exactly_one_wins(store):
    store.create_aggregate('pool', {'operational_state': 'active'})
    # NOTE: each thread reads the aggregate first (all see "active"), so only
    # the database transaction can keep two of them from winning.
    aggregates = [store.get_aggregate('pool') for _ in range(THREADS)]

    def attempt(i):
        return aggregates[i].compare_and_set_metadata(
            {'operational_state': 'active'},
            {'operational_state': 'changing', 'owner': str(i)})

    results = _run_together(THREADS, attempt)
    assert results.count(True) == 1
    winner = results.index(True)
    assert store.get_aggregate('pool').metadata == {
        'operational_state': 'changing', 'owner': str(winner)}
    # NOTE: losers saw the winner's write (metadata refreshed on failure).
    assert all(a.metadata['owner'] == str(winner) for a in aggregates)


def test_cas_processes_exactly_one_wins(db_url):
    with store_mod.Store(db_url) as s:
        s.create_aggregate('pool', {'operational_state': 'active'})
    ctx = multiprocessing.get_context('spawn')
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    procs = [ctx.Process(target=_workers.cas_once,
                         args=(db_url, 'pool', barrier, results))
             for _ in range(2)]
    for p in procs:
        p.start()
    outcome = dict(results.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    assert sorted(outcome.values(), key=str) == [False, True], outcome
    winner = next(pid for pid, won in outcome.items() if won is True)
    with store_mod.Store(db_url) as s:
        assert s.get_aggregate('pool').metadata == {
            'operational_state': 'changing', 'owner': str(winner)}


def test_concurrent_updates_lose_nothing(store):
    store.create_aggregate('pool')
    aggregates = [store.get_aggregate('pool') for _ in range(THREADS)]
    _run_together(THREADS, lambda i: aggregates[i].update_metadata(
        {'key-%d' % i: str(i)}))
    assert store.get_aggregate('pool').metadata == {
        'key-%d' % i: str(i) for i in range(THREADS)}


def test_concurrent_create_one_name(store):
    def create(i):
        try:
            store.create_aggregate('pool', {'by': str(i)})
            return True
        except store_mod.Conflict:
            return False

    assert _run_together(8, create).count(True) == 1
    assert len(store.list_aggregates()) == 1


def test_in_memory_sqlite_is_shared_by_threads():
    with store_mod.Store('sqlite://') as s:
        s.create_aggregate('pool', {'operational_state': 'active'})
        results = _run_together(8, lambda i: s.get_aggregate('pool')
                                .compare_and_set_metadata(
                                    {'operational_state': 'active'},
                                    {'operational_state': 'changing'}))
        assert results.count(True) == 1


@pytest.mark.parametrize('threads', [4])
def test_concurrent_first_use_creates_schema_once(db_url, threads):
    stores = _run_together(threads, lambda i: store_mod.Store(db_url))
    try:
        assert {s.schema_version() for s in stores} == {2}
        stores[0].create_aggregate('pool')
        assert stores[-1].get_aggregate('pool').name == 'pool'
    finally:
        for s in stores:
            s.close()
