"""The driver against xapi's real task and lock semantics (issue 11, part 3).

* Join and eject cannot be cancelled (``ocaml/xapi/xapi_pool.ml``,
  ``taskHelper.ml``): after ``task_timeout`` the driver no longer believes
  its ``task.cancel`` stopped them; it follows the task and re-reads the
  pool, and the aggregate ends as the pool really is.
* A pool operation queues behind another (``xapi_pool_helpers.ml``,
  ``helpers.ml``): the driver's eject waits for it within ``task_timeout``,
  and one queued beyond that bound is cancelled (a queued task honours it)
  and reported, with nothing changed.

At the functional scale (1 xapi second = 5 ms) a join or eject of 100 xapi
seconds lasts 0.5 s, beyond a ``task_timeout`` of 0.15 s.
"""

from tests.functional.conftest import assert_consistent, assert_standalone
from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver.simulator import Timings

SLOW = Timings(join_duration=100, eject_duration=100)
SHORT = dict(task_timeout=0.15)


def _calls(lab, index, method):
    return [c for c in list(lab.hosts[index].calls) if c.method == method]


def test_join_outliving_task_timeout_is_followed_to_its_end(make_env):
    env = make_env(2, lab_kw=dict(timings=SLOW), **SHORT)
    h1, h2 = env.names()
    agg = env.new_aggregate('slow-join')
    env.add(agg, h1)
    env.add(agg, h2)
    # the timeout asked xapi to cancel; xapi ran the join to its end
    assert _calls(env.lab, 1, 'task.cancel')
    assert_consistent(env, agg, ps.ACTIVE, hosts=[h1, h2], master=h1)


def test_eject_outliving_task_timeout_is_followed_to_its_end(make_env):
    env = make_env(2, lab_kw=dict(timings=Timings(eject_duration=100)))
    h1, h2 = env.names()
    agg = env.new_aggregate('slow-eject')
    env.add(agg, h1)
    env.add(agg, h2)
    slow = make_env(lab=env.lab, db='aggregates', **SHORT)
    slow.remove(agg, h2, workflow=slow.workflow)
    assert _calls(env.lab, 0, 'task.cancel')
    assert_consistent(env, agg, ps.ACTIVE, hosts=[h1], master=h1)
    assert_standalone(env.lab, h2)


def _hold_pool_lock(lab, op='cert_refresh'):
    """Another pool operation in progress on host1's pool (a waiting op)."""
    master = lab.hosts[0]
    db = master.db
    with db.lock:
        pool = db.pool_ref()
        db.set('pool', pool, current_operations={'OpaqueRef:held': op})

    def release():
        with db.lock:
            db.set('pool', pool, current_operations={})
    return release


def test_queued_eject_is_waited_for(make_env):
    env = make_env(2)
    h1, h2 = env.names()
    agg = env.new_aggregate('queued-eject')
    env.add(agg, h1)
    env.add(agg, h2)
    release = _hold_pool_lock(env.lab)
    env.lab.after(60, release)          # 0.3 s later the other op ends
    env.remove(agg, h2)
    eject = _calls(env.lab, 0, 'Async.pool.eject')
    assert len(eject) == 1 and eject[0].error is None
    assert_consistent(env, agg, ps.ACTIVE, hosts=[h1], master=h1)


def test_eject_queued_beyond_the_bound_is_cancelled_and_reported(make_env):
    env = make_env(2)
    h1, h2 = env.names()
    agg = env.new_aggregate('stuck-eject')
    env.add(agg, h1)
    env.add(agg, h2)
    release = _hold_pool_lock(env.lab)
    short = make_env(lab=env.lab, db='aggregates', **SHORT)
    try:
        short.remove(agg, h2, workflow=short.workflow)
    except exception.XapiTimeout as error:
        assert 'queued behind another pool operation' in str(error)
    else:
        raise AssertionError('the stuck eject was not reported')
    finally:
        release()
    # nothing changed: the queued task honoured the cancel
    agg.refresh()
    assert h2 in agg.metadata
    real = assert_consistent(env, agg, ps.ACTIVE, hosts=[h1, h2], master=h1)
    assert len(real.hosts) == 2
