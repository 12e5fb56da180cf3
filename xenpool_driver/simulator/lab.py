"""A lab of simulated hosts on loopback: the :class:`Lab` context manager.

Hosts listen on 127.0.10.1, 127.0.10.2, ... all on one port, so that
``host.address`` is a plain IP and a client can follow HOST_IS_SLAVE by
swapping the host part of its URL. Every xapi delay is multiplied by the
lab's ``time_scale``; slow transitions (restart fuse, boot, reboot after an
eject) run on the lab's scheduler thread (:mod:`.scheduler`).
"""

import dataclasses
import errno
import os
import secrets
import shutil
import tempfile
import threading

from xenpool_driver.simulator import clock as clock_mod
from xenpool_driver.simulator import faults as faults_mod
from xenpool_driver.simulator import fixtures, host as host_mod
from xenpool_driver.simulator import methods, pool_join, pool_members  # noqa: F401 (registers verbs)
from xenpool_driver.simulator import scheduler as scheduler_mod
from xenpool_driver.simulator.errors import NoRoute


@dataclasses.dataclass
class Timings:
    """xapi's delays in seconds at ``time_scale`` 1 (realistic defaults)."""

    fuse: float = 10.0               # restart fuse after join / designate / eject
    restart: float = 2.0             # xapi process down before it listens again
    boot: float = 5.0                # listening but HOST_STILL_BOOTING
    eject_reboot: float = 90.0       # host reboot after eject (connections refused)
    auth_failure_delay: float = 5.0  # SESSION_AUTHENTICATION_FAILED comes after this
    join_duration: float = 5.0       # metadata import during pool.join
    eject_duration: float = 5.0      # eject work on the slave and the master
    designate_duration: float = 2.0  # two-phase commit of designate_new_master
    liveness_timeout: float = 600.0  # a stopped slave is reported offline after this
    lock_max_wait: float = 7200.0    # a queued pool operation gives up (helpers.ml: 2 h)


