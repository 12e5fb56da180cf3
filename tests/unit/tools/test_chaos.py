"""tools/chaos.py: a short seeded run is part of the suite, and its checks bite.

The full campaign (``python tools/chaos.py --sequences 200``) runs outside the
suite; here a few seeded sequences must end without violation, a replay must
play the same steps, and the invariants must report a broken aggregate (a
check that cannot fail would prove nothing).
"""

import os
import re
import sys

from tests.functional.faults import harness

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, ROOT)

from tools import chaos  # noqa: E402
from tools.chaoslib import campaign  # noqa: E402
from tools.chaoslib import invariants  # noqa: E402

from xenpool_driver import pool_states as ps  # noqa: E402
from xenpool_driver.aggregates import bookkeeping as bk  # noqa: E402

SEED = 20261202


def test_a_short_seeded_campaign_has_no_violation(capsys):
    assert chaos.main(['--seed', str(SEED), '--sequences', '3', '--steps', '6']) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        'chaos: 3 sequences, 18 steps, 0 violations')


def test_a_sequence_replays_the_same_steps(tmp_path):
    logs = []
    for _ in range(2):
        seq = campaign.Sequence(SEED, 1, 'sqlite:///%s/r%d.sqlite' % (tmp_path, len(logs)),
                                str(tmp_path))
        try:
            seq.run(4, campaign.Result())
            # NOTE: aggregate names carry a random tag (a shared PostgreSQL)
            logs.append([re.sub(r'-[0-9a-f]{6}\b', '', line.split(' -> ')[0])
                         for line in seq.log])
        finally:
            seq.close()
    assert logs[0] == logs[1] and len(logs[0]) == 4


def test_the_invariants_report_a_broken_aggregate(tmp_path):
    seq = campaign.Sequence(SEED, 2, 'sqlite:///%s/b.sqlite' % tmp_path, str(tmp_path))
    try:
        agg = seq.aggs[0]
        harness.add(seq.actors[0], seq.info, agg, 'host1')
        assert invariants.check_all(seq.lab, seq.store, seq.aggs) == []
        # a host list that lost its host, and a state nothing recorded
        agg.delete_host('host1')
        agg.update_metadata({ps.KEY: 'bogus'})
        problems = invariants.check_all(seq.lab, seq.store, seq.aggs)
        assert any('host list' in p for p in problems), problems
        assert any('state bogus' in p for p in problems), problems
        agg.update_metadata({bk.INTENT_KEY: bk.encode_intent(bk.new_intent(
            'add', 'host2', ps.ACTIVE, 'x', 0.0))})
        assert any('intent left' in p for p in invariants.check_all(
            seq.lab, seq.store, seq.aggs))
    finally:
        seq.close()
