"""Child process of the crash tests: one add or remove, then exit.

Run as ``python -m tests.functional.faults.crash_child SPEC.json``; the spec
names the lab (``Lab.describe()``: URLs and credentials, so no password is
ever on the command line), the SQLite store URL, the aggregate, the operation
(``add`` / ``remove``) and the host. The parent kills this process with
SIGKILL at the step it chose (it holds the operation there with a simulator
fault) and checks that a fresh driver repairs everything.
"""

import json
import sys

from xenpool_driver import store as store_mod
from tests.functional.faults import harness


def main(path):
    with open(path) as f:
        spec = json.load(f)
    store = store_mod.Store(spec['store'])
    agg = store.get_aggregate(spec['aggregate'])
    driver = harness.make_driver(spec['lab'], **spec.get('conf', {}))
    if spec['op'] == 'add':
        harness.add(driver, spec['lab'], agg, spec['host'])
    else:
        harness.remove(driver, agg, spec['host'])
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
