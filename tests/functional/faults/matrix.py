"""The fault matrix: every XAPI call the driver makes in join, eject and
designate, crossed with every kind of fault.

Rows are found, not listed by hand: a fault-free run of each scenario
records, per lab host, the calls the DRIVER made (a tap on the host's
dispatcher tells the driver's sessions from the simulated xapi's own
host-to-host calls by the login's originator). Each cell then runs the
scenario on a fresh lab with one fault on the first such call of that row:

=============  ============================================================
``refused``    the host's xapi stops as the call arrives (the call is lost,
               further connections are refused) and comes back 0.4 s later
``reset<``     connection dropped before the call takes effect
``reset>``     connection dropped after it took effect (the ambiguous case)
``timeout``    the answer comes later than ``call_timeout``
``xapi-err``   ``INTERNAL_ERROR ["fault-matrix"]`` (in the task for Async)
``sess-inv``   every session of the host is forgotten: ``SESSION_INVALID``
``is-slave``   ``HOST_IS_SLAVE`` naming another member (or the host itself
               when standalone): the master moved
``restart``    the host's xapi restarts as the call arrives
=============  ============================================================

A cell is consistent when: the caller got success or a clear error (an
:class:`XenPoolError`; ``XapiError`` with code and params; the injected
code and params when the injected error is what failed), the failure count
says so (1 after a failure, 0 after a success, state never left in
``changing``), ``Async.pool.join``/``Async.pool.eject``/
``pool.designate_new_master`` were sent at most once, and after reconcile
metadata equals reality (:func:`harness.check`).
"""

import collections
import dataclasses
import tempfile
import threading
import traceback

from tests import passwords
from tests.functional.faults import harness
from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver import store as store_mod
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.simulator import lab as lab_mod
from xenpool_driver.simulator.errors import DropConnection

FAULTS = ('refused', 'reset<', 'reset>', 'timeout', 'xapi-err', 'sess-inv',
          'is-slave', 'restart')

LOGIN = 'session.login_with_password'
ONCE = ('Async.pool.join', 'Async.pool.eject', 'pool.designate_new_master')
INJECTED = ('INTERNAL_ERROR', ['fault-matrix'])

#: Real seconds a "refused" host stays down.
REFUSED_FOR = 0.4
#: xapi seconds of latency: far beyond every socket timeout of a cell.
HOLD = 1e6
#: Real seconds the lab may take to finish its transitions after a cell.
SETTLE_CEILING = 60.0


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    pooled: tuple          # lab host indexes in the pool before the operation
    op: str                # 'add' | 'remove'
    host: int              # the lab host added or removed
    roles: tuple           # role name per lab host index


SCENARIOS = (
    Scenario('join', (0,), 'add', 1, ('master', 'joiner')),
    Scenario('eject', (0, 1), 'remove', 1, ('master', 'slave')),
    Scenario('designate', (0, 1), 'remove', 0, ('old master', 'new master')),
)


@dataclasses.dataclass(frozen=True)
class Row:
    scenario: str
    role: str
    index: int
    method: str

    @property
    def label(self):
        return '%s / %s / %s' % (self.scenario, self.role, self.method)