class Lab(object):
    """N standalone simulated hosts on loopback.

    :param hosts: a number of hosts, or a list of :class:`~.fixtures.HostSpec`.
    :param time_scale: multiplies every xapi delay (tests use 0.001-0.01).
    :param tls: serve HTTPS with a generated CA (``ca_file``) and per-host certs.
    :param specs: {index: HostSpec or dict of HostSpec fields} overriding defaults.
    :param username: xapi user (``root``).
    :param password: xapi password (default: generated; see :attr:`password`).
    :param timings: :class:`Timings` (defaults are xapi's).
    :param faults: {index: [rule dicts]} armed at start (see :mod:`.faults`).
    :param slave_accepts_sessions: NOT xapi: let non-pool sessions work on slaves.
    :param base_address: first host's IP; the others follow.
    :param clock: the lab's one clock (default :class:`~.clock.RealClock`);
        every simulated delay and wait goes through it.
    :param unix_sockets: each host also serves xapi's local socket (HTTP on a
        Unix socket, ``SimHost.uds_path``); a caller there is root without a
        password (``xapi_session.ml``). The path has no ``_``: the XenAPI SDK's
        ``UDSTransport`` spells ``/`` as ``_`` in its URL.
    :param on_secret: called with the lab's password when the lab is made
        (e.g. a log redactor's ``register_secret``); the simulator itself
        imports nothing of the driver.
    """

    def __init__(self, hosts=2, time_scale=1.0, tls=False, specs=None, username='root',
                 password=None, timings=None, faults=None, slave_accepts_sessions=False,
                 base_address='127.0.10.1', clock=None, on_secret=None,
                 unix_sockets=False):
        if isinstance(hosts, int):
            host_specs = [fixtures.HostSpec() for _ in range(hosts)]
        else:
            host_specs = list(hosts)
        for i, spec in (specs or {}).items():
            host_specs[i] = (spec if isinstance(spec, fixtures.HostSpec)
                             else dataclasses.replace(host_specs[i], **spec))
        self.time_scale = float(time_scale)
        self.timings = timings or Timings()
        self.username = username
        self.password = password or 'sim-' + secrets.token_urlsafe(12)
        if on_secret is not None:
            on_secret(self.password)
        self.clock = clock or clock_mod.RealClock()
        self.slave_accepts_sessions = slave_accepts_sessions
        self.tls = tls
        self.scheme = 'https' if tls else 'http'
        self.closing = threading.Event()
        self._cancels = {}
        self._cancel_lock = threading.Lock()
        self._cuts = set()
        self.certificates = None
        self.ca_file = None
        if tls:
            from xenpool_driver.simulator import tls as tls_mod
            self.certificates = tls_mod.Certificates()
            self.ca_file = self.certificates.ca_file
        base = base_address.rsplit('.', 1)
        self.hosts = [host_mod.SimHost(self, i, spec, '%s.%d' % (base[0], int(base[1]) + i))
                      for i, spec in enumerate(host_specs)]
        for h in self.hosts:
            h.faults = faults_mod.FaultPlan()
        self.uds_dir = None
        if unix_sockets:
            base_dir = tempfile.gettempdir()
            if '_' in base_dir:
                base_dir = '/tmp'
            self.uds_dir = os.path.join(base_dir, 'xapi-sim-' + secrets.token_hex(6))
            os.mkdir(self.uds_dir, 0o700)
            for h in self.hosts:
                h.uds_path = os.path.join(self.uds_dir, 'host%d.sock' % (h.index + 1))
        for i, rules in (faults or {}).items():
            self.hosts[i].faults.load(rules)
        self.scheduler = None
        self.port = None

    # -- context manager ----------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self):
        self.scheduler = scheduler_mod.Scheduler(self.clock)
        self._bind_all()
        for h in self.hosts:
            h.server.start()
            if h.uds_path:
                h.uds.bind_unix(h.uds_path)
                h.uds.start()
            h.state = 'running'
        return self

    def _bind_all(self):
        for _attempt in range(20):
            bound = []
            try:
                port = self.hosts[0].server.bind(self.hosts[0].address, 0)
                bound.append(self.hosts[0])
                for h in self.hosts[1:]:
                    h.server.bind(h.address, port)
                    bound.append(h)
            except OSError as exc:
                for h in bound:
                    h.server.stop()
                if exc.errno == errno.EADDRNOTAVAIL:
                    raise RuntimeError('cannot bind %s: the lab needs the 127/8 loopback '
                                       'range' % self.hosts[len(bound)].address)
                continue
            self.port = port
            for h in self.hosts:
                h.port = port
            return
        raise RuntimeError('no free port shared by every lab address')

    def close(self):
        """Stop every host and the scheduler; release every waiting task."""
        self.closing.set()
        with self._cancel_lock:
            for ev in self._cancels.values():
                ev.set()
        if self.scheduler is not None:
            self.scheduler.close()
        for h in self.hosts:
            h.server.stop()
            h.uds.stop()
        if self.uds_dir is not None:
            shutil.rmtree(self.uds_dir, ignore_errors=True)
        if self.certificates is not None:
            self.certificates.cleanup()

    def ssl_context_for(self, h):
        if self.certificates is None:
            return None
        return self.certificates.server_context('host%d' % (h.index + 1), h.address)

    # -- time ---------------------------------------------------------------
    def scaled(self, xapi_seconds):
        return max(0.0, float(xapi_seconds) * self.time_scale)

    def after(self, xapi_seconds, fn):
        """Run ``fn`` on the scheduler after ``xapi_seconds`` (scaled)."""
        self.scheduler.at(self.clock.monotonic() + self.scaled(xapi_seconds), fn)

    def wait_until(self, predicate, timeout=10.0, interval=0.002):
        """Poll ``predicate`` (real seconds); True once it holds."""
        import time     # NOTE: real seconds: the caller's patience, not xapi's time
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(interval)
        return bool(predicate())

    def settle(self, timeout=10.0):
        """Wait until no transition is pending and every host is running."""
        return self.wait_until(lambda: self.scheduler.idle and all(
            h.state in ('running', 'emergency') for h in self.hosts), timeout)

    # -- tasks --------------------------------------------------------------
    def cancel_event(self, task):
        with self._cancel_lock:
            ev = self._cancels.get(task)
            if ev is None:
                ev = self._cancels[task] = threading.Event()
                if self.closing.is_set():
                    ev.set()
            return ev

    def forget_cancel(self, task):
        with self._cancel_lock:
            self._cancels.pop(task, None)

    def task_finished_at(self, task_ref):
        """``time.perf_counter()`` when the simulator finished ``task_ref``, or None."""
        for h in self.hosts:
            if task_ref in h.task_finished:
                return h.task_finished[task_ref]
        return None

    # -- addressing and the network ----------------------------------------
    def host_at(self, address):
        for h in self.hosts:
            if h.address == address or h.name == address:
                return h
        return None

    def host_by_ref(self, ref):
        for h in self.hosts:
            if h.ref == ref:
                return h
        return None

    def cut(self, a, b):
        """Cut the network between hosts ``a`` and ``b`` (indexes or SimHosts)."""
        self._cuts.add(frozenset((self._h(a).address, self._h(b).address)))

    def heal(self, a, b):
        self._cuts.discard(frozenset((self._h(a).address, self._h(b).address)))

    def _h(self, x):
        return self.hosts[x] if isinstance(x, int) else x

    def reachable(self, src, dst):
        return (dst.state == 'running'
                and frozenset((src.address, dst.address)) not in self._cuts)

    def route(self, src, address):
        """URL from ``src`` to the host at ``address``; NoRoute if cut or unknown."""
        dst = self.host_at(address)
        if dst is None or frozenset((src.address, dst.address)) in self._cuts:
            raise NoRoute(address)
        return dst.url

    # -- lifecycles ---------------------------------------------------------
    def stop(self, index, mark_offline=None):
        """Stop a host's xapi (connections refused).

        :param mark_offline: True: its master reports it offline at once; None:
            after ``Timings.liveness_timeout``; False: never.
        """
        h = self._h(index)
        gen = h.generation + 1
        h.go_down()
        if h.role == 'slave' and mark_offline is not False:
            def offline():
                if h.generation == gen and h.state == 'down':
                    h.set_live(False)
            if mark_offline:
                offline()
            else:
                self.after(self.timings.liveness_timeout, offline)

    def start_host(self, index, boot=True):
        """Start a stopped host's xapi; it boots (HOST_STILL_BOOTING) unless ``boot`` is False."""
        h = self._h(index)
        h.go_booting()
        if boot:
            self.after(self.timings.boot, h.go_running)
        else:
            h.go_running()

    def restart(self, index):
        """Restart a host's xapi: down, then booting, then running (scaled)."""
        h = self._h(index)
        self._restart(h)

    def _restart(self, h, then=None, down=None, delay=None, up=None):
        """One xapi restart: down for ``delay`` (default: the restart time), then
        booting, then running. ``down()`` runs once the host is down, ``then()``
        when it starts booting, ``up()`` once it runs; a newer restart of the
        same host cancels this one.
        """
        h.go_down()
        if down is not None:
            down()
        gen = h.generation

        def booting():
            if h.generation != gen:
                return
            if then is not None:
                then()
            h.go_booting()
            self.after(self.timings.boot, running)

        def running():
            if h.generation == gen:
                if up is not None:
                    up()
                h.go_running()
        self.after(self.timings.restart if delay is None else delay, booting)

    def become_slave(self, h, master, address, new_ref):
        """The joiner's fuse: xapi restarts as a slave of ``master``, known
        there under ``new_ref`` (its records were re-created on the master)."""
        def attach():
            h.db, h.ref = master.db, new_ref
            h.role, h.master_address = 'slave', master.address
            h.joined = False
        self._restart(h, down=attach)

    def reboot_standalone(self, h):
        """After an eject: the host reboots and comes back as a standalone master."""
        self._restart(h, then=h.reset_standalone, delay=self.timings.eject_reboot)

    def switch_master(self, db, new_master):
        """designate_new_master's commit: every member restarts in its new role.

        ``pool.master`` changes when the new master has booted as master
        (``dbsync_master.ml``); until then the database still names the old.
        """
        # NOTE: an ejected host still holds the pool database until its
        # reboot; it is no member any more and must not restart as a slave.
        members = [h for h in self.hosts if h.db is db and db.exists('host', h.ref)]
        db.clear_transient()
        for h in members:
            if h is new_master:
                h.role, h.master_address = 'master', None
                self._restart(h, up=lambda h=h: db.set('pool', db.pool_ref(), master=h.ref))
            else:
                h.role, h.master_address = 'slave', new_master.address
                self._restart(h)

    def members(self, index):
        """The hosts sharing ``index``'s pool database."""
        db = self._h(index).db
        return [h for h in self.hosts if h.db is db]

    # -- description --------------------------------------------------------
    def describe(self):
        """The lab file's content (see doc/simulator.md)."""
        data = {'username': self.username, 'password': self.password,
                'hosts': [{'name': h.name, 'url': h.url, 'address': h.address,
                           'uuid': h.uuid} for h in self.hosts]}
        if self.ca_file:
            data['ca_file'] = self.ca_file
        return data
