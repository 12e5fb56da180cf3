"""A randomized crash campaign: random sequences of pool changes, kills and races.

Usage (from the repository root)::

    python tools/chaos.py [--seed S] [--sequences N] [--steps K] [--only I]
                          [--postgres URL]

Each sequence runs on a fresh simulated lab with two aggregates and two
actors (see ``tools/chaoslib/campaign.py``); the invariants of
``tools/chaoslib/invariants.py`` are checked after every step. Sequences are
reproducible: ``--seed S --only I`` replays sequence I of seed S. With
``--postgres`` every other sequence keeps its aggregates in that PostgreSQL
database instead of a SQLite file. The last line reads
``chaos: N sequences, K steps, V violations``; exit status 0 only without
violations.
"""

import argparse
import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tools.chaoslib import campaign  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seed', type=int, default=1, help='campaign seed (default 1)')
    parser.add_argument('--sequences', type=int, default=20)
    parser.add_argument('--steps', type=int, default=8, help='steps per sequence')
    parser.add_argument('--only', type=int, help='replay only this sequence')
    parser.add_argument('--postgres', metavar='URL',
                        help='alternate with this PostgreSQL store (SQLAlchemy URL)')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)
    stores = ('sqlite', args.postgres) if args.postgres else ('sqlite',)
    started = time.monotonic()

    def progress(index, result):
        sys.stderr.write('\rsequence %d: %d steps, %d violations (%.0f s)   '
                         % (index + 1, result.steps, len(result.violations),
                            time.monotonic() - started))

    result = campaign.run(args.seed, args.sequences, steps=args.steps,
                          store_urls=stores, only=args.only, progress=progress)
    sys.stderr.write('\n')
    for v in result.violations:
        print('violation: seed %d sequence %d step %d (replay: --seed %d --only %d)'
              % (v.seed, v.sequence, v.step, v.seed, v.sequence))
        print('  steps: %s' % v.action)
        for problem in v.problems:
            print('  - %s' % problem)
    print('chaos: %d sequences, %d steps, %d violations'
          % (result.sequences, result.steps, len(result.violations)))
    return 0 if not result.violations else 1


if __name__ == '__main__':
    sys.exit(main())