class Tap(object):
    """Wraps one simulated host's dispatcher: logs the driver's calls and
    fires one armed fault on the first driver call of a method."""

    def __init__(self, lab, host):
        self.lab, self.host = lab, host
        self.inner = host.server.dispatch
        host.server.dispatch = self
        self.sessions = set()
        self.log = []
        self.rejected = []
        self.armed = None      # (method, fault)
        self.fired = False
        self._lock = threading.Lock()

    def _driver_call(self, name, params):
        if name == LOGIN:
            return len(params) > 3 and params[3] == 'xenpool_driver'
        return bool(params) and params[0] in self.sessions

    def __call__(self, name, params):
        method = 'event.from' if name == 'event_from' else name
        fire = None
        if self._driver_call(name, params):
            with self._lock:
                self.log.append(method)
                if self.armed and not self.fired and self.armed[0] == method:
                    self.fired = True
                    fire = self.armed[1]
        if fire is not None:
            answer = self._fire(fire, method, params)
            if answer is not None:
                return answer
        ok, value = self.inner(name, params)
        if ok and name == LOGIN and self._driver_call(name, params):
            self.sessions.add(value)
        elif not ok and value and value[0] == 'SESSION_INVALID':
            # NOTE: xapi checks the session before anything else: a call
            # refused with SESSION_INVALID was not executed.
            self.rejected.append(method)
        return ok, value

    def _fire(self, fault, method, params):
        h, lab = self.host, self.lab
        base = method[6:] if method.startswith('Async.') else method
        if fault == 'refused':
            lab.stop(h, mark_offline=False)
            threading.Timer(REFUSED_FOR, lambda: lab.start_host(
                h, boot=False)).start()
            raise DropConnection()
        if fault == 'restart':
            lab.restart(h)
            raise DropConnection()
        if fault == 'reset<':
            h.faults.drop(base, 'before')
        elif fault == 'reset>':
            h.faults.drop(base, 'after')
        elif fault == 'timeout':
            h.faults.add('latency', base, seconds=HOLD, times=1)
        elif fault == 'xapi-err':
            h.faults.fail(base, INJECTED[0], INJECTED[1])
        elif fault == 'sess-inv':
            with h.db.lock:
                h.db.tables['session'].clear()
        elif fault == 'is-slave':
            others = [m for m in lab.members(h) if m is not h]
            target = others[0].address if others else h.address
            return False, ['HOST_IS_SLAVE', target]
        return None


@dataclasses.dataclass
class Cell:
    row: Row
    fault: str
    fired: bool = False
    outcome: str = ''          # 'ok' or the caller's error
    problems: list = dataclasses.field(default_factory=list)

    @property
    def consistent(self):
        return self.fired and not self.problems


def _aggregate(lab, store, scenario):
    names = [h.name for h in lab.hosts]
    return harness.build_pool(lab, store, 'pool-' + scenario.name,
                              [names[i] for i in scenario.pooled])


def run_scenario(scenario, row=None, fault=None):
    """One run on a fresh lab; returns ``(taps, cell_or_None)``."""
    lab = lab_mod.Lab(hosts=len(scenario.roles), time_scale=harness.TIME_SCALE)
    passwords.remember(lab.password)
    with lab, tempfile.TemporaryDirectory(prefix='xenpool-matrix-') as tmp:
        store = store_mod.Store('sqlite:///%s/a.sqlite' % tmp)
        try:
            return _run(lab, store, scenario, row, fault)
        finally:
            store.close()


def _run(lab, store, scenario, row, fault):
    agg = _aggregate(lab, store, scenario)
    cell = Cell(row, fault) if row is not None else None
    before = harness.check(lab, agg)
    if before:
        raise RuntimeError('pool not built consistently: %s' % before)
    taps = [Tap(lab, h) for h in lab.hosts]
    if row is not None:
        taps[row.index].armed = (row.method, fault)
    info = lab.describe()
    name = lab.hosts[scenario.host].name
    driver = harness.make_driver(info)
    error = None
    try:
        if scenario.op == 'add':
            harness.add(driver, info, agg, name)
        else:
            harness.remove(driver, agg, name)
    except Exception as exc:  # noqa: BLE001  (judged below)
        error = exc
    finally:
        driver.workflow.connector.close()
    for h in lab.hosts:
        h.faults.clear()
    for tap in taps:
        tap.armed = None
    if cell is None:
        if error is not None:
            raise error
        return taps, None
    cell.fired = taps[row.index].fired
    if not cell.fired:
        cell.problems.append('the fault never fired')
    _judge_call(cell, agg, error)
    sent = collections.Counter(m for tap in taps for m in tap.log)
    sent.subtract(m for tap in taps for m in tap.rejected)
    for method in ONCE:
        if sent[method] > 1:
            cell.problems.append('%s sent %d times' % (method, sent[method]))
    # NOTE: the same check a restarted compute service makes: reconcile,
    # once the lab is quiet (a restart still due would be read half-way: a
    # loaded machine can take longer than a quiet one, hence a ceiling, and
    # a lab that never settles is a problem of its own, not a false drift).
    if not lab.settle(timeout=SETTLE_CEILING):
        cell.problems.append('the lab did not settle within %.0f s' % SETTLE_CEILING)
    fresh = harness.make_driver(info)
    try:
        report = fresh.reconcile(agg)
        if report.error:
            cell.problems.append('reconcile: %s' % report.error)
    finally:
        fresh.workflow.connector.close()
    cell.problems += harness.check(lab, agg)
    return taps, cell


