"""A simulated lab in a process of its own, asked over a pipe.

The peers of the comparison (ours and Nova's way in the bench process,
XenOrchestra's client in node) are all clients of one lab that runs on its
own interpreter, as a real xapi runs on its own machine: no peer shares a
GIL with the simulator, and none gets it to itself while another does not.

The lab's call log and task finishing times are read back through the pipe;
``time.perf_counter`` is CLOCK_MONOTONIC on Linux, one clock for every
process of the machine, so the windows the bench measures in its own process
select the right records in the lab's.
"""

import dataclasses
import multiprocessing


@dataclasses.dataclass(frozen=True)
class HostView:
    """What a client knows of a simulated host."""

    index: int
    name: str
    url: str
    address: str
    uuid: str


def _serve(conn, hosts, scale, latency_ms, password):
    # NOTE: imported here: the spawned child starts from a fresh interpreter
    from tools.benchlib import measure
    with measure.in_process_lab(hosts, scale, latency_ms, password=password) as lab:
        conn.send({'hosts': [HostView(i, h.name, h.url, h.address, h.uuid)
                             for i, h in enumerate(lab.hosts)],
                   'username': lab.username, 'password': lab.password,
                   'timings': dataclasses.asdict(lab.timings)})
        while True:
            cmd, args = conn.recv()
            if cmd == 'stop':
                conn.send(None)
                return
            try:
                conn.send(('ok', _answer(lab, cmd, args)))
            except Exception as exc:  # noqa: BLE001 - NOTE: told to the asker
                conn.send(('error', '%s: %s' % (type(exc).__name__, exc)))


def _answer(lab, cmd, args):
    if cmd == 'calls':
        since, until = args
        return [(i, c.method, c.start, c.end) for i, h in enumerate(lab.hosts)
                for c in list(h.calls) if since <= c.start <= until]
    if cmd == 'finished':
        since, until = args
        return [f for h in lab.hosts for f in list(h.task_finished.values())
                if since <= f <= until]
    if cmd == 'settle':
        return lab.settle(timeout=args[0])
    raise ValueError('unknown lab command %r' % cmd)


class LabProcess:
    """``hosts`` simulated hosts served by a child process (a context manager).

    :param scale: xapi time scale; :param latency_ms: per-call latency (real ms).
    :param password: the lab's password (None: generated).
    """

    def __init__(self, hosts, scale, latency_ms, password=None):
        ctx = multiprocessing.get_context('spawn')
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, daemon=True, name='xenpool-bench-lab',
                                 args=(child, hosts, scale, latency_ms, password))
        self._proc.start()
        child.close()
        if not self._conn.poll(120):
            self._proc.kill()
            raise RuntimeError('the lab process did not start')
        info = self._conn.recv()
        self.hosts = info['hosts']
        self.username = info['username']
        self.password = info['password']
        self.timings = info['timings']
        self.ca_file = None
        self.time_scale = scale

    def _ask(self, cmd, *args):
        self._conn.send((cmd, args))
        status, value = self._conn.recv()
        if status != 'ok':
            raise RuntimeError('lab: %s' % value)
        return value

    def calls(self, since, until):
        """``[(host index, method, start, end)]`` of calls that arrived in the window."""
        return self._ask('calls', since, until)

    def finished(self, since, until):
        """perf_counter() times at which tasks finished in the window."""
        return self._ask('finished', since, until)

    def settle(self, timeout):
        """Wait until every host runs (the lab's own ``settle``)."""
        return self._ask('settle', timeout)

    def close(self):
        if self._proc.is_alive():
            try:
                self._conn.send(('stop', ()))
                self._conn.recv()
            except (EOFError, OSError):
                pass
            self._proc.join(60)
        if self._proc.is_alive():
            self._proc.kill()
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
