"""The pool operations' limits come from [xenserver] task_timeout / live_timeout."""

from xenpool_driver import conf as xenpool_conf
from xenpool_driver.xapi import timeouts


def test_from_conf_reads_both_options():
    conf = xenpool_conf.build(xenserver=dict(task_timeout=12.0,
                                             live_timeout=13.0))
    assert timeouts.PoolTimeouts.from_conf(conf) == timeouts.PoolTimeouts(12.0, 13.0)


def test_a_join_claim_outlives_the_longest_join():
    # NOTE: the join task, a task followed past its timeout, then the margin
    assert timeouts.PoolTimeouts(task=30.0, live=60.0).join_lease == \
        30.0 + 60.0 + timeouts.JOIN_LEASE_MARGIN
