"""The fault matrix, a representative sample (``tools/fault_matrix.py`` runs
every cell): every fault column on the three calls that change a pool
(``Async.pool.join``, ``Async.pool.eject`` after a designate,
``pool.designate_new_master``), and each column once more on a read, a
login or a task wait elsewhere. See :mod:`.matrix` for what a cell checks.
"""

import pytest

from tests.functional.faults import matrix

SCENARIOS = {s.name: s for s in matrix.SCENARIOS}

FULL_ROWS = [('join', 'joiner', 'Async.pool.join'),
             ('eject', 'master', 'Async.pool.eject'),
             ('designate', 'old master', 'pool.designate_new_master')]

DIAGONAL = [
    (('join', 'master', 'event.from'), 'refused'),
    (('join', 'joiner', 'host.get_record'), 'reset<'),
    (('designate', 'new master', 'Async.pool.eject'), 'reset>'),
    (('eject', 'master', 'VM.get_all_records'), 'timeout'),
    (('join', 'joiner', 'event.from'), 'xapi-err'),
    (('designate', 'new master', 'event.from'), 'sess-inv'),
    (('eject', 'master', 'event.from'), 'is-slave'),
    (('join', 'master', 'session.login_with_password'), 'restart'),
]

CELLS = [(row, fault) for row in FULL_ROWS for fault in matrix.FAULTS]
CELLS += DIAGONAL


def _row(scenario, role, method):
    index = SCENARIOS[scenario].roles.index(role)
    return matrix.Row(scenario, role, index, method)


def test_rows_cover_every_pool_call():
    labels = {r.label for r in matrix.rows()}
    for row in FULL_ROWS + [cell[0] for cell in DIAGONAL]:
        assert _row(*row).label in labels
    assert len(labels) * len(matrix.FAULTS) >= 60


@pytest.mark.parametrize('row,fault', CELLS,
                         ids=['%s/%s/%s:%s' % (r + (f,)) for r, f in CELLS])
def test_cell_consistent(row, fault):
    cell = matrix.run_cell(_row(*row), fault)
    assert cell.fired, cell
    assert cell.problems == [], '%s (%s)' % (cell.problems, cell.outcome)
    if fault == 'xapi-err' and cell.outcome != 'ok':
        # NOTE: xapi answered: the caller sees its code and params intact.
        assert cell.outcome == "INTERNAL_ERROR ['fault-matrix']"