def _judge_call(cell, agg, error):
    agg.refresh()
    md = agg.metadata
    record = bk.read(md)
    state = md.get(ps.KEY)
    if state == ps.CHANGING or record.intent is not None:
        cell.problems.append('left in changing / with an intent record')
    if error is None:
        cell.outcome = 'ok'
        if record.failures != 0:
            cell.problems.append('success with failure count %d'
                                 % record.failures)
        return
    if isinstance(error, exception.XapiError):
        cell.outcome = '%s %s' % (error.code, list(error.params))
        if not error.code or not isinstance(error.params, (list, tuple)):
            cell.problems.append('XapiError without code/params: %r' % error)
        elif cell.fault == 'xapi-err' and error.code == INJECTED[0] and \
                list(error.params) != INJECTED[1]:
            cell.problems.append('injected params lost: %s' % error.params)
    else:
        cell.outcome = '%s: %s' % (type(error).__name__, error)
    if not isinstance(error, exception.XenPoolError):
        cell.problems.append('unclear error: %s' % ''.join(
            traceback.format_exception(error)))
    if record.failures != 1:
        cell.problems.append('failure with failure count %d'
                             % record.failures)
    if state != ps.ACTIVE:
        cell.problems.append('failure left state %s' % state)


def rows():
    """Every (scenario, host role, method) the driver calls, in call order."""
    found = []
    for scenario in SCENARIOS:
        taps, _ = run_scenario(scenario)
        for index, tap in enumerate(taps):
            seen = []
            for method in tap.log:
                if method not in seen and method != 'session.logout':
                    seen.append(method)
            found += [Row(scenario.name, scenario.roles[index], index, m)
                      for m in seen]
    return found


def run_cell(row, fault):
    scenario = {s.name: s for s in SCENARIOS}[row.scenario]
    try:
        return run_scenario(scenario, row, fault)[1]
    except Exception as exc:  # noqa: BLE001
        cell = Cell(row, fault)
        cell.problems.append('harness: %s' % ''.join(
            traceback.format_exception(exc)))
        return cell


def run_matrix(selected_rows=None, faults=FAULTS, workers=1, progress=None):
    """Run the cells; returns the list of :class:`Cell`."""
    todo = [(r, f) for r in (selected_rows or rows()) for f in faults]
    cells = [None] * len(todo)
    lock = threading.Lock()
    queue = list(enumerate(todo))

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                i, (row, fault) = queue.pop(0)
            cells[i] = run_cell(row, fault)
            if progress is not None:
                progress(cells[i])

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return cells


def table(cells, faults=FAULTS):
    """The matrix as text, ending with ``fault matrix: C of N cells consistent``."""
    by_row = collections.OrderedDict()
    for cell in cells:
        by_row.setdefault(cell.row, {})[cell.fault] = cell
    width = max([len(r.label) for r in by_row] + [10])
    lines = ['%-*s  %s' % (width, 'call', '  '.join('%-8s' % f
                                                     for f in faults))]
    for row, line in by_row.items():
        marks = []
        for f in faults:
            c = line.get(f)
            marks.append('%-8s' % ('' if c is None else
                                   'ok' if c.consistent else 'FAIL'))
        lines.append('%-*s  %s' % (width, row.label, '  '.join(marks)))
    good = sum(1 for c in cells if c.consistent)
    lines.append('fault matrix: %d of %d cells consistent' % (good, len(cells)))
    return '\n'.join(lines)
