"""Run the whole fault matrix against fresh simulated labs and print it.

Usage (from the repository root)::

    python tools/fault_matrix.py [--workers N] [--verbose]

Rows: every XAPI call the driver makes in join, eject and designate (found
by a fault-free run); columns: the faults of
``tests/functional/faults/matrix.py``; cells: ``ok`` when the cell ended
consistent. The last line reads ``fault matrix: C of N cells consistent``.
Exit status 0 only when every cell is consistent.
"""

import argparse
import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.functional.faults import matrix  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--workers', type=int, default=3,
                        help='cells run in parallel (default 3)')
    parser.add_argument('--verbose', action='store_true',
                        help='show each cell\'s outcome and problems')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)
    started = time.monotonic()

    def progress(cell):
        if args.verbose or not cell.consistent:
            sys.stderr.write('%-55s %-8s %s%s\n' % (
                cell.row.label, cell.fault, cell.outcome[:70],
                ''.join('\n    ' + p for p in cell.problems)))

    cells = matrix.run_matrix(workers=args.workers, progress=progress)
    print(matrix.table(cells))
    sys.stderr.write('(%.0f s)\n' % (time.monotonic() - started))
    return 0 if all(c.consistent for c in cells) else 1


if __name__ == '__main__':
    sys.exit(main())
