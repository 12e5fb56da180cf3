"""Code run in child processes (spawn): importable, no pytest needed."""

import os


def cas_once(url, name, barrier, results):
    """Open the store, wait for the others, try one CAS active -> changing."""
    from xenpool_driver import store

    s = store.Store(url)
    try:
        aggregate = s.get_aggregate(name)
        barrier.wait(timeout=60)
        won = aggregate.compare_and_set_metadata(
            {'operational_state': 'active'},
            {'operational_state': 'changing', 'owner': str(os.getpid())})
        results.put((os.getpid(), won))
    except BaseException as e:  # noqa: BLE001 - NOTE: report, the parent asserts
        results.put((os.getpid(), repr(e)))
    finally:
        s.close()
