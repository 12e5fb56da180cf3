"""One simulated host: its xapi process (state, role, database), its
server, its fault plan, its call log and the dispatcher every request goes
through (faults act at the stages of :mod:`.faults`).

States: ``running``; ``down`` (xapi not running: connections refused);
``booting`` (every call answers HOST_STILL_BOOTING); ``emergency`` (a slave
that cannot work with its master: every call answers the emergency error).
"""

import collections
import threading
import time

from xenpool_driver.simulator import faults, fixtures, http_server, methods, model, rpc
from xenpool_driver.simulator.errors import DropConnection, XapiError

CallRecord = collections.namedtuple('CallRecord', 'method start end error')


class SimHost(object):
    """A simulated XCP-ng host; build through :class:`~.lab.Lab`."""

    def __init__(self, lab, index, spec, address):
        self.lab = lab
        self.index = index
        self.spec = spec
        self.address = address
        self.name = spec.name or 'host%d' % (index + 1)
        self.uuid = model.new_uuid()
        self.db, self.ref = fixtures.build_standalone(spec, self.uuid, address, self.name)
        self.role = 'master'
        self.master_address = None
        self.state = 'down'
        self.emergency = None
        self.joined = False         # pool.join returned; the restart as a slave is due
        self.faults = None          # set by the lab
        self.calls = collections.deque(maxlen=1000000)   # CallRecord per call
        self.task_finished = {}     # task ref -> time.perf_counter() when it finished
        self.generation = 0         # bumps on every xapi (re)start
        self._state_lock = threading.Lock()
        self.server = http_server.HostServer(self.dispatch, lab.ssl_context_for(self))
        self.port = None
        #: xapi's local socket (``Xapi_globs.unix_domain_socket``), when the lab serves one.
        self.uds_path = None
        self.uds = http_server.HostServer(self.dispatch_local)
        #: ``Xapi_local_session``: sessions only this xapi process knows.
        self.local_sessions = set()

    # -- identity -----------------------------------------------------------
    @property
    def url(self):
        return '%s://%s:%d/' % (self.lab.scheme, self.address, self.port)

    @property
    def is_master(self):
        return self.role == 'master'

    def __repr__(self):
        return '<SimHost %s %s %s %s>' % (self.name, self.address, self.role, self.state)

    # -- process lifecycle (called by the lab / scheduler) ------------------
    def listen(self):
        if not self.server.listening:
            self.server.bind(self.address, self.port)
            self.server.start()
        if self.uds_path and not self.uds.listening:
            self.uds.bind_unix(self.uds_path)
            self.uds.start()

    def go_down(self):
        """xapi exits: connections refused, in-memory sessions and tasks gone."""
        with self._state_lock:
            self.state = 'down'
            self.generation += 1
            self.local_sessions.clear()
        self.server.stop()
        self.uds.stop()
        if self.is_master:
            self.db.clear_transient()

    def go_booting(self):
        # NOTE: listen first: whoever sees 'booting' can connect (a request in
        # between meets 'down' and is dropped, as by a process still starting).
        self.listen()
        with self._state_lock:
            self.state = 'booting'

    def go_running(self):
        """Boot finished: a slave checks in with its master (enabled, live)."""
        with self._state_lock:
            if self.role == 'slave' and not self.db.exists('host', self.ref):
                self.state = 'emergency'
                self.emergency = XapiError('HOST_UNKNOWN_TO_MASTER', self.uuid)
                return
            self.state = 'running'
            self.emergency = None
        if self.role == 'slave':
            self.set_live(True)
            self.db.set('host', self.ref, enabled=True)

    def set_live(self, live):
        with self.db.lock:
            if self.db.exists('host', self.ref):
                metrics = self.db.get('host', self.ref)['metrics']
                if self.db.exists('host_metrics', metrics):
                    self.db.set('host_metrics', metrics, live=live,
                                last_updated=model.now())

    def reset_standalone(self):
        """Firstboot after an eject: a fresh pool, same uuid, no guests."""
        self.db, self.ref = fixtures.build_standalone(self.spec, self.uuid, self.address,
                                                      self.name, keep_guests=False)
        self.role, self.master_address = 'master', None
        self.joined = False

    # -- dispatch -----------------------------------------------------------
    def dispatch_local(self, name, params):
        """A call on the Unix socket: its caller is root (``Context.preauth``)."""
        return self.dispatch(name, params, preauth='root')

    def dispatch(self, name, params, preauth=None):
        """Run one call; returns (ok, Value or ErrorDescription)."""
        start = time.perf_counter()
        error = None
        try:
            return True, self._call(name, params, preauth)
        except XapiError as exc:
            error = exc.code
            return False, exc.description
        except DropConnection:
            error = 'DROPPED'
            raise
        except Exception as exc:     # a simulator bug shows as xapi shows its own
            error = 'INTERNAL_ERROR'
            return False, ['INTERNAL_ERROR', '%s: %s' % (type(exc).__name__, exc)]
        finally:
            self.calls.append(CallRecord(name, start, time.perf_counter(), error))

    def _call(self, name, params, preauth=None):
        if name.startswith('system.'):
            if name == 'system.listMethods':
                return methods.names()
            if name.startswith('system.isAlive'):
                return params[0] if params else ''
            raise XapiError('MESSAGE_METHOD_UNKNOWN', name)
        state = self.state
        if state == 'booting':
            raise XapiError('HOST_STILL_BOOTING')
        if state == 'emergency' and name not in methods.EMERGENCY_CALLS:
            # NOTE: api_server.ml callback1: in emergency mode only the
            # emergency calls are dispatched.
            raise self.emergency
        if state == 'down':
            raise DropConnection()
        if preauth == 'root' and self.role == 'slave' and name not in methods.UDS_WHITELIST:
            return self._forward(name, params)
        is_async = name.startswith('Async.')
        base = name[6:] if is_async else name
        m = methods.lookup(base)
        if is_async and not m.async_ok:
            raise XapiError('Fault', 'No async mode for this operation (rpc: %s)' % name)
        nargs = len(params) - (1 if m.session else 0)
        if not m.min_arity <= nargs <= m.arity:
            raise XapiError('MESSAGE_PARAMETER_COUNT_MISMATCH', m.name, m.arity, max(nargs, 0))
        plan = self.faults
        plan.act(faults.WIRE, faults.Site(self, m.name, is_async, None))
        session = None
        if m.session:
            session = params[0]
            params = params[1:]
            self.check_session(session)
        call = methods.Call(self, session, m.name)
        call.preauth = preauth
        site = faults.Site(self, m.name, is_async, call)
        try:
            if is_async:
                return self.spawn_task(call, m, params, name)
            plan.act(faults.BEFORE, site)
            return m.func(call, *params)
        finally:
            # NOTE: an 'after' fault loses the answer (value or error) after
            # the call took effect.
            plan.act(faults.AFTER, site)

    def _forward(self, name, params):
        """A slave forwards a Unix-socket call to its master (``api_server.ml``).

        NOTE: xapi forwards the HTTP request over TLS; the simulator hands it
        to the master's dispatcher as a network call. A master it cannot
        reach drops the connection (not modelled further).
        """
        master = self.lab.host_at(self.master_address)
        if master is None or not self.lab.reachable(self, master):
            raise DropConnection()
        ok, value = master.dispatch(name, params)
        if ok:
            return value
        raise XapiError(*value)

    def check_session(self, ref):
        if ref in self.local_sessions:
            return          # session_check.ml: a local session is good here
        rec = self.db.tables['session'].get(ref)
        if rec is None:
            raise XapiError('SESSION_INVALID', ref)
        if self.role == 'slave' and not rec['pool'] and not self.lab.slave_accepts_sessions:
            # NOTE: session_check.ml: a non-pool session on a slave -> HOST_IS_SLAVE.
            raise XapiError('HOST_IS_SLAVE', self.master_address)

    # -- tasks --------------------------------------------------------------
    def spawn_task(self, call, m, params, label):
        db = call.db
        task = db.create('task', name_label=label, name_description='',
                         created=model.now(), resident_on=self.ref,
                         status='pending', progress=0.0)
        call.task = task
        threading.Thread(target=self._run_task, args=(call, m, params), daemon=True,
                         name='xapi-sim-task').start()
        return task

    def _run_task(self, call, m, params):
        task, db = call.task, call.db
        site = faults.Site(self, m.name, True, call)

        def effect():
            self.faults.act(faults.BEFORE, site)
            return m.func(call, *params)
        try:
            value = self.faults.around(site, effect)
            fields = dict(status='success', result=rpc.xml_fragment(value))
        except XapiError as exc:
            status = 'cancelled' if exc.code == 'TASK_CANCELLED' else 'failure'
            fields = dict(status=status, error_info=exc.description)
        except Exception as exc:
            fields = dict(status='failure',
                          error_info=['INTERNAL_ERROR', '%s: %s' % (type(exc).__name__, exc)])
        self.finish_task(db, task, fields)

    def finish_task(self, db, task, fields):
        with db.lock:
            if not db.exists('task', task):
                return          # xapi restarted: the task died with it
            self.task_finished[task] = time.perf_counter()
            # NOTE: taskHelper.ml: a completed task allows no operation.
            db.set('task', task, progress=1.0, finished=model.now(), allowed_operations=[],
                   **fields)
            if 'destroy' in db.get('task', task)['current_operations'].values():
                db.destroy('task', task)
        self.lab.forget_cancel(task)

    # -- statistics ---------------------------------------------------------
    def call_counts(self):
        """{method: number of calls} from the call log."""
        return dict(collections.Counter(c.method for c in list(self.calls)))
